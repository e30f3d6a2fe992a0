//! The k6 target, judged by k6 itself and the CRD schemas:
//!
//! - `k6 inspect --execution-requirements` accepts every generated script of
//!   every example (it evaluates the init code and validates every
//!   scenario, which plain `k6 inspect` does not), and the options it reads
//!   are the spec's: one scenario per class and run of stages, the mix
//!   weights, the budgets as thresholds;
//! - a spec whose names, classes, headers and paths are hostile yields the
//!   same code (only the `const SPEC` line differs), k6 still accepts it,
//!   and the strings read back from `SPEC` are the originals;
//! - the ConfigMap holds the script byte for byte, and it and the TestRun
//!   pass `kubernetes-validate --strict` and the strict CRD check.

mod support;

use scalec::backends::k6::{emit, RUNNER_RPS};
use scalec::backends::{Artifact, Meta};
use scalec::ir::{Ir, RequestValue, RouteClass};
use scalec::project::Project;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn compile(dir: &Path) -> (Ir, Meta) {
    let c = scalec::check(Project::load(&[dir.to_path_buf()]).unwrap());
    (c.ir.clone().expect("the example checks"), c.meta())
}

fn flagship() -> (Ir, Meta) {
    compile(&support::repo_root().join("examples/triage"))
}

