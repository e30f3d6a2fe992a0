//! A checked project (a [`Unit`]): an open document and the files it uses,
//! each split into chunks at top-level declaration boundaries, so that an
//! edit reparses one chunk and reuses the syntax trees of the others.
//!
//! The compiler sees each chunk as a file of the project (all named as
//! the real file, so `use "…"` and messages name it). Declarations, names
//! and `use std.…` imports are project-wide in `.scale`, so checking the
//! chunks is checking the file; `tests/chunks.rs` compares both on every
//! fixture. The unit maps spans back: a chunk's file id and offset → the
//! real file and `base + offset`.

use scalec::diagnostics::{Diagnostic as ScaleDiagnostic, FileId, SourceFile, Span};
use scalec::project::Project;
use scalec::syntax::ast::File;
use scalec::Compilation;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use tower_lsp_server::ls_types::{Location, Position, Range, Uri};

/// How many files one unit may pull in through `use "…"`.
const MAX_FILES: usize = 256;

/// The fewest lines a chunk holds before the next boundary may cut it.
pub fn chunk_lines() -> usize {
    std::env::var("SCALEC_LSP_CHUNK_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
}

/// Where chunks start (the first at 0): at the start of a line that begins
/// with a letter, outside any block, string or comment, right after a `}`
/// that closed a top-level block, once the chunk has `min_lines` lines.
/// A file whose braces never balance again is one chunk from there on.
pub fn chunk_starts(text: &str, min_lines: usize) -> Vec<usize> {
    let b = text.as_bytes();
    let mut starts = vec![0];
    let (mut depth, mut i, mut lines) = (0usize, 0usize, 0usize);
    let mut last_significant = b'\n';
    while i < b.len() {
        let c = b[i];
        match c {
            b'\n' => {
                lines += 1;
                i += 1;
                if depth == 0
                    && last_significant == b'}'
                    && lines >= min_lines
                    && b.get(i).is_some_and(|n| n.is_ascii_alphabetic())
                {
                    starts.push(i);
                    lines = 0;
                }
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                    if b[i] == b'\n' {
                        lines += 1;
                    }
                    i += 1;
                }
                i += 2;
                continue;
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' && b[i] != b'\n' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                last_significant = b'"';
                continue;
            }
            b'{' => depth += 1,
            b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if !c.is_ascii_whitespace() {
            last_significant = c;
        }
        i += 1;
    }
    starts.retain(|s| *s <= text.len());
    starts
}

/// The syntax trees parsed before, per file id: the text, its tree (taken
/// back from the previous [`Unit`] by [`ParseCache::harvest`], so trees are
/// moved, never copied) and its diagnostics. A file id whose text did not
/// change is not reparsed.
#[derive(Default)]
pub struct ParseCache {
    trees: HashMap<FileId, (String, Option<File>, Vec<ScaleDiagnostic>)>,
}

impl ParseCache {
    fn parse(&mut self, id: FileId, text: &str) -> (File, Vec<ScaleDiagnostic>) {
        if let Some((t, ast, diags)) = self.trees.get_mut(&id) {
            if t == text {
                if let Some(ast) = ast.take() {
                    return (ast, diags.clone());
                }
            }
        }
        let (ast, diags) = scalec::syntax::parse(id, text);
        self.trees
            .insert(id, (text.to_string(), None, diags.clone()));
        (ast, diags)
    }

    /// Takes the syntax trees back from the unit they were lent to; the
    /// rest of it is dropped on another thread (freeing a large model takes
    /// milliseconds the editor need not wait for).
    pub fn harvest(&mut self, mut old: Unit) {
        for f in &mut old.c.project.files {
            if let Some(entry) = self.trees.get_mut(&f.id) {
                entry.1 = Some(std::mem::take(&mut f.ast));
            }
        }
        let _ = std::thread::Builder::new()
            .name("scalec-lsp-drop".into())
            .spawn(move || drop(old));
    }
}

/// One real file of a unit.
pub struct RealFile {
    pub uri: Option<Uri>,
    pub key: String,
    /// The whole text, for positions.
    pub src: SourceFile,
    /// Its chunks: the file id and where the chunk starts.
    pub chunks: Vec<(FileId, usize)>,
    pub std: bool,
}

/// One checked project: an open document and what it uses.
pub struct Unit {
    pub c: Compilation,
    /// The key of the document it was built for.
    pub entry: String,
    pub real: Vec<RealFile>,
    /// Per file id of the source map: the real file and the chunk's start.
    map: Vec<(usize, usize)>,
}

impl Unit {
    /// The real file of a document key.
    pub fn file_of(&self, key: &str) -> Option<usize> {
        self.real.iter().position(|f| f.key == key)
    }

    /// A span in real-file terms: (real file, start, end).
    pub fn resolve(&self, span: Span) -> Option<(usize, usize, usize)> {
        let (ri, base) = *self.map.get(span.file.0 as usize)?;
        Some((ri, base + span.start as usize, base + span.end as usize))
    }

    /// A fix's edit span in real-file terms. The compiler writes "at the
    /// top of the file" as an insertion at offset 0 of the file it has (a
    /// chunk here): that is offset 0 of the real file.
    pub fn resolve_edit(&self, span: Span) -> Option<(usize, usize, usize)> {
        let (ri, a, b) = self.resolve(span)?;
        if span.start == 0 && span.end == 0 {
            return Some((ri, 0, 0));
        }
        Some((ri, a, b))
    }

    /// A fix's edit as a location (see [`Unit::resolve_edit`]).
    pub fn edit_location(&self, span: Span) -> Option<Location> {
        let (ri, a, b) = self.resolve_edit(span)?;
        Some(Location {
            uri: self.real[ri].uri.clone()?,
            range: self.range(ri, a, b),
        })
    }

    pub fn range(&self, ri: usize, start: usize, end: usize) -> Range {
        let src = &self.real[ri].src;
        let p = |o: usize| {
            let (l, c) = src.line_col_utf16(o);
            Position::new(l as u32, c as u32)
        };
        Range::new(p(start), p(end))
    }

    pub fn location(&self, span: Span) -> Option<Location> {
        let (ri, a, b) = self.resolve(span)?;
        Some(Location {
            uri: self.real[ri].uri.clone()?,
            range: self.range(ri, a, b),
        })
    }

    pub fn is_std(&self, span: Span) -> bool {
        self.resolve(span)
            .is_some_and(|(ri, _, _)| self.real[ri].std)
    }

    /// The byte offset of an LSP position in a real file.
    pub fn offset(&self, ri: usize, p: Position) -> usize {
        self.real[ri]
            .src
            .offset_utf16(p.line as usize, p.character as usize)
    }

    /// The chunk holding a real file's offset, and the offset in it.
    pub fn point(&self, ri: usize, offset: usize) -> (FileId, usize) {
        let chunks = &self.real[ri].chunks;
        let i = chunks.partition_point(|(_, base)| *base <= offset).max(1) - 1;
        let (id, base) = chunks[i];
        (id, offset - base)
    }

    /// The chunk file ids of a real file.
    pub fn chunk_ids(&self, ri: usize) -> impl Iterator<Item = FileId> + '_ {
        self.real[ri].chunks.iter().map(|(id, _)| *id)
    }
}

