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
//! Two builds into one folder are serialised by a lock file beside it
//! (`.NAME.scalec-lock`, holding the builder's pid); the second waits for
//! the first. Staging folders a killed build left behind
//! (`.NAME.scalec-new-PID`, `.NAME.scalec-old-PID` of a process that no
//! longer runs) are removed by the next build, and if a build was killed
//! between its two renames, the previous tree is put back first.

use crate::backends::{Artifact, ArtifactSink, Meta};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const MANIFEST: &str = "manifest.json";

/// How long a build waits for another build of the same folder.
pub const LOCK_WAIT: Duration = Duration::from_secs(120);

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// One line of the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    path: String,
    sha256: [u8; 32],
    bytes: usize,
}

/// The manifest as written: a typed value, serialised without building a
/// JSON tree of every entry.
#[derive(serde::Serialize)]
struct ManifestDoc<'a> {
    generated: serde_json::Value,
    artifacts: Vec<ManifestLine<'a>>,
}

#[derive(serde::Serialize)]
struct ManifestLine<'a> {
    path: &'a str,
    sha256: String,
    bytes: usize,
}

fn manifest_of(meta: &Meta, entries: &[Entry]) -> Artifact {
    let doc = ManifestDoc {
        generated: meta.json(),
        artifacts: entries
            .iter()
            .map(|e| ManifestLine {
                path: &e.path,
                sha256: hex(&e.sha256),
                bytes: e.bytes,
            })
            .collect(),
    };
    let mut contents = serde_json::to_string_pretty(&doc).expect("manifest serialises");
    contents.push('\n');
    Artifact {
        path: MANIFEST.into(),
        contents,
    }
}

/// `manifest.json`: the header and every artifact's hash and size.
pub fn manifest(meta: &Meta, artifacts: &[Artifact]) -> Artifact {
    let entries: Vec<Entry> = artifacts
        .iter()
        .map(|a| Entry {
            path: a.path.clone(),
            sha256: Sha256::digest(a.contents.as_bytes()).into(),
            bytes: a.contents.len(),
        })
        .collect();
    manifest_of(meta, &entries)
}

/// What the sinks record of every artifact: its path (a path generated
/// twice is an error), hash and size, for the manifest.
#[derive(Debug, Default)]
struct Ledger {
    entries: Mutex<Vec<Entry>>,
    seen: Mutex<HashSet<String>>,
}

impl Ledger {
    fn claim(&self, path: &str) -> io::Result<()> {
        let fresh = self
            .seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(path.to_string());
        if fresh {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the artifact `{path}` was generated twice; this is a scalec bug, please report it"),
            ))
        }
    }

    fn record(&self, path: &str, sha256: [u8; 32], bytes: usize) {
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
            });
    }

    /// The manifest of every artifact recorded so far, sorted by path (it
    /// takes the entries: call it once, last).
    fn manifest(&self, meta: &Meta) -> Artifact {
        let mut entries =
            std::mem::take(&mut *self.entries.lock().unwrap_or_else(|e| e.into_inner()));
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        manifest_of(meta, &entries)
    }

    fn paths(&self) -> HashSet<String> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn count(&self) -> usize {
        self.seen.lock().map(|s| s.len()).unwrap_or(0)
    }
}

/// Writes artifacts into a staging folder as they come, hard-linking the
/// ones whose bytes equal the previous build's file.
#[derive(Debug)]
pub struct StagingSink {
    root: PathBuf,
    /// The current output folder and its manifest (path → sha256).
    previous: Option<(PathBuf, HashMap<String, [u8; 32]>)>,
    made_dirs: Mutex<HashSet<PathBuf>>,
    ledger: Ledger,
    linked: AtomicUsize,
    written: AtomicUsize,
}