fn examples() -> Vec<PathBuf> {
    let root = support::repo_root().join("examples");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

/// `k6 inspect --execution-requirements SCRIPT` as JSON.
fn inspect(k6: &Path, script: &Path) -> Value {
    let out = Command::new(k6)
        .args(["inspect", "--execution-requirements"])
        .arg(script)
        .env("K6_NO_USAGE_REPORT", "true")
        .output()
        .expect("run k6");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "k6 inspect {} failed:\n{stdout}{}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("inspect output: {e}\n{stdout}"))
}

fn scripts(arts: &[Artifact]) -> Vec<&Artifact> {
    arts.iter().filter(|a| a.path.ends_with(".js")).collect()
}

#[test]
fn every_example_script_passes_k6_inspect() {
    let Some(k6) = support::tool("k6") else {
        return;
    };
    let mut n = 0;
    for dir in examples() {
        let (ir, meta) = compile(&dir);
        let arts = emit(&ir, &meta);
        assert_eq!(scripts(&arts).len(), ir.load_tests.len());
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let out = support::write_artifacts(&format!("k6-inspect-{name}"), &arts);
        for a in scripts(&arts) {
            inspect(&k6, &out.join(&a.path));
            n += 1;
        }
    }
    assert!(n >= 2, "the flagship has two load tests; inspected {n}");
}

#[test]
fn the_flagship_options_are_the_spec() {
    let Some(k6) = support::tool("k6") else {
        return;
    };
    let (ir, meta) = flagship();
    let arts = emit(&ir, &meta);
    let out = support::write_artifacts("k6-flagship", &arts);
    let opts = inspect(&k6, &out.join("k6/peak.js"));
    let sc = opts["scenarios"].as_object().unwrap();
    let mut names: Vec<&str> = sc.keys().map(String::as_str).collect();
    names.sort();
    // ramp + burst: one ramping scenario per class; the soak a constant one.
    assert_eq!(
        names,
        ["admin_0", "admin_1", "read_0", "read_1", "write_0", "write_1"]
    );
    // The spec: ramp 1k -> 20k rps over 10m, burst 30k for 30s, soak 12k for 2h.
    // Rates are per minute, split 80/15/5.
    for (class, share) in [("read", 0.80), ("write", 0.15), ("admin", 0.05)] {
        let ramp = &sc[&format!("{class}_0")];
        let per_min = |rps: f64| (rps * share * 60.0).round();
        assert_eq!(ramp["executor"], "ramping-arrival-rate");
        assert_eq!(ramp["timeUnit"], "1m0s");
        assert_eq!(ramp["startRate"].as_f64(), Some(per_min(1000.0)));
        let stages = ramp["stages"].as_array().unwrap();
        let st: Vec<(f64, &str)> = stages
            .iter()
            .map(|s| {
                (
                    s["target"].as_f64().unwrap(),
                    s["duration"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            st,
            [
                (per_min(20_000.0), "10m0s"),
                (per_min(30_000.0), "0s"),
                (per_min(30_000.0), "30s")
            ]
        );
        let soak = &sc[&format!("{class}_1")];
        assert_eq!(soak["executor"], "constant-arrival-rate");
        assert_eq!(soak["rate"].as_f64(), Some(per_min(12_000.0)));
        assert_eq!(soak["duration"], "2h0m0s");
        assert_eq!(soak["startTime"], "10m30s");
        assert_eq!(soak["tags"]["class"], class);
        assert!(soak["preAllocatedVUs"].as_u64().unwrap() <= soak["maxVUs"].as_u64().unwrap());
    }
    // read: search's p95 250ms, 24k rps at the burst: 24000 * 0.25 * 1.2 + 1.
    assert_eq!(sc["read_0"]["preAllocatedVUs"], 7201);
    // ... growing to the rate times its hard timeout (720ms): 24000 * 0.72 + 1.
    assert_eq!(sc["read_0"]["maxVUs"], 17281);
    let th = &opts["thresholds"];
    assert_eq!(
        th["http_req_duration{route:search}"],
        serde_json::json!(["p(95)<250", "p(99)<600"])
    );
    assert_eq!(
        th["http_req_duration{route:ticket}"],
        serde_json::json!(["p(95)<300", "p(99)<800"])
    );
    assert_eq!(
        th["http_req_duration{route:report}"],
        serde_json::json!(["p(99)<3000"])
    );
    // api_availability: 99.9%.
    assert_eq!(th["http_req_failed"], serde_json::json!(["rate<0.001"]));
    assert!(th["dropped_iterations"][0]
        .as_str()
        .unwrap()
        .starts_with("count<="));

    // The scale knobs reach every rate and duration.
    let scaled = Command::new(&k6)
        .args(["inspect", "--execution-requirements"])
        .args(["-e", "RATE_SCALE=0.01", "-e", "TIME_SCALE=0.001"])
        .arg(out.join("k6/peak.js"))
        .env("K6_NO_USAGE_REPORT", "true")
        .output()
        .unwrap();
    assert!(scaled.status.success());
    let s: Value = serde_json::from_slice(&scaled.stdout).unwrap();
    assert_eq!(
        s["scenarios"]["read_1"]["rate"].as_f64(),
        Some(12_000.0 * 0.8 * 0.01 * 60.0)
    );
    assert_eq!(s["scenarios"]["read_1"]["duration"], "7.2s");
    // A scale out of bounds stops the script before it starts.
    for bad in ["0", "-1", "1000", "x"] {
        let r = Command::new(&k6)
            .args(["inspect", "--execution-requirements"])
            .args(["-e", &format!("RATE_SCALE={bad}")])
            .arg(out.join("k6/peak.js"))
            .env("K6_NO_USAGE_REPORT", "true")
            .output()
            .unwrap();
        assert!(!r.status.success(), "RATE_SCALE={bad} must be refused");
    }
}

/// The `const SPEC = …;` line, parsed.
fn spec_of(script: &str) -> Value {
    let line = script
        .lines()
        .find(|l| l.starts_with("const SPEC = "))
        .expect("a SPEC line");
    let json = line
        .strip_prefix("const SPEC = ")
        .unwrap()
        .strip_suffix(';')
        .unwrap();
    serde_json::from_str(json).expect("SPEC is JSON")
}

/// Everything but the header and the SPEC line.
fn code_of(script: &str) -> String {
    script
        .lines()
        .filter(|l| !l.starts_with("const SPEC = "))
        .skip_while(|l| {
            l.starts_with("// Generated")
                || l.starts_with("// generator")
                || l.starts_with("// requires")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

const EVIL: &str = "x\"';}</script>`${1}\\u2028\u{2028}\u{202E}\n*/ //";

/// Braces delimit a path parameter; everything else hostile stays.
fn param_evil() -> String {
    EVIL.replace(['{', '}'], "")
}

fn hostile(ir: &Ir) -> Ir {
    let mut ir = ir.clone();
    let evil = |s: &str| format!("{s}{EVIL}");
    let lt = &mut ir.load_tests[0];
    lt.name = evil("peak");
    lt.mix = lt
        .mix
        .iter()
        .map(|(k, v)| {
            (
                if k == "admin" {
                    evil("admin")
                } else {
                    k.clone()
                },
                *v,
            )
        })
        .collect();
    for s in &mut ir.services {
        for r in &mut s.routes {
            r.name = evil(&r.name);
            r.path = format!("/v1/{}/{{id{}}}", "a\"b", param_evil());
            if r.class.as_str() == "admin" {
                r.class = RouteClass::from(evil("admin"));
            }
            if r.idempotency.is_some() {
                r.idempotency = Some(RequestValue::Header(evil("idem")));
            }
        }
    }
    ir.app.tenant = Some(RequestValue::Header(evil("tenant")));
    ir
}

#[test]
fn hostile_names_stay_data() {
    let (ir, meta) = flagship();
    let clean = emit(&ir, &meta);
    let bad_ir = hostile(&ir);
    let bad = emit(&bad_ir, &meta);
    let clean_peak = &clean
        .iter()
        .find(|a| a.path == "k6/peak.js")
        .unwrap()
        .contents;
    let bad_peak = scripts(&bad)
        .into_iter()
        .find(|a| a.path != "k6/nightly-soak.js")
        .expect("the hostile test's script");
    assert!(bad_peak.path.ends_with(".js") && !bad_peak.path[3..].contains('/'));
    // The code is the same text; only the data differs.
    assert_eq!(code_of(clean_peak), code_of(&bad_peak.contents));
    assert_ne!(spec_of(clean_peak), spec_of(&bad_peak.contents));
    for c in bad_peak.contents.chars() {
        assert!(
            !matches!(c, '\u{2028}' | '\u{2029}' | '\u{202E}'),
            "raw {c:?} in the script"
        );
    }
    let line = bad_peak
        .contents
        .lines()
        .find(|l| l.starts_with("const SPEC"))
        .unwrap();
    assert!(
        !line.contains(['`', '<', '\n']) && !line.contains("*/"),
        "{line}"
    );
    // The data reads back as written.
    let spec = spec_of(&bad_peak.contents);
    assert_eq!(spec["test"], format!("peak{EVIL}"));
    let admin = spec["classes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["class"] == format!("admin{EVIL}"))
        .expect("the hostile class");
    assert_eq!(admin["class_tag"], "class-0", "a hostile class is numbered");
    assert_eq!(spec["tenant"]["header"], format!("tenant{EVIL}"));
    let search = &spec["classes"][1]["routes"][0];
    assert_eq!(search["tag"], "route-1");
    assert_eq!(search["path"][1]["param"], format!("id{}", param_evil()));
    assert!(spec["thresholds"]["http_req_duration{route:route-1}"].is_array());

    let Some(k6) = support::tool("k6") else {
        return;
    };
    let out = support::write_artifacts("k6-hostile", &bad);
    let opts = inspect(&k6, &out.join(&bad_peak.path));
    assert!(
        opts["scenarios"]["class-0_0"].is_object(),
        "{}",
        opts["scenarios"]
    );
    assert!(opts["thresholds"]["http_reqs{class:class-0}"].is_array());
}

#[test]
fn output_is_deterministic() {
    let (ir, meta) = flagship();
    assert_eq!(emit(&ir, &meta), emit(&ir, &meta));
}

fn yaml(a: &Artifact) -> yaml_serde::Value {
    yaml_serde::from_str(&a.contents).unwrap_or_else(|e| panic!("{}: {e}", a.path))
}

#[test]
fn config_map_and_test_run() {
    let (ir, meta) = flagship();
    let arts = emit(&ir, &meta);
    let get = |p: &str| {
        arts.iter()
            .find(|a| a.path == p)
            .unwrap_or_else(|| panic!("no {p}"))
    };
    let script = &get("k6/peak.js").contents;
    let cm = yaml(get("k6/peak.configmap.yaml"));
    assert_eq!(cm["metadata"]["name"], "peak-script");
    assert_eq!(cm["data"]["peak.js"].as_str(), Some(script.as_str()));
    let tr = yaml(get("k6/peak.testrun.yaml"));
    assert_eq!(tr["apiVersion"], "k6.io/v1alpha1");
    assert_eq!(tr["spec"]["script"]["configMap"]["name"], "peak-script");
    assert_eq!(tr["spec"]["script"]["configMap"]["file"], "peak.js");
    // Peak 30k rps, RUNNER_RPS per runner.
    assert_eq!(
        tr["spec"]["parallelism"].as_u64(),
        Some((30_000.0 / RUNNER_RPS).ceil() as u64)
    );
    let night = yaml(get("k6/nightly-soak.testrun.yaml"));
    assert_eq!(night["spec"]["parallelism"], 1, "3k rps fits one runner");
    let env = tr["spec"]["runner"]["env"].as_sequence().unwrap();
    assert!(env
        .iter()
        .any(|e| e["name"] == "BASE_URL" && e["value"] == "http://api:8080"));

    let dir = support::write_artifacts("k6-operator", &arts);
    let yamls: Vec<PathBuf> = arts
        .iter()
        .filter(|a| a.path.ends_with(".yaml"))
        .map(|a| dir.join(&a.path))
        .collect();
    assert_eq!(yamls.len(), 4);
    if let (Some(python), Some(schemas)) = (support::tool("python"), support::schemas_dir()) {
        let checker = support::repo_root().join("scripts/validate_crd.py");
        let (ok, text) = support::run(
            Command::new(&python)
                .arg(&checker)
                .arg(&schemas)
                .args(&yamls),
        );
        assert!(ok, "strict CRD check:\n{text}");
        assert!(
            text.contains("TestRun"),
            "the TestRuns were checked:\n{text}"
        );
        // The same check refuses a TestRun with a field k6-operator lacks.
        let bad = dir.join("bad.testrun.yaml");
        let text = std::fs::read_to_string(&yamls[3]).unwrap();
        std::fs::write(
            &bad,
            text.replace("parallelism:", "paralelism: 2\n  parallelism:"),
        )
        .unwrap();
        let (ok, text) = support::run(Command::new(&python).arg(&checker).arg(&schemas).arg(&bad));
        assert!(!ok && text.contains("paralelism"), "{text}");
    }
    if let Some(kv) = support::tool("kubernetes-validate") {
        let cms: Vec<&PathBuf> = yamls
            .iter()
            .filter(|p| p.to_string_lossy().contains(".configmap."))
            .collect();
        assert_eq!(cms.len(), 2);
        let (ok, out) = support::run(Command::new(&kv).arg("--strict").args(&cms));
        assert!(
            ok && !out.contains("WARN"),
            "kubernetes-validate --strict:\n{out}"
        );
    }
}

/// The summaries kept for `scalec gate k6` (issue 12) are real k6 output
/// of the current script: every threshold the script sets is in them.
#[test]
fn kept_summaries_match_the_script() {
    let (ir, meta) = flagship();
    let arts = emit(&ir, &meta);
    let spec = spec_of(
        &arts
            .iter()
            .find(|a| a.path == "k6/peak.js")
            .unwrap()
            .contents,
    );
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/k6");
    for (file, fails) in [
        ("peak-pass.summary.json", false),
        ("peak-slow-search.summary.json", true),
    ] {
        let s: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap();
        for (metric, exprs) in spec["thresholds"].as_object().unwrap() {
            for e in exprs.as_array().unwrap() {
                assert!(
                    s["metrics"][metric]["thresholds"][e.as_str().unwrap()].is_boolean(),
                    "{file}: no {metric} {e}; rerun with SCALE_WRITE_K6_FIXTURES=1 (tests/k6_live.rs)"
                );
            }
        }
        assert_eq!(
            s["metrics"]["http_req_duration{route:search}"]["thresholds"]["p(95)<250"],
            fails
        );
    }
}

/// A route's own `per_api_key(RATE)` is an API key limit too: with no
/// `per api_key` in `limits`, the script still sends keys from the pool,
/// on the header that route's limit reads, and k6 accepts the script.
#[test]
fn a_routes_own_api_key_rate_gives_the_test_its_keys() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("k6-own-rate-src");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("own.scale"),
        r#"app own {}
limits { per ip { rate = 100/s } }
service api {
  image = "r.example/api:1"
  route search GET "/search" { limit = [per_ip, per_api_key(rate = 20/s, burst = 40)] }
}
load_test peak {
  target = api
  api_keys = 50
  mix { read = 100% }
  stages { ramp 10 rps -> 500 rps over 1m }
}
"#,
    )
    .unwrap();
    let (ir, meta) = compile(&dir);
    let arts = emit(&ir, &meta);
    let script = scripts(&arts)[0];
    let spec = spec_of(&script.contents);
    assert_eq!(
        spec["api_keys"],
        serde_json::json!({"header": "x-api-key", "pool": 50}),
        "{spec}"
    );
    let Some(k6) = support::tool("k6") else {
        return;
    };
    let out = support::write_artifacts("k6-own-rate", &arts);
    inspect(&k6, &out.join(&script.path));
}
