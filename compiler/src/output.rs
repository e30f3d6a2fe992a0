//! The writer: the only code that touches the output folder.
//!
//! A build is staged in a sibling folder and swapped in with renames, so a
//! failed or interrupted build leaves the previous output as it was, and the
//! folder never holds a mix of old and new files. `--check` writes nothing
//! and reports what would change as a unified diff.

use crate::backends::{Artifact, Meta};
use crate::project::hex;
use sha2::{Digest, Sha256};
use std::io;
use std::path::{Path, PathBuf};

pub const MANIFEST: &str = "manifest.json";

/// `manifest.json`: the header and every artifact's hash and size.
pub fn manifest(meta: &Meta, artifacts: &[Artifact]) -> Artifact {
    let files: Vec<serde_json::Value> = artifacts
        .iter()
        .map(|a| {
            serde_json::json!({
                "path": a.path,
                "sha256": hex(&Sha256::digest(a.contents.as_bytes())),
                "bytes": a.contents.len(),
            })
        })
        .collect();
    let doc = serde_json::json!({ "generated": meta.json(), "artifacts": files });
    let mut contents = serde_json::to_string_pretty(&doc).expect("manifest serialises");
    contents.push('\n');
    Artifact {
        path: MANIFEST.into(),
        contents,
    }
}

fn sibling(dir: &Path, tag: &str) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
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

/// Writes `artifacts` as the whole content of `dir`, atomically.
pub fn write(dir: &Path, artifacts: &[Artifact]) -> io::Result<()> {
    // `-o .` or `-o out/`: work on the folder's real name and parent.
    let dir = &absolute(dir)?;
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
            ));
        }
    }
    let staging = sibling(dir, "new");
    if staging.exists() {
        std::fs::remove_dir_all(&staging)?;
    }
    let result = (|| {
        std::fs::create_dir_all(&staging)?;
        for a in artifacts {
            let path = safe_join(&staging, &a.path)?;
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&path, a.contents.as_bytes())?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    if dir.exists() {
        let old = sibling(dir, "old");
        if old.exists() {
            std::fs::remove_dir_all(&old)?;
        }
        std::fs::rename(dir, &old)?;
        if let Err(e) = std::fs::rename(&staging, dir) {
            // Put the previous output back.
            let _ = std::fs::rename(&old, dir);
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
        // The new output is in place: a folder left behind is only litter.
        let _ = std::fs::remove_dir_all(&old);
    } else {
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::rename(&staging, dir)?;
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
    let mut out = Vec::new();
    for a in artifacts {
        let path = safe_join(dir, &a.path)?;
        match std::fs::read(&path) {
            Ok(bytes) => {
                let old = String::from_utf8_lossy(&bytes);
                if old != a.contents {
                    let diff = similar::TextDiff::from_lines(old.as_ref(), a.contents.as_str())
                        .unified_diff()
                        .context_radius(3)
                        .header(&format!("a/{}", a.path), &format!("b/{}", a.path))
                        .to_string();
                    out.push(Drift::Changed {
                        path: a.path.clone(),
                        diff,
                    });
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => out.push(Drift::Missing {
                path: a.path.clone(),
            }),
            Err(e) => return Err(e),
        }
    }
    if dir.is_dir() {
        let mut existing = Vec::new();
        walk(dir, dir, &mut existing)?;
        for p in existing {
            if !artifacts.iter().any(|a| a.path == p) {
                out.push(Drift::Extra { path: p });
            }
        }
    }
    Ok(out)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            walk(root, &p, out)?;
        } else {
            let rel = p
                .strip_prefix(root)
                .unwrap_or(&p)
                .to_string_lossy()
                .replace('\\', "/");
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

    #[test]
    fn writes_swaps_and_checks() {
        let tmp = std::env::temp_dir().join(format!("scalec-out-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let dir = tmp.join("out");
        let first = vec![art("a/x.yml", "one\n"), art(MANIFEST, "{}\n")];
        write(&dir, &first).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("a/x.yml")).unwrap(),
            "one\n"
        );
        assert!(check(&dir, &first).unwrap().is_empty());
        let second = vec![art("b.yml", "two\n"), art(MANIFEST, "{}\n")];
        let drift = check(&dir, &second).unwrap();
        assert!(drift.contains(&Drift::Missing {
            path: "b.yml".into()
        }));
        assert!(drift.contains(&Drift::Extra {
            path: "a/x.yml".into()
        }));
        write(&dir, &second).unwrap();
        assert!(!dir.join("a/x.yml").exists(), "stale files are gone");
        // No staging folders are left behind.
        let leftovers: Vec<_> = std::fs::read_dir(&tmp)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "{leftovers:?}");
        // A bad artifact path fails the build and keeps the previous output.
        let bad = vec![art("../escape.yml", "x"), art(MANIFEST, "{}\n")];
        assert!(write(&dir, &bad).is_err());
        assert_eq!(std::fs::read_to_string(dir.join("b.yml")).unwrap(), "two\n");
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn refuses_foreign_folders() {
        let tmp = std::env::temp_dir().join(format!("scalec-out-foreign-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        std::fs::write(tmp.join("precious.txt"), "keep").unwrap();
        assert!(write(&tmp, &[art(MANIFEST, "{}")]).is_err());
        assert_eq!(
            std::fs::read_to_string(tmp.join("precious.txt")).unwrap(),
            "keep"
        );
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
