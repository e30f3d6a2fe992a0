//! The writer: the only code that touches the output folder.
//!
//! A build is staged in a sibling folder and swapped in with renames, so a
//! failed or interrupted build leaves the previous output as it was, and the
//! folder never holds a mix of old and new files. Artifacts are streamed:
//! each is written into the staging folder and hashed as the backends make
//! it ([`StagingSink`]), never all held in memory. A file whose bytes did
//! not change is not rewritten: the staging folder gets a hard link to the
//! previous file (when the previous `manifest.json` lists the same sha256
//! *and* the file on disk still holds exactly those bytes), so its inode
//! and mtime survive the swap. `--check` writes nothing and compares each
//! artifact with the file on disk as it is produced ([`CheckSink`]),
//! reporting what would change as a unified diff.
//!
//! A rebuild reads the previous build ([`previous`]: its manifest, and one
//! walk of the folder for each listed file's size and time) while the spec
//! is still being checked ([`Early`]), and keeps a unit whose input
//! fingerprint and files are unchanged without rendering it: the unit is
//! recorded by its index in the previous build and merged into the new
//! manifest by path.
//!
//! Two builds into one folder are serialised by a lock file beside it
//! (`.NAME.scalec-lock`, holding the builder's pid); the second waits for
//! the first. Staging folders a killed build left behind
//! (`.NAME.scalec-new-PID`, `.NAME.scalec-old-PID` of a process that no
//! longer runs) are removed by the next build, and if a build was killed
//! between its two renames, the previous tree is put back first.

use crate::backends::{self, Artifact, ArtifactSink, EmitError, Meta, Unit};
use crate::incremental::Fingerprints;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The sets of output paths hash with foldhash (in the tree already,
/// through hashbrown) rather than SipHash. None is iterated into anything
/// written.
type HashSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

mod check;
mod commit;
mod manifest;
mod previous;
pub use check::*;
use commit::*;
pub use manifest::manifest;
use manifest::*;
use previous::*;

pub const MANIFEST: &str = "manifest.json";

/// How long a build waits for another build of the same folder.
pub const LOCK_WAIT: Duration = Duration::from_secs(120);

fn generated_twice(path: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "the artifact `{path}` was generated twice; this is a scalec bug, please report it"
        ),
    )
}

/// What the sinks record of every artifact: its path (a path generated
/// twice is an error), hash, size and unit, for the manifest; and the
/// fingerprint of every unit rendered or kept.
#[derive(Debug, Default)]
struct Ledger {
    entries: Mutex<Vec<Entry>>,
    /// The paths of the artifacts put (not of the kept units' files: the
    /// manifest's merge finds a path both put and kept).
    seen: Mutex<HashSet<String>>,
    units: Mutex<BTreeMap<String, [u8; 32]>>,
    /// Units of the previous build kept whole, by their index in it.
    kept_units: Mutex<Vec<u32>>,
    /// Files put or kept so far.
    count: AtomicUsize,
}

impl Ledger {
    fn claim(&self, path: &str) -> io::Result<()> {
        let fresh = self
            .seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(path.to_string());
        if fresh {
            self.count.fetch_add(1, Ordering::Relaxed);
            Ok(())
        } else {
            Err(generated_twice(path))
        }
    }

    /// Notes that the previous build's unit `index`, of `files` files, is
    /// kept whole.
    fn keep_unit(&self, index: u32, files: usize) {
        self.kept_units
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(index);
        self.count.fetch_add(files, Ordering::Relaxed);
    }

    fn record(&self, path: &str, sha256: [u8; 32], bytes: usize, unit: Option<&str>) {
        if path == MANIFEST {
            return;
        }
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Entry {
                path: path.to_string(),
                sha256,
                bytes,
                unit: unit.map(str::to_string),
            });
    }

    fn unit_done(&self, key: String, fingerprint: [u8; 32]) {
        self.units
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, fingerprint);
    }

    /// Every artifact recorded so far, sorted by path, and the units (it
    /// takes them: call it once, last).
    fn take(&self) -> (Vec<Entry>, BTreeMap<String, [u8; 32]>) {
        let mut entries =
            std::mem::take(&mut *self.entries.lock().unwrap_or_else(|e| e.into_inner()));
        // Paths are unique (claimed once each).
        entries.sort_unstable_by(|a, b| a.path.cmp(&b.path));
        let units = std::mem::take(&mut *self.units.lock().unwrap_or_else(|e| e.into_inner()));
        (entries, units)
    }

    /// The manifest of every artifact recorded so far (see [`Self::take`]).
    fn manifest(&self, meta: &Meta) -> Artifact {
        let (entries, units) = self.take();
        manifest_of(meta, &entries, &units)
    }

    /// Every path claimed (it takes them: call it once, when all is put).
    fn take_paths(&self) -> HashSet<String> {
        std::mem::take(&mut *self.seen.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }
}

/// Puts a unit's artifacts into its sink, tagged with the unit's key.
struct UnitSink<'a, S: ?Sized> {
    sink: &'a S,
    key: &'a str,
}

/// A sink that records, for the manifest, which unit made each artifact.
trait Tagged: ArtifactSink {
    fn put_in(&self, a: Artifact, unit: Option<&str>) -> io::Result<()>;
}

impl<S: Tagged + ?Sized> ArtifactSink for UnitSink<'_, S> {
    fn put(&self, a: Artifact) -> io::Result<()> {
        self.sink.put_in(a, Some(self.key))
    }
}

/// Renders a unit through a [`UnitSink`] and records its fingerprint.
fn render_unit<S: Tagged>(
    sink: &S,
    ledger: &Ledger,
    fingerprints: Option<&Fingerprints>,
    unit: &Unit<'_>,
    render: &mut dyn FnMut(&dyn ArtifactSink) -> Result<(), EmitError>,
) -> Result<(), EmitError> {
    let key = unit.key();
    render(&UnitSink { sink, key: &key })?;
    if let Some(fp) = fingerprints.and_then(|f| f.get(unit)) {
        ledger.unit_done(key, fp);
    }
    Ok(())
}

