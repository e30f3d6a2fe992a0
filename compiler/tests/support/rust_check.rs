//! Compiles generated Rust modules against `scale-runtime` and runs clippy
//! on them with `-D warnings`: a throwaway crate (its own workspace, the
//! repository's `Cargo.lock`, offline) whose `lib.rs` mounts each module
//! folder by `#[path]`.
//!
//! Cargo locks a target folder for as long as the `cargo test` that runs
//! this holds it, so the check crate builds in a target folder of its own:
//! `<target>/rust-check` (kept between runs, so only the first run compiles
//! the runtime's dependencies).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn target_root(repo: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("target"))
}

/// `modules`: (module name, path of a generated `rust/mod.rs`). `label`
/// names the check crate's folder (one per caller, so two tests running at
/// once do not share sources). Ok, or the compiler's output.
pub fn clippy(repo: &Path, label: &str, modules: &[(String, PathBuf)]) -> Result<(), String> {
    let target = target_root(repo).join("rust-check");
    let dir = target.join(format!("crate-{label}"));
    let src = dir.join("src");
    std::fs::create_dir_all(&src).map_err(|e| e.to_string())?;
    let runtime = repo.join("runtime");
    let manifest = format!(
        "[package]\nname = \"scale-rust-check-{label}\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n[dependencies]\nscale-runtime = {{ path = {:?} }}\n\n[workspace]\n",
        runtime.to_str().ok_or("non-UTF-8 repository path")?
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).map_err(|e| e.to_string())?;
    std::fs::copy(repo.join("Cargo.lock"), dir.join("Cargo.lock")).map_err(|e| e.to_string())?;
    let mut lib = String::from("//! Generated modules under check.\n#![forbid(unsafe_code)]\n\n");
    for (name, path) in modules {
        let p = path.to_str().ok_or("non-UTF-8 module path")?;
        lib.push_str(&format!("#[path = {p:?}]\npub mod {name};\n"));
    }
    std::fs::write(src.join("lib.rs"), lib).map_err(|e| e.to_string())?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "clippy",
            "--offline",
            "--quiet",
            "--lib",
            "--message-format",
            "short",
        ])
        .args(["--", "-D", "warnings"])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", target.join("target"))
        .env_remove("RUSTFLAGS")
        .output()
        .map_err(|e| format!("cargo clippy: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "cargo clippy failed on {}:\n{}{}",
            dir.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
