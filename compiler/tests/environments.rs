//! Per-environment namespaces (`scalec build --env NAME`): every object of
//! every target goes into `<namespace>-NAME`, every namespace-scoped query
//! selects it, the output validates, nothing else changes, and the manifest
//! records the environment. Bad names are refused.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::{repo_root, run, scalec};

fn out_dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// `scalec build examples/<ex> -o DIR [--env ENV]`, every default target.
fn build(example: &str, env: Option<&str>, tag: &str) -> PathBuf {
    let dir = out_dir(&format!("env-{example}-{tag}"));
    let mut cmd = scalec();
    cmd.arg("build")
        .arg(repo_root().join("examples").join(example))
        .arg("-o")
        .arg(&dir);
    if let Some(e) = env {
        cmd.args(["--env", e]);
    }
    let (ok, out) = run(&mut cmd);
    assert!(ok, "build {example} --env {env:?} failed:\n{out}");
    dir
}

/// Every file under `dir`, by path relative to it.
fn files(dir: &Path) -> BTreeMap<String, String> {
    support::tree(dir)
        .into_iter()
        .map(|(p, b)| (p, String::from_utf8(b).unwrap()))
        .collect()
}

/// The YAML documents of the Kubernetes objects a build writes (k8s/,
/// the Gateway resources, the k6 operator's and Chaos Mesh's objects).
fn objects(files: &BTreeMap<String, String>) -> Vec<(String, yaml_serde::Value)> {
    files
        .iter()
        .filter(|(p, _)| {
            // (The adapter's rules are its configuration, not an object:
            // their queries are checked with every file's below.)
            p.ends_with(".yaml")
                && !p.starts_with("k8s/prometheus-adapter/")
                && (p.starts_with("k8s/")
                    || p.starts_with("proxy/gateway/")
                    || p.starts_with("k6/")
                    || p.starts_with("chaos/"))
        })
        .map(|(p, t)| {
            let v: yaml_serde::Value =
                yaml_serde::from_str(t).unwrap_or_else(|e| panic!("{p}: {e}"));
            (p.clone(), v)
        })
        .collect()
}

/// Every `namespace="…"` label matcher in a text, in order.
fn namespace_matchers(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for marker in ["namespace=\"", "namespace=\\\""] {
        let mut rest = text;
        while let Some(i) = rest.find(marker) {
            rest = &rest[i + marker.len()..];
            let end = rest.find(['"', '\\']).unwrap_or(rest.len());
            out.push(rest[..end].to_string());
        }
    }
    out
}

#[test]
fn every_object_and_query_is_in_the_environment_namespace() {
    for (example, ns) in [("triage", "triage-pr-12"), ("shop", "shop-pr-12")] {
        let dir = build(example, Some("pr-12"), "pr-12");
        let files = files(&dir);
        let objs = objects(&files);
        assert!(objs.len() > 20, "{example}: only {} objects", objs.len());
        let mut namespaces = 0;
        for (path, v) in &objs {
            let kind = v["kind"].as_str().unwrap_or_default();
            if kind == "Namespace" {
                assert_eq!(v["metadata"]["name"].as_str(), Some(ns), "{path}");
                assert!(v["metadata"]["namespace"].is_null(), "{path}");
                namespaces += 1;
            } else {
                assert_eq!(v["metadata"]["namespace"].as_str(), Some(ns), "{path}");
            }
            // A monitor scrapes its own namespace.
            if kind == "ServiceMonitor" || kind == "PodMonitor" {
                let names = &v["spec"]["namespaceSelector"]["matchNames"];
                assert_eq!(names[0].as_str(), Some(ns), "{path}");
                assert_eq!(names.as_sequence().map(Vec::len), Some(1), "{path}");
            }
        }
        assert_eq!(namespaces, 1, "{example}: one Namespace object");
        // Every PromQL namespace matcher anywhere (rule files, their
        // promtool tests, PrometheusRules, KEDA triggers) selects it.
        let mut matchers = 0;
        for (path, text) in &files {
            for m in namespace_matchers(text) {
                assert_eq!(m, ns, "{path}: namespace=\"{m}\"");
                matchers += 1;
            }
        }
        assert!(
            matchers > 20,
            "{example}: only {matchers} namespace matchers"
        );
        if example == "shop" {
            // The rps HPA's adapter rule discovers series in the namespace.
            let rules = &files["k8s/prometheus-adapter/rules.yaml"];
            assert!(rules.contains(&format!("namespace=\"{ns}\"")), "{rules}");
        }
        let manifest: serde_json::Value = serde_json::from_str(&files["manifest.json"]).unwrap();
        assert_eq!(manifest["generated"]["env"], "pr-12");
    }
}

