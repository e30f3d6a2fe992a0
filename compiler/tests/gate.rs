//! `scalec gate`: verdicts and exit codes on real and hand-written inputs.
//!
//! k6: the two summaries the k6 target's live test exported from the
//! flagship's scaled-down `peak` (`tests/fixtures/k6/`): one where every
//! route met its budget, one where the test server slowed `search` down.
//! The expected verdicts come from k6 itself: each summary records, per
//! threshold, whether k6 judged it crossed; the gate must agree route by
//! route. Plans and migration: small hand-written inputs in a temp folder.

mod support;

use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use support::{repo_root, scalec};

fn fixture(name: &str) -> PathBuf {
    repo_root().join(format!("compiler/tests/fixtures/k6/{name}.summary.json"))
}

fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("gate")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `scalec gate …`; (exit code, stdout, stderr).
fn gate(args: &[&str]) -> (i32, String, String) {
    let out = scalec()
        .arg("gate")
        .args(args)
        .current_dir(repo_root())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn k6(summary: &Path, extra: &[&str]) -> (i32, String, String) {
    let s = summary.to_str().unwrap();
    let mut args = vec!["k6", "--test", "peak", "--summary", s];
    args.extend_from_slice(extra);
    args.push("examples/triage");
    gate(&args)
}

/// The (route, p95|p99) pairs k6 judged crossed, from the summary's own
/// threshold records.
fn k6_failed(summary: &Path) -> BTreeSet<(String, String)> {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(summary).unwrap()).unwrap();
    let mut out = BTreeSet::new();
    for (k, m) in doc["metrics"].as_object().unwrap() {
        let Some(route) = k
            .strip_prefix("http_req_duration{route:")
            .and_then(|r| r.strip_suffix('}'))
        else {
            continue;
        };
        for (expr, crossed) in m["thresholds"].as_object().unwrap() {
            if crossed.as_bool().unwrap() {
                let metric = if expr.starts_with("p(95)") {
                    "p95"
                } else {
                    "p99"
                };
                out.insert((route.to_string(), metric.to_string()));
            }
        }
    }
    out
}

