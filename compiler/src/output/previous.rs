//! The previous build, as the next one reads it: its `manifest.json` as
//! an indexed table (files sorted by path, units by key, each file's unit
//! and each unit's files by index), and what one walk of the folder found
//! on disk (every listed file's size and time, everything not listed).
//!
//! At 10,000 services this is 120,000 files and 50,000 units. A rebuild
//! keeps almost all of them, so a kept unit is recorded by its index, not
//! by copies of its paths and key, and a file is trusted by the size and
//! time the walk already read (one `statx` relative to its folder, not a
//! second `lstat` of its whole path).

use super::{not_a_manifest, HashSet, MANIFEST};
use std::hash::BuildHasher;
use std::io;
use std::path::Path;
use std::time::SystemTime;

/// No unit: a file put outside any unit (app-wide files).
pub(super) const NO_UNIT: u32 = u32::MAX;

/// What the walk found at a listed file's path: a regular file's size
/// and modification time (a link or a folder there is not the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Disk {
    pub(super) len: u64,
    pub(super) modified: Option<SystemTime>,
}

/// A string of [`Previous::names`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Span {
    start: u32,
    len: u32,
}

/// A file the previous build listed.
#[derive(Debug, Clone)]
pub(super) struct PrevFile {
    path: Span,
    pub(super) sha256: [u8; 32],
    pub(super) bytes: u64,
    /// Index into [`Previous::units`], or [`NO_UNIT`].
    pub(super) unit: u32,
    /// As the walk of the folder found it; `None` when it found none.
    pub(super) disk: Option<Disk>,
}

/// A unit of work of the previous build.
#[derive(Debug, Clone)]
pub(super) struct PrevUnit {
    key: Span,
    pub(super) fingerprint: [u8; 32],
    /// Its files: a range of [`Previous::unit_files`].
    files: (u32, u32),
}

/// The previous build, from its `manifest.json` and the folder. Every
/// path and key is a span of one string, and each unit's files a range of
/// one list: no allocation per file or unit.
#[derive(Debug, Default)]
pub(super) struct Previous {
    names: String,
    /// Sorted by path, each path once.
    pub(super) files: Vec<PrevFile>,
    /// Sorted by key, each key once.
    pub(super) units: Vec<PrevUnit>,
    /// Indices into `files`, each unit's ascending.
    unit_files: Vec<u32>,
    /// A key's hash → its index (or [`NO_UNIT`] when two share the hash:
    /// then the sorted list is searched). Every unit is looked up in a
    /// rebuild, and a binary search of 50,000 keys spread over megabytes
    /// misses the cache at every step. (Files are found by the walk's
    /// merge; a file is looked up only when its unit is rendered.)
    unit_by_hash: Index,
    /// When the manifest was written: a file whose mtime is older and
    /// whose size is the listed one is trusted to hold the listed bytes.
    pub(super) written: Option<SystemTime>,
}

type Index = std::collections::HashMap<u64, u32, foldhash::fast::RandomState>;

fn hash(s: &str) -> u64 {
    foldhash::fast::FixedState::with_seed(0x5ca1e).hash_one(s)
}

fn index_of<'a, T>(list: &'a [T], name: impl Fn(&'a T) -> &'a str) -> Index {
    let mut index = Index::default();
    index.reserve(list.len());
    for (i, t) in list.iter().enumerate() {
        index
            .entry(hash(name(t)))
            .and_modify(|v| *v = NO_UNIT)
            .or_insert(i as u32);
    }
    index
}

/// `name`'s index in `list` (sorted by name).
fn find<'a, T>(
    list: &'a [T],
    index: &Index,
    name: impl Fn(&'a T) -> &'a str,
    wanted: &str,
) -> Option<usize> {
    match index.get(&hash(wanted)) {
        None => None,
        Some(&i) if i != NO_UNIT => (name(&list[i as usize]) == wanted).then_some(i as usize),
        Some(_) => list.binary_search_by(|t| name(t).cmp(wanted)).ok(),
    }
}

impl Previous {
    fn name(&self, s: Span) -> &str {
        &self.names[s.start as usize..(s.start + s.len) as usize]
    }

    fn push_name(&mut self, s: &str) -> Span {
        let start = self.names.len() as u32;
        self.names.push_str(s);
        Span {
            start,
            len: s.len() as u32,
        }
    }

    pub(super) fn path(&self, f: &PrevFile) -> &str {
        self.name(f.path)
    }

