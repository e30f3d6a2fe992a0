//! `scalec init`: the starter checks without a warning, is formatted,
//! builds for every target, and its CI workflow passes actionlint; a
//! second init over it writes nothing.

mod support;

use std::path::Path;
use support::{run, scalec, tool};

#[test]
fn the_starter_checks_builds_and_its_workflow_lints() {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("init-test");
    let _ = std::fs::remove_dir_all(&base);
    let dir = base.join("Acme Shop");
    let (ok, out) = run(scalec().arg("init").arg(&dir));
    assert!(ok, "{out}");
    for f in [
        "app.scale",
        ".github/workflows/scale.yml",
        "README.md",
        ".gitignore",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing: {out}");
    }
    let spec = std::fs::read_to_string(dir.join("app.scale")).unwrap();
    assert!(spec.contains("app acme_shop {"), "{spec}");

    let (ok, out) = run(scalec().args(["check", "--deny-warnings"]).arg(&dir));
    assert!(ok && out.is_empty(), "check: {out}");
    let (ok, out) = run(scalec().args(["fmt", "--check"]).arg(&dir));
    assert!(ok, "fmt --check: {out}");
    let built = base.join("out");
    let (ok, out) = run(scalec().arg("build").arg(&dir).arg("-o").arg(&built));
    assert!(ok, "build: {out}");
    for f in ["manifest.json", "k8s", "prometheus"] {
        assert!(built.join(f).exists(), "{f} not built: {out}");
    }

    // A second init over it refuses and changes nothing.
    std::fs::write(dir.join("app.scale"), "// mine\n").unwrap();
    let (ok, out) = run(scalec().arg("init").arg(&dir));
    assert!(!ok && out.contains("nothing was written"), "{out}");
    assert_eq!(
        std::fs::read_to_string(dir.join("app.scale")).unwrap(),
        "// mine\n"
    );

    // The workflow is one GitHub Actions accepts.
    if let Some(actionlint) = tool("actionlint") {
        let (ok, out) = run(
            std::process::Command::new(actionlint).arg(dir.join(".github/workflows/scale.yml"))
        );
        assert!(ok, "actionlint: {out}");
    }
    let _ = std::fs::remove_dir_all(&base);
}
