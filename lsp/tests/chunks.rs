//! The server checks a file as chunks (split at top-level declarations,
//! so an edit reparses one chunk): on every `.scale` file of the
//! repository — the ui tests' broken inputs, the query fixtures, the
//! examples — the chunked check must report exactly what `scalec check`
//! reports for the whole file, at the same places, with the same fixes.

use scalec::diagnostics::Span;
use scalec::project::Project;
use scalec_lsp::unit::{self, ParseCache, Unit};
use std::path::{Path, PathBuf};
use tower_lsp_server::ls_types::Uri;

fn scale_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            scale_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "scale") {
            out.push(p);
        }
    }
}

/// A diagnostic as (code, message, labels as (file, start, end, message), fixes).
type Flat = (
    String,
    String,
    Vec<(String, usize, usize, String)>,
    Vec<String>,
);

fn flatten(
    diags: &[scalec::diagnostics::Diagnostic],
    place: &dyn Fn(Span) -> (String, usize, usize),
    edit_place: &dyn Fn(Span) -> (String, usize, usize),
) -> Vec<Flat> {
    let mut out: Vec<Flat> = diags
        .iter()
        .map(|d| {
            let labels = d
                .labels
                .iter()
                .map(|l| {
                    let (f, a, b) = place(l.span);
                    (f, a, b, l.message.clone())
                })
                .collect();
            let fixes = d
                .fixes
                .iter()
                .map(|f| {
                    let edits: Vec<String> = f
                        .edits
                        .iter()
                        .map(|e| {
                            let (file, a, b) = edit_place(e.span);
                            format!("{file}:{a}..{b}={}", e.replacement)
                        })
                        .collect();
                    format!("{}: {}", f.message, edits.join(", "))
                })
                .collect();
            (
                d.code.as_str().to_string(),
                d.message.clone(),
                labels,
                fixes,
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn chunked_checks_report_what_whole_checks_report() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut files = Vec::new();
    for d in [
        "tests",
        "examples",
        "compiler/tests/fixtures",
        "lsp/tests/cases",
    ] {
        scale_files(&root.join(d), &mut files);
    }
    files.sort();
    assert!(files.len() > 50, "{} files", files.len());
    // SAFETY: every test of this binary sets the same value.
    std::env::set_var("SCALEC_LSP_CHUNK_LINES", "1");
    let mut chunked_files = 0;
    for path in &files {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue; // the invalid UTF-8 cases
        };
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let whole = scalec::check(Project::from_memory(&[(name.as_str(), text.as_str())]));
        // A path where no `use`d file is found, as for the whole check.
        let fake = Path::new("/nonexistent-scalec-lsp-test").join(&name);
        let uri = Uri::from_file_path(&fake).unwrap();
        let key = fake.to_string_lossy().into_owned();
        let mut parses = ParseCache::default();
        let unit: Unit = unit::compile(
            unit::Input {
                key: &key,
                uri: &uri,
                text: &text,
            },
            &|_| None,
            &|_| None,
            &mut parses,
        );
        let ri = unit.file_of(&key).unwrap();
        if unit.real[ri].chunks.len() > 1 {
            chunked_files += 1;
        }
        let whole_place = |s: Span| {
            (
                whole.project.sources.get(s.file).name.clone(),
                s.start as usize,
                s.end as usize,
            )
        };
        let w = flatten(&whole.diagnostics, &whole_place, &whole_place);
        let c = flatten(
            &unit.c.diagnostics,
            &|s| {
                let (r, a, b) = unit.resolve(s).unwrap();
                (unit.real[r].src.name.clone(), a, b)
            },
            &|s| {
                let (r, a, b) = unit.resolve_edit(s).unwrap();
                (unit.real[r].src.name.clone(), a, b)
            },
        );
        assert_eq!(w, c, "{}", path.display());
        // The same declarations, at the same places.
        let decls = |m: &scalec::semantics::model::Model,
                     place: &dyn Fn(Span) -> (String, usize, usize)| {
            let mut v: Vec<_> = m
                .decls
                .iter()
                .map(|d| {
                    (
                        d.kind.clone(),
                        d.name.clone(),
                        place(d.name_span),
                        d.visible,
                    )
                })
                .collect();
            v.sort();
            v
        };
        assert_eq!(
            decls(&whole.model, &|s| (
                whole.project.sources.get(s.file).name.clone(),
                s.start as usize,
                s.end as usize
            )),
            decls(&unit.c.model, &|s| {
                let (r, a, b) = unit.resolve(s).unwrap();
                (unit.real[r].src.name.clone(), a, b)
            }),
            "{}",
            path.display()
        );
        assert_eq!(
            whole.ir.is_some(),
            unit.c.ir.is_some(),
            "{}",
            path.display()
        );
    }
    assert!(chunked_files > 20, "only {chunked_files} files were split");
}
