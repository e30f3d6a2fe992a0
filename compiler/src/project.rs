//! A project: the `.scale` files given on the command line (a folder means
//! every `.scale` file below it), the files they `use`, and the standard
//! library (embedded in the binary, always loaded, visible by `use std.…`).

use crate::diagnostics::{catalog, Diagnostic, Diagnostics, FileId, SourceMap, Span};
use crate::syntax::ast::{File, Ident, UseTarget};
use crate::syntax::parse;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

/// The standard library: module name → source.
pub const STDLIB: &[(&str, &str)] = &[
    ("budgets", include_str!("../../stdlib/budgets.scale")),
    ("slo", include_str!("../../stdlib/slo.scale")),
    ("shapes", include_str!("../../stdlib/shapes.scale")),
];

/// A parser: [`parse`], or one that answers the same from a cache.
pub type Parser<'a> = &'a mut dyn FnMut(FileId, &str) -> (File, Vec<Diagnostic>);

/// The UTF-8 byte-order mark some editors write at the start of a file.
const BOM: &str = "\u{FEFF}";

pub struct ParsedFile {
    pub id: FileId,
    /// Path relative to the project root (`/`-separated), or `std/….scale`.
    pub name: String,
    pub std_module: Option<String>,
    pub ast: File,
}

pub struct Project {
    pub sources: SourceMap,
    pub files: Vec<ParsedFile>,
    /// The folder paths in the spec are relative to, and must stay inside.
    pub root: PathBuf,
    /// Syntax errors and import problems found while loading.
    pub diags: Diagnostics,
    /// Files the spec names that are not `.scale` files (a gate's
    /// `contract`, a route's `body` schema), by project-relative name, as
    /// the loader found them; read by the checker, never parsed here.
    pub assets: BTreeMap<String, Asset>,
}

/// The largest asset (contract, JSON Schema) the loader reads.
pub const MAX_ASSET_BYTES: u64 = 8 * 1024 * 1024;

/// A file the spec names that is not a `.scale` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asset {
    Bytes(Vec<u8>),
    /// Could not be read (the reason, without the path).
    Unreadable(String),
    /// Larger than [`MAX_ASSET_BYTES`]: its size.
    TooLarge(u64),
}

/// Is `name` an asset rather than a `.scale` file, when given in memory?
pub fn is_asset_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".yaml", ".yml", ".json"]
        .iter()
        .any(|x| lower.ends_with(x))
}

