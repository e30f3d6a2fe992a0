//! The flagship's k6 script, run for real: scaled down (a few seconds, a
//! few hundred requests, loopback only) against the test backend.
//!
//! - against a fast backend k6 exits 0, and the request mix in its summary
//!   (and at the backend) is the spec's 80/15/5 within a few points;
//! - with `/v1/search` slower than its p95 budget (250 ms) k6 exits 99 and
//!   the summary names the failed threshold, and only that route's.
//!
//! Every k6 run is bounded (killed after [`RUN_LIMIT`]) and the server stops
//! when the test ends. `SCALE_WRITE_K6_FIXTURES=1` also writes the fast
//! run's summary to `tests/fixtures/k6/` (the input `scalec gate k6` will
//! read; see [`write_fixture`]).

#[path = "support/backend.rs"]
#[allow(dead_code, clippy::while_let_loop)]
mod backend;
mod support;

use backend::Backend;
use scalec::project::Project;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// No k6 run may take longer than this.
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// peak: 1k→20k rps ramp over 10m, 30k burst for 30s, 12k soak for 2h.
/// Scaled: 5→100 rps over 0.3 s, 150 rps for 15 ms, 60 rps for 3.6 s.
const RATE_SCALE: &str = "0.005";
const TIME_SCALE: &str = "0.0005";

/// Kills the child when dropped (a failed assertion must not leave k6 up).
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn build_flagship() -> PathBuf {
    let dir = support::repo_root().join("examples/triage");
    let c = scalec::check(Project::load(&[dir]).unwrap());
    let ir = c.ir.clone().expect("the flagship checks");
    let arts = scalec::emit(&ir, &c.meta(), &["k6"]).unwrap();
    support::write_artifacts("k6_live", &arts)
}

struct Run {
    code: i32,
    summary: Value,
    output: String,
}

fn run_k6(k6: &Path, script: &Path, base_url: &str, tag: &str) -> Run {
    let dir = script.parent().unwrap();
    let summary = dir.join(format!("{tag}.summary.json"));
    let _ = std::fs::remove_file(&summary);
    let log = dir.join(format!("{tag}.log"));
    let child = Command::new(k6)
        .args(["run", "--quiet", "--no-color", "--summary-export"])
        .arg(&summary)
        .arg(script)
        .env("K6_NO_USAGE_REPORT", "true")
        .env("BASE_URL", base_url)
        .env("RATE_SCALE", RATE_SCALE)
        .env("TIME_SCALE", TIME_SCALE)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(dir.join(format!("{tag}.err"))).unwrap())
        .spawn()
        .expect("start k6");
    let mut guard = Guard(child);
    let start = Instant::now();
    let status = loop {
        if let Some(s) = guard.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < RUN_LIMIT,
            "k6 ran longer than {RUN_LIMIT:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut output = std::fs::read_to_string(&log).unwrap_or_default();
    output.push_str(&std::fs::read_to_string(dir.join(format!("{tag}.err"))).unwrap_or_default());
    let text = std::fs::read_to_string(&summary)
        .unwrap_or_else(|e| panic!("no summary at {}: {e}\n{output}", summary.display()));
    Run {
        code: status.code().unwrap_or(-1),
        summary: serde_json::from_str(&text).expect("summary is JSON"),
        output,
    }
}

fn count(summary: &Value, metric: &str) -> f64 {
    summary["metrics"][metric]["count"]
        .as_f64()
        .unwrap_or_else(|| panic!("no count for {metric} in the summary"))
}

/// Whether a threshold failed, from `--summary-export` (`true` = failed).
fn failed(summary: &Value, metric: &str, threshold: &str) -> bool {
    summary["metrics"][metric]["thresholds"][threshold]
        .as_bool()
        .unwrap_or_else(|| panic!("no threshold {threshold} on {metric} in the summary"))
}

