//! `slo_burn < 1x over 1h` as a CI gate: the query the `ci` target writes
//! (`ci/burn/<gate>.promql`) and `scalec gate burn` on Prometheus' answer.
//!
//! - promtool evaluates the flagship's query on synthetic series whose
//!   burn rates the test computes by hand (and refuses a wrong value, so
//!   the agreement means something).
//! - The expression is built from the SLO rules' own SLI expression: the
//!   query holds, for each SLO, the very text the rules record as
//!   `slo:sli_error:ratio_rate1h`.
//! - Live: a real Prometheus (Debian's, which `scripts/install-tools.sh`
//!   installs with promtool) on 127.0.0.1 serves the same series,
//!   backfilled with `promtool tsdb create-blocks-from openmetrics`; the
//!   `burn_deploy` job's steps, taken from `ci/scale.yml` and run with bash,
//!   query it with curl and gate on the answer: pass when the burn is under
//!   the bound, exit 1 naming the SLO when it is over.
//! - Bad answers (an error status, a missing SLO, NaN) are exit 2.

mod support;

use serde_json::{json, Value};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("gate_burn")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The flagship (or a variant of its text) built with `--target ci`.
fn build(name: &str, spec: &str) -> PathBuf {
    let dir = tmp(name);
    std::fs::write(dir.join("triage.scale"), spec).unwrap();
    support::copy_triage_assets(&dir);
    let ok = support::scalec()
        .args(["build", "--target", "ci,prometheus", "-o"])
        .arg(dir.join("out"))
        .arg(&dir)
        .status()
        .unwrap()
        .success();
    assert!(ok, "build");
    dir
}

fn flagship() -> String {
    std::fs::read_to_string(support::repo_root().join("examples/triage/triage.scale")).unwrap()
}

/// Per minute: `/v1/tickets` 99 answers of 200 and 1 of 500, `/v1/search`
/// 100 answers of 200 of which `search_fast` were under 400 ms.
struct Traffic {
    search_fast: u64,
}

impl Traffic {
    /// The burn rates by hand: api_availability's errors are 1 of the 200
    /// requests a minute against a 0.1% budget; search_latency's slow
    /// answers are (100 − fast) of 100 against a 1% budget.
    fn expected(&self) -> (f64, f64) {
        let availability = (1.0 / 200.0) / (1.0 - 0.999);
        let latency = ((100 - self.search_fast) as f64 / 100.0) / (1.0 - 0.99);
        (availability, latency)
    }

    /// (series, increase per minute).
    fn series(&self) -> Vec<(String, u64)> {
        let base = "namespace=\"triage\",job=\"api\"";
        let tickets = format!("{base},http_route=\"/v1/tickets\",http_request_method=\"POST\"");
        let search = format!("{base},http_route=\"/v1/search\",http_request_method=\"GET\"");
        vec![
            (
                format!("http_server_request_duration_seconds_count{{{tickets},http_response_status_code=\"200\"}}"),
                99,
            ),
            (
                format!("http_server_request_duration_seconds_count{{{tickets},http_response_status_code=\"500\"}}"),
                1,
            ),
            (
                format!("http_server_request_duration_seconds_count{{{search},http_response_status_code=\"200\"}}"),
                100,
            ),
            (
                format!("http_server_request_duration_seconds_bucket{{{search},http_response_status_code=\"200\",le=\"0.4\"}}"),
                self.search_fast,
            ),
        ]
    }
}

/// A promtool unit test evaluating `expr` at 2h over 2h of `traffic`,
/// rounded to 1e-6 (promtool 2.42 compares floats exactly, and the last
/// bits of a ratio depend on the order of operations).
fn promtool_test(expr: &str, traffic: &Traffic, expect: (f64, f64)) -> Value {
    let expr = format!("round(\n(\n{expr}\n) * 1000000\n) / 1000000");
    let round = |x: f64| (x * 1e6).round() / 1e6;
    let expect = (round(expect.0), round(expect.1));
    let input: Vec<Value> = traffic
        .series()
        .into_iter()
        .map(|(s, per_min)| json!({"series": s, "values": format!("0+{per_min}x180")}))
        .collect();
    json!({
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": input,
            "promql_expr_test": [{
                "expr": expr,
                "eval_time": "2h",
                "exp_samples": [
                    {"labels": "{scale_slo=\"api_availability\"}", "value": expect.0},
                    {"labels": "{scale_slo=\"search_latency\"}", "value": expect.1},
                ],
            }],
        }],
    })
}

#[test]
fn promtool_evaluates_the_query_to_the_burn_computed_by_hand() {
    let dir = build("promtool", &flagship());
    let query = std::fs::read_to_string(dir.join("out/ci/burn/deploy.promql")).unwrap();
    let Some(promtool) = support::tool("promtool") else {
        return;
    };
    let traffic = Traffic { search_fast: 98 };
    let (a, l) = traffic.expected();
    assert!((a - 5.0).abs() < 1e-9 && (l - 2.0).abs() < 1e-9, "{a} {l}");
    for (name, expect, ok) in [("right", (a, l), true), ("wrong", (a * 1.1, l), false)] {
        let f = dir.join(format!("{name}.test.json"));
        std::fs::write(&f, promtool_test(&query, &traffic, expect).to_string()).unwrap();
        let (passed, out) = support::run(Command::new(&promtool).args(["test", "rules"]).arg(&f));
        assert_eq!(passed, ok, "{name}: {out}");
    }
}

