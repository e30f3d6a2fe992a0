//! The chaos target, judged by the Chaos Mesh CRD schemas and by k6:
//!
//! - every Schedule passes the strict CRD check, and so does the PodChaos
//!   or NetworkChaos it wraps, taken out as an object of its own kind (the
//!   check refuses a misspelt field in either);
//! - the delay is the checker's absolute latency (+5% of db's p95 = 2.5ms),
//!   pod-kill is one pod `@every 1m`;
//! - the experiment's k6 script passes `k6 inspect`, and run scaled down
//!   against the loopback backend it passes when the target answers in
//!   time and fails (exit 99) when answers reach the hard timeout.

#[path = "support/backend.rs"]
#[allow(dead_code, clippy::while_let_loop)]
mod backend;
mod support;

use scalec::backends::chaos::{emit, go_duration};
use scalec::backends::{Artifact, Meta};
use scalec::ir::Ir;
use scalec::project::Project;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use yaml_serde::Value;

fn flagship() -> (Ir, Meta) {
    let dir = support::repo_root().join("examples/triage");
    let c = scalec::check(Project::load(&[dir]).unwrap());
    (c.ir.clone().expect("the flagship checks"), c.meta())
}

fn get<'a>(arts: &'a [Artifact], path: &str) -> &'a Artifact {
    arts.iter().find(|a| a.path == path).unwrap_or_else(|| {
        panic!(
            "no {path} in {:?}",
            arts.iter().map(|a| &a.path).collect::<Vec<_>>()
        )
    })
}

fn yaml(a: &Artifact) -> Value {
    yaml_serde::from_str(&a.contents).unwrap_or_else(|e| panic!("{}: {e}", a.path))
}

#[test]
fn schedules_say_what_the_spec_says() {
    let (ir, meta) = flagship();
    let arts = emit(&ir, &meta);
    let paths: Vec<&str> = arts.iter().map(|a| a.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "chaos/steady-state.js",
            "chaos/steady-state.latency-db.yaml",
            "chaos/steady-state.pod-kill.yaml"
        ]
    );
    let kill = yaml(get(&arts, "chaos/steady-state.pod-kill.yaml"));
    assert_eq!(kill["kind"], "Schedule");
    assert_eq!(kill["spec"]["type"], "PodChaos");
    assert_eq!(kill["spec"]["schedule"], "@every 1m");
    assert_eq!(kill["spec"]["podChaos"]["action"], "pod-kill");
    assert_eq!(kill["spec"]["podChaos"]["mode"], "one");
    assert_eq!(
        kill["spec"]["podChaos"]["selector"]["labelSelectors"]["app.kubernetes.io/name"],
        "api"
    );
    let lat = yaml(get(&arts, "chaos/steady-state.latency-db.yaml"));
    let net = &lat["spec"]["networkChaos"];
    assert_eq!(lat["spec"]["type"], "NetworkChaos");
    assert_eq!(net["action"], "delay");
    // The checker's number: 5% of db's p95 (50ms).
    let added = ir.chaos[0]
        .actions
        .iter()
        .find_map(|a| match a {
            scalec::ir::ChaosAction::Latency { added_ms, .. } => Some(*added_ms),
            _ => None,
        })
        .unwrap();
    assert_eq!(added, 0.05 * 50.0);
    assert_eq!(net["delay"]["latency"], "2500us");
    // db runs outside the cluster (no image): an external target.
    assert_eq!(net["externalTargets"][0], "db");
    assert_eq!(net["direction"], "to");
    // Each fault lasts the expectation's `within` (2m), every 4m.
    assert_eq!(net["duration"], "2m");
    assert_eq!(lat["spec"]["schedule"], "@every 4m");
    assert_eq!(
        lat["metadata"]["annotations"]["scale.dev/latency-basis"],
        "5% of db's p95 (50ms) = 2.5ms"
    );
    assert_eq!(emit(&ir, &meta), arts, "deterministic");
    assert_eq!(go_duration(1.5), "1500us");
}

/// The wrapped chaos as an object of its own kind.
fn unwrap_chaos(schedule: &Value) -> String {
    let (kind, key) = match schedule["spec"]["type"].as_str().unwrap() {
        "PodChaos" => ("PodChaos", "podChaos"),
        "NetworkChaos" => ("NetworkChaos", "networkChaos"),
        other => panic!("unexpected type {other}"),
    };
    let mut m = yaml_serde::Mapping::new();
    m.insert("apiVersion".into(), "chaos-mesh.org/v1alpha1".into());
    m.insert("kind".into(), kind.into());
    m.insert("metadata".into(), schedule["metadata"].clone());
    m.insert("spec".into(), schedule["spec"][key].clone());
    yaml_serde::to_string(&Value::Mapping(m)).unwrap()
}

