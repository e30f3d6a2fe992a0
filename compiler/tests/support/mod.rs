//! Shared helpers for the integration tests: where the external tools are,
//! and how a test behaves when one is missing (fail under CI, loud SKIP
//! otherwise). Tools are installed by `scripts/install-tools.sh` into
//! `.tools/` at the repository root.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root (the workspace folder).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Every file below `dir` (none when it does not exist), by path relative
/// to it, with its bytes.
#[allow(dead_code)]
pub fn tree(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// Copies the files the flagship's spec names (its contract and body
/// schema) into `dir`, for a test that builds a copy of the spec there.
#[allow(dead_code)]
pub fn copy_triage_assets(dir: &Path) {
    let triage = repo_root().join("examples/triage");
    for f in ["openapi.yaml", "schemas/ticket.json"] {
        let to = dir.join(f);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(triage.join(f), to).unwrap();
    }
}

/// The `scalec` binary built for this test run.
pub fn scalec() -> Command {
    Command::new(env!("CARGO_BIN_EXE_scalec"))
}

fn under_ci() -> bool {
    matches!(std::env::var("CI").as_deref(), Ok("true") | Ok("1"))
}

/// Finds an external tool: `$SCALE_TOOLS_DIR` (default `.tools/`) `bin/`
/// and `venv/bin/`, then `PATH`. Missing: panics under CI, prints a loud
/// SKIP and returns `None` otherwise, so the caller returns early.
pub fn tool(name: &str) -> Option<PathBuf> {
    let tools = std::env::var_os("SCALE_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".tools"));
    let mut candidates = vec![
        tools.join("bin").join(name),
        tools.join("venv/bin").join(name),
    ];
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|p| p.join(name)));
    }
    if let Some(found) = candidates.into_iter().find(|p| p.is_file()) {
        return Some(found);
    }
    missing(&format!("the tool `{name}`"));
    None
}

/// The CRD schemas shared with the project (`../shared/schemas`, or
/// `$SCALE_SCHEMAS`). Their absence is reported loudly, never silently.
pub fn schemas_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("SCALE_SCHEMAS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/schemas"));
    if dir.join("crds").is_dir() {
        Some(dir)
    } else {
        missing(&format!("the CRD schemas at {}", dir.display()));
        None
    }
}

pub fn missing(what: &str) {
    if under_ci() {
        panic!("{what} is required under CI=true; scripts/install-tools.sh installs it");
    }
    eprintln!();
    eprintln!("==================================================================");
    eprintln!("SKIP: {what} is missing; run scripts/install-tools.sh");
    eprintln!("==================================================================");
}

/// Writes artifacts under a fresh folder of the target's temp dir.
pub fn write_artifacts(name: &str, artifacts: &[scalec::backends::Artifact]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    for a in artifacts {
        let path = dir.join(&a.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &a.contents).unwrap();
    }
    dir
}

/// Runs a command, returning (success, stdout + stderr).
pub fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}