/// Every artifact in memory, each with its unit (`scalec::emit`: the same
/// manifest as a build writes).
#[derive(Default)]
pub struct CollectUnits {
    artifacts: Mutex<Vec<Artifact>>,
    ledger: Ledger,
    fingerprints: Option<Fingerprints>,
}

impl CollectUnits {
    pub fn new(fingerprints: Fingerprints) -> Self {
        CollectUnits {
            fingerprints: Some(fingerprints),
            ..Default::default()
        }
    }

    /// The artifacts sorted by path and, last, their manifest; an error
    /// when a path was generated twice.
    pub fn finish(self, meta: &Meta) -> Result<Vec<Artifact>, String> {
        let mut v = self
            .artifacts
            .into_inner()
            .unwrap_or_else(|e| e.into_inner());
        v.sort_by(|a, b| a.path.cmp(&b.path));
        if let Some(w) = v.windows(2).find(|w| w[0].path == w[1].path) {
            return Err(format!(
                "the artifact `{}` was generated twice; this is a scalec bug, please report it",
                w[0].path
            ));
        }
        v.push(self.ledger.manifest(meta));
        Ok(v)
    }
}

impl Tagged for CollectUnits {
    fn put_in(&self, a: Artifact, unit: Option<&str>) -> io::Result<()> {
        self.ledger.record(
            &a.path,
            Sha256::digest(a.contents.as_bytes()).into(),
            a.contents.len(),
            unit,
        );
        self.artifacts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(a);
        Ok(())
    }
}

impl ArtifactSink for CollectUnits {
    fn put(&self, a: Artifact) -> io::Result<()> {
        self.put_in(a, None)
    }
    fn unit(
        &self,
        unit: &Unit<'_>,
        render: &mut dyn FnMut(&dyn ArtifactSink) -> Result<(), EmitError>,
    ) -> Result<(), EmitError> {
        render_unit(self, &self.ledger, self.fingerprints.as_ref(), unit, render)
    }
}

/// Writes the artifacts that differ from the previous build's files into
/// a staging folder as they come, and notes the ones that do not (kept).
/// A unit whose fingerprint equals the previous build's, and whose files
/// are all trusted ([`Trust::Yes`]), is not rendered at all.
#[derive(Debug)]
pub struct StagingSink {
    root: PathBuf,
    /// The current output folder.
    dir: PathBuf,
    previous: Option<Previous>,
    fingerprints: Option<Fingerprints>,
    made_dirs: Mutex<HashSet<PathBuf>>,
    ledger: Ledger,
    /// Files written into the staging folder (new or changed).
    staged: Mutex<Vec<String>>,
    /// Files put whose bytes are the previous build's (kept as they are).
    kept: Mutex<Vec<String>>,
    units_kept: AtomicUsize,
    units_rendered: AtomicUsize,
    /// What [`Self::put_manifest`] found the new tree to be.
    outcome: Mutex<Option<Outcome>>,
}

/// The new tree, as the manifest's merge found it.
#[derive(Debug, Default)]
struct Outcome {
    /// Files in the new tree, the manifest included.
    files: usize,
    /// Files of the previous build the new tree no longer holds, sorted.
    removed: Vec<String>,
    /// Files of the kept units (indices into the previous build's files).
    kept_files: Vec<u32>,
}

