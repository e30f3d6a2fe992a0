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

/// Writes `artifacts` as the whole content of `dir`, atomically.
///
/// Never deletes what it did not write: it refuses when `dir` holds anything
/// the previous `manifest.json` does not list, or when one of `inputs` (the
/// spec's own files) lies inside `dir`.
pub fn write(dir: &Path, artifacts: &[Artifact], inputs: &[PathBuf]) -> io::Result<()> {
    // `-o .` or `-o out/`: work on the folder's real name and parent.
    let dir = &absolute(dir)?;
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
        return Err(refuse(dir, "the spec's own files are inside it", &inside));
    }
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
        if is_ours {
            let foreign = foreign_entries(dir)?;
            if !foreign.is_empty() {
                return Err(refuse(
                    dir,
                    "it holds what the previous build did not write",
                    &foreign,
                ));
            }
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
        let files: std::collections::BTreeSet<&str> =
            artifacts.iter().map(|a| a.path.as_str()).collect();
        let mut folders = std::collections::BTreeSet::new();
        for a in artifacts {
            let mut rest = a.path.as_str();
            while let Some(i) = rest.rfind('/') {
                rest = &rest[..i];
                folders.insert(format!("{rest}/"));
            }
        }
        let mut existing = Vec::new();
        walk_all(dir, dir, &mut existing)?;
        for p in existing {
            let ours = if p.ends_with('/') {
                folders.contains(&p)
            } else {
                files.contains(p.as_str())
            };
            // Report a foreign folder once, not each file inside it.
            let inside_reported = out.iter().any(|d| {
                matches!(d, Drift::Extra { path } if path.ends_with('/') && p.starts_with(path.as_str()))
            });
            if !ours && !inside_reported {
                out.push(Drift::Extra { path: p });
            }
        }
    }
    Ok(out)
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
}