impl StagingSink {
    /// `manifest.json` for everything put so far; put it last.
    pub fn manifest(&self, meta: &Meta) -> Artifact {
        self.ledger.manifest(meta)
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

    /// Links the previous build's file into place when it holds exactly
    /// `bytes` and the previous manifest agrees.
    fn link_unchanged(&self, rel: &str, sha: &[u8; 32], bytes: &[u8], to: &Path) -> bool {
        let Some((dir, hashes)) = &self.previous else {
            return false;
        };
        if hashes.get(rel) != Some(sha) {
            return false;
        }
        let Ok(from) = safe_join(dir, rel) else {
            return false;
        };
        // Someone may have edited the file since: compare what is on disk
        // (one open, one stat, one read). A link is not followed: the
        // previous build wrote no links, so one there is not ours to keep.
        use std::io::Read;
        let Ok(m) = std::fs::symlink_metadata(&from) else {
            return false;
        };
        if !m.is_file() || m.len() != bytes.len() as u64 {
            return false;
        }
        let Ok(mut file) = std::fs::File::open(&from) else {
            return false;
        };
        let mut old = Vec::with_capacity(bytes.len() + 1);
        match file.read_to_end(&mut old) {
            Ok(_) if old == bytes => std::fs::hard_link(&from, to).is_ok(),
            _ => false,
        }
    }
}

impl ArtifactSink for StagingSink {
    fn put(&self, a: Artifact) -> io::Result<()> {
        let path = safe_join(&self.root, &a.path)?;
        self.ledger.claim(&a.path)?;
        self.ensure_parent(&path)?;
        let bytes = a.contents.as_bytes();
        let sha: [u8; 32] = Sha256::digest(bytes).into();
        if self.link_unchanged(&a.path, &sha, bytes, &path) {
            self.linked.fetch_add(1, Ordering::Relaxed);
        } else {
            std::fs::write(&path, bytes)?;
            self.written.fetch_add(1, Ordering::Relaxed);
        }
        self.ledger.record(&a.path, sha, bytes.len());
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
    /// Time spent producing and staging the artifacts, swapping the
    /// folders in, and removing the previous tree.
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
}

impl CheckSink {
    /// `manifest.json` for everything put so far; put it last.
    pub fn manifest(&self, meta: &Meta) -> Artifact {
        self.ledger.manifest(meta)
    }
}

impl ArtifactSink for CheckSink {
    fn put(&self, a: Artifact) -> io::Result<()> {
        let path = safe_join(&self.dir, &a.path)?;
        self.ledger.claim(&a.path)?;
        self.ledger.record(
            &a.path,
            Sha256::digest(a.contents.as_bytes()).into(),
            a.contents.len(),
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
    let text = std::fs::read_to_string(dir.join(MANIFEST))?;
    let doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} is not a scalec manifest: {e}",
                dir.join(MANIFEST).display()
            ),
        )
    })?;
    let listed: std::collections::BTreeSet<&str> = doc
        .get("artifacts")
        .and_then(|a| a.as_array())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} lists no artifacts", dir.join(MANIFEST).display()),
            )
        })?
        .iter()
        .filter_map(|a| a.get("path").and_then(|p| p.as_str()))
        .collect();
    // Folders that hold a listed file are ours too.
    let mut folders = std::collections::BTreeSet::new();
    for p in &listed {
        let mut rest = *p;
        while let Some(i) = rest.rfind('/') {
            rest = &rest[..i];
            folders.insert(format!("{rest}/"));
        }
    }
    let mut entries = Vec::new();
    walk_all(dir, dir, &mut entries)?;
    Ok(entries
        .into_iter()
        .filter(|e| {
            if e.ends_with('/') {
                !folders.contains(e)
            } else {
                e != MANIFEST && !listed.contains(e.as_str())
            }
        })
        .collect())
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

