//! The diagnostics suite: every `tests/ui/<area>/<case>.scale` file (or
//! `<case>/` folder, for multi-file projects) is checked, and
//!
//! - its header line `// expect: S0301 S0302` (or `// expect: ok`) must
//!   list exactly the codes reported, in any order, with repeats;
//! - every diagnostic has a primary label and a help line (structure that
//!   survives renderer changes);
//! - the rendered output, without colour, is snapshotted with insta.

use scalec::diagnostics::{self, Code};
use scalec::project::Project;
use std::path::{Path, PathBuf};

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/ui");
    let mut out = Vec::new();
    let mut areas: Vec<_> = std::fs::read_dir(&root)
        .expect("tests/ui")
        .map(|e| e.unwrap().path())
        .collect();
    areas.sort();
    for area in areas
        .into_iter()
        .filter(|a| a.is_dir() && !a.ends_with("snapshots"))
    {
        let mut entries: Vec<_> = std::fs::read_dir(&area)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for e in entries {
            if e.is_dir() || e.extension().is_some_and(|x| x == "scale") {
                out.push(e);
            }
        }
    }
    out
}

fn expected_codes(case: &Path) -> Vec<String> {
    let main = if case.is_dir() {
        case.join("main.scale")
    } else {
        case.to_path_buf()
    };
    let text = std::fs::read_to_string(&main).unwrap_or_else(|e| panic!("{}: {e}", main.display()));
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("// expect:"))
        .unwrap_or_else(|| {
            panic!(
                "{}: first lines need `// expect: CODES` or `// expect: ok`",
                main.display()
            )
        });
    let mut codes: Vec<String> = line
        .split_whitespace()
        .filter(|w| *w != "ok")
        .map(str::to_string)
        .collect();
    codes.sort();
    codes
}

#[test]
fn ui_cases() {
    let cases = cases();
    assert!(
        cases.len() >= 40,
        "the suite has {} cases; keep at least 40",
        cases.len()
    );
    let mut failures = Vec::new();
    let mut seen_codes = std::collections::BTreeSet::new();
    let mut rendered_cases = Vec::new();
    for case in &cases {
        let project = Project::load(std::slice::from_ref(case)).expect("case loads");
        let c = scalec::check(project);
        let mut got: Vec<String> = c.diagnostics.iter().map(|d| d.code.to_string()).collect();
        got.sort();
        seen_codes.extend(got.iter().cloned());
        let want = expected_codes(case);
        if got != want {
            failures.push(format!(
                "{}: expected {want:?}, got {got:?}\n{}",
                case.display(),
                diagnostics::render(&c.project.sources, &c.diagnostics, false)
            ));
        }
        for d in &c.diagnostics {
            if !d.labels.iter().any(|l| l.primary) || d.help.is_none() {
                failures.push(format!(
                    "{}: {} lacks a primary label or a help line",
                    case.display(),
                    d.code
                ));
            }
        }
        let rendered = diagnostics::render(&c.project.sources, &c.diagnostics, false);
        rendered_cases.push((case.clone(), rendered));
    }
    assert!(
        failures.is_empty(),
        "{} ui failures:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    for (case, rendered) in rendered_cases {
        let case = &case;
        let name = {
            let area = case
                .parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy();
            let stem = case.file_stem().unwrap().to_string_lossy();
            format!("{area}__{stem}")
        };
        insta::with_settings!({
            snapshot_path => "../../tests/ui/snapshots",
            prepend_module_to_snapshot => false,
            omit_expression => true,
            description => case.strip_prefix(Path::new(env!("CARGO_MANIFEST_DIR")).join("..")).unwrap_or(case).display().to_string(),
        }, {
            insta::assert_snapshot!(name, rendered);
        });
    }
    assert!(
        failures.is_empty(),
        "{} ui failures:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    // Every code the compiler can emit has at least one case.
    let missing: Vec<&str> = Code::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| !seen_codes.contains(*c))
        .collect();
    assert!(missing.is_empty(), "codes without a ui case: {missing:?}");
}
