//! `build --check`: what a build would change, without writing anything.

use super::*;

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
    check_units(dir, None, produce)
}

/// [`check_with`], the manifest compared holding the units' fingerprints
/// (as [`write_units`] writes it).
pub fn check_units<E: From<io::Error>>(
    dir: &Path,
    fingerprints: Option<Fingerprints>,
    produce: impl FnOnce(&CheckSink) -> Result<(), E>,
) -> Result<(Vec<Drift>, usize), E> {
    let sink = CheckSink {
        dir: dir.to_path_buf(),
        ledger: Ledger::default(),
        drift: Mutex::new(Vec::new()),
        fingerprints,
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
    let files = sink.ledger.take_paths();
    let compared = files.len();
    if dir.is_dir() {
        let mut folders = HashSet::default();
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