#[test]
fn the_query_is_the_rules_own_sli_over_the_budget() {
    let dir = build("same", &flagship());
    let query = std::fs::read_to_string(dir.join("out/ci/burn/deploy.promql")).unwrap();
    for (slo, objective) in [("api_availability", "0.999"), ("search_latency", "0.99")] {
        let rules: yaml_serde::Value = yaml_serde::from_str(
            &std::fs::read_to_string(dir.join(format!("out/prometheus/{slo}.rules.yml"))).unwrap(),
        )
        .unwrap();
        let sli_1h = rules["groups"]
            .as_sequence()
            .unwrap()
            .iter()
            .flat_map(|g| g["rules"].as_sequence().unwrap())
            .find(|r| r["record"].as_str() == Some("slo:sli_error:ratio_rate1h"))
            .and_then(|r| r["expr"].as_str())
            .unwrap_or_else(|| panic!("{slo}: no 1h SLI recording"))
            .trim_end()
            .to_string();
        let part = format!(
            "label_replace(\n(\n{sli_1h}\n)\n/\n(1 - {objective}),\n\"scale_slo\", \"{slo}\", \"\", \"\"\n)"
        );
        assert!(query.contains(&part), "{slo}:\n{part}\nnot in\n{query}");
    }
    // The window is the gate's: `over 6h` queries 6h.
    let six = build(
        "six",
        &flagship().replace("slo_burn    < 1x over 1h", "slo_burn    < 1x over 6h"),
    );
    let q6 = std::fs::read_to_string(six.join("out/ci/burn/deploy.promql")).unwrap();
    assert!(q6.contains("[6h]") && !q6.contains("[1h]"), "{q6}");
}

/// A Prometheus server of this test, stopped by its pid when dropped.
struct Prom {
    child: Child,
    url: String,
}