impl StagingSink {
    /// Writes `manifest.json` for everything put and kept so far into the
    /// staging folder, streamed as it is serialised; call it last.
    pub fn put_manifest(&self, meta: &Meta) -> io::Result<()> {
        let path = safe_join(&self.root, MANIFEST)?;
        self.ledger.claim(MANIFEST)?;
        let (entries, units) = self.ledger.take();
        let mut kept_units = std::mem::take(
            &mut *self
                .ledger
                .kept_units
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        let none = Previous::default();
        let prev = self.previous.as_ref().unwrap_or(&none);
        // Units are sorted by key, and files by path, in the previous
        // build: sorted indices are sorted keys and paths.
        kept_units.sort_unstable();
        let mut kept_files: Vec<u32> = kept_units
            .iter()
            .flat_map(|&u| prev.files_of(&prev.units[u as usize]).iter().copied())
            .collect();
        kept_files.sort_unstable();
        let kept_line = |i: u32| {
            let f = &prev.files[i as usize];
            Line {
                path: prev.path(f),
                sha256: &f.sha256,
                bytes: f.bytes,
                unit: prev.units.get(f.unit as usize).map(|u| prev.key(u)),
            }
        };
        // The artifacts put and the files kept, merged by path; a path in
        // both was generated twice.
        let mut present = vec![false; prev.files.len()];
        let mut lines: Vec<Line> = Vec::with_capacity(entries.len() + kept_files.len());
        let (mut a, mut b) = (entries.iter().peekable(), kept_files.iter().peekable());
        loop {
            let take_put = match (a.peek(), b.peek()) {
                (Some(e), Some(&&i)) => {
                    match e.path.as_str().cmp(prev.path(&prev.files[i as usize])) {
                        std::cmp::Ordering::Less => true,
                        std::cmp::Ordering::Greater => false,
                        std::cmp::Ordering::Equal => return Err(generated_twice(&e.path)),
                    }
                }
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            if take_put {
                let e = a.next().expect("peeked");
                if let Some((i, _)) = prev.file(&e.path) {
                    present[i as usize] = true;
                }
                lines.push(e.line());
            } else {
                let i = *b.next().expect("peeked");
                present[i as usize] = true;
                lines.push(kept_line(i));
            }
        }
        // Unit fingerprints: those rendered and those kept, merged by key.
        let mut fps: Vec<(&str, &[u8; 32])> = Vec::with_capacity(units.len() + kept_units.len());
        let (mut a, mut b) = (units.iter().peekable(), kept_units.iter().peekable());
        loop {
            let take_rendered = match (a.peek(), b.peek()) {
                (Some((k, _)), Some(&&u)) => {
                    match k.as_str().cmp(prev.key(&prev.units[u as usize])) {
                        std::cmp::Ordering::Less => true,
                        std::cmp::Ordering::Greater => false,
                        std::cmp::Ordering::Equal => {
                            b.next();
                            true
                        }
                    }
                }
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            if take_rendered {
                let (k, v) = a.next().expect("peeked");
                fps.push((k, v));
            } else {
                let u = &prev.units[*b.next().expect("peeked") as usize];
                fps.push((prev.key(u), &u.fingerprint));
            }
        }
        // Written aside and renamed: a staging folder with a manifest is a
        // whole tree (a killed build's half-written manifest would make the
        // next build's sweep keep its staging folder as somebody's files).
        let partial = self.root.join(".scalec-manifest-partial");
        let file = std::fs::File::create(&partial)?;
        let mut w = io::BufWriter::with_capacity(1 << 16, file);
        write_manifest(&mut w, meta, lines.iter().copied(), fps.iter().copied())?;
        io::Write::flush(&mut w)?;
        drop(w);
        std::fs::rename(&partial, &path)?;
        self.note(&self.staged, MANIFEST);
        let removed = prev
            .files
            .iter()
            .zip(&present)
            .filter(|(_, p)| !**p)
            .map(|(f, _)| prev.path(f).to_string())
            .collect();
        *self.outcome.lock().unwrap_or_else(|e| e.into_inner()) = Some(Outcome {
            files: lines.len() + 1,
            removed,
            kept_files,
        });
        crash_point(Step::Staged(self.ledger.count()));
        Ok(())
    }

    fn ensure_parent(&self, path: &Path) -> io::Result<()> {
        let Some(parent) = path.parent() else {
            return Ok(());
        };
        if self
            .made_dirs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(parent)
        {
            return Ok(());
        }
        std::fs::create_dir_all(parent)?;
        self.made_dirs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(parent.to_path_buf());
        Ok(())
    }

    /// Whether the previous build's file at `rel` holds exactly `bytes`
    /// (its manifest agrees, and the disk does).
    fn unchanged(&self, rel: &str, sha: &[u8; 32], bytes: &[u8]) -> bool {
        let Some(prev) = &self.previous else {
            return false;
        };
        let Some((_, listed)) = prev.file(rel) else {
            return false;
        };
        if &listed.sha256 != sha || listed.bytes != bytes.len() as u64 {
            return false;
        }
        match prev.trust(listed) {
            Trust::Yes => true,
            Trust::No => false,
            Trust::Read => safe_join(&self.dir, rel)
                .and_then(std::fs::read)
                .is_ok_and(|old| old == bytes),
        }
    }

    fn note(&self, list: &Mutex<Vec<String>>, path: &str) {
        list.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(path.to_string());
    }

    /// The previous build's unit `key` (its index and files), when its
    /// fingerprint is the same and every file is trusted.
    fn keepable(&self, unit: &Unit<'_>, key: &str) -> Option<(u32, &PrevUnit)> {
        let prev = self.previous.as_ref()?;
        let fp = self.fingerprints.as_ref()?.get(unit)?;
        let (index, old) = prev.unit(key)?;
        if old.fingerprint != fp {
            return None;
        }
        for &f in prev.files_of(old) {
            if prev.trust(&prev.files[f as usize]) != Trust::Yes {
                return None;
            }
        }
        Some((index, old))
    }
}

impl Tagged for StagingSink {
    fn put_in(&self, a: Artifact, unit: Option<&str>) -> io::Result<()> {
        let path = safe_join(&self.root, &a.path)?;
        self.ledger.claim(&a.path)?;
        let bytes = a.contents.as_bytes();
        let sha: [u8; 32] = Sha256::digest(bytes).into();
        if a.path != MANIFEST && self.unchanged(&a.path, &sha, bytes) {
            self.note(&self.kept, &a.path);
        } else {
            self.ensure_parent(&path)?;
            std::fs::write(&path, bytes)?;
            self.note(&self.staged, &a.path);
        }
        self.ledger.record(&a.path, sha, bytes.len(), unit);
        crash_point(Step::Staged(self.ledger.count()));
        Ok(())
    }
}

impl ArtifactSink for StagingSink {
    fn put(&self, a: Artifact) -> io::Result<()> {
        self.put_in(a, None)
    }

    fn unit(
        &self,
        unit: &Unit<'_>,
        render: &mut dyn FnMut(&dyn ArtifactSink) -> Result<(), EmitError>,
    ) -> Result<(), EmitError> {
        let key = unit.key();
        let Some((index, old)) = self.keepable(unit, &key) else {
            self.units_rendered.fetch_add(1, Ordering::Relaxed);
            return render_unit(self, &self.ledger, self.fingerprints.as_ref(), unit, render);
        };
        if crate::incremental::verify() {
            // The fingerprint must cover everything the unit reads: render
            // it anyway and compare with what is kept.
            let prev = self.previous.as_ref().expect("keepable checked it");
            let made = backends::Collect::default();
            render(&made)?;
            let made: BTreeMap<String, [u8; 32]> = made
                .into_sorted()
                .into_iter()
                .map(|a| (a.path, Sha256::digest(a.contents.as_bytes()).into()))
                .collect();
            let kept: BTreeMap<String, [u8; 32]> = prev
                .files_of(old)
                .iter()
                .map(|&f| {
                    let f = &prev.files[f as usize];
                    (prev.path(f).to_string(), f.sha256)
                })
                .collect();
            if made != kept {
                return Err(EmitError::Sink(io::Error::other(format!(
                    "the unit `{key}` would be kept for its unchanged input fingerprint, but renders differently; this is a scalec bug (an input missing from the fingerprint), please report it"
                ))));
            }
        }
        let files = self.previous.as_ref().map_or(0, |p| p.files_of(old).len());
        self.ledger.keep_unit(index, files);
        self.units_kept.fetch_add(1, Ordering::Relaxed);
        crash_point(Step::Staged(self.ledger.count()));
        Ok(())
    }
}

/// What a build did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteStats {
    /// Files in the new tree (the manifest included).
    pub files: usize,
    /// Files written anew.
    pub written: usize,
    /// Files kept from the previous build (bytes unchanged).
    pub unchanged: usize,
    /// Units of work kept without rendering (fingerprint unchanged), and
    /// units rendered.
    pub units_kept: usize,
    pub units_rendered: usize,
    /// Whether the changed files were moved into the output folder in
    /// place (few changes) rather than by swapping in a whole new tree.
    pub in_place: bool,
    /// Time spent reading the previous build (its manifest, the folder's
    /// listing), producing and staging the artifacts, swapping the
    /// folders in (or moving the changed files in), and removing the
    /// previous tree.
    pub prepare: Duration,
    pub stage: Duration,
    pub swap: Duration,
    pub cleanup: Duration,
    /// Files that appeared in the output folder while the build ran (so
    /// the previous manifest does not list them): the previous tree, with
    /// them, is kept at this path instead of being removed.
    pub kept: Option<(PathBuf, Vec<String>)>,
}

/// Compares each artifact with the file on disk as it comes; writes
/// nothing.
#[derive(Debug)]
pub struct CheckSink {
    dir: PathBuf,
    ledger: Ledger,
    drift: Mutex<Vec<Drift>>,
    fingerprints: Option<Fingerprints>,
}

impl CheckSink {
    /// `manifest.json` for everything put so far; put it last.
    pub fn manifest(&self, meta: &Meta) -> Artifact {
        self.ledger.manifest(meta)
    }
}

impl ArtifactSink for CheckSink {
    fn put(&self, a: Artifact) -> io::Result<()> {
        self.put_in(a, None)
    }

    /// Every unit is rendered and compared (a file edited by hand is found
    /// whatever its size and time); the fingerprint goes in the manifest
    /// compared, as a build would write it.
    fn unit(
        &self,
        unit: &Unit<'_>,
        render: &mut dyn FnMut(&dyn ArtifactSink) -> Result<(), EmitError>,
    ) -> Result<(), EmitError> {
        render_unit(self, &self.ledger, self.fingerprints.as_ref(), unit, render)
    }
}

impl Tagged for CheckSink {
    fn put_in(&self, a: Artifact, unit: Option<&str>) -> io::Result<()> {
        let path = safe_join(&self.dir, &a.path)?;
        self.ledger.claim(&a.path)?;
        self.ledger.record(
            &a.path,
            Sha256::digest(a.contents.as_bytes()).into(),
            a.contents.len(),
            unit,
        );
        let found = match std::fs::read(&path) {
            Ok(bytes) => {
                if bytes == a.contents.as_bytes() {
                    None
                } else {
                    let old = String::from_utf8_lossy(&bytes);
                    let diff = similar::TextDiff::from_lines(old.as_ref(), a.contents.as_str())
                        .unified_diff()
                        .context_radius(3)
                        .header(&format!("a/{}", a.path), &format!("b/{}", a.path))
                        .to_string();
                    Some(Drift::Changed {
                        path: a.path.clone(),
                        diff,
                    })
                }
            }
            Err(e)
                if e.kind() == io::ErrorKind::NotFound
                    || e.kind() == io::ErrorKind::NotADirectory =>
            {
                Some(Drift::Missing { path: a.path })
            }
            Err(e) => return Err(e),
        };
        if let Some(d) = found {
            self.drift.lock().unwrap_or_else(|e| e.into_inner()).push(d);
        }
        Ok(())
    }
}

fn sibling(dir: &Path, tag: &str) -> PathBuf {
    let (parent, name) = sibling_name(dir);
    parent.join(format!(".{name}.scalec-{tag}-{}", std::process::id()))
}

/// Refuses a relative artifact path that could leave the output folder.
fn safe_join(dir: &Path, rel: &str) -> io::Result<PathBuf> {
    // Already normal (no empty, `.` or `..` part, no leading `/`): what
    // `normalize_inside` gives back unchanged, without its allocations
    // (a rebuild joins every file of the previous build).
    if cfg!(unix)
        && !rel.is_empty()
        && !rel.contains('\0')
        && rel
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
    {
        return Ok(dir.join(rel));
    }
    match crate::project::normalize_inside(rel) {
        Some(n) if n == rel => Ok(dir.join(n)),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("refusing artifact path `{rel}`"),
        )),
    }
}