#[test]
fn schedules_and_their_chaos_pass_the_strict_crd_check() {
    let (Some(python), Some(schemas)) = (support::tool("python"), support::schemas_dir()) else {
        return;
    };
    let (ir, meta) = flagship();
    let arts = emit(&ir, &meta);
    let dir = support::write_artifacts("chaos-crd", &arts);
    let mut files: Vec<PathBuf> = Vec::new();
    for a in arts.iter().filter(|a| a.path.ends_with(".yaml")) {
        files.push(dir.join(&a.path));
        let inner = dir.join(a.path.replace(".yaml", ".inner.yaml"));
        std::fs::write(&inner, unwrap_chaos(&yaml(a))).unwrap();
        files.push(inner);
    }
    let checker = support::repo_root().join("scripts/validate_crd.py");
    let run = |files: &[PathBuf]| {
        support::run(
            Command::new(&python)
                .arg(&checker)
                .arg(&schemas)
                .args(files),
        )
    };
    let (ok, text) = run(&files);
    assert!(ok, "strict CRD check:\n{text}");
    for kind in ["Schedule", "PodChaos", "NetworkChaos"] {
        assert!(text.contains(kind), "no {kind} was checked:\n{text}");
    }
    // A misspelt field is refused, in the Schedule and in the wrapped chaos.
    let bad = dir.join("bad.yaml");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    std::fs::write(&bad, text.replace("direction:", "directoin:")).unwrap();
    let (ok, out) = run(std::slice::from_ref(&bad));
    assert!(!ok && out.contains("directoin"), "{out}");
    let text = std::fs::read_to_string(&files[1]).unwrap();
    std::fs::write(&bad, text.replace("latency:", "latncy: 1ms\n    latency:")).unwrap();
    let (ok, out) = run(std::slice::from_ref(&bad));
    assert!(!ok && out.contains("latncy"), "{out}");
}

/// Kills k6 when dropped.
struct Guard(std::process::Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run_k6(k6: &Path, script: &Path, url: &str) -> (i32, String) {
    let child = Command::new(k6)
        .args(["run", "--quiet", "--no-color"])
        .args(["-e", "RATE_SCALE=0.02", "-e", "TIME_SCALE=0.004"])
        .args(["-e", &format!("BASE_URL={url}")])
        .arg(script)
        .env("K6_NO_USAGE_REPORT", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start k6");
    let mut g = Guard(child);
    let start = Instant::now();
    let status = loop {
        if let Some(s) = g.0.try_wait().unwrap() {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "k6 ran over 60s");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut out = String::new();
    use std::io::Read;
    if let Some(mut o) = g.0.stdout.take() {
        let _ = o.read_to_string(&mut out);
    }
    if let Some(mut e) = g.0.stderr.take() {
        let _ = e.read_to_string(&mut out);
    }
    (status.code().unwrap_or(-1), out)
}

#[test]
fn the_experiment_checks_run_in_k6() {
    let Some(k6) = support::tool("k6") else {
        return;
    };
    let (ir, meta) = flagship();
    let arts = emit(&ir, &meta);
    let dir = support::write_artifacts("chaos-k6", &arts);
    let script = dir.join("chaos/steady-state.js");
    let out = Command::new(&k6)
        .args(["inspect", "--execution-requirements"])
        .arg(&script)
        .env("K6_NO_USAGE_REPORT", "true")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let opts: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // `expect breaker(db) opens and closes within 2m`.
    assert_eq!(
        opts["thresholds"]["chaos_recovery_ms"],
        serde_json::json!(["max<120000"])
    );
    assert_eq!(
        opts["scenarios"]["read"]["executor"],
        "constant-arrival-rate"
    );

    let server = backend::Backend::start();
    let (code, text) = run_k6(&k6, &script, &server.url());
    assert_eq!(code, 0, "a target that answers in time passes:\n{text}");
    assert!(server.total() > 50, "{:?}", server.counts());
    // Searches answer after their hard timeout (720ms): the checks fail.
    server.set_path_delay("/v1/search", Duration::from_millis(900));
    let (code, text) = run_k6(&k6, &script, &server.url());
    assert_eq!(code, 99, "answers past the timeout must fail:\n{text}");
}
