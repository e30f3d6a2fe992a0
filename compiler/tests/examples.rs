//! The standard library and every example check with zero diagnostics:
//! they are ordinary source, and users copy from them.

use scalec::diagnostics::render;
use scalec::project::{Project, STDLIB};
use std::path::Path;

#[test]
fn stdlib_checks_clean() {
    // The stdlib is loaded into every project; importing everything from
    // every module must add no diagnostic.
    let uses: String = STDLIB
        .iter()
        .map(|(m, _)| format!("use std.{m}\n"))
        .collect();
    let text = format!("{uses}app probe {{ owner = \"tests\" }}\n");
    let c = scalec::check(Project::from_memory(&[("probe.scale", &text)]));
    assert!(
        c.diagnostics.is_empty(),
        "{}",
        render(&c.project.sources, &c.diagnostics, false)
    );
    assert!(c.ir.is_some());
}

#[test]
fn every_example_checks_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut n = 0;
    for e in std::fs::read_dir(&root).unwrap() {
        let dir = e.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        n += 1;
        let c = scalec::check(Project::load(std::slice::from_ref(&dir)).unwrap());
        assert!(
            c.diagnostics.is_empty(),
            "{}:\n{}",
            dir.display(),
            render(&c.project.sources, &c.diagnostics, false)
        );
        assert!(c.ir.is_some());
    }
    assert!(n >= 1, "no examples found");
}

/// `ir.json` is read back by tools: it must deserialise into the same model.
#[test]
fn ir_json_round_trips() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/triage");
    let c = scalec::check(Project::load(&[dir]).unwrap());
    let ir = c.ir.clone().expect("triage checks");
    let arts = scalec::emit(&ir, &c.meta(), &["ir"]).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&arts[0].contents).unwrap();
    let back: scalec::ir::Ir = serde_json::from_value(doc["ir"].clone()).unwrap();
    assert_eq!(back, ir);
    assert_eq!(doc["generated"]["input_hash"], c.project.input_hash());
}

#[test]
fn triage_lowers_to_the_documented_model() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/triage");
    let c = scalec::check(Project::load(&[dir]).unwrap());
    let ir = c.ir.expect("triage checks");
    let api = ir.service("api").unwrap();
    let route = |n: &str| api.routes.iter().find(|r| r.name == n).unwrap();
    // Units normalised, defaults filled.
    assert_eq!(
        route("signin").budget.timeout_ms,
        1080.0,
        "1.2 × 900ms as written"
    );
    assert_eq!(
        route("search").budget.timeout_ms,
        720.0,
        "defaulted to 1.2 × 600ms"
    );
    assert!(route("search").budget.timeout_defaulted);
    assert_eq!(route("search").cache_ttl_ms, Some(30_000.0));
    assert_eq!(
        route("ticket").budget_name.as_deref(),
        Some("web"),
        "std preset merged"
    );
    assert_eq!(api.cpu_millicores, Some(500));
    assert_eq!(api.memory_bytes, Some(512 * 1024 * 1024));
    assert_eq!((api.replicas.min, api.replicas.max), (3, 60));
    let limits = ir.limits.as_ref().unwrap();
    assert_eq!(limits.keys[1].rate_rps, 20.0);
    let slo = &ir.slos[0];
    assert!((slo.objective - 0.999).abs() < 1e-12);
    let factors: Vec<f64> = slo.alerts.windows.iter().map(|w| w.factor).collect();
    assert_eq!(
        factors,
        vec![14.4, 6.0, 3.0, 1.0],
        "the SRE workbook's factors for 30d"
    );
    let lat = &ir.slos[1];
    assert!(
        (lat.alerts.windows[0].factor - 13.44).abs() < 1e-9,
        "28d scales the page factor"
    );
    let peak = &ir.load_tests[0];
    assert_eq!(peak.stages[0].to_rps, 20_000.0);
    assert_eq!(peak.stages[2].duration_ms, 7_200_000.0);
    let soak = &ir.load_tests[1];
    assert_eq!(soak.stages[1].from_rps, 3000.0, "60% of the 5k rps peak");
}

/// docs/language.md's appendix is the flagship, as it stands.
#[test]
fn the_language_appendix_is_the_flagship() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let doc = std::fs::read_to_string(root.join("docs/language.md")).unwrap();
    let flagship = std::fs::read_to_string(root.join("examples/triage/triage.scale")).unwrap();
    let at = doc
        .find("## Appendix: the whole triage example")
        .expect("the appendix");
    let start = doc[at..]
        .find("```scale\n// check: ok\n")
        .expect("its code block")
        + at
        + 22;
    let end = doc[start..].find("```\n").expect("its end") + start;
    let body = &flagship[flagship.find("use std.budgets").expect("the imports")..];
    assert_eq!(
        &doc[start..end],
        body,
        "docs/language.md's appendix differs from examples/triage/triage.scale (from its `use` lines on)"
    );
    // The files the flagship names, which the appendix shows (and its
    // doc-example check reads) before the spec.
    for (lang, file) in [("yaml", "openapi.yaml"), ("json", "schemas/ticket.json")] {
        let fence = format!("```{lang} file={file}\n");
        let start = doc[at..]
            .find(&fence)
            .unwrap_or_else(|| panic!("the appendix shows {file}"))
            + at
            + fence.len();
        let end = doc[start..].find("```\n").expect("its end") + start;
        let on_disk = std::fs::read_to_string(root.join("examples/triage").join(file)).unwrap();
        assert_eq!(
            &doc[start..end],
            on_disk,
            "docs/language.md's appendix shows a {file} that differs from examples/triage/{file}"
        );
    }
}

/// docs/language.md's table of codes lists every code `scalec explain`
/// knows.
#[test]
fn the_language_code_table_lists_every_code() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let doc = std::fs::read_to_string(root.join("docs/language.md")).unwrap();
    let missing: Vec<&str> = scalec::diagnostics::Code::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| !doc.contains(&format!("| [{c}](diagnostics/{c}.md) |")))
        .collect();
    assert!(
        missing.is_empty(),
        "not in docs/language.md's code table: {missing:?}"
    );
}