/// The previous build's manifest: path → sha256.
fn previous_hashes(dir: &Path) -> HashMap<String, [u8; 32]> {
    let Ok(text) = std::fs::read_to_string(dir.join(MANIFEST)) else {
        return HashMap::new();
    };
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(&text) else {
        return HashMap::new();
    };
    doc.get("artifacts")
        .and_then(|a| a.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|e| {
                    Some((
                        e.get("path")?.as_str()?.to_string(),
                        unhex(e.get("sha256")?.as_str()?)?,
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Builds the whole content of `dir` atomically: `produce` puts every
/// artifact (and, last, the manifest) into a [`StagingSink`], which writes
/// them into a staging folder beside `dir`; then the staging folder
/// replaces `dir` with renames. When `produce` fails, `dir` is left as it
/// was.
///
/// Never deletes what it did not write: it refuses when `dir` holds anything
/// the previous `manifest.json` does not list, or when one of `inputs` (the
/// spec's own files) lies inside `dir`.
pub fn write_with<E: From<io::Error>>(
    dir: &Path,
    inputs: &[PathBuf],
    produce: impl FnOnce(&StagingSink) -> Result<(), E>,
) -> Result<WriteStats, E> {
    // `-o .` or `-o out/`: work on the folder's real name and parent. A
    // link given as `-o` stays a link: the folder it points at is built.
    let mut dir = absolute(dir)?;
    if std::fs::symlink_metadata(&dir).is_ok_and(|m| m.file_type().is_symlink()) {
        dir = std::fs::canonicalize(&dir)?;
    }
    let dir = &dir;
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
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let _lock = Lock::acquire(dir, LOCK_WAIT)?;
    sweep(dir)?;
    if dir.exists() {
        let is_ours = dir.join(MANIFEST).is_file();
        let empty = std::fs::read_dir(dir)?.next().is_none();
        if !is_ours && !empty {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "{} exists and was not written by scalec (no {MANIFEST}); choose a new or empty folder",
                    dir.display()
                ),
            )
            .into());
        }
        if is_ours {
            let foreign = foreign_entries(dir)?;
            if !foreign.is_empty() {
                return Err(refuse(
                    dir,
                    "it holds what the previous build did not write",
                    &foreign,
                )
                .into());
            }
        }
    }
    let staging = sibling(dir, "new");
    if staging.exists() {
        std::fs::remove_dir_all(&staging)?;
    }
    std::fs::create_dir_all(&staging)?;
    let sink = StagingSink {
        root: staging.clone(),
        previous: dir
            .join(MANIFEST)
            .is_file()
            .then(|| (dir.clone(), previous_hashes(dir))),
        made_dirs: Mutex::new(HashSet::new()),
        ledger: Ledger::default(),
        linked: AtomicUsize::new(0),
        written: AtomicUsize::new(0),
    };
    let started = Instant::now();
    if let Err(e) = produce(&sink) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    let mut stats = WriteStats {
        files: sink.ledger.count(),
        written: sink.written.load(Ordering::Relaxed),
        unchanged: sink.linked.load(Ordering::Relaxed),
        stage: started.elapsed(),
        swap: Duration::ZERO,
        cleanup: Duration::ZERO,
        kept: None,
    };
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

/// Removes the previous tree once the new one is in place, unless it holds
/// something its manifest does not list (put there while the build ran):
/// then it is moved to `.NAME.scalec-kept-PID` beside the output, and its
/// path and those files are returned, for the caller to say so.
fn retire(old: &Path, dir: &Path) -> Option<(PathBuf, Vec<String>)> {
    let foreign = if old.join(MANIFEST).is_file() {
        foreign_entries(old).unwrap_or_else(|_| vec![MANIFEST.to_string()])
    } else {
        let mut all = Vec::new();
        let _ = walk_all(old, old, &mut all);
        all
    };
    if foreign.is_empty() {
        let _ = std::fs::remove_dir_all(old);
        return None;
    }
    let kept = sibling(dir, "kept");
    match std::fs::rename(old, &kept) {
        Ok(()) => Some((kept, foreign)),
        // Left where it is; the next build's sweep keeps it the same way.
        Err(_) => Some((old.to_path_buf(), foreign)),
    }
}

/// Swaps two folders in one atomic step (Linux `renameat2` with
/// `RENAME_EXCHANGE`): a reader, or a build killed at any instant, sees the
/// old tree or the new one, never a missing folder. `Ok(false)` where the
/// system cannot (another OS, or a file system without the flag): the
/// caller falls back to two renames, which the next build's sweep repairs.
fn exchange(a: &Path, b: &Path) -> io::Result<bool> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::ffi::OsStrExt;
        let c = |p: &Path| {
            std::ffi::CString::new(p.as_os_str().as_bytes())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
        };
        let (ca, cb) = (c(a)?, c(b)?);
        // SAFETY: two NUL-terminated paths that live across the call.
        let r = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                ca.as_ptr(),
                libc::AT_FDCWD,
                cb.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        if r == 0 {
            return Ok(true);
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP) => Ok(false),
            _ => Err(e),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (a, b);
        Ok(false)
    }
}

/// Where a build can be made to die, for the kill tests (debug builds
/// only, which is what `cargo test` runs): with
/// `SCALEC_TEST_CRASH_AT` set to `staged:N` (after the N-th file is staged),
/// `before-swap`, `between-renames` or `after-swap`, the process aborts
/// there, as a SIGKILL would stop it: no destructor, no cleanup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(debug_assertions), allow(dead_code))]
enum Step {
    Staged(usize),
    BeforeSwap,
    BetweenRenames,
    AfterSwap,
}

#[cfg(not(debug_assertions))]
fn crash_point(_: Step) {}

#[cfg(debug_assertions)]
fn crash_point(step: Step) {
    static AT: std::sync::OnceLock<Option<Step>> = std::sync::OnceLock::new();
    let at = AT.get_or_init(|| {
        let v = std::env::var("SCALEC_TEST_CRASH_AT").ok()?;
        match v.as_str() {
            "before-swap" => Some(Step::BeforeSwap),
            "between-renames" => Some(Step::BetweenRenames),
            "after-swap" => Some(Step::AfterSwap),
            _ => v
                .strip_prefix("staged:")
                .and_then(|n| n.parse().ok())
                .map(Step::Staged),
        }
    });
    let hit = match (*at, step) {
        // Files are staged in parallel: the first to reach N stops it.
        (Some(Step::Staged(n)), Step::Staged(count)) => count >= n,
        (wanted, _) => wanted == Some(step),
    };
    if hit {
        std::process::abort();
    }
}

/// The lock of an output folder: an OS file lock (`flock`) on
/// `.NAME.scalec-lock` beside it. The kernel releases it when its holder
/// exits, however it ends, so a killed build never leaves a lock behind and
/// no pid has to be trusted (pids are reused, and another container's
/// builds have other pids). The file holds the holder's pid for the error
/// message only. The holder removes the file before it unlocks; a build
/// that locked a file since removed tries again on the new one.
#[derive(Debug)]
struct Lock {
    path: PathBuf,
    file: std::fs::File,
}

fn sibling_name(dir: &Path) -> (PathBuf, String) {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    (parent, name)
}

impl Lock {
    fn acquire(dir: &Path, wait: Duration) -> io::Result<Lock> {
        use std::io::{Read, Seek, Write};
        let (parent, name) = sibling_name(dir);
        let path = parent.join(format!(".{name}.scalec-lock"));
        let started = Instant::now();
        loop {
            let mut file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)?;
            match file.try_lock() {
                Ok(()) => {
                    // Still the file at that path? (The last holder may have
                    // removed it between our open and our lock.)
                    if !same_file(&file, &path) {
                        continue;
                    }
                    file.set_len(0)?;
                    file.rewind()?;
                    writeln!(file, "{}", std::process::id())?;
                    return Ok(Lock { path, file });
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    if started.elapsed() >= wait {
                        let mut holder = String::new();
                        let _ = file.read_to_string(&mut holder);
                        let who = match holder.trim() {
                            "" => "another process".to_string(),
                            pid => format!("process {pid}"),
                        };
                        return Err(io::Error::new(
                            io::ErrorKind::WouldBlock,
                            format!(
                                "another scalec build ({who}) is writing {}; waited {}s",
                                dir.display(),
                                wait.as_secs(),
                            ),
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(e),
            }
        }
    }
}

/// Whether the open `file` is the one `path` names now.
fn same_file(file: &std::fs::File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), std::fs::metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (file, path);
        true
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Removed while still locked, then unlocked by closing.
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

/// Under the lock: puts back the previous tree if a build was killed
/// between its two renames, and removes the staging folders left by killed
/// builds. Holding the lock, no other build can be writing into this
/// folder, so every such folder is a dead build's, whatever its pid.
fn sweep(dir: &Path) -> io::Result<()> {
    let (parent, name) = sibling_name(dir);
    let Ok(entries) = std::fs::read_dir(&parent) else {
        return Ok(());
    };
    let mut stale = Vec::new();
    for e in entries.flatten() {
        let file = e.file_name().to_string_lossy().into_owned();
        for tag in ["new", "old"] {
            let prefix = format!(".{name}.scalec-{tag}-");
            if file
                .strip_prefix(&prefix)
                .is_some_and(|p| p.parse::<u32>().is_ok())
            {
                stale.push((tag, e.path()));
            }
        }
    }
    stale.sort();
    for (tag, path) in stale {
        if tag == "old" && !dir.exists() && path.join(MANIFEST).is_file() {
            // Killed after moving the old tree aside, before moving the
            // new one in: the old tree is the output.
            std::fs::rename(&path, dir)?;
        } else if path.join(MANIFEST).is_file()
            && !foreign_entries(&path).is_ok_and(|f| f.is_empty())
        {
            // A previous tree holding files nobody listed: kept, not lost.
            std::fs::rename(&path, sibling(dir, "kept"))?;
        } else {
            std::fs::remove_dir_all(&path)?;
        }
    }
    Ok(())
}

/// `dir` made absolute, without `.` components (and `..` resolved).
fn absolute(dir: &Path) -> io::Result<PathBuf> {
    let abs = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir()?.join(dir)
    };
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.file_name().is_none() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the output folder cannot be the file system root",
        ));
    }
    Ok(out)
}

