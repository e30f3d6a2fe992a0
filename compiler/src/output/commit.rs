//! Committing a staged build: the in-place update with its journal and
//! undo, the whole-tree swap, the lock that serialises two builds of one
//! folder, and the sweep of what a killed build left behind.

use super::*;

/// The journal of an in-place update: `files/` holds every file replaced
/// or removed, at its path; `created` lists the files and folders that did
/// not exist before, one per line, each line written before the file is
/// moved in; `manifest.json` is a hard link to the previous manifest. Until
/// the new manifest is in `dir` the update can be undone ([`undo`]).
pub(super) const CREATED: &str = "created";

/// Moves the staged files into `dir`, the manifest last; on any failure,
/// undoes what it did and returns the error.
pub(super) fn commit_in_place(
    dir: &Path,
    staging: &Path,
    mut staged: Vec<String>,
    removed: &[String],
) -> io::Result<()> {
    use std::io::Write;
    let journal = sibling(dir, "undo");
    if journal.exists() {
        std::fs::remove_dir_all(&journal)?;
    }
    std::fs::create_dir_all(journal.join("files"))?;
    std::fs::hard_link(dir.join(MANIFEST), journal.join(MANIFEST))?;
    let mut created = std::fs::File::create(journal.join(CREATED))?;
    staged.retain(|f| f != MANIFEST);
    staged.sort();
    let result = (|| -> io::Result<()> {
        let mut step = 0;
        let aside = |rel: &str| -> io::Result<()> {
            let to = journal.join("files").join(rel);
            if let Some(p) = to.parent() {
                std::fs::create_dir_all(p)?;
            }
            std::fs::rename(safe_join(dir, rel)?, to)
        };
        for rel in removed {
            aside(rel)?;
            step += 1;
            crash_point(Step::Committed(step));
            fail_point(Step::Committed(step))?;
        }
        for rel in &staged {
            let to = safe_join(dir, rel)?;
            match std::fs::symlink_metadata(&to) {
                Ok(_) => aside(rel)?,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    // Folders made for it are new too.
                    let mut missing = Vec::new();
                    let mut p = to.parent();
                    while let Some(d) = p.filter(|d| *d != dir && !d.exists()) {
                        missing.push(d.to_path_buf());
                        p = d.parent();
                    }
                    for d in missing.iter().rev() {
                        let rel = d.strip_prefix(dir).unwrap_or(d);
                        writeln!(created, "{}/", rel.to_string_lossy())?;
                    }
                    writeln!(created, "{rel}")?;
                    created.flush()?;
                    if let Some(p) = to.parent() {
                        std::fs::create_dir_all(p)?;
                    }
                }
                Err(e) => return Err(e),
            }
            std::fs::rename(safe_join(staging, rel)?, &to)?;
            step += 1;
            crash_point(Step::Committed(step));
            fail_point(Step::Committed(step))?;
        }
        // Folders left empty by the removals are not listed by the new
        // manifest: they go (and come back on undo with their files).
        for rel in removed {
            let mut p = safe_join(dir, rel)?.parent().map(Path::to_path_buf);
            while let Some(d) = p.filter(|d| d.as_path() != dir) {
                if std::fs::remove_dir(&d).is_err() {
                    break;
                }
                p = d.parent().map(Path::to_path_buf);
            }
        }
        crash_point(Step::BeforeSwap);
        // The commit point.
        std::fs::rename(staging.join(MANIFEST), dir.join(MANIFEST))?;
        Ok(())
    })();
    match result {
        Ok(()) => {
            crash_point(Step::AfterSwap);
            let _ = std::fs::remove_dir_all(&journal);
            Ok(())
        }
        Err(e) => {
            drop(created);
            undo(dir, &journal)?;
            Err(e)
        }
    }
}