/// What a previous build left in `dir` that its `manifest.json` does not
/// list: files and folders somebody else put there. Paths are relative to
/// `dir`, `/`-separated, folders ending in `/`. `Err` when the manifest
/// cannot be read: then nothing in the folder is known to be ours.
pub fn foreign_entries(dir: &Path) -> io::Result<Vec<String>> {
    #[derive(serde::Deserialize)]
    struct Doc<'a> {
        #[serde(borrow)]
        artifacts: Vec<Line<'a>>,
    }
    #[derive(serde::Deserialize)]
    struct Line<'a> {
        #[serde(borrow)]
        path: std::borrow::Cow<'a, str>,
    }
    let text = std::fs::read_to_string(dir.join(MANIFEST))?;
    let doc: Doc = serde_json::from_str(&text).map_err(|e| not_a_manifest(dir, e))?;
    let listed: HashSet<&str> = doc.artifacts.iter().map(|l| l.path.as_ref()).collect();
    let folders = folders_of(listed.iter().copied());
    let mut foreign = Vec::new();
    let mut rel = String::new();
    foreign_walk(dir, &mut rel, &folders, &mut foreign, &mut |rel, _| {
        listed.contains(rel)
    })?;
    sort_walk(&mut foreign);
    Ok(foreign)
}

/// The walk's order is the disk's: sorted as a walk of sorted folders
/// would list them (by each part of the path, a folder before its
/// content).
fn sort_walk(foreign: &mut [String]) {
    foreign.sort_by(|a, b| a.split('/').cmp(b.split('/')));
}

/// The entries below `dir` (at `rel`, relative to the output folder) that
/// are neither files `listed` says are listed (it is given each file's
/// entry) nor `folders` of listed files, in the disk's order. One path
/// buffer for the whole walk, and no sorting of whole folders: at 10,000
/// services the folder holds 120,000 files.
fn foreign_walk(
    dir: &Path,
    rel: &mut String,
    folders: &HashSet<String>,
    foreign: &mut Vec<String>,
    listed: &mut dyn FnMut(&str, std::fs::DirEntry) -> bool,
) -> io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name();
        let len = rel.len();
        match name.to_str() {
            Some(n) => rel.push_str(n),
            None => rel.push_str(&name.to_string_lossy()),
        }
        if e.file_type()?.is_dir() {
            rel.push('/');
            if !folders.contains(rel.as_str()) {
                foreign.push(rel.clone());
            }
            foreign_walk(&e.path(), rel, folders, foreign, listed)?;
        } else if name.to_str().is_none() || (rel.as_str() != MANIFEST && !listed(rel.as_str(), e))
        {
            foreign.push(rel.clone());
        }
        rel.truncate(len);
    }
    Ok(())
}

