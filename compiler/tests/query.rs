//! The query API the language server calls, tested by data files:
//! `tests/query/*.scale`. Each file starts with a header of `//` lines:
//!
//! ```text
//! // source: examples/triage/triage.scale      (optional: query that file; else this one)
//! // def `budget = web_de|fault` -> budget web_default @ triage.scale:16
//! // def `owner = "x|"` -> none
//! // refs `service d|b {` -> triage.scale:30, triage.scale:52, triage.scale:125
//! // hover `route sig|nin` ~ `timeout = 1.2 × p99 = 1080 ms`
//! // hover `"x|"` -> none
//! // complete `budget = |` has web, web_default
//! // complete `budget = |` lacks batch
//! ```
//!
//! Other header lines are prose. A cursor is written as a needle in backticks with `|` at the offset
//! (`\n` for a line break). The needle must occur exactly once in the
//! queried text (outside the header when the file queries itself).
//! `def` names the declaration's kind, name and the file and line of its
//! name; `refs` lists the declaration's name and every reference, as
//! `file:line`, in the order the API returns them (declaration first, then
//! text order); `hover` checks that the markdown contains a text;
//! `complete` checks labels offered (`has`) or not offered (`lacks`).

use scalec::diagnostics::FileId;
use scalec::project::Project;
use scalec::query;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

struct Case {
    path: PathBuf,
    name: String,
    text: String,
    /// Where needles are searched (the header excluded).
    body_start: usize,
    directives: Vec<(usize, String)>,
}

fn load(path: &Path) -> Case {
    let own = std::fs::read_to_string(path).unwrap();
    let mut directives = Vec::new();
    let mut source = None;
    let mut header_len = 0;
    for (i, line) in own.lines().enumerate() {
        let Some(d) = line.strip_prefix("//") else {
            break;
        };
        header_len += line.len() + 1;
        let d = d.trim();
        if let Some(s) = d.strip_prefix("source:") {
            source = Some(s.trim().to_string());
        } else if ["def ", "refs ", "hover ", "complete "]
            .iter()
            .any(|v| d.starts_with(v))
        {
            directives.push((i + 1, d.to_string()));
        }
    }
    match source {
        Some(s) => Case {
            path: path.to_path_buf(),
            name: Path::new(&s).file_name().unwrap().to_string_lossy().into(),
            text: std::fs::read_to_string(root().join(&s)).unwrap(),
            body_start: 0,
            directives,
        },
        None => Case {
            path: path.to_path_buf(),
            name: path.file_name().unwrap().to_string_lossy().into(),
            text: own,
            body_start: header_len,
            directives,
        },
    }
}

/// `` `needle|here` rest`` → (offset, rest).
fn cursor<'d>(case: &Case, d: &'d str) -> Result<(usize, &'d str), String> {
    let d = d.trim_start();
    let inner = d.strip_prefix('`').ok_or("expected a `needle`")?;
    let close = inner.find('`').ok_or("unclosed needle")?;
    let needle = inner[..close].replace("\\n", "\n");
    let rest = &inner[close + 1..];
    let at = needle.find('|').ok_or("the needle has no `|`")?;
    let plain = needle.replace('|', "");
    let body = &case.text[case.body_start..];
    let found: Vec<usize> = body.match_indices(&plain).map(|(i, _)| i).collect();
    match found.as_slice() {
        [i] => Ok((case.body_start + i + at, rest.trim())),
        [] => Err(format!("needle {needle:?} not found")),
        _ => Err(format!("needle {needle:?} occurs {} times", found.len())),
    }
}

fn list(s: &str) -> Vec<String> {
    s.split(',')
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty())
        .collect()
}

fn strip_ticks(s: &str) -> &str {
    let s = s.trim();
    s.strip_prefix('`')
        .and_then(|s| s.strip_suffix('`'))
        .unwrap_or(s)
}