    pub(super) fn key(&self, u: &PrevUnit) -> &str {
        self.name(u.key)
    }

    /// The unit's files, as indices into [`Self::files`], ascending.
    pub(super) fn files_of(&self, u: &PrevUnit) -> &[u32] {
        &self.unit_files[u.files.0 as usize..u.files.1 as usize]
    }

    pub(super) fn file(&self, path: &str) -> Option<(u32, &PrevFile)> {
        let i = self
            .files
            .binary_search_by(|f| self.name(f.path).cmp(path))
            .ok()?;
        Some((i as u32, &self.files[i]))
    }

    pub(super) fn unit(&self, key: &str) -> Option<(u32, &PrevUnit)> {
        let i = find(&self.units, &self.unit_by_hash, |u| self.name(u.key), key)?;
        Some((i as u32, &self.units[i]))
    }

    /// Whether `f` still holds what the manifest lists, as far as its size
    /// and time tell.
    pub(super) fn trust(&self, f: &PrevFile) -> Trust {
        let Some(d) = f.disk else {
            return Trust::No;
        };
        if d.len != f.bytes {
            return Trust::No;
        }
        match (d.modified, self.written) {
            (Some(t), Some(w)) if t < w => Trust::Yes,
            _ => Trust::Read,
        }
    }
}

/// How far a previous file can be trusted without reading it.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Trust {
    /// A regular file of the listed size, older than the manifest.
    Yes,
    /// The listed size, but modified with or after the manifest: compare.
    Read,
    No,
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = digit(b[2 * i])? << 4 | digit(b[2 * i + 1])?;
    }
    Some(out)
}

/// The previous build's manifest, read with its time (no file's `disk`
/// yet: see [`walk`]). A line without a readable hash is left out (its
/// file is then not ours to keep, nor to trust).
pub(super) fn read_previous(dir: &Path) -> io::Result<Previous> {
    use std::borrow::Cow;
    // Strings borrowed from the text where they hold no escape (hashes and
    // unit keys never do): 120,000 lines at 10,000 services.
    #[derive(serde::Deserialize)]
    struct Doc<'a> {
        #[serde(borrow)]
        artifacts: Vec<Line<'a>>,
        #[serde(default, borrow)]
        units: Pairs<'a>,
    }
    /// A JSON object's members in their order, strings borrowed.
    #[derive(Default)]
    struct Pairs<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);
    #[derive(serde::Deserialize)]
    struct Str<'a>(#[serde(borrow)] Cow<'a, str>);
    impl<'de: 'a, 'a> serde::Deserialize<'de> for Pairs<'a> {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V<'a>(std::marker::PhantomData<&'a ()>);
            impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
                type Value = Pairs<'a>;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("an object of unit fingerprints")
                }
                fn visit_map<M: serde::de::MapAccess<'de>>(
                    self,
                    mut map: M,
                ) -> Result<Pairs<'a>, M::Error> {
                    let mut v = Vec::with_capacity(map.size_hint().unwrap_or(0));
                    while let Some((Str(k), Str(fp))) = map.next_entry::<Str, Str>()? {
                        v.push((k, fp));
                    }
                    Ok(Pairs(v))
                }
            }
            d.deserialize_map(V(std::marker::PhantomData))
        }
    }
    #[derive(serde::Deserialize)]
    struct Line<'a> {
        #[serde(borrow)]
        path: Cow<'a, str>,
        #[serde(borrow)]
        sha256: Cow<'a, str>,
        bytes: u64,
        #[serde(default, borrow)]
        unit: Option<Cow<'a, str>>,
    }
    let path = dir.join(MANIFEST);
    let file = std::fs::File::open(&path)?;
    let written = file.metadata().and_then(|m| m.modified()).ok();
    let mut text = String::new();
    io::Read::read_to_string(&mut &file, &mut text)?;
    let doc = serde_json::from_str::<Doc>(&text).map_err(|e| not_a_manifest(dir, e))?;
    let mut prev = Previous {
        written,
        ..Previous::default()
    };

    // Units, sorted by key (the manifest writes them so), each once.
    let mut units: Vec<(Cow<str>, [u8; 32])> = doc
        .units
        .0
        .into_iter()
        .filter_map(|(k, fp)| Some((k, unhex(&fp)?)))
        .collect();
    if !units.windows(2).all(|w| w[0].0 < w[1].0) {
        units.sort_by(|a, b| a.0.cmp(&b.0));
        units.dedup_by(|a, b| a.0 == b.0);
    }
    // Files, sorted by path (the manifest writes them so), each once.
    let mut lines: Vec<(Line, [u8; 32])> = doc
        .artifacts
        .into_iter()
        .filter_map(|l| {
            let sha = unhex(&l.sha256)?;
            Some((l, sha))
        })
        .collect();
    if !lines.windows(2).all(|w| w[0].0.path < w[1].0.path) {
        lines.sort_by(|a, b| a.0.path.cmp(&b.0.path));
        lines.dedup_by(|a, b| a.0.path == b.0.path);
    }
    prev.names.reserve(
        units.iter().map(|u| u.0.len()).sum::<usize>()
            + lines.iter().map(|l| l.0.path.len()).sum::<usize>(),
    );
    prev.units.reserve(units.len());
    for (key, fingerprint) in &units {
        let key = prev.push_name(key);
        prev.units.push(PrevUnit {
            key,
            fingerprint: *fingerprint,
            files: (0, 0),
        });
    }
    prev.unit_by_hash = index_of(&prev.units, |u| prev.name(u.key));
    prev.files.reserve(lines.len());
    let mut count = vec![0u32; units.len()];
    for (l, sha256) in &lines {
        let unit = l
            .unit
            .as_deref()
            .and_then(|u| prev.unit(u))
            .map(|(u, _)| u as usize);
        let path = prev.push_name(&l.path);
        let unit = match unit {
            Some(u) => {
                count[u] += 1;
                u as u32
            }
            None => NO_UNIT,
        };
        prev.files.push(PrevFile {
            path,
            sha256: *sha256,
            bytes: l.bytes,
            unit,
            disk: None,
        });
    }
    // Each unit's files, a range of one list (files in path order).
    let mut at = 0u32;
    for (u, n) in prev.units.iter_mut().zip(&count) {
        u.files = (at, at);
        at += n;
    }
    prev.unit_files = vec![0; at as usize];
    for (i, f) in prev.files.iter().enumerate() {
        if let Some(u) = prev.units.get_mut(f.unit as usize) {
            prev.unit_files[u.files.1 as usize] = i as u32;
            u.files.1 += 1;
        }
    }
    Ok(prev)
}

