//! The diagnostics suite: every `tests/ui/<area>/<case>.scale` file (or
//! `<case>/` folder, for multi-file projects) is checked, and
//!
//! - its header line `// expect: S0301 S0302` (or `// expect: ok`) must
//!   list exactly the codes reported, in any order, with repeats; a line
//!   `// env: NAME` checks it as `scalec check --env NAME` does;
//! - every diagnostic has a primary label and a help line (structure that
//!   survives renderer changes);
//! - the rendered output, without colour, is snapshotted with insta;
//! - applying any of a diagnostic's fixes removes that diagnostic;
//! - no diagnostic is reported twice, here, in `examples/` or the stdlib.

use scalec::diagnostics::{self, Code, Diagnostic};
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

/// The case's `// env: NAME` line, if any: it is checked in that environment.
fn case_env(case: &Path) -> Option<String> {
    let main = if case.is_dir() {
        case.join("main.scale")
    } else {
        case.to_path_buf()
    };
    let text = std::fs::read_to_string(&main).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("// env:"))
        .map(|e| e.trim().to_string())
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
        let c = scalec::check_in(project, case_env(case).as_deref());
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

/// The project's own files (not the standard library), as (name, text),
/// and the contracts and schemas it read.
fn own_files(c: &scalec::Compilation) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = c
        .project
        .files
        .iter()
        .filter(|f| f.std_module.is_none())
        .map(|f| {
            let src = c.project.sources.get(f.id);
            (src.name.clone(), src.text.clone())
        })
        .collect();
    for (name, asset) in &c.project.assets {
        if let scalec::project::Asset::Bytes(b) = asset {
            out.push((name.clone(), String::from_utf8_lossy(b).into_owned()));
        }
    }
    out
}

fn check_memory(files: &[(String, String)]) -> scalec::Compilation {
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    scalec::check(Project::from_memory(&refs))
}

fn count(c: &scalec::Compilation, code: Code) -> usize {
    c.diagnostics.iter().filter(|d| d.code == code).count()
}

#[test]
fn every_fix_removes_its_diagnostic() {
    let mut applied = 0;
    let mut failures = Vec::new();
    for case in cases() {
        let project = Project::load(std::slice::from_ref(&case)).expect("case loads");
        let files = own_files(&scalec::check(project));
        let before = check_memory(&files);
        for d in before.diagnostics.iter().filter(|d| !d.fixes.is_empty()) {
            for fix in &d.fixes {
                let mut fixed = files.clone();
                // Apply from the end so earlier offsets stay valid.
                let mut edits = fix.edits.clone();
                edits.sort_by_key(|e| std::cmp::Reverse((e.span.file, e.span.start)));
                for e in &edits {
                    let name = &before.project.sources.get(e.span.file).name;
                    let Some(f) = fixed.iter_mut().find(|(n, _)| n == name) else {
                        failures.push(format!(
                            "{}: {} edits a file outside the project: {name}",
                            case.display(),
                            d.code
                        ));
                        continue;
                    };
                    f.1.replace_range(e.span.range(), &e.replacement);
                }
                let after = check_memory(&fixed);
                applied += 1;
                if count(&after, d.code) >= count(&before, d.code) {
                    failures.push(format!(
                        "{}: the fix \"{}\" for {} left it in place:\n{}",
                        case.display(),
                        fix.message,
                        d.code,
                        diagnostics::render(&after.project.sources, &after.diagnostics, false)
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(applied >= 10, "only {applied} fixes in the ui corpus");
}

fn assert_no_repeats(what: &str, diags: &[Diagnostic], out: &mut Vec<String>) {
    for (i, d) in diags.iter().enumerate() {
        if diags[..i].contains(d) {
            out.push(format!(
                "{what}: {} \"{}\" is reported twice",
                d.code, d.message
            ));
        }
    }
}

#[test]
fn no_diagnostic_is_reported_twice() {
    let mut failures = Vec::new();
    for case in cases() {
        let project = Project::load(std::slice::from_ref(&case)).expect("case loads");
        let c = scalec::check(project);
        assert_no_repeats(&case.display().to_string(), &c.diagnostics, &mut failures);
    }
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    for e in std::fs::read_dir(&examples).expect("examples") {
        let path = e.unwrap().path();
        let project = Project::load(std::slice::from_ref(&path)).expect("example loads");
        let c = scalec::check(project);
        assert_no_repeats(&path.display().to_string(), &c.diagnostics, &mut failures);
    }
    // Every standard library module, imported whole.
    let uses: String = scalec::project::STDLIB
        .iter()
        .map(|(m, _)| format!("use std.{m}\n"))
        .collect();
    let c = scalec::check(Project::from_memory(&[(
        "main.scale",
        &format!("{uses}app shop {{ owner = \"team\" }}\n"),
    )]));
    assert_no_repeats("stdlib", &c.diagnostics, &mut failures);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The wording of every diagnostic lives in `diagnostics/catalog/`: the
/// stages that report (syntax, semantics, project loading) call it and
/// build no diagnostic themselves.
#[test]
fn reporting_sites_call_the_catalog() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![src.join("project.rs")];
    for dir in ["syntax", "semantics"] {
        for e in std::fs::read_dir(src.join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    let mut offenders = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for (i, line) in text.lines().enumerate() {
            if line.contains("Diagnostic::error(") || line.contains("Diagnostic::warning(") {
                offenders.push(format!("{}:{}: {}", f.display(), i + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "build diagnostics with a catalog constructor:\n{}",
        offenders.join("\n")
    );
}