impl Drop for Prom {
    fn drop(&mut self) {
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(15) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Backfills 2h of `traffic` ending now into a fresh TSDB and serves it.
fn serve(dir: &Path, traffic: &Traffic) -> Option<Prom> {
    let promtool = support::tool("promtool")?;
    let prometheus = support::tool("prometheus")?;
    // The job's step asks with curl.
    let curl = support::tool("curl")?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let start = now - 2 * 3600;
    let mut om = String::new();
    for (series, per_min) in traffic.series() {
        for i in 0..=120u64 {
            om.push_str(&format!("{series} {} {}\n", per_min * i, start + i * 60));
        }
    }
    om.push_str("# EOF\n");
    let data = dir.join("tsdb");
    std::fs::write(dir.join("series.om"), om).unwrap();
    let (ok, out) = support::run(
        Command::new(&promtool)
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(dir.join("series.om"))
            .arg(&data),
    );
    assert!(ok, "backfill: {out}");
    std::fs::write(
        dir.join("prometheus.yml"),
        "global:\n  scrape_interval: 1m\n",
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    for _ in 0..5 {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&prometheus)
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--storage.tsdb.retention.time=30d")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log.try_clone().unwrap())
            .spawn()
            .unwrap();
        let mut prom = Prom {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let begin = Instant::now();
        while begin.elapsed() < Duration::from_secs(60) {
            if let Ok(Some(_)) = prom.child.try_wait() {
                break;
            }
            let ready = Command::new(&curl)
                .args(["-fs", "-o", "/dev/null", &format!("{}/-/ready", prom.url)])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ready {
                return Some(prom);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        prom.url.clear();
        drop(prom);
    }
    panic!(
        "Prometheus did not start: {}",
        std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
    );
}

/// Runs the `burn_deploy` job's `run:` steps as GitHub would (bash -eo
/// pipefail, the job's env with the variables filled in), `scalec` on
/// PATH; (exit code of the first failing step or 0, output).
fn run_burn_job(project: &Path, prom: &Prom) -> (i32, String) {
    let text = std::fs::read_to_string(project.join("out/ci/scale.yml")).unwrap();
    let wf: yaml_serde::Value = yaml_serde::from_str(&text).unwrap();
    let job = &wf["jobs"]["burn_deploy"];
    let scalec = PathBuf::from(env!("CARGO_BIN_EXE_scalec"));
    let path = format!(
        "{}:{}",
        scalec.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut output = String::new();
    for step in job["steps"].as_sequence().unwrap() {
        let Some(script) = step["run"].as_str() else {
            continue;
        };
        if script.contains("cargo install") {
            continue;
        }
        let mut cmd = Command::new("bash");
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
            .current_dir(project)
            .env("PATH", &path)
            .env("SCALE_SPEC", ".")
            .env("SCALE_OUT", "out");
        for (k, v) in job["env"].as_mapping().unwrap() {
            let (k, v) = (k.as_str().unwrap(), v.as_str().unwrap());
            let v = match v {
                "${{ vars.SCALE_PROMETHEUS_URL }}" => prom.url.clone(),
                "${{ secrets.SCALE_PROMETHEUS_TOKEN }}" => String::new(),
                v => {
                    assert!(!v.contains("${{"), "unknown expression {v}");
                    v.to_string()
                }
            };
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        output.push_str(&String::from_utf8_lossy(&out.stdout));
        output.push_str(&String::from_utf8_lossy(&out.stderr));
        let code = out.status.code().unwrap_or(-1);
        if code != 0 {
            return (code, output);
        }
    }
    (0, output)
}

#[test]
fn the_burn_job_against_a_live_prometheus() {
    // Under its bound: the flagship's bound is 1x; a 10x bound lets the
    // burn of 5 and 2 pass, the flagship's fails api_availability and
    // search_latency.
    let loose = build(
        "live-loose",
        &flagship().replace("slo_burn    < 1x over 1h", "slo_burn    < 10x over 1h"),
    );
    let traffic = Traffic { search_fast: 98 };
    let Some(prom) = serve(&loose, &traffic) else {
        return;
    };
    let (code, out) = run_burn_job(&loose, &prom);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("gate burn: pass (2 checks)"), "{out}");
    let answer: Value =
        serde_json::from_str(&std::fs::read_to_string(loose.join("burn.json")).unwrap()).unwrap();
    let (a, l) = traffic.expected();
    for (slo, want) in [("api_availability", a), ("search_latency", l)] {
        let got: f64 = answer["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["metric"]["scale_slo"] == slo)
            .and_then(|s| s["value"][1].as_str())
            .unwrap_or_else(|| panic!("{slo}: {answer}"))
            .parse()
            .unwrap();
        assert!((got - want).abs() < 1e-6 * want, "{slo}: {got} vs {want}");
    }

    let strict = build("live-strict", &flagship());
    let (code, out) = run_burn_job(&strict, &prom);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("gate burn: FAILED (2 of 2): api_availability burn_rate_1h, search_latency burn_rate_1h"),
        "{out}"
    );
    let row = out
        .lines()
        .find(|l| l.starts_with("api_availability"))
        .unwrap();
    assert!(
        row.contains("< 1 x") && row.contains("5 x") && row.ends_with("FAIL"),
        "{row}"
    );
}

fn gate_burn(project: &Path, answer: &Value) -> (i32, String, String) {
    let f = project.join("answer.json");
    std::fs::write(&f, answer.to_string()).unwrap();
    let out = support::scalec()
        .args(["gate", "burn", "--format", "json", "--result"])
        .arg(&f)
        .arg(project)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn answer(values: &[(&str, &str)]) -> Value {
    let result: Vec<Value> = values
        .iter()
        .map(|(slo, v)| json!({"metric": {"scale_slo": slo}, "value": [1764500000.0, v]}))
        .collect();
    json!({"status": "success", "data": {"resultType": "vector", "result": result}})
}

#[test]
fn gate_burn_verdicts_and_bad_answers() {
    let dir = build("verdicts", &flagship());
    let (code, out, err) = gate_burn(
        &dir,
        &answer(&[("api_availability", "0.5"), ("search_latency", "0.99")]),
    );
    assert_eq!(code, 0, "{out}{err}");
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["gate"], "burn");
    assert_eq!(v["checks"].as_array().unwrap().len(), 2);
    // Exactly the bound is not below it.
    let (code, out, _) = gate_burn(
        &dir,
        &answer(&[("api_availability", "0.5"), ("search_latency", "1")]),
    );
    assert_eq!(code, 1, "{out}");
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    let failed: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["pass"] == false)
        .map(|c| c["item"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["search_latency"]);
    for (bad, says) in [
        (
            json!({"status": "error", "errorType": "bad_data", "error": "parse error"}),
            "parse error",
        ),
        (answer(&[("api_availability", "0.5")]), "search_latency"),
        (
            answer(&[("api_availability", "NaN"), ("search_latency", "0.1")]),
            "NaN",
        ),
        (
            json!({"status": "success", "data": {"resultType": "matrix", "result": []}}),
            "instant vector",
        ),
    ] {
        let (code, out, err) = gate_burn(&dir, &bad);
        assert_eq!(code, 2, "{bad}: {out}{err}");
        assert!(out.is_empty(), "no verdict: {out}");
        assert!(err.contains(says), "{bad}: {err}");
    }
    // A spec without `slo_burn`: nothing to judge, exit 2.
    let none = build(
        "no-burn",
        &flagship().replace("  slo_burn    < 1x over 1h\n", ""),
    );
    assert!(!none.join("out/ci/burn").exists());
    let (code, _, err) = gate_burn(&none, &answer(&[]));
    assert_eq!(code, 2);
    assert!(err.contains("slo_burn"), "{err}");
}