fn refuse(dir: &Path, why: &str, paths: &[String]) -> io::Error {
    let mut shown: Vec<&str> = paths.iter().map(String::as_str).take(10).collect();
    let more = paths.len().saturating_sub(shown.len());
    let more_line = format!("… and {more} more");
    if more > 0 {
        shown.push(&more_line);
    }
    io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!(
            "refusing to replace {}: {why}:\n  {}\nscalec only replaces files its own {MANIFEST} lists; move these away or choose another output folder",
            dir.display(),
            shown.join("\n  ")
        ),
    )
}

/// Writes `artifacts` as the whole content of `dir`, atomically (the
/// artifacts already hold their `manifest.json`). See [`write_with`].
pub fn write(dir: &Path, artifacts: &[Artifact], inputs: &[PathBuf]) -> io::Result<()> {
    write_with(dir, inputs, |sink: &StagingSink| {
        for a in artifacts {
            sink.put(a.clone())?;
        }
        Ok::<(), io::Error>(())
    })
    .map(|_| ())
}

/// Builds the whole content of `dir`: see [`write_units`] (here without
/// fingerprints: every unit is rendered).
pub fn write_with<E: From<io::Error>>(
    dir: &Path,
    inputs: &[PathBuf],
    produce: impl FnOnce(&StagingSink) -> Result<(), E>,
) -> Result<WriteStats, E> {
    write_units(dir, inputs, None, produce)
}

/// At most this share of the files (1 in N) may change for a rebuild to
/// update the folder in place; more, and a whole new tree is swapped in.
const IN_PLACE_SHARE: usize = 20;

/// Builds the whole content of `dir`: `produce` puts every artifact (and,
/// last, the manifest) into a [`StagingSink`], which writes those that
/// differ from the previous build's files into a staging folder beside
/// `dir`, and skips rendering the units whose `fingerprints` are unchanged.
/// When `produce` fails, `dir` is left as it was.
///
/// Then, when few files changed (at most 1 in [`IN_PLACE_SHARE`]), they are
/// moved into `dir` one by one, the manifest last, each replaced file first
/// moved into a journal folder beside `dir` (`.NAME.scalec-undo-PID`); a
/// failure puts every replaced file back, and the next build does the same
/// after a build killed before its manifest was moved in. Otherwise the
/// unchanged files are hard-linked into the staging folder and it replaces
/// `dir` in one atomic swap.
///
/// Never deletes what it did not write: it refuses when `dir` holds anything
/// the previous `manifest.json` does not list, or when one of `inputs` (the
/// spec's own files) lies inside `dir`.
pub fn write_units<E: From<io::Error>>(
    dir: &Path,
    inputs: &[PathBuf],
    fingerprints: Option<Fingerprints>,
    produce: impl FnOnce(&StagingSink) -> Result<(), E>,
) -> Result<WriteStats, E> {
    write_units_early(dir, Early::none(), inputs, fingerprints, produce)
}

/// `-o .` or `-o out/`: the folder's real name and parent. A link given
/// as `-o` stays a link: the folder it points at is built.
fn resolve(dir: &Path) -> io::Result<PathBuf> {
    let mut dir = absolute(dir)?;
    if std::fs::symlink_metadata(&dir).is_ok_and(|m| m.file_type().is_symlink()) {
        dir = std::fs::canonicalize(&dir)?;
    }
    Ok(dir)
}

/// The output folder, locked, with the previous build read from it.
#[derive(Debug)]
pub struct Prepared {
    dir: PathBuf,
    _lock: Lock,
    previous: Option<Previous>,
    took: Duration,
}

/// The previous build in `dir` (read under its lock, after the sweep):
/// its manifest, and one walk of the folder for each listed file's size
/// and time and for anything it does not list (a refusal).
fn read_state(dir: &Path) -> io::Result<Option<Previous>> {
    if !dir.exists() {
        return Ok(None);
    }
    let is_ours = dir.join(MANIFEST).is_file();
    let empty = std::fs::read_dir(dir)?.next().is_none();
    if !is_ours && !empty {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{} exists and was not written by scalec (no {MANIFEST}); choose a new or empty folder",
                dir.display()
            ),
        ));
    }
    if !is_ours {
        return Ok(None);
    }
    let mut prev = read_previous(dir)?;
    let foreign = walk(dir, &mut prev)?;
    if !foreign.is_empty() {
        return Err(refuse(
            dir,
            "it holds what the previous build did not write",
            &foreign,
        ));
    }
    Ok(Some(prev))
}

/// Locks `dir` (resolved), sweeps what killed builds left beside it, and
/// reads the previous build.
fn prepare_now(dir: &Path) -> io::Result<Prepared> {
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let lock = Lock::acquire(dir, LOCK_WAIT)?;
    let started = Instant::now();
    sweep(dir)?;
    let previous = read_state(dir)?;
    Ok(Prepared {
        dir: dir.to_path_buf(),
        _lock: lock,
        previous,
        took: started.elapsed(),
    })
}

/// The output folder prepared on a thread of its own while the spec is
/// loaded and checked (`scalec build`): at 10,000 services, reading the
/// previous build (a 28 MB manifest, a walk of 120,000 files) is a fifth
/// of a rebuild. It changes nothing on disk: when a killed build left
/// something to sweep, or the folder's parent does not exist, the
/// preparation is left to the write, after the check (a build that stops
/// on errors leaves everything as it was). Dropped unused, it waits for
/// its thread, which unlocks the folder.
#[derive(Debug)]
pub struct Early(Option<std::thread::JoinHandle<Option<io::Result<Prepared>>>>);

impl Early {
    pub fn none() -> Early {
        Early(None)
    }