/// A document's text, by key, for the files a unit reads.
pub struct Input<'a> {
    pub key: &'a str,
    pub uri: &'a Uri,
    pub text: &'a str,
}

/// Checks `entry` and the files it uses, read through `open` (the open
/// documents, by key) first, then from disk.
pub fn compile(
    entry: Input<'_>,
    open: &dyn Fn(&str) -> Option<String>,
    std_uri: &dyn Fn(&str) -> Option<Uri>,
    parses: &mut ParseCache,
) -> Unit {
    let path = entry.uri.to_file_path().map(|p| p.into_owned());
    let root = path
        .as_ref()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."));
    let entry_name = path
        .as_ref()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "untitled.scale".to_string());
    let min_lines = chunk_lines();
    let timings = std::env::var_os("SCALEC_LSP_TIMINGS").is_some();
    let t0 = std::time::Instant::now();
    // (name, key, uri, text)
    let mut texts: Vec<(String, String, Option<Uri>, String)> = vec![(
        entry_name,
        entry.key.to_string(),
        Some(entry.uri.clone()),
        entry
            .text
            .strip_prefix('\u{FEFF}')
            .unwrap_or(entry.text)
            .to_string(),
    )];
    let mut parser = |id: FileId, t: &str| parses.parse(id, t);
    let (mut project, chunked) = loop {
        let mut chunked: Vec<(usize, usize, String)> = Vec::new(); // (text index, start, chunk)
        for (ti, (_, _, _, t)) in texts.iter().enumerate() {
            let starts = chunk_starts(t, min_lines);
            for (k, s) in starts.iter().enumerate() {
                let e = starts.get(k + 1).copied().unwrap_or(t.len());
                chunked.push((ti, *s, t[*s..e].to_string()));
            }
        }
        let files: Vec<(&str, &str)> = chunked
            .iter()
            .map(|(ti, _, c)| (texts[*ti].0.as_str(), c.as_str()))
            .collect();
        let project = Project::from_memory_with(&files, &mut parser);
        let mut wanted: Vec<String> = Vec::new();
        for f in project.files.iter().filter(|f| f.std_module.is_none()) {
            for u in &f.ast.uses {
                if let scalec::syntax::ast::UseTarget::File { path, .. } = &u.target {
                    // Relative to the using file's folder, as `scalec check` reads it.
                    if let Some(target) = scalec::project::use_target(&f.name, path) {
                        if !texts.iter().any(|(n, ..)| *n == target) && !wanted.contains(&target) {
                            wanted.push(target);
                        }
                    }
                }
            }
        }
        let mut added = false;
        for name in wanted {
            if texts.len() >= MAX_FILES {
                break;
            }
            let full = root.join(&name);
            let key = full.to_string_lossy().into_owned();
            let text = open(&key).or_else(|| std::fs::read_to_string(&full).ok());
            if let Some(text) = text {
                let text = text.strip_prefix('\u{FEFF}').unwrap_or(&text).to_string();
                texts.push((name, key, Uri::from_file_path(&full), text));
                added = true;
            }
        }
        if !added {
            break (project, chunked);
        }
    };
    // The source map holds the standard library first, then the chunks in order.
    let mut real: Vec<RealFile> = Vec::new();
    let mut map: Vec<(usize, usize)> = Vec::new();
    for f in &project.files {
        if let Some(module) = &f.std_module {
            let name = format!("std/{module}.scale");
            let uri = std_uri(&name);
            real.push(RealFile {
                key: uri
                    .as_ref()
                    .and_then(|u| u.to_file_path().map(|p| p.to_string_lossy().into_owned()))
                    .unwrap_or(name),
                uri,
                src: SourceFile::new(f.name.clone(), project.sources.get(f.id).text.clone()),
                chunks: vec![(f.id, 0)],
                std: true,
            });
            map.push((real.len() - 1, 0));
        }
    }
    let first_real = real.len();
    for (ti, (name, key, uri, text)) in texts.iter().enumerate() {
        real.push(RealFile {
            uri: uri.clone(),
            key: key.clone(),
            src: SourceFile::new(name.clone(), text.clone()),
            chunks: Vec::new(),
            std: false,
        });
        let _ = ti;
    }
    for (k, (ti, start, _)) in chunked.iter().enumerate() {
        let id = FileId((map.len()) as u32);
        debug_assert_eq!(project.files[first_real + k].id, id);
        real[first_real + ti].chunks.push((id, *start));
        map.push((first_real + ti, *start));
    }
    // The contracts and body schemas the spec names: open documents first,
    // then the disk, as `scalec check` reads them.
    project.read_assets(&root, &|p: &Path| {
        open(&p.to_string_lossy()).map(String::into_bytes)
    });
    let t1 = std::time::Instant::now();
    let c = scalec::check(project);
    if timings {
        eprintln!(
            "scalec-lsp: load+parse {:.1} ms, check {:.1} ms ({} chunks)",
            (t1 - t0).as_secs_f64() * 1e3,
            t1.elapsed().as_secs_f64() * 1e3,
            map.len()
        );
    }
    Unit {
        c,
        entry: entry.key.to_string(),
        real,
        map,
    }
}

