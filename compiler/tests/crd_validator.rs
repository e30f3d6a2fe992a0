//! The strict CRD check (`scripts/validate_crd.py`), which every generated
//! custom resource goes through, on the fixtures in `tests/fixtures/crd/`:
//! every `good-*.yaml` passes, and every `bad-*.yaml` fails with each message
//! fragment that its `# expect: …` lines name.
//!
//! Needs the venv's python (jsonschema, PyYAML) from `scripts/install-tools.sh`
//! and the shared CRD schemas: missing, this fails under CI=true and SKIPs
//! loudly otherwise.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Validator {
    python: PathBuf,
    script: PathBuf,
    schemas: PathBuf,
}

impl Validator {
    fn find() -> Option<Self> {
        let schemas = support::schemas_dir()?;
        let python = support::tool("python")?;
        // A python from PATH rather than the venv has no jsonschema.
        let (ok, text) =
            support::run(Command::new(&python).args(["-c", "import jsonschema, yaml"]));
        if !ok {
            let what = format!("jsonschema/PyYAML for {} ({text})", python.display());
            if matches!(std::env::var("CI").as_deref(), Ok("true") | Ok("1")) {
                panic!("{what} is required under CI=true; scripts/install-tools.sh installs it");
            }
            eprintln!("\n==================================================================");
            eprintln!("SKIP: {what} is missing; run scripts/install-tools.sh");
            eprintln!("==================================================================");
            return None;
        }
        Some(Validator {
            python,
            script: support::repo_root().join("scripts/validate_crd.py"),
            schemas,
        })
    }

    fn run(&self, files: &[PathBuf]) -> (Output, String) {
        let out = Command::new(&self.python)
            .arg(&self.script)
            .arg(&self.schemas)
            .args(files)
            .output()
            .expect("run validate_crd.py");
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        (out, text)
    }
}

fn fixtures(prefix: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/crd");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("fixture entry").path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with(prefix) && name.ends_with(".yaml")
        })
        .collect();
    files.sort();
    files
}

#[test]
fn good_fixtures_pass() {
    let Some(validator) = Validator::find() else {
        return;
    };
    let files = fixtures("good-");
    assert!(files.len() >= 4, "expected good fixtures, found {files:?}");
    let (out, text) = validator.run(&files);
    assert!(out.status.success(), "good fixtures must validate:\n{text}");
    for kind in ["PrometheusRule", "ScaledObject", "Schedule", "TestRun"] {
        assert!(
            text.lines()
                .any(|l| l.starts_with("ok ") && l.contains(&format!(" {kind}/"))),
            "no {kind} was validated:\n{text}"
        );
    }
    // Built-in kinds beside them are skipped, and said to be.
    assert!(
        text.contains("SKIP") && text.contains("Deployment/worker"),
        "{text}"
    );
    assert!(text.contains(" 0 errors"), "{text}");
}

#[test]
fn each_bad_fixture_fails_with_its_expected_messages() {
    let Some(validator) = Validator::find() else {
        return;
    };
    let files = fixtures("bad-");
    assert!(files.len() >= 4, "expected bad fixtures, found {files:?}");
    let mut problems = Vec::new();
    for file in &files {
        let source = std::fs::read_to_string(file).expect("read fixture");
        let expected: Vec<&str> = source
            .lines()
            .filter_map(|l| l.strip_prefix("# expect:"))
            .map(str::trim)
            .collect();
        assert!(
            !expected.is_empty(),
            "{} has no `# expect:` line",
            file.display()
        );
        let (out, text) = validator.run(std::slice::from_ref(file));
        // 1 is "invalid"; 2 would be a usage problem, which proves nothing.
        if out.status.code() != Some(1) {
            problems.push(format!(
                "{}: exit {:?}, expected 1\n{text}",
                file.display(),
                out.status.code()
            ));
        }
        for fragment in expected {
            if !text.contains(fragment) {
                problems.push(format!("{}: no `{fragment}` in\n{text}", file.display()));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_missing_schema_folder_is_a_usage_error() {
    let Some(mut validator) = Validator::find() else {
        return;
    };
    validator.schemas = std::env::temp_dir().join("scalec-no-such-schemas");
    let (out, text) = validator.run(&fixtures("good-"));
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("no CRD schemas"), "{text}");
}