    pub fn start(dir: &Path) -> Early {
        let dir = dir.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("scalec-prepare".into())
            .spawn(move || {
                let dir = resolve(&dir).ok()?;
                if !dir.parent().is_some_and(Path::is_dir) {
                    return None;
                }
                let lock = match Lock::acquire(&dir, LOCK_WAIT) {
                    Ok(l) => l,
                    Err(e) => return Some(Err(e)),
                };
                let started = Instant::now();
                if has_leftovers(&dir) {
                    return None;
                }
                Some(read_state(&dir).map(|previous| Prepared {
                    dir,
                    _lock: lock,
                    previous,
                    took: started.elapsed(),
                }))
            });
        Early(thread.ok())
    }

    fn finish(mut self) -> Option<io::Result<Prepared>> {
        self.0.take().and_then(|t| t.join().ok()).flatten()
    }
}

impl Drop for Early {
    fn drop(&mut self) {
        if let Some(t) = self.0.take() {
            let _ = t.join();
        }
    }
}

/// [`write_units`], the folder prepared by `early` if it could be.
pub fn write_units_early<E: From<io::Error>>(
    dir: &Path,
    early: Early,
    inputs: &[PathBuf],
    fingerprints: Option<Fingerprints>,
    produce: impl FnOnce(&StagingSink) -> Result<(), E>,
) -> Result<WriteStats, E> {
    let dir = &resolve(dir)?;
    let real_dir = std::fs::canonicalize(dir).ok();
    let inside: Vec<String> = inputs
        .iter()
        .filter_map(|i| {
            let real = std::fs::canonicalize(i).ok()?;
            let under = match &real_dir {
                Some(d) => real.starts_with(d),
                None => absolute(i).ok()?.starts_with(dir),
            };
            under.then(|| real.display().to_string())
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if !inside.is_empty() {
        return Err(refuse(dir, "the spec's own files are inside it", &inside).into());
    }
    let prepared = match early.finish() {
        Some(p) if p.as_ref().map_or(true, |p| p.dir == *dir) => p?,
        _ => prepare_now(dir)?,
    };
    let Prepared {
        _lock,
        previous,
        took: prepare,
        ..
    } = prepared;
    let staging = sibling(dir, "new");
    if staging.exists() {
        std::fs::remove_dir_all(&staging)?;
    }
    std::fs::create_dir_all(&staging)?;
    let mut sink = StagingSink {
        root: staging.clone(),
        dir: dir.clone(),
        previous,
        fingerprints,
        made_dirs: Mutex::new(HashSet::default()),
        ledger: Ledger::default(),
        staged: Mutex::new(Vec::new()),
        kept: Mutex::new(Vec::new()),
        units_kept: AtomicUsize::new(0),
        units_rendered: AtomicUsize::new(0),
        outcome: Mutex::new(None),
    };
    let started = Instant::now();
    if let Err(e) = produce(&sink) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    let take =
        |m: &Mutex<Vec<String>>| std::mem::take(&mut *m.lock().unwrap_or_else(|e| e.into_inner()));
    let staged = take(&sink.staged);
    let kept = take(&sink.kept);
    let outcome = sink
        .outcome
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    let Outcome {
        files,
        removed,
        kept_files,
    } = match outcome {
        Some(o) => o,
        // The manifest was put as an artifact: nothing was kept by unit.
        None => {
            let files = sink.ledger.take_paths();
            let removed = sink
                .previous
                .as_ref()
                .map(|p| {
                    p.files
                        .iter()
                        .map(|f| p.path(f))
                        .filter(|f| !files.contains(*f))
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            Outcome {
                files: files.len(),
                removed,
                kept_files: Vec::new(),
            }
        }
    };
    let mut stats = WriteStats {
        files,
        written: staged.len(),
        unchanged: kept.len() + kept_files.len(),
        units_kept: sink.units_kept.load(Ordering::Relaxed),
        units_rendered: sink.units_rendered.load(Ordering::Relaxed),
        in_place: false,
        prepare,
        stage: started.elapsed(),
        swap: Duration::ZERO,
        cleanup: Duration::ZERO,
        kept: None,
    };
    let had_previous = sink.previous.is_some();
    let in_place = had_previous
        && staged.iter().any(|f| f == MANIFEST)
        && (staged.len() + removed.len()) * IN_PLACE_SHARE <= files;
    if in_place {
        // The previous build's listing is not needed any more: it is freed
        // on a thread of its own (120,000 entries at 10,000 services).
        if let Some(prev) = sink.previous.take() {
            let _ = std::thread::Builder::new().spawn(move || drop(prev));
        }
        let started = Instant::now();
        if let Err(e) = commit_in_place(dir, &staging, staged, &removed) {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e.into());
        }
        stats.in_place = true;
        stats.swap = started.elapsed();
        let started = Instant::now();
        let _ = std::fs::remove_dir_all(&staging);
        stats.cleanup = started.elapsed();
        return Ok(stats);
    }
    // The whole tree: the kept files are linked in beside the new ones.
    let kept_by_unit = kept_files.iter().filter_map(|&i| {
        let prev = sink.previous.as_ref()?;
        Some(prev.path(&prev.files[i as usize]))
    });
    for rel in kept.iter().map(String::as_str).chain(kept_by_unit) {
        let to = safe_join(&staging, rel)?;
        sink.ensure_parent(&to)?;
        std::fs::hard_link(safe_join(dir, rel)?, &to)?;
    }
    drop(sink.previous.take());
    stats.stage = started.elapsed();
    crash_point(Step::BeforeSwap);
    let started = Instant::now();
    if dir.exists() && exchange(&staging, dir)? {
        // `dir` is the new tree and `staging` the old one, in one step.
        stats.swap = started.elapsed();
        crash_point(Step::AfterSwap);
        let started = Instant::now();
        stats.kept = retire(&staging, dir);
        stats.cleanup = started.elapsed();
    } else if dir.exists() {
        let old = sibling(dir, "old");
        if old.exists() {
            std::fs::remove_dir_all(&old)?;
        }
        std::fs::rename(dir, &old)?;
        crash_point(Step::BetweenRenames);
        if let Err(e) = std::fs::rename(&staging, dir) {
            // Put the previous output back.
            let _ = std::fs::rename(&old, dir);
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e.into());
        }
        stats.swap = started.elapsed();
        // The new output is in place: the previous tree goes.
        let started = Instant::now();
        stats.kept = retire(&old, dir);
        stats.cleanup = started.elapsed();
    } else {
        std::fs::rename(&staging, dir)?;
        stats.swap = started.elapsed();
    }
    Ok(stats)
}

/// Every file and folder below `dir`, relative, folders ending in `/`.
/// Links are listed as files and not followed.
fn walk_all(root: &Path, dir: &Path, out: &mut Vec<String>) -> io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        let rel = p
            .strip_prefix(root)
            .unwrap_or(&p)
            .to_string_lossy()
            .replace('\\', "/");
        if e.file_type()?.is_dir() {
            out.push(format!("{rel}/"));
            walk_all(root, &p, out)?;
        } else {
            out.push(rel);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn art(p: &str, c: &str) -> Artifact {
        Artifact {
            path: p.into(),
            contents: c.into(),
        }
    }

    /// A build's artifacts with the manifest that lists them.
    fn build(files: &[(&str, &str)]) -> Vec<Artifact> {
        let mut a: Vec<Artifact> = files.iter().map(|(p, c)| art(p, c)).collect();
        let meta = Meta {
            compiler: "scalec test".into(),
            generator: None,
            requires: None,
            input_hash: "sha256:0".into(),
            env: None,
        };
        a.push(manifest(&meta, &a));
        a
    }

    fn tmp(tag: &str) -> PathBuf {
        let t = std::env::temp_dir().join(format!("scalec-out-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&t);
        std::fs::create_dir_all(&t).unwrap();
        t
    }

    /// The quick path of `safe_join` accepts exactly what
    /// `normalize_inside` gives back unchanged.
    #[test]
    fn safe_join_agrees_with_normalize_inside() {
        let dir = Path::new("/out");
        for rel in [
            "a",
            "a/b",
            "k8s/x.yaml",
            "/a",
            "a//b",
            "a/",
            "./a",
            "a/./b",
            "a/../b",
            "..",
            ".",
            "",
            "a\0b",
            "a\\b",
            "..a",
            "a..",
            ".a",
            "a/.b",
            "a/b/..",
            "../a",
        ] {
            let slow = crate::project::normalize_inside(rel)
                .filter(|n| n == rel)
                .map(|n| dir.join(n));
            assert_eq!(safe_join(dir, rel).ok(), slow, "{rel:?}");
        }
    }

    #[test]
    fn writes_swaps_and_checks() {
        let tmp = tmp("swap");
        let dir = tmp.join("out");
        let first = build(&[("a/x.yml", "one\n")]);
        write(&dir, &first, &[]).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("a/x.yml")).unwrap(),
            "one\n"
        );
        assert!(check(&dir, &first).unwrap().is_empty());
        let second = build(&[("b.yml", "two\n")]);
        let drift = check(&dir, &second).unwrap();
        assert!(drift.contains(&Drift::Missing {
            path: "b.yml".into()
        }));
        assert!(drift.contains(&Drift::Extra { path: "a/".into() }));
        write(&dir, &second, &[]).unwrap();
        assert!(!dir.join("a/x.yml").exists(), "stale files are gone");
        // No staging folders are left behind.
        let leftovers: Vec<_> = std::fs::read_dir(&tmp)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "{leftovers:?}");
        // A bad artifact path fails the build and keeps the previous output.
        let bad = build(&[("../escape.yml", "x")]);
        assert!(write(&dir, &bad, &[]).is_err());
        assert_eq!(std::fs::read_to_string(dir.join("b.yml")).unwrap(), "two\n");
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    /// A link put into the output folder (to a folder or file outside it)
    /// is somebody else's: the build refuses, and neither the link nor what
    /// it points at is touched.
    #[test]
    fn a_link_in_the_output_is_refused_not_followed() {
        let tmp = tmp("link");
        let dir = tmp.join("out");
        let outside = tmp.join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("keep.txt"), "keep").unwrap();
        write(&dir, &build(&[("k8s/a.yaml", "a\n")]), &[]).unwrap();
        std::os::unix::fs::symlink(&outside, dir.join("k8s/elsewhere")).unwrap();
        let err = write(&dir, &build(&[("k8s/a.yaml", "b\n")]), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("k8s/elsewhere"), "{err}");
        assert!(dir.join("k8s/elsewhere").is_symlink());
        assert_eq!(
            std::fs::read_to_string(outside.join("keep.txt")).unwrap(),
            "keep"
        );
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn refuses_foreign_folders() {
        let tmp = tmp("foreign");
        std::fs::write(tmp.join("precious.txt"), "keep").unwrap();
        assert!(write(&tmp, &build(&[]), &[]).is_err());
        assert_eq!(
            std::fs::read_to_string(tmp.join("precious.txt")).unwrap(),
            "keep"
        );
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    /// Issue: `scalec build out/spec.scale -o out` deleted `out/spec.scale`.
    #[test]
    fn never_deletes_a_file_the_manifest_does_not_list() {
        let tmp = tmp("unlisted");
        let dir = tmp.join("out");
        write(&dir, &build(&[("k8s/a.yaml", "a\n")]), &[]).unwrap();
        std::fs::write(dir.join("spec.scale"), "service x {}\n").unwrap();
        std::fs::write(dir.join("k8s/notes.md"), "mine\n").unwrap();
        let err = write(&dir, &build(&[("k8s/a.yaml", "b\n")]), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("spec.scale"), "{err}");
        assert!(err.contains("k8s/notes.md"), "{err}");
        assert_eq!(
            std::fs::read_to_string(dir.join("spec.scale")).unwrap(),
            "service x {}\n"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("k8s/a.yaml")).unwrap(),
            "a\n",
            "the refused build changed nothing"
        );
        // An empty folder somebody made is theirs too.
        std::fs::remove_file(dir.join("spec.scale")).unwrap();
        std::fs::remove_file(dir.join("k8s/notes.md")).unwrap();
        std::fs::create_dir(dir.join("keep")).unwrap();
        let err = write(&dir, &build(&[]), &[]).unwrap_err().to_string();
        assert!(err.contains("keep/"), "{err}");
        assert!(dir.join("keep").is_dir());
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn refuses_when_an_input_is_inside_the_output() {
        let tmp = tmp("input-inside");
        let dir = tmp.join("out");
        std::fs::create_dir_all(&dir).unwrap();
        let spec = dir.join("spec.scale");
        std::fs::write(&spec, "service x {}\n").unwrap();
        // Even an empty-looking first build must not swallow its input.
        let err = write(
            &dir,
            &build(&[("a.yaml", "a\n")]),
            std::slice::from_ref(&spec),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("spec.scale"), "{err}");
        assert!(spec.is_file());
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    /// Issue: `build --check` said "up to date" beside an empty extra folder.
    #[test]
    fn check_reports_an_extra_empty_folder() {
        let tmp = tmp("check-folder");
        let dir = tmp.join("out");
        let arts = build(&[("k8s/a.yaml", "a\n")]);
        write(&dir, &arts, &[]).unwrap();
        assert!(check(&dir, &arts).unwrap().is_empty());
        std::fs::create_dir(dir.join("stray")).unwrap();
        assert_eq!(
            check(&dir, &arts).unwrap(),
            vec![Drift::Extra {
                path: "stray/".into()
            }]
        );
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn an_unreadable_manifest_means_nothing_is_ours() {
        let tmp = tmp("bad-manifest");
        std::fs::write(tmp.join(MANIFEST), "not json").unwrap();
        std::fs::write(tmp.join("x.yaml"), "x").unwrap();
        assert!(write(&tmp, &build(&[]), &[]).is_err());
        assert!(tmp.join("x.yaml").is_file());
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn a_second_build_waits_for_the_lock_then_fails_clearly() {
        let tmp = tmp("lock");
        let dir = tmp.join("out");
        let held = Lock::acquire(&dir, LOCK_WAIT).unwrap();
        let started = Instant::now();
        let err = Lock::acquire(&dir, Duration::from_millis(150))
            .unwrap_err()
            .to_string();
        assert!(started.elapsed() >= Duration::from_millis(150), "it waited");
        assert!(err.contains("another scalec build"), "{err}");
        assert!(err.contains(&std::process::id().to_string()), "{err}");
        drop(held);
        assert!(!tmp.join(".out.scalec-lock").exists(), "removed on release");
        let again = Lock::acquire(&dir, Duration::from_millis(150));
        assert!(again.is_ok(), "the lock is free once dropped");
        drop(again);
        // A lock file nobody holds (its build was killed, or it is empty or
        // names a pid in use) does not block: only a held lock does.
        std::fs::write(tmp.join(".out.scalec-lock"), "").unwrap();
        assert!(Lock::acquire(&dir, Duration::from_millis(150)).is_ok());
        std::fs::write(tmp.join(".out.scalec-lock"), "1\n").unwrap();
        assert!(Lock::acquire(&dir, Duration::from_millis(150)).is_ok());
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    /// Review finding: a file put into the output while a build stages
    /// was deleted with the previous tree. It is kept, with that tree.
    #[test]
    fn a_file_added_during_the_build_is_kept() {
        let tmp = tmp("added-during");
        let dir = tmp.join("out");
        write(&dir, &build(&[("a.yaml", "a\n")]), &[]).unwrap();
        let next = build(&[("a.yaml", "b\n")]);
        let stats = write_with(&dir, &[], |sink: &StagingSink| {
            // Somebody writes into the folder while the build runs.
            std::fs::write(dir.join("notes.txt"), "mine\n")?;
            for a in &next {
                sink.put(a.clone())?;
            }
            Ok::<(), io::Error>(())
        })
        .unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("a.yaml")).unwrap(), "b\n");
        let (kept, files) = stats.kept.expect("the previous tree is kept");
        assert_eq!(files, vec!["notes.txt".to_string()]);
        assert_eq!(
            std::fs::read_to_string(kept.join("notes.txt")).unwrap(),
            "mine\n"
        );
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    /// `-o link` builds the folder the link points at and keeps the link.
    #[test]
    fn a_linked_output_folder_stays_a_link() {
        let tmp = tmp("linked-out");
        let real = tmp.join("real");
        let link = tmp.join("out");
        write(&real, &build(&[("a.yaml", "a\n")]), &[]).unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write(&link, &build(&[("a.yaml", "b\n")]), &[]).unwrap();
        assert!(link.is_symlink(), "the link is kept");
        assert_eq!(std::fs::read_to_string(real.join("a.yaml")).unwrap(), "b\n");
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn unchanged_files_keep_their_inode_and_edited_ones_are_rewritten() {
        use std::os::unix::fs::MetadataExt;
        let tmp = tmp("links");
        let dir = tmp.join("out");
        let ino = |p: &str| std::fs::metadata(dir.join(p)).unwrap().ino();
        write(
            &dir,
            &build(&[("a.yaml", "a\n"), ("b.yaml", "b\n"), ("c.yaml", "c\n")]),
            &[],
        )
        .unwrap();
        let (a, b) = (ino("a.yaml"), ino("b.yaml"));
        // Someone edits c.yaml by hand; the manifest still lists the old hash.
        // Same length, other bytes: the size alone cannot tell.
        std::fs::write(dir.join("c.yaml"), "x\n").unwrap();
        let c_edited = ino("c.yaml");
        write(
            &dir,
            &build(&[("a.yaml", "a\n"), ("b.yaml", "B\n"), ("c.yaml", "c\n")]),
            &[],
        )
        .unwrap();
        assert_eq!(ino("a.yaml"), a, "unchanged: the same file");
        assert_ne!(ino("b.yaml"), b, "changed: a new file");
        assert_eq!(std::fs::read_to_string(dir.join("b.yaml")).unwrap(), "B\n");
        assert_ne!(ino("c.yaml"), c_edited, "edited on disk: rewritten");
        assert_eq!(std::fs::read_to_string(dir.join("c.yaml")).unwrap(), "c\n");
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn a_path_generated_twice_fails_the_build_and_keeps_the_output() {
        let tmp = tmp("twice");
        let dir = tmp.join("out");
        write(&dir, &build(&[("a.yaml", "a\n")]), &[]).unwrap();
        let twice = vec![art("x.yaml", "1"), art("x.yaml", "2")];
        let err = write(&dir, &twice, &[]).unwrap_err().to_string();
        assert!(err.contains("generated twice"), "{err}");
        assert_eq!(std::fs::read_to_string(dir.join("a.yaml")).unwrap(), "a\n");
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