/// A failure that is not about the spec's text: a missing input, unreadable file.
#[derive(Debug)]
pub struct LoadError(pub String);

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Project {
    fn empty(root: PathBuf) -> Project {
        Project::empty_with(root, &mut parse)
    }

    fn empty_with(root: PathBuf, parser: Parser) -> Project {
        let mut p = Project {
            sources: SourceMap::default(),
            files: Vec::new(),
            root,
            diags: Diagnostics::default(),
            assets: BTreeMap::new(),
        };
        for (module, text) in STDLIB {
            p.add_with(
                format!("std/{module}.scale"),
                text.to_string(),
                Some(module.to_string()),
                parser,
            );
        }
        p
    }

    /// Adds a file read from disk: a UTF-8 byte-order mark is skipped, and
    /// text that is not UTF-8 is reported (S0118) at its first bad byte and
    /// not parsed.
    fn add_bytes(&mut self, name: String, bytes: Vec<u8>, std_module: Option<String>) -> usize {
        match String::from_utf8(bytes) {
            Ok(text) => self.add(name, text, std_module),
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                let bad_len = e.utf8_error().error_len().unwrap_or(1);
                let bytes = e.into_bytes();
                let bom = if bytes.starts_with(BOM.as_bytes()) {
                    BOM.len()
                } else {
                    0
                };
                // The valid prefix keeps its offsets; the rest is shown with
                // replacement characters.
                let text = String::from_utf8_lossy(&bytes[bom..]).into_owned();
                let byte = bytes[at];
                let id = self.sources.add(name.clone(), text);
                let start = at - bom;
                self.diags.push(catalog::invalid_utf8(
                    byte,
                    at,
                    bad_len,
                    Span::new(id, start, start + "\u{FFFD}".len()),
                ));
                self.files.push(ParsedFile {
                    id,
                    name,
                    std_module,
                    ast: File::default(),
                });
                self.files.len() - 1
            }
        }
    }

    fn add(&mut self, name: String, text: String, std_module: Option<String>) -> usize {
        self.add_with(name, text, std_module, &mut parse)
    }

    fn add_with(
        &mut self,
        name: String,
        text: String,
        std_module: Option<String>,
        parser: Parser,
    ) -> usize {
        // An invisible byte-order mark is not part of the spec.
        let text = match text.strip_prefix(BOM) {
            Some(rest) => rest.to_string(),
            None => text,
        };
        let id = self.sources.add(name.clone(), text);
        let (ast, diags) = parser(id, &self.sources.get(id).text);
        self.diags.extend(diags);
        self.files.push(ParsedFile {
            id,
            name,
            std_module,
            ast,
        });
        self.files.len() - 1
    }

    /// A project from texts in memory (editor buffers, tests, benchmarks).
    /// `use "file"` is resolved among these texts only.
    pub fn from_memory(files: &[(&str, &str)]) -> Project {
        Project::from_memory_with(files, &mut parse)
    }

    /// [`Project::from_memory`] with the parser given: the language server
    /// passes one that reuses the syntax trees of texts it parsed before
    /// (it must return what [`parse`] returns for the same file and text).
    pub fn from_memory_with(files: &[(&str, &str)], parser: Parser) -> Project {
        let mut p = Project::empty_with(PathBuf::from("."), parser);
        for (name, text) in files {
            if is_asset_name(name) {
                if let Some(n) = normalize_inside(name) {
                    p.add_asset(n, text.as_bytes().to_vec());
                }
                continue;
            }
            p.add_with(name.to_string(), text.to_string(), None, parser);
        }
        let names: BTreeSet<String> = files.iter().map(|(n, _)| n.to_string()).collect();
        p.check_uses(&mut |p, from, name, span| {
            if let Some(d) = unsafe_text(name, span) {
                p.diags.push(d);
                Err(())
            } else {
                match use_target(from, name) {
                    None => {
                        p.diags.push(escapes(name, span));
                        Err(())
                    }
                    Some(target) if names.contains(&target) => Ok(()),
                    Some(_) => {
                        p.diags.push(not_found(name, span));
                        Err(())
                    }
                }
            }
        });
        p
    }

    /// Loads the files and folders given, and every file they `use`.
    pub fn load(inputs: &[PathBuf]) -> Result<Project, LoadError> {
        if inputs.is_empty() {
            return Err(LoadError("no input: give a .scale file or a folder".into()));
        }
        // The root is the folder given (or the file's folder); with several
        // inputs, the deepest folder that holds them all.
        let folder = |p: &PathBuf| -> PathBuf {
            let d = if p.is_dir() {
                p.clone()
            } else {
                p.parent().map(Path::to_path_buf).unwrap_or_default()
            };
            if d.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                d
            }
        };
        let mut root = folder(&inputs[0]);
        if inputs.len() > 1 {
            let cwd = std::env::current_dir()
                .map_err(|e| LoadError(format!("cannot read the current folder: {e}")))?;
            let abs = |p: PathBuf| if p.is_absolute() { p } else { cwd.join(p) };
            let folders: Vec<PathBuf> = inputs.iter().map(|i| abs(folder(i))).collect();
            let mut common: Vec<Component> = folders[0]
                .components()
                .filter(|c| *c != Component::CurDir)
                .collect();
            for f in &folders[1..] {
                let parts: Vec<Component> =
                    f.components().filter(|c| *c != Component::CurDir).collect();
                let n = common
                    .iter()
                    .zip(&parts)
                    .take_while(|(a, b)| a == b)
                    .count();
                common.truncate(n);
            }
            root = common.iter().collect();
        }
        let mut p = Project::empty(root.clone());
        let mut paths = Vec::new();
        for input in inputs {
            if input.is_dir() {
                let first = paths.len();
                collect_dir(input, &mut paths)
                    .map_err(|e| LoadError(format!("{}: {e}", input.display())))?;
                // A linked file found in a folder must not lead out of it.
                let real_root = std::fs::canonicalize(&root)
                    .map_err(|e| LoadError(format!("{}: {e}", root.display())))?;
                for path in &paths[first..] {
                    let real = std::fs::canonicalize(path)
                        .map_err(|e| LoadError(format!("{}: {e}", path.display())))?;
                    if !real.starts_with(&real_root) {
                        return Err(LoadError(format!(
                            "{} is a link to {}, outside the project root {}; copy the file into the project or name it on the command line",
                            path.display(),
                            real.display(),
                            root.display()
                        )));
                    }
                }
            } else if input.is_file() {
                paths.push(input.clone());
            } else {
                return Err(LoadError(format!(
                    "{}: no such file or folder",
                    input.display()
                )));
            }
        }
        paths.sort();
        paths.dedup();
        let mut loaded: BTreeSet<String> = BTreeSet::new();
        for path in paths {
            let name = display_name(&root, &path);
            if !loaded.insert(name.clone()) {
                continue;
            }
            let bytes =
                std::fs::read(&path).map_err(|e| LoadError(format!("{}: {e}", path.display())))?;
            p.add_bytes(name, bytes, None);
        }
        // Follow `use "file"` (breadth first, each file once).
        let mut i = 0;
        while i < p.files.len() {
            let uses: Vec<(String, Span, String)> = if p.files[i].std_module.is_some() {
                vec![]
            } else {
                let base = Path::new(&p.files[i].name)
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_default();
                p.files[i]
                    .ast
                    .uses
                    .iter()
                    .filter_map(|u| match &u.target {
                        UseTarget::File { path, span } => Some((
                            path.clone(),
                            *span,
                            base.join(path).to_string_lossy().replace('\\', "/"),
                        )),
                        _ => None,
                    })
                    .collect()
            };
            for (written, span, joined) in uses {
                if let Some(d) = unsafe_text(&written, span) {
                    p.diags.push(d);
                    continue;
                }
                let Some(rel) = normalize_inside(&joined) else {
                    p.diags.push(escapes(&written, span));
                    continue;
                };
                if loaded.contains(&rel) {
                    continue;
                }
                // `..` and absolute paths are refused above; a link must
                // not lead out either.
                if let (Ok(real), Ok(real_root)) = (
                    std::fs::canonicalize(root.join(&rel)),
                    std::fs::canonicalize(&root),
                ) {
                    if !real.starts_with(&real_root) {
                        p.diags.push(catalog::path_escapes_by_link(
                            &written,
                            span,
                            &real.display().to_string(),
                        ));
                        continue;
                    }
                }
                match std::fs::read(root.join(&rel)) {
                    Ok(bytes) => {
                        loaded.insert(rel.clone());
                        p.add_bytes(rel, bytes, None);
                    }
                    Err(_) => p.diags.push(not_found(&written, span)),
                }
            }
            i += 1;
        }
        p.check_uses(&mut |_, _, _, _| Ok(()));
        p.read_assets(&root, &|_| None);
        Ok(p)
    }

    /// Reads the contracts and schemas the spec names ([`Project::asset_names`])
    /// below `root`: from `buffer` (an editor's unsaved text, by full path)
    /// when it has them, else from disk, where a link must not lead out of
    /// the project. `scalec check` and the language server both read them
    /// here.
    pub fn read_assets(&mut self, root: &Path, buffer: &dyn Fn(&Path) -> Option<Vec<u8>>) {
        let real_root = std::fs::canonicalize(root).ok();
        for name in self.asset_names() {
            let path = root.join(&name);
            if let Some(bytes) = buffer(&path) {
                self.add_asset(name, bytes);
                continue;
            }
            let asset = match (std::fs::canonicalize(&path), &real_root) {
                (Ok(real), Some(r)) if !real.starts_with(r) => Asset::Unreadable(format!(
                    "it is a link to {}, outside the project root",
                    real.display()
                )),
                _ => read_asset(&path),
            };
            self.assets.insert(name, asset);
        }
    }

    /// The project-relative names of the assets the spec names: every
    /// gate's `contract = "…"` and every route's `body = "…"` written as a
    /// plain string (the checker reports the other forms). The loader, and
    /// the language server, read these and hand them over by
    /// [`Project::add_asset`].
    pub fn asset_names(&self) -> Vec<String> {
        use crate::syntax::ast::{ExprKind, ItemKind};
        let mut out = BTreeSet::new();
        let mut take = |items: &[crate::syntax::ast::Item], key: &str| {
            for item in items {
                if let ItemKind::Property { key: k, value, .. } = &item.kind {
                    if k.name == key {
                        if let ExprKind::Str(s) = &value.kind {
                            if crate::semantics::path_text_flaw(s).is_none() {
                                out.extend(normalize_inside(s));
                            }
                        }
                    }
                }
            }
        };
        for f in self.files.iter().filter(|f| f.std_module.is_none()) {
            for d in &f.ast.decls {
                match d.kind.name.as_str() {
                    "gate" => take(&d.body.items, "contract"),
                    "service" => {
                        for item in &d.body.items {
                            if let ItemKind::Route { block: Some(b), .. } = &item.kind {
                                take(&b.items, "body");
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        out.into_iter().collect()
    }

    /// Hands over the bytes of an asset (the language server's open
    /// buffers, or a file it read); larger ones are kept as too large.
    pub fn add_asset(&mut self, name: String, bytes: Vec<u8>) {
        let asset = if bytes.len() as u64 > MAX_ASSET_BYTES {
            Asset::TooLarge(bytes.len() as u64)
        } else {
            Asset::Bytes(bytes)
        };
        self.assets.insert(name, asset);
    }

    /// Checks `use std.…` lines (module exists); file uses go to `file_ok`.
    /// Checks every `use`: modules here, files through `file_ok(project,
    /// using file's name, written path, span)`.
    fn check_uses(&mut self, file_ok: &mut UseCheck<'_>) {
        let mut found = Vec::new();
        for f in self.files.iter().filter(|f| f.std_module.is_none()) {
            for u in &f.ast.uses {
                match &u.target {
                    UseTarget::Module { path, .. } => {
                        if self.std_module_of(path).is_none() {
                            found.push(Err(bad_module(path)));
                        }
                    }
                    UseTarget::File { path, span } => {
                        found.push(Ok((f.name.clone(), path.clone(), *span)))
                    }
                }
            }
        }
        for item in found {
            match item {
                Err(d) => self.diags.push(d),
                Ok((from, path, span)) => {
                    let _ = file_ok(self, &from, &path, span);
                }
            }
        }
    }

    /// `std.budgets` → `budgets`, if that module exists.
    pub fn std_module_of(&self, path: &[Ident]) -> Option<&'static str> {
        match path {
            [std, m] if std.name == "std" => STDLIB.iter().map(|(n, _)| *n).find(|n| *n == m.name),
            _ => None,
        }
    }

    /// Where the project's own files are on disk (not the standard library).
    pub fn disk_paths(&self) -> Vec<PathBuf> {
        self.files
            .iter()
            .filter(|f| f.std_module.is_none())
            .map(|f| self.root.join(&f.name))
            .collect()
    }

    /// `sha256:…` over the project's own files (names and texts, sorted by
    /// name) — not the standard library, which the compiler version pins.
    pub fn input_hash(&self) -> String {
        let mut files: Vec<&ParsedFile> = self
            .files
            .iter()
            .filter(|f| f.std_module.is_none())
            .collect();
        files.sort_by(|a, b| a.name.cmp(&b.name));
        let mut h = Sha256::new();
        for f in files {
            h.update(f.name.as_bytes());
            h.update([0]);
            h.update(self.sources.get(f.id).text.as_bytes());
            h.update([0]);
        }
        format!("sha256:{}", hex(&h.finalize()))
    }
}

/// Reads an asset from disk, at most [`MAX_ASSET_BYTES`] of it.
pub fn read_asset(path: &Path) -> Asset {
    use std::io::Read;
    // A folder, a FIFO or a device is not read (a FIFO would block).
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => return Asset::Unreadable("it is a folder".into()),
        Ok(m) if !m.is_file() => return Asset::Unreadable("it is not a regular file".into()),
        _ => {}
    }
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Asset::Unreadable("no such file in the project".into())
        }
        Err(e) => return Asset::Unreadable(e.to_string()),
    };
    let mut bytes = Vec::new();
    match file.take(MAX_ASSET_BYTES + 1).read_to_end(&mut bytes) {
        Ok(n) if n as u64 > MAX_ASSET_BYTES => {
            Asset::TooLarge(std::fs::metadata(path).map(|m| m.len()).unwrap_or(n as u64))
        }
        Ok(_) => Asset::Bytes(bytes),
        Err(e) => Asset::Unreadable(e.to_string()),
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every `.scale` file below `dir`, sorted: the one walk `check`, `build`
/// and `fmt` share. Hidden folders, `target` and `node_modules` are skipped,
/// and linked folders are not entered (no cycles).
pub fn collect_dir(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let name = e.file_name();
        let hidden = name.to_string_lossy().starts_with('.');
        let real_dir = e.file_type().is_ok_and(|t| t.is_dir());
        if real_dir && !hidden && name != "target" && name != "node_modules" {
            collect_dir(&path, out)?;
        } else if path.extension().is_some_and(|x| x == "scale") {
            out.push(path);
        }
    }
    Ok(())
}

fn display_name(root: &Path, path: &Path) -> String {
    let absolute;
    let path = if root.is_absolute() && path.is_relative() {
        absolute = std::env::current_dir()
            .map(|c| c.join(path))
            .unwrap_or_else(|_| path.to_path_buf());
        absolute.as_path()
    } else {
        path
    };
    let rel = path.strip_prefix(root).unwrap_or(path);
    let s = rel.to_string_lossy().replace('\\', "/");
    s.strip_prefix("./").map(str::to_string).unwrap_or(s)
}

/// Checks one `use "…"` of a file: (project, using file, written path, span).
type UseCheck<'a> = dyn FnMut(&mut Project, &str, &str, Span) -> Result<(), ()> + 'a;

/// The project-relative name of the file `use "written"` names from the
/// file `from` (itself project-relative): relative to `from`'s folder, as
/// `scalec check` reads it from disk; `None` when it leaves the project.
pub fn use_target(from: &str, written: &str) -> Option<String> {
    let dir = from.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    if dir.is_empty() {
        normalize_inside(written)
    } else {
        normalize_inside(&format!("{dir}/{written}"))
    }
}

/// Normalises a `/`-separated relative path, refusing one that is absolute
/// or climbs above its root. `a/../b.scale` → `b.scale`.
pub fn normalize_inside(path: &str) -> Option<String> {
    if path.is_empty() || path.contains('\0') {
        return None;
    }
    let p = Path::new(path);
    let mut parts: Vec<String> = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    if parts.is_empty() {
        return None;
    }
    Some(parts.join("/"))
}

/// A `use` path whose text is not one plain line (a line break, a bidi
/// control, spaces around it): refused before it is resolved.
fn unsafe_text(path: &str, span: Span) -> Option<Diagnostic> {
    crate::semantics::path_text_flaw(path).map(|flaw| catalog::unsafe_path(path, flaw, span))
}

fn escapes(path: &str, span: Span) -> Diagnostic {
    catalog::path_escapes(path, span, true)
}

/// The 1-based line and column (in characters) just after `valid`, a
/// valid UTF-8 prefix of a file.
pub fn line_col(valid: &[u8]) -> (usize, usize) {
    let text = std::str::from_utf8(valid).unwrap_or_default();
    let line = text.matches('\n').count() + 1;
    let col = text.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, col)
}

fn not_found(path: &str, span: Span) -> Diagnostic {
    catalog::file_not_found(path, span)
}

fn bad_module(path: &[Ident]) -> Diagnostic {
    let written = path
        .iter()
        .map(|i| i.name.as_str())
        .collect::<Vec<_>>()
        .join(".");
    let span = path
        .first()
        .map(|f| f.span.to(path.last().expect("non-empty").span))
        .unwrap_or_default();
    let modules: Vec<&str> = STDLIB.iter().map(|(n, _)| *n).collect();
    let last = path.last().map(|l| l.name.as_str()).unwrap_or("");
    catalog::unknown_module(&written, last, path.len() == 2, span, &modules)
}

#[cfg(test)]
mod tests {
    /// In memory as on disk, `use "…"` is relative to the using file.
    #[test]
    fn uses_in_memory_are_relative_to_the_using_file() {
        let p = Project::from_memory(&[
            (
                "main.scale",
                "use \"sub/a.scale\"\napp x { owner = \"t\" }\n",
            ),
            ("sub/a.scale", "use \"b.scale\"\nbudget a { p99 = 1s }\n"),
            ("sub/b.scale", "budget b { p99 = 1s }\n"),
        ]);
        assert!(p.diags.is_empty(), "{:?}", p.diags);
        let p = Project::from_memory(&[
            (
                "main.scale",
                "use \"sub/a.scale\"\napp x { owner = \"t\" }\n",
            ),
            ("sub/a.scale", "use \"b.scale\"\n"),
            ("b.scale", "budget b { p99 = 1s }\n"),
        ]);
        assert_eq!(p.diags.len(), 1, "sub/b.scale is not there: {:?}", p.diags);
    }

    use super::*;

    #[test]
    fn paths_stay_inside() {
        assert_eq!(
            normalize_inside("a/./b/../c.yaml").as_deref(),
            Some("a/c.yaml")
        );
        assert_eq!(normalize_inside("../x"), None);
        assert_eq!(
            use_target("sub/a.scale", "b.scale").as_deref(),
            Some("sub/b.scale")
        );
        assert_eq!(
            use_target("sub/a.scale", "../c.scale").as_deref(),
            Some("c.scale")
        );
        assert_eq!(
            use_target("a.scale", "lib/x.scale").as_deref(),
            Some("lib/x.scale")
        );
        assert_eq!(use_target("a.scale", "../x.scale"), None);
        assert_eq!(normalize_inside("a/../../x"), None);
        assert_eq!(normalize_inside("/etc/passwd"), None);
        assert_eq!(normalize_inside(""), None);
    }
}