/// The diagnostics of a unit, grouped by real file (those without a span
/// go to the entry).
pub fn diagnostics_by_file(unit: &Unit) -> BTreeMap<usize, Vec<&ScaleDiagnostic>> {
    let entry = unit.file_of(&unit.entry).unwrap_or(0);
    let mut out: BTreeMap<usize, Vec<&ScaleDiagnostic>> = BTreeMap::new();
    for d in &unit.c.diagnostics {
        let ri = d
            .primary_span()
            .and_then(|s| unit.resolve(s))
            .map_or(entry, |(ri, _, _)| ri);
        out.entry(ri).or_default().push(d);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cut_between_top_level_blocks_only() {
        let t = "use std.budgets.{web}\napp a { owner = \"}\" }\n// x }\nbudget b {\n  p99 = 1s\n}\nservice s\n{ image = \"a/b:1\" }\n/* }\nz */\nservice t { }\n";
        let starts = chunk_starts(t, 1);
        let heads: Vec<&str> = starts
            .iter()
            .map(|s| t[*s..].lines().next().unwrap())
            .collect();
        assert_eq!(
            heads,
            [
                "use std.budgets.{web}",
                "app a { owner = \"}\" }",
                "budget b {",
                "service s",
                "service t { }"
            ],
            "{starts:?}"
        );
        assert_eq!(chunk_starts(t, 1000), [0]);
        assert_eq!(chunk_starts("", 1), [0]);
        // Never balanced again: one chunk from the open block on.
        let open = "budget a { p99 = 1s }\nservice s {\n  image = \"x\"\nbudget b { }\n";
        assert_eq!(chunk_starts(open, 1), [0, 22]);
    }
}