/// Keeps a real summary for the gate evaluator's tests (issue 12):
/// `SCALE_WRITE_K6_FIXTURES=1 cargo test -p scalec --test k6_live`.
fn write_fixture(name: &str, summary: &Value) {
    if std::env::var("SCALE_WRITE_K6_FIXTURES").as_deref() != Ok("1") {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/k6");
    std::fs::create_dir_all(&dir).unwrap();
    let text = serde_json::to_string_pretty(summary).unwrap() + "\n";
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn flagship_passes_fast_and_fails_slow_with_the_spec_mix() {
    let Some(k6) = support::tool("k6") else {
        return;
    };
    let out = build_flagship();
    let script = out.join("k6/peak.js");
    let server = Backend::start();

    // Fast: every answer at once.
    let fast = run_k6(&k6, &script, &server.url(), "fast");
    assert_eq!(fast.code, 0, "k6 must pass a fast server:\n{}", fast.output);
    let read = count(&fast.summary, "http_reqs{class:read}");
    let write = count(&fast.summary, "http_reqs{class:write}");
    let admin = count(&fast.summary, "http_reqs{class:admin}");
    let total = read + write + admin;
    assert!(total >= 200.0, "too few requests for a mix: {total}");
    assert_eq!(total, count(&fast.summary, "http_reqs"));
    for (got, want, class) in [
        (read, 0.80, "read"),
        (write, 0.15, "write"),
        (admin, 0.05, "admin"),
    ] {
        let share = got / total;
        assert!(
            (share - want).abs() <= 0.03,
            "{class}: {share:.3} of {total} requests, the spec says {want}"
        );
    }
    // The backend saw the same mix, on the spec's routes.
    let search = server.count("GET", "/v1/search") as f64;
    let writes = (server.count("POST", "/v1/session") + server.count("POST", "/v1/tickets")) as f64;
    let reports: u64 = server
        .counts()
        .iter()
        .filter(|((m, p), _)| m == "GET" && p.starts_with("/v1/reports/"))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(search, read, "read requests at the backend");
    assert_eq!(writes, write, "write requests at the backend");
    assert_eq!(reports as f64, admin, "admin requests at the backend");
    assert_eq!(server.total() as f64, total, "{:?}", server.counts());
    // Writes carry idempotency keys where the spec names one; every request
    // an API key from the pool and a tenant.
    let ticket = server
        .last_headers("/v1/tickets")
        .expect("a ticket was sent");
    let has = |h: &[(String, String)], k: &str| h.iter().any(|(n, v)| n == k && !v.is_empty());
    assert!(has(&ticket, "idempotency-key"), "{ticket:?}");
    assert!(
        has(&ticket, "x-api-key") && has(&ticket, "x-tenant-id"),
        "{ticket:?}"
    );
    let signin = server
        .last_headers("/v1/session")
        .expect("a signin was sent");
    assert!(!has(&signin, "idempotency-key"), "{signin:?}");
    for (metric, threshold) in [
        ("http_req_duration{route:search}", "p(95)<250"),
        ("http_req_failed", "rate<0.001"),
    ] {
        assert!(
            !failed(&fast.summary, metric, threshold),
            "{metric} {threshold}"
        );
    }
    write_fixture("peak-pass.summary.json", &fast.summary);

    // Slow: search answers after 400 ms, above its p95 budget of 250 ms
    // and inside its hard timeout (720 ms); the other routes stay fast.
    server.reset();
    server.set_path_delay("/v1/search", Duration::from_millis(400));
    let slow = run_k6(&k6, &script, &server.url(), "slow");
    assert_eq!(
        slow.code, 99,
        "k6 must fail its thresholds (exit 99):\n{}",
        slow.output
    );
    assert!(failed(
        &slow.summary,
        "http_req_duration{route:search}",
        "p(95)<250"
    ));
    assert!(!failed(
        &slow.summary,
        "http_req_duration{route:search}",
        "p(99)<600"
    ));
    for (metric, threshold) in [
        ("http_req_duration{route:ticket}", "p(95)<300"),
        ("http_req_duration{route:signin}", "p(95)<400"),
        ("http_req_duration{route:report}", "p(99)<3000"),
        ("http_req_failed", "rate<0.001"),
    ] {
        assert!(
            !failed(&slow.summary, metric, threshold),
            "{metric} {threshold} failed"
        );
    }
    write_fixture("peak-slow-search.summary.json", &slow.summary);
}

/// A masked production trace, replayed: `scalec mask` then the test's k6
/// script with `REPLAY_FILE`. Every request of the trace reaches the
/// backend once, on its route, with the masked values (never the raw ones),
/// in about the trace's (scaled) time.
#[test]
fn a_masked_trace_replays() {
    let Some(k6) = support::tool("k6") else {
        return;
    };
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("k6-replay");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("shop.scale"),
        r#"
app shop { owner = "team" }

limits { per api_key { rate = 100/s } }

service api {
  image = "shop/api:1"
  port  = 8080
  route search GET "/v1/search" class read { budget { p95 = 250ms  p99 = 600ms } }
  route report GET "/v1/reports/{id}" class admin { budget { p99 = 3s } }
  route ticket POST "/v1/tickets" class write { idempotency = header("Idempotency-Key") }
}

load_test replayed {
  target = api
  replay = "traces/prod.jsonl"
  mask   = ["x-api-key", "email", "id"]
}
"#,
    )
    .unwrap();
    // 90 requests over 3 s of trace time, 2 s once scaled by 0.6.
    let mut raw = String::new();
    let mut want: std::collections::BTreeMap<(String, String), u64> = Default::default();
    for i in 0..90u64 {
        let (method, path) = match i % 6 {
            0..=3 => (
                "GET",
                format!("/v1/search?q=item{i}&email=user{}%40corp.example", i % 7),
            ),
            4 => ("GET", format!("/v1/reports/{}", 100_000 + i % 5)),
            _ => ("POST", "/v1/tickets".to_string()),
        };
        let line = serde_json::json!({
            "t_ms": i * 33,
            "method": method,
            "path": path,
            "headers": {"x-api-key": format!("live_key_{:04}", i % 9), "accept": "application/json"},
            "body": if method == "POST" { serde_json::json!({"email": format!("user{}@corp.example", i % 7)}) } else { Value::Null },
        });
        raw.push_str(&line.to_string());
        raw.push('\n');
    }
    std::fs::write(dir.join("raw.jsonl"), &raw).unwrap();
    let masked = dir.join("traces/prod.jsonl");
    let (ok, text) = support::run(
        support::scalec()
            .arg("mask")
            .arg(dir.join("shop.scale"))
            .args(["--test", "replayed", "--trace"])
            .arg(dir.join("raw.jsonl"))
            .env("SCALE_MASK_KEY", "live-test-key-0123456789"),
    );
    assert!(ok, "{text}");
    let masked_text = std::fs::read_to_string(&masked).unwrap();
    assert!(!masked_text.contains("live_key_") && !masked_text.contains("corp.example"));
    // What the backend should see: the masked trace's paths.
    for line in masked_text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let path = v["path"]
            .as_str()
            .unwrap()
            .split('?')
            .next()
            .unwrap()
            .to_string();
        *want
            .entry((v["method"].as_str().unwrap().to_string(), path))
            .or_default() += 1;
    }

    let c = scalec::check(Project::load(&[dir.join("shop.scale")]).unwrap());
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    let arts = scalec::emit(c.ir.as_ref().unwrap(), &c.meta(), &["k6"]).unwrap();
    let out = support::write_artifacts("k6-replay-out", &arts);
    let script = out.join("k6/replayed.js");
    let server = Backend::start();
    let started = Instant::now();
    let child = Command::new(&k6)
        .args(["run", "--quiet", "--no-color"])
        .args(["-e", &format!("BASE_URL={}", server.url())])
        .args(["-e", "TIME_SCALE=0.6"])
        .args(["-e", &format!("REPLAY_FILE={}", masked.display())])
        .arg(&script)
        .env("K6_NO_USAGE_REPORT", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut guard = Guard(child);
    let status = loop {
        if let Some(s) = guard.0.try_wait().unwrap() {
            break s;
        }
        assert!(started.elapsed() < RUN_LIMIT, "k6 ran over {RUN_LIMIT:?}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut log = String::new();
    if let Some(mut e) = guard.0.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut log);
    }
    assert_eq!(status.code(), Some(0), "{log}");
    assert_eq!(
        server.counts(),
        want,
        "the backend saw the trace, request for request"
    );
    let h = server.last_headers("/v1/search").unwrap();
    let key = h
        .iter()
        .find(|(k, _)| k == "x-api-key")
        .map(|(_, v)| v.clone())
        .unwrap();
    assert!(key.starts_with('m') && !key.contains("live_key"), "{key}");
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "the trace's timing is kept (about 2 s scaled), not sent at once"
    );
}