/// Puts back what an unfinished in-place update changed (its journal says
/// what), unless its manifest was moved in: then the update is complete
/// and only the journal goes.
pub(super) fn undo(dir: &Path, journal: &Path) -> io::Result<()> {
    let old_manifest = journal.join(MANIFEST);
    let finished = match (
        std::fs::metadata(&old_manifest),
        std::fs::metadata(dir.join(MANIFEST)),
    ) {
        (Ok(a), Ok(b)) => !same_inode(&a, &b),
        // No journal manifest: the journal was being set up, nothing moved.
        (Err(_), _) => false,
        (Ok(_), Err(_)) => false,
    };
    if !finished && old_manifest.exists() {
        let created = std::fs::read_to_string(journal.join(CREATED)).unwrap_or_default();
        let mut folders = Vec::new();
        for rel in created.lines().filter(|l| !l.is_empty()) {
            if rel.ends_with('/') {
                folders.push(rel.trim_end_matches('/'));
            } else if let Ok(p) = safe_join(dir, rel) {
                match std::fs::remove_file(&p) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let files = journal.join("files");
        let mut back = Vec::new();
        if files.is_dir() {
            walk_all(&files, &files, &mut back)?;
        }
        for rel in back.iter().filter(|r| !r.ends_with('/')) {
            let to = dir.join(rel);
            if let Some(p) = to.parent() {
                std::fs::create_dir_all(p)?;
            }
            std::fs::rename(files.join(rel), to)?;
        }
        // Folders it made, deepest first, if nothing else is in them.
        for f in folders.iter().rev() {
            let _ = std::fs::remove_dir(dir.join(f));
        }
        // The previous manifest is still in place (the commit point was
        // not reached); it is the same file as the journal's link.
    }
    std::fs::remove_dir_all(journal)
}

pub(super) fn same_inode(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        a.dev() == b.dev() && a.ino() == b.ino()
    }
    #[cfg(not(unix))]
    {
        a.len() == b.len() && a.modified().ok() == b.modified().ok()
    }
}

/// Removes the previous tree once the new one is in place, unless it holds
/// something its manifest does not list (put there while the build ran):
/// then it is moved to `.NAME.scalec-kept-PID` beside the output, and its
/// path and those files are returned, for the caller to say so.
pub(super) fn retire(old: &Path, dir: &Path) -> Option<(PathBuf, Vec<String>)> {
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
pub(super) fn exchange(a: &Path, b: &Path) -> io::Result<bool> {
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
pub(super) enum Step {
    Staged(usize),
    /// After the N-th file moved by an in-place update.
    Committed(usize),
    BeforeSwap,
    BetweenRenames,
    AfterSwap,
}

#[cfg(not(debug_assertions))]
pub(super) fn crash_point(_: Step) {}

#[cfg(not(debug_assertions))]
pub(super) fn fail_point(_: Step) -> io::Result<()> {
    Ok(())
}

/// With `SCALEC_TEST_FAIL_AT=committed:N` (debug builds only), the N-th
/// move of an in-place update fails as a full disk would: the build must
/// put back what it moved and fail.
#[cfg(debug_assertions)]
pub(super) fn fail_point(step: Step) -> io::Result<()> {
    let at = std::env::var("SCALEC_TEST_FAIL_AT").ok();
    let wanted = at
        .as_deref()
        .and_then(|v| v.strip_prefix("committed:"))
        .and_then(|n| n.parse().ok())
        .map(Step::Committed);
    if wanted == Some(step) {
        Err(io::Error::other(format!(
            "test failure injected at {step:?}"
        )))
    } else {
        Ok(())
    }
}

#[cfg(debug_assertions)]
pub(super) fn crash_point(step: Step) {
    static AT: std::sync::OnceLock<Option<Step>> = std::sync::OnceLock::new();
    let at = AT.get_or_init(|| {
        let v = std::env::var("SCALEC_TEST_CRASH_AT").ok()?;
        match v.as_str() {
            "before-swap" => Some(Step::BeforeSwap),
            "between-renames" => Some(Step::BetweenRenames),
            "after-swap" => Some(Step::AfterSwap),
            _ => match v.split_once(':') {
                Some(("staged", n)) => n.parse().ok().map(Step::Staged),
                Some(("committed", n)) => n.parse().ok().map(Step::Committed),
                _ => None,
            },
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
pub(super) struct Lock {
    path: PathBuf,
    file: std::fs::File,
}

pub(super) fn sibling_name(dir: &Path) -> (PathBuf, String) {
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
    pub(super) fn acquire(dir: &Path, wait: Duration) -> io::Result<Lock> {
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
pub(super) fn same_file(file: &std::fs::File, path: &Path) -> bool {
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
pub(super) fn sweep(dir: &Path) -> io::Result<()> {
    let (journals, stale) = leftovers(dir);
    sweep_these(dir, journals, stale)
}

/// Whether a killed build left something beside `dir` for [`sweep`].
pub(super) fn has_leftovers(dir: &Path) -> bool {
    let (journals, stale) = leftovers(dir);
    !journals.is_empty() || !stale.is_empty()
}

type Leftovers = (Vec<PathBuf>, Vec<(&'static str, PathBuf)>);

/// The journals and the staging folders (`new` or `old`) killed builds
/// left beside `dir`.
fn leftovers(dir: &Path) -> Leftovers {
    let (parent, name) = sibling_name(dir);
    let mut stale = Vec::new();
    let mut journals = Vec::new();
    let Ok(entries) = std::fs::read_dir(&parent) else {
        return (journals, stale);
    };
    for e in entries.flatten() {
        let file = e.file_name().to_string_lossy().into_owned();
        if file
            .strip_prefix(&format!(".{name}.scalec-undo-"))
            .is_some_and(|p| p.parse::<u32>().is_ok())
        {
            journals.push(e.path());
        }
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
    (journals, stale)
}

fn sweep_these(
    dir: &Path,
    mut journals: Vec<PathBuf>,
    mut stale: Vec<(&'static str, PathBuf)>,
) -> io::Result<()> {
    // An in-place update killed before its commit point is undone first.
    journals.sort();
    for j in journals {
        undo(dir, &j)?;
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
pub(super) fn absolute(dir: &Path) -> io::Result<PathBuf> {
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