fn json_failed(stdout: &str) -> (bool, usize, BTreeSet<(String, String)>) {
    let v: Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    let checks = v["checks"].as_array().unwrap();
    let failed = checks
        .iter()
        .filter(|c| !c["pass"].as_bool().unwrap())
        .map(|c| {
            (
                c["item"].as_str().unwrap().to_string(),
                c["metric"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (v["pass"].as_bool().unwrap(), checks.len(), failed)
}

#[test]
fn k6_passing_summary_passes() {
    let f = fixture("peak-pass");
    assert!(k6_failed(&f).is_empty(), "fixture: k6 judged it passing");
    let (code, out, err) = k6(&f, &["--format", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    let (pass, n, failed) = json_failed(&out);
    assert!(pass && failed.is_empty(), "{out}");
    // signin, search, ticket: p95 and p99; report: p99; the error rate.
    assert_eq!(n, 8, "{out}");
    let (code, table, _) = k6(&f, &[]);
    assert_eq!(code, 0);
    assert!(table.contains("gate k6: pass (8 checks)"), "{table}");
    assert!(table.contains("search  p95"), "{table}");
}

#[test]
fn k6_slow_search_fails_search_only() {
    let f = fixture("peak-slow-search");
    let expected = k6_failed(&f);
    assert_eq!(expected.len(), 1, "fixture: k6 failed one threshold");
    let (code, out, err) = k6(&f, &["--format", "json"]);
    assert_eq!(code, 1, "{out}{err}");
    let (pass, _, failed) = json_failed(&out);
    assert!(!pass);
    assert_eq!(failed, expected, "{out}");
    let (code, table, _) = k6(&f, &[]);
    assert_eq!(code, 1);
    let row = table
        .lines()
        .find(|l| l.starts_with("search  p95"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(row.contains("< 250 ms") && row.ends_with("FAIL"), "{row}");
    assert!(table.contains("FAILED (1 of 8): search p95"), "{table}");
}

#[test]
fn k6_error_rate_over_budget_fails() {
    let mut doc: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("peak-pass")).unwrap()).unwrap();
    doc["metrics"]["http_req_failed"]["value"] = json!(0.02);
    let d = tmp("k6-errors");
    let f = d.join("s.json");
    std::fs::write(&f, doc.to_string()).unwrap();
    let (code, out, _) = k6(&f, &["--format", "json"]);
    assert_eq!(code, 1, "{out}");
    let (_, _, failed) = json_failed(&out);
    assert_eq!(
        failed,
        BTreeSet::from([("*".to_string(), "error_rate".to_string())])
    );
}

#[test]
fn k6_bad_inputs_are_errors_never_a_pass() {
    let d = tmp("k6-bad");
    let missing = d.join("nope.json");
    let malformed = d.join("malformed.json");
    std::fs::write(&malformed, "{\"metrics\": {").unwrap();
    let no_metrics = d.join("no-metrics.json");
    std::fs::write(&no_metrics, "{\"root_group\": {}}").unwrap();
    let mut doc: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("peak-pass")).unwrap()).unwrap();
    doc["metrics"]
        .as_object_mut()
        .unwrap()
        .remove("http_req_duration{route:search}");
    let no_route = d.join("no-route.json");
    std::fs::write(&no_route, doc.to_string()).unwrap();
    let mut doc: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("peak-pass")).unwrap()).unwrap();
    doc["metrics"]["http_req_duration{route:ticket}"]
        .as_object_mut()
        .unwrap()
        .remove("p(99)");
    let no_p99 = d.join("no-p99.json");
    std::fs::write(&no_p99, doc.to_string()).unwrap();
    for (f, says) in [
        (&missing, "cannot read the k6 summary"),
        (&malformed, "is not valid JSON"),
        (&no_metrics, "has no `metrics` object"),
        (&no_route, "http_req_duration{route:search}"),
        (&no_p99, "p(99)"),
    ] {
        let (code, out, err) = k6(f, &["--format", "json"]);
        assert_eq!(code, 2, "{}: {out}{err}", f.display());
        assert!(out.is_empty(), "no verdict on a bad input: {out}");
        assert!(err.contains(says), "{}: {err}", f.display());
    }
    // Two load tests in the flagship: which one ran must be said.
    let (code, _, err) = gate(&[
        "k6",
        "--summary",
        fixture("peak-pass").to_str().unwrap(),
        "examples/triage",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--test"), "{err}");
    let (code, _, err) = k6(&fixture("peak-pass"), &["--test", "nope"]);
    assert_eq!(code, 2, "{err}");
    // A usage error (no --summary) is 2 as well.
    let (code, _, _) = gate(&["k6", "examples/triage"]);
    assert_eq!(code, 2);
}

/// `EXPLAIN (FORMAT JSON)` output for a query on `tickets`: an index scan,
/// or a sequential scan with `filter`.
fn plan(cost: f64, seq_filter: Option<&str>) -> String {
    let node = match seq_filter {
        Some(f) => json!({"Node Type": "Seq Scan", "Relation Name": "tickets",
                          "Alias": "tickets", "Startup Cost": 0.0, "Total Cost": cost,
                          "Filter": f}),
        None => json!({"Node Type": "Index Scan", "Relation Name": "tickets",
                       "Index Name": "tickets_tenant_idx", "Startup Cost": 0.29,
                       "Total Cost": cost, "Index Cond": "(tenant_id = 42)"}),
    };
    json!([{"Plan": {"Node Type": "Limit", "Startup Cost": 0.29, "Total Cost": cost,
                      "Plans": [node]}}])
    .to_string()
}

fn plans_dirs(name: &str, base: &[(&str, String)], cur: &[(&str, String)]) -> (PathBuf, PathBuf) {
    let d = tmp(name);
    let (b, c) = (d.join("baseline"), d.join("current"));
    for (dir, files) in [(&b, base), (&c, cur)] {
        std::fs::create_dir_all(dir).unwrap();
        for (q, text) in files {
            std::fs::write(dir.join(format!("{q}.json")), text).unwrap();
        }
    }
    (b, c)
}

fn plans(b: &Path, c: &Path, json_out: bool) -> (i32, String, String) {
    let mut args = vec![
        "plans",
        "--baseline",
        b.to_str().unwrap(),
        "--current",
        c.to_str().unwrap(),
    ];
    if json_out {
        args.extend(["--format", "json"]);
    }
    args.push("examples/triage");
    gate(&args)
}

#[test]
fn plans_cost_past_threshold_fails_naming_query_scan_and_index() {
    // The flagship's gate: cost_increase < 20%.
    let (b, c) = plans_dirs(
        "plans-fail",
        &[
            ("tickets_by_tenant", plan(8.3, None)),
            ("open_count", plan(100.0, None)),
        ],
        &[
            (
                "tickets_by_tenant",
                plan(
                    2041.0,
                    Some("((tenant_id = 42) AND (status = 'open'::text))"),
                ),
            ),
            ("open_count", plan(119.0, None)),
        ],
    );
    let (code, out, err) = plans(&b, &c, false);
    assert_eq!(code, 1, "{out}{err}");
    let row = out
        .lines()
        .find(|l| l.starts_with("tickets_by_tenant"))
        .unwrap();
    assert!(row.ends_with("FAIL"), "{out}");
    assert!(
        out.contains(
            "new Seq Scan on tickets (Filter: ((tenant_id = 42) AND (status = 'open'::text)))"
        ),
        "{out}"
    );
    assert!(
        out.contains("hint: CREATE INDEX ON tickets (tenant_id, status)"),
        "{out}"
    );
    // 19% growth is inside the budget.
    let ok = out.lines().find(|l| l.starts_with("open_count")).unwrap();
    assert!(ok.ends_with("pass"), "{out}");
    let (code, out, _) = plans(&b, &c, true);
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    let bad: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !c["pass"].as_bool().unwrap())
        .map(|c| c["item"].as_str().unwrap())
        .collect();
    assert_eq!(bad, ["tickets_by_tenant"]);
}

#[test]
fn plans_within_threshold_pass_and_bad_inputs_are_errors() {
    let (b, c) = plans_dirs(
        "plans-pass",
        &[("q", plan(100.0, Some("(tenant_id = 1)")))],
        &[("q", plan(110.0, Some("(tenant_id = 1)")))],
    );
    let (code, out, err) = plans(&b, &c, false);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains("Seq Scan"), "not new: {out}");
    // Exactly 20% is not below 20%.
    let (b, c) = plans_dirs(
        "plans-edge",
        &[("q", plan(100.0, None))],
        &[("q", plan(120.0, None))],
    );
    assert_eq!(plans(&b, &c, false).0, 1);
    // Missing folder, a non-plan file, a query without a current plan.
    let d = tmp("plans-bad");
    let (code, _, err) = plans(&d.join("none"), &d.join("none2"), false);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read the plan folder"), "{err}");
    let (b, c) = plans_dirs(
        "plans-bad2",
        &[("q", plan(1.0, None))],
        &[("q", "{\"rows\": 3}".into())],
    );
    let (code, _, err) = plans(&b, &c, false);
    assert_eq!(code, 2);
    assert!(err.contains("no `Plan`"), "{err}");
    let (b, c) = plans_dirs(
        "plans-bad3",
        &[("q", plan(1.0, None)), ("gone", plan(1.0, None))],
        &[("q", plan(1.0, None))],
    );
    let (code, _, err) = plans(&b, &c, false);
    assert_eq!(code, 2);
    assert!(err.contains("`gone`"), "{err}");
}

fn digest(tables: &[(&str, u64, &str)]) -> String {
    let mut m = serde_json::Map::new();
    for (t, rows, hash) in tables {
        m.insert(t.to_string(), json!({"rows": rows, "hash": hash}));
    }
    json!({ "tables": m }).to_string()
}

fn migration(name: &str, before: &str, after: &str) -> (i32, String, String) {
    let d = tmp(name);
    let (a, b) = (d.join("before.json"), d.join("after.json"));
    std::fs::write(&a, before).unwrap();
    std::fs::write(&b, after).unwrap();
    gate(&[
        "migration",
        "--before",
        a.to_str().unwrap(),
        "--after",
        b.to_str().unwrap(),
        "--format",
        "json",
    ])
}

#[test]
fn migration_drift_fails_and_is_named() {
    let before = digest(&[("tickets", 120, "9f1c"), ("tenants", 3, "77aa")]);
    let (code, out, err) = migration("mig-equal", &before, &before);
    assert_eq!(code, 0, "{out}{err}");
    let changed_hash = digest(&[("tickets", 120, "9f1d"), ("tenants", 3, "77aa")]);
    let (code, out, _) = migration("mig-hash", &before, &changed_hash);
    assert_eq!(code, 1);
    let (_, _, failed) = json_failed(&out);
    assert_eq!(
        failed,
        BTreeSet::from([("tickets".to_string(), "hash".to_string())])
    );
    let changed_rows = digest(&[("tickets", 120, "9f1c"), ("tenants", 4, "77ab")]);
    let (code, out, _) = migration("mig-rows", &before, &changed_rows);
    assert_eq!(code, 1);
    let (_, _, failed) = json_failed(&out);
    assert_eq!(
        failed,
        BTreeSet::from([
            ("tenants".to_string(), "rows".to_string()),
            ("tenants".to_string(), "hash".to_string())
        ])
    );
    let dropped = digest(&[("tickets", 120, "9f1c")]);
    let (code, out, _) = migration("mig-drop", &before, &dropped);
    assert_eq!(code, 1);
    assert!(out.contains("table `tenants` is missing"), "{out}");
    for bad in [
        "",
        "{}",
        "{\"tables\": {\"t\": {\"rows\": -1, \"hash\": \"x\"}}}",
    ] {
        let (code, out, err) = migration("mig-bad", &before, bad);
        assert_eq!(code, 2, "{bad}: {out}{err}");
        assert!(err.contains("table digest"), "{err}");
    }
}