/// One difference between the folder and what a build would write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    Changed { path: String, diff: String },
    Missing { path: String },
    Extra { path: String },
}

/// Compares `dir` with `artifacts` without writing anything.
pub fn check(dir: &Path, artifacts: &[Artifact]) -> io::Result<Vec<Drift>> {
    check_with(dir, |sink: &CheckSink| {
        for a in artifacts {
            sink.put(a.clone())?;
        }
        Ok::<(), io::Error>(())
    })
    .map(|(drift, _)| drift)
}

/// Compares `dir` with what `produce` puts into a [`CheckSink`] (each
/// artifact as it is made), then lists what the folder holds beyond it.
/// Writes nothing. Differences come sorted by path, the manifest last,
/// with the number of artifacts compared.
pub fn check_with<E: From<io::Error>>(
    dir: &Path,
    produce: impl FnOnce(&CheckSink) -> Result<(), E>,
) -> Result<(Vec<Drift>, usize), E> {
    let sink = CheckSink {
        dir: dir.to_path_buf(),
        ledger: Ledger::default(),
        drift: Mutex::new(Vec::new()),
    };
    produce(&sink)?;
    let mut out = sink.drift.into_inner().unwrap_or_else(|e| e.into_inner());
    let key = |d: &Drift| -> (bool, String) {
        let p = match d {
            Drift::Changed { path, .. } | Drift::Missing { path } | Drift::Extra { path } => path,
        };
        (p == MANIFEST, p.clone())
    };
    out.sort_by_key(key);
    let files = sink.ledger.paths();
    let compared = files.len();
    if dir.is_dir() {
        let mut folders = HashSet::new();
        for p in &files {
            let mut rest = p.as_str();
            while let Some(i) = rest.rfind('/') {
                rest = &rest[..i];
                folders.insert(format!("{rest}/"));
            }
        }
        let mut existing = Vec::new();
        walk_all(dir, dir, &mut existing)?;
        let mut reported: Option<String> = None;
        for p in existing {
            let ours = if p.ends_with('/') {
                folders.contains(&p)
            } else {
                files.contains(&p)
            };
            // Report a foreign folder once, not each file inside it.
            if reported.as_deref().is_some_and(|r| p.starts_with(r)) {
                continue;
            }
            if !ours {
                if p.ends_with('/') {
                    reported = Some(p.clone());
                }
                out.push(Drift::Extra { path: p });
            }
        }
    }
    Ok((out, compared))
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