/// The environment changes the namespace and nothing else: the build with
/// `--env pr-12`, its namespace renamed back, equals the build without,
/// file for file (the manifest aside: it records the environment and the
/// hashes). And without `--env` the manifest names no environment.
#[test]
fn the_environment_changes_only_the_namespace() {
    for example in ["triage", "shop"] {
        let plain = files(&build(example, None, "plain"));
        let env = files(&build(example, Some("pr-12"), "cmp"));
        assert_eq!(
            plain.keys().collect::<Vec<_>>(),
            env.keys().collect::<Vec<_>>(),
            "{example}: the same files"
        );
        let ns = format!("{example}-pr-12");
        let mut differ = 0;
        for (path, text) in &env {
            if path == "manifest.json" {
                continue;
            }
            if *text != plain[path] {
                differ += 1;
            }
            assert_eq!(
                text.replace(&ns, example),
                plain[path],
                "{example}: {path} differs beyond the namespace"
            );
        }
        assert!(differ > 10, "{example}: only {differ} files changed");
        assert!(!plain["manifest.json"].contains("\"env\""));
    }
}

/// `build --check` compares like with like: the environment's output is up
/// to date for `--env pr-12` and stale for another environment or none.
#[test]
fn check_compares_the_same_environment() {
    let dir = build("triage", Some("pr-12"), "check");
    let check = |env: Option<&str>| {
        let mut cmd = scalec();
        cmd.arg("build")
            .arg(repo_root().join("examples/triage"))
            .arg("-o")
            .arg(&dir)
            .arg("--check");
        if let Some(e) = env {
            cmd.args(["--env", e]);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = check(Some("pr-12"));
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("up to date"), "{err}");
    assert_eq!(check(None).0, Some(1));
    assert_eq!(check(Some("pr-13")).0, Some(1));
}

/// The environment's manifests pass the same judges as the examples':
/// kubernetes-validate --strict on the built-in kinds, the strict CRD check
/// on every custom resource (monitors, rules, KEDA, Gateway, k6, Chaos
/// Mesh), promtool on the rule files and their generated tests.
#[test]
fn the_environment_build_validates() {
    let dir = build("triage", Some("pr-12"), "validate");
    let files = files(&dir);
    let objs = objects(&files);
    const CORE: [&str; 9] = [
        "ConfigMap",
        "Deployment",
        "StatefulSet",
        "Service",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "ServiceAccount",
        "NetworkPolicy",
        "Namespace",
    ];
    let core: Vec<PathBuf> = objs
        .iter()
        .filter(|(_, v)| CORE.contains(&v["kind"].as_str().unwrap_or_default()))
        .map(|(p, _)| dir.join(p))
        .collect();
    let all: Vec<PathBuf> = objs.iter().map(|(p, _)| dir.join(p)).collect();
    assert!(core.len() >= 12, "{} core objects", core.len());
    if let Some(kv) = support::tool("kubernetes-validate") {
        let (ok, out) = run(Command::new(&kv).arg("--strict").args(&core));
        assert!(
            ok && !out.contains("WARN"),
            "kubernetes-validate --strict:\n{out}"
        );
    }
    if let (Some(python), Some(schemas)) = (support::tool("python"), support::schemas_dir()) {
        let (ok, out) = run(Command::new(&python)
            .arg(repo_root().join("scripts/validate_crd.py"))
            .arg(&schemas)
            .args(&all));
        assert!(ok, "CRD check:\n{out}");
        let custom = all.len() - core.len();
        assert!(
            out.contains(&format!("{custom} validated")) && out.contains(" 0 errors"),
            "{out}"
        );
    }
    if let Some(promtool) = support::tool("promtool") {
        let rules: Vec<PathBuf> = files
            .keys()
            .filter(|p| p.starts_with("prometheus/") && p.ends_with(".rules.yml"))
            .map(|p| dir.join(p))
            .collect();
        let tests: Vec<PathBuf> = files
            .keys()
            .filter(|p| p.ends_with(".rules.test.yml"))
            .map(|p| dir.join(p))
            .collect();
        assert!(!rules.is_empty() && !tests.is_empty());
        let (ok, out) = run(Command::new(&promtool)
            .arg("check")
            .arg("rules")
            .args(&rules));
        assert!(ok, "promtool check rules:\n{out}");
        let (ok, out) = run(Command::new(&promtool)
            .arg("test")
            .arg("rules")
            .args(&tests)
            .current_dir(dir.join("prometheus")));
        assert!(ok, "promtool test rules:\n{out}");
    }
}

/// A name that is not a DNS-1123 label is a usage error (exit 2) before
/// anything is read; a name that makes the namespace too long is S0216,
/// naming both parts, in `build` and `check` alike.
#[test]
fn bad_and_too_long_environment_names_are_refused() {
    let triage = repo_root().join("examples/triage");
    for bad in ["PR-12", "pr_12", "-pr", "pr-", "pr.12", ""] {
        for cmd in ["check", "build"] {
            let mut c = scalec();
            c.arg(cmd).arg(&triage).arg(format!("--env={bad}"));
            if cmd == "build" {
                c.arg("-o").arg(out_dir("env-bad"));
            }
            let out = c.output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{cmd} --env {bad:?}: {err}");
            assert!(err.contains("is not an environment name"), "{err}");
        }
    }
    let long = "a".repeat(56); // "triage-" + 56 = 63 fits; 57 does not
    let out = scalec()
        .arg("check")
        .arg(&triage)
        .args(["--env", &long])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let longer = "a".repeat(57);
    let dir = out_dir("env-long");
    let out = scalec()
        .arg("build")
        .arg(&triage)
        .args(["-o"])
        .arg(&dir)
        .args(["--env", &longer, "--message-format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let d: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(d["code"], "S0216");
    let msg = d["message"].as_str().unwrap();
    assert!(
        msg.contains("`triage`")
            && msg.contains(&format!("`{longer}`"))
            && msg.contains("64 characters"),
        "{msg}"
    );
    assert!(!dir.exists(), "nothing written");
}

/// `app { namespace = "…" }` replaces the app's name as the namespace, and
/// the environment is appended to it.
#[test]
fn the_namespace_field_is_the_base() {
    let spec = r#"app shop {
  owner = "team"
  namespace = "commerce"
}
service api {
  image = "shop/api:1"  cpu = 250m  memory = 256Mi
  replicas = 2..4
  route r GET "/r" { budget { p99 = 300ms } }
}
slo avail {
  service = api
  objective = 99.9%
  window = 30d
  sli = errors(status >= 500) / requests
}
"#;
    for (env, ns) in [(None, "commerce"), (Some("pr-7"), "commerce-pr-7")] {
        let c = scalec::check_in(
            scalec::project::Project::from_memory(&[("s.scale", spec)]),
            env,
        );
        let ir = c.ir.clone().expect("checks clean");
        assert_eq!(ir.app.namespace(), ns);
        let arts = scalec::emit(&ir, &c.meta(), &["k8s", "prometheus"]).unwrap();
        let mut seen = 0;
        for a in &arts {
            if a.path.starts_with("k8s/") {
                let v: yaml_serde::Value = yaml_serde::from_str(&a.contents).unwrap();
                let got = if v["kind"] == "Namespace" {
                    &v["metadata"]["name"]
                } else {
                    &v["metadata"]["namespace"]
                };
                assert_eq!(got.as_str(), Some(ns), "{}", a.path);
            }
            for m in namespace_matchers(&a.contents) {
                assert_eq!(m, ns, "{}", a.path);
                seen += 1;
            }
        }
        assert!(seen > 5);
    }
}