fn run_case(case: &Case) -> Vec<String> {
    let project = Project::from_memory(&[(case.name.as_str(), case.text.as_str())]);
    let c = scalec::check(project);
    let file = c.project.sources.find(&case.name).expect("the case file");
    let place = |s: scalec::diagnostics::Span| {
        let f = c.project.sources.get(s.file);
        format!("{}:{}", f.name, f.line_col(s.start as usize).0 + 1)
    };
    let mut failures = Vec::new();
    for (line, d) in &case.directives {
        let (verb, rest) = d.split_once(' ').unwrap_or((d.as_str(), ""));
        let r: Result<(), String> = (|| {
            let (offset, rest) = cursor(case, rest)?;
            match verb {
                "def" => {
                    let want = rest.strip_prefix("->").ok_or("expected `->`")?.trim();
                    let got = match query::definition_at(&c, file, offset) {
                        None => "none".to_string(),
                        Some(def) => format!("{} {} @ {}", def.kind, def.name, place(def.span)),
                    };
                    (got == want).then_some(()).ok_or(format!("got `{got}`"))
                }
                "refs" => {
                    let want = list(rest.strip_prefix("->").ok_or("expected `->`")?);
                    let def =
                        query::definition_at(&c, file, offset).ok_or("no declaration here")?;
                    let got: Vec<String> = query::references(&c, def.decl)
                        .into_iter()
                        .map(place)
                        .collect();
                    (got == want).then_some(()).ok_or(format!("got {got:?}"))
                }
                "hover" => {
                    let h = query::hover(&c, file, offset);
                    if let Some(w) = rest.strip_prefix("->") {
                        if w.trim() != "none" {
                            return Err("write `-> none` or `~ `text``".into());
                        }
                        return match h {
                            None => Ok(()),
                            Some(h) => Err(format!("got a hover: {:?}", h.markdown)),
                        };
                    }
                    let want = strip_ticks(rest.strip_prefix('~').ok_or("expected `~`")?);
                    let h = h.ok_or("no hover")?;
                    h.markdown
                        .contains(want)
                        .then_some(())
                        .ok_or(format!("the hover is:\n{}", h.markdown))
                }
                "complete" => {
                    let got: Vec<String> = query::completions(&c, file, offset)
                        .into_iter()
                        .map(|c| c.label)
                        .collect();
                    if let Some(w) = rest.strip_prefix("has") {
                        let missing: Vec<String> =
                            list(w).into_iter().filter(|x| !got.contains(x)).collect();
                        missing
                            .is_empty()
                            .then_some(())
                            .ok_or(format!("missing {missing:?} in {got:?}"))
                    } else if let Some(w) = rest.strip_prefix("lacks") {
                        let extra: Vec<String> =
                            list(w).into_iter().filter(|x| got.contains(x)).collect();
                        extra
                            .is_empty()
                            .then_some(())
                            .ok_or(format!("unexpected {extra:?} in {got:?}"))
                    } else if rest.trim() == "-> none" {
                        got.is_empty().then_some(()).ok_or(format!("got {got:?}"))
                    } else {
                        Err("write `has …`, `lacks …` or `-> none`".into())
                    }
                }
                _ => Err(format!("unknown directive `{verb}`")),
            }
        })();
        if let Err(e) = r {
            failures.push(format!("{}:{line}: `{d}`\n    {e}", case.path.display()));
        }
    }
    failures
}

#[test]
fn query_cases() {
    let dir = root().join("tests/query");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "scale"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 3, "the query cases are in {}", dir.display());
    let mut failures = Vec::new();
    let mut count = 0;
    for p in &paths {
        let case = load(p);
        assert!(!case.directives.is_empty(), "{}: no directive", p.display());
        count += case.directives.len();
        failures.extend(run_case(&case));
    }
    assert!(
        failures.is_empty(),
        "{} of {count} query expectations failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The model survives errors: a file with an error still has its
/// declarations and references, and no IR.
#[test]
fn the_model_is_kept_when_there_are_errors() {
    let text = "use std.budgets.{web}\napp a {}\nservice api {\n  image = \"x/y:1\"\n  route r GET \"/r\" { budget = web  auth = nobody }\n}\n";
    let c = scalec::check(Project::from_memory(&[("m.scale", text)]));
    assert!(c.has_errors() && c.ir.is_none());
    let file: FileId = c.project.sources.find("m.scale").unwrap();
    let at = text.find("budget = web").unwrap() + "budget = w".len();
    let def = query::definition_at(&c, file, at).expect("the reference is resolved");
    assert_eq!((def.kind.as_str(), def.name.as_str()), ("budget", "web"));
    let syms = query::document_symbols(&c, file);
    let names: Vec<&str> = syms.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["a", "api"]);
    assert_eq!(
        syms[1].children.len(),
        1,
        "the route is the service's child"
    );
}

/// The flagship's outline: every declaration in order, routes under their
/// service, limit keys under `limits`.
#[test]
fn document_symbols_of_the_example() {
    let text = std::fs::read_to_string(root().join("examples/triage/triage.scale")).unwrap();
    let c = scalec::check(Project::from_memory(&[("triage.scale", text.as_str())]));
    let file = c.project.sources.find("triage.scale").unwrap();
    let syms = query::document_symbols(&c, file);
    let outline: Vec<String> = syms
        .iter()
        .map(|s| {
            let children: Vec<&str> = s.children.iter().map(|c| c.name.as_str()).collect();
            if children.is_empty() {
                format!("{} {}", s.kind, s.name)
            } else {
                format!("{} {} [{}]", s.kind, s.name, children.join(" "))
            }
        })
        .collect();
    assert_eq!(
        outline,
        [
            "app triage",
            "budget web_default",
            "service api [signin search ticket report]",
            "service db",
            "service search_index",
            "limits limits [api_key ip identity]",
            "auth auth",
            "slo api_availability",
            "slo search_latency",
            "load_test peak",
            "load_test nightly_soak",
            "chaos steady_state",
            "gate deploy",
            "observe observe",
        ]
    );
    let signin = &syms[2].children[0];
    assert_eq!(signin.detail, "POST /v1/session class write");
    assert_eq!(&text[signin.name_span.range()], "signin");
    assert!(text[signin.span.range()].starts_with("route signin POST"));
}