/// Walks `dir` once: notes every listed file's size and time in `prev`,
/// and returns what the folder holds beyond the listed files, their
/// folders and the manifest (see [`super::foreign_entries`]). The files
/// found are sorted and merged with the listed ones (120,000 lookups in a
/// table spread over megabytes missed the cache three times each).
pub(super) fn walk(dir: &Path, prev: &mut Previous) -> io::Result<Vec<String>> {
    let folders = folders_of(prev.files.iter().map(|f| prev.name(f.path)));
    let mut foreign = Vec::new();
    let mut found: Vec<(String, std::fs::DirEntry)> = Vec::with_capacity(prev.files.len());
    let mut rel = String::new();
    super::foreign_walk(dir, &mut rel, &folders, &mut foreign, &mut |rel, entry| {
        found.push((rel.to_string(), entry));
        true
    })?;
    found.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let Previous { names, files, .. } = prev;
    let name = |s: Span| &names[s.start as usize..(s.start + s.len) as usize];
    let mut at = 0;
    for (rel, entry) in found {
        while at < files.len() && name(files[at].path) < rel.as_str() {
            at += 1;
        }
        match files.get_mut(at) {
            Some(f) if name(f.path) == rel => {
                // Relative to the open folder (`statx` on its descriptor),
                // without following a link.
                f.disk = entry.metadata().ok().filter(|m| m.is_file()).map(|m| Disk {
                    len: m.len(),
                    modified: m.modified().ok(),
                });
                at += 1;
            }
            _ => foreign.push(rel),
        }
    }
    super::sort_walk(&mut foreign);
    Ok(foreign)
}

/// The folders (`k8s/`, `a/b/`) that hold one of `paths`.
pub(super) fn folders_of<'a>(paths: impl Iterator<Item = &'a str>) -> HashSet<String> {
    let mut folders: HashSet<String> = HashSet::default();
    for p in paths {
        let mut rest: &str = p;
        while let Some(i) = rest.rfind('/') {
            if folders.contains(&rest[..i + 1]) {
                break;
            }
            folders.insert(rest[..i + 1].to_string());
            rest = &rest[..i];
        }
    }
    folders
}
