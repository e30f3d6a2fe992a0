//! The VS Code extension (`editors/vscode/`): packaged by `vsce package`
//! into a `.vsix` holding the client and its dependencies; its TextMate
//! grammar tokenized by vscode-textmate (VS Code's own engine); and its
//! `activate()` run outside VS Code, launching the server command it
//! chose, which must answer `initialize`.
//!
//! The tools (`@vscode/vsce`, `vscode-textmate`, `vscode-oniguruma`, and the
//! extension's dependencies) are installed by `scripts/install-tools.sh`
//! into `$SCALE_TOOLS_DIR` (default `.tools/`): missing, the tests fail
//! under `CI=true` and print a loud SKIP otherwise.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn missing(what: &str) {
    if matches!(std::env::var("CI").as_deref(), Ok("true") | Ok("1")) {
        panic!("{what} is required under CI=true; scripts/install-tools.sh installs it");
    }
    eprintln!("\n==================================================================");
    eprintln!("SKIP: {what} is missing; run scripts/install-tools.sh");
    eprintln!("==================================================================");
}

fn tools() -> PathBuf {
    std::env::var_os("SCALE_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".tools"))
}

/// A path under the tools folder, or `None` (after the SKIP/CI rule).
fn tool_path(rel: &str) -> Option<PathBuf> {
    let p = tools().join(rel);
    if p.exists() {
        Some(p)
    } else {
        missing(&format!("{} ({rel})", p.display()));
        None
    }
}

fn node() -> Option<PathBuf> {
    let mut candidates = vec![tools().join("bin/node")];
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|p| p.join("node")));
    }
    let found = candidates.into_iter().find(|p| p.is_file());
    if found.is_none() {
        missing("node");
    }
    found
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if e.file_name() == "node_modules" {
            continue;
        }
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn vsce_packages_the_extension() {
    let (Some(vsce), Some(deps), Some(node)) = (
        tool_path("npm/node_modules/@vscode/vsce/vsce"),
        tool_path("vscode-extension/node_modules"),
        node(),
    ) else {
        return;
    };
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("vscode-package");
    let _ = std::fs::remove_dir_all(&dir);
    let src = dir.join("extension");
    copy_dir(&repo().join("editors/vscode"), &src);
    #[cfg(unix)]
    std::os::unix::fs::symlink(&deps, src.join("node_modules")).unwrap();
    let vsix = dir.join("scale.vsix");
    let (ok, out) = run(Command::new(&node)
        .arg(&vsce)
        .args([
            "package",
            "--skip-license",
            "--allow-missing-repository",
            "--out",
        ])
        .arg(&vsix)
        .current_dir(&src));
    assert!(ok, "vsce package failed:\n{out}");
    assert!(vsix.is_file(), "{out}");
    let (ok, listing) = run(Command::new("unzip").arg("-l").arg(&vsix));
    assert!(ok, "{listing}");
    for f in [
        "extension/package.json",
        "extension/extension.js",
        "extension/language-configuration.json",
        "extension/syntaxes/scale.tmLanguage.json",
        "extension/node_modules/vscode-languageclient/package.json",
        "extension.vsixmanifest",
    ] {
        assert!(listing.contains(f), "{f} is not in the .vsix:\n{listing}");
    }
    assert!(
        !listing.contains("extension/test/"),
        "tests are packaged:\n{listing}"
    );
    let (ok, manifest) = run(Command::new("unzip")
        .arg("-p")
        .arg(&vsix)
        .arg("extension/package.json"));
    assert!(ok, "{manifest}");
    let m: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(m["contributes"]["languages"][0]["id"], "scale");
    assert_eq!(m["contributes"]["languages"][0]["extensions"][0], ".scale");
    assert_eq!(m["contributes"]["grammars"][0]["scopeName"], "source.scale");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_grammar_tokenizes_scale() {
    let (Some(modules), Some(node)) = (tool_path("npm/node_modules"), node()) else {
        return;
    };
    let script = repo().join("editors/vscode/test/grammar.cjs");
    let case = repo().join("lsp/tests/cases/basics/main.scale");
    let triage = repo().join("examples/triage/triage.scale");
    let (ok, out) = run(Command::new(&node)
        .arg(&script)
        .arg(&modules)
        .arg(&case)
        .arg(&triage));
    assert!(ok, "{out}");
    for want in [
        "0:0 // comment.line.double-slash.scale",
        "1:0 use keyword.control.import.scale",
        "5:0 budget storage.type.declaration.scale",
        "5:7 checkout entity.name.type.scale",
        "5:18 p50 variable.other.property.scale",
        "5:24 150 constant.numeric.scale",
        "5:27 ms keyword.other.unit.scale",
        "12:14 ghcr.io/acme/api:1 string.quoted.double.scale",
        "13:14 .. keyword.operator.range.scale",
        "17:2 route storage.type.route.scale",
        "17:8 buy entity.name.function.route.scale",
        "17:12 POST constant.language.method.scale",
        "16:2 calls keyword.other.statement.scale",
        "7:0 service storage.type.declaration.scale",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(want)),
            "no token `{want}` in:\n{}",
            out.lines().take(80).collect::<Vec<_>>().join("\n")
        );
    }
}

#[test]
fn activate_launches_a_server_that_answers() {
    let Some(node) = node() else { return };
    let scalec = PathBuf::from(env!("CARGO_BIN_EXE_scalec-lsp"))
        .with_file_name(format!("scalec{}", std::env::consts::EXE_SUFFIX));
    if !scalec.is_file() {
        missing(&format!(
            "{} (build it: cargo build -p scalec)",
            scalec.display()
        ));
        return;
    }
    let (ok, out) = run(Command::new(&node)
        .arg(repo().join("editors/vscode/test/activate.cjs"))
        .arg(&scalec));
    assert!(ok, "{out}");
    assert!(out.contains("scalec-lsp via"), "{out}");
    assert!(out.contains(" lsp"), "{out}");
}
