//! The Kubernetes target, judged by real schemas: core kinds pass
//! `kubernetes-validate --strict`, the custom resources (KEDA ScaledObject,
//! PrometheusRule) pass a strict JSON-schema check against the CRD schemas
//! in `../shared/schemas/crds` — and both checks reject a manifest with an
//! unknown field, so they can fail. Structure is asserted too: one
//! autoscaler per Deployment, a startupProbe exactly where `prewarm` is on.

mod fixtures_ir;
mod support;

use scalec::backends::kubernetes::{emit, names::is_dns_1035};
use scalec::backends::Artifact;
use scalec::ir::Ir;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use yaml_serde::Value;

fn artifacts(ir: &Ir) -> Vec<Artifact> {
    emit(ir, &fixtures_ir::meta())
}

fn write(name: &str, artifacts: &[Artifact]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = fs::remove_dir_all(&dir);
    for a in artifacts {
        let path = dir.join(&a.path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, &a.contents).unwrap();
    }
    dir
}

fn parse(a: &Artifact) -> Value {
    yaml_serde::from_str(&a.contents).unwrap_or_else(|e| panic!("{} is not YAML: {e}", a.path))
}

fn kind(v: &Value) -> &str {
    v["kind"].as_str().expect("kind")
}

fn objects(ir: &Ir) -> Vec<(String, Value)> {
    artifacts(ir)
        .iter()
        .map(|a| (a.path.clone(), parse(a)))
        .collect()
}

const CORE: [&str; 4] = [
    "Deployment",
    "Service",
    "PodDisruptionBudget",
    "HorizontalPodAutoscaler",
];
const CRDS: [(&str, &str, &str); 2] = [
    (
        "ScaledObject",
        "keda.sh/v1alpha1",
        "keda.sh_scaledobject_v1alpha1.json",
    ),
    (
        "PrometheusRule",
        "monitoring.coreos.com/v1",
        "monitoring.coreos.com_prometheusrule_v1.json",
    ),
];

/// A strict check of custom resources: the CRD's schema with
/// `additionalProperties: false` wherever it lists properties (unless it
/// preserves unknown fields), the apiVersion pinned for the kind (an
/// unknown kind is an error), and metadata held to a name that is a
/// DNS-1123 label and string labels.
fn crd_check_script() -> String {
    let table: Vec<String> = CRDS
        .iter()
        .map(|(k, v, f)| format!("    {k:?}: ({v:?}, {f:?}),"))
        .collect();
    format!(
        r#"
import json, sys, yaml, jsonschema
crds, files = sys.argv[1], sys.argv[2:]
KINDS = {{
{}
}}
def strict(s):
    if isinstance(s, dict):
        if 'properties' in s and 'additionalProperties' not in s and not s.get('x-kubernetes-preserve-unknown-fields'):
            s['additionalProperties'] = False
        for v in s.values():
            strict(v)
    elif isinstance(s, list):
        for v in s:
            strict(v)
    return s
META = {{
    'type': 'object', 'required': ['name'], 'additionalProperties': False,
    'properties': {{
        'name': {{'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'}},
        'labels': {{'type': 'object', 'additionalProperties': {{'type': 'string', 'maxLength': 63}}}},
    }},
}}
failed = 0
for f in files:
    for doc in yaml.safe_load_all(open(f)):
        api, schema_file = KINDS[doc['kind']]
        schema = strict(json.load(open(crds + '/' + schema_file)))
        schema['properties']['metadata'] = META
        schema['properties']['apiVersion'] = {{'const': api}}
        schema['required'] = sorted(set(schema.get('required', [])) | {{'apiVersion', 'kind', 'metadata', 'spec'}})
        errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=lambda e: list(e.path))
        for e in errors:
            failed += 1
            print(f'{{f}}: {{"/".join(map(str, e.path))}}: {{e.message}}')
        if not errors:
            print(f'{{f}}: {{doc["kind"]}} {{doc["metadata"]["name"]}} valid')
sys.exit(1 if failed else 0)
"#,
        table.join("\n")
    )
}

/// Runs the strict CRD check over `files`; also the project's
/// `scripts/validate_crd.py` when it exists.
fn check_crds(files: &[PathBuf]) -> Option<(bool, String)> {
    let python = support::tool("python3")?;
    let schemas = support::schemas_dir()?;
    let mut cmd = Command::new(&python);
    cmd.arg("-c")
        .arg(crd_check_script())
        .arg(schemas.join("crds"))
        .args(files);
    let (mut ok, mut out) = support::run(&mut cmd);
    let shared = support::repo_root().join("scripts/validate_crd.py");
    if shared.is_file() {
        let (ok2, out2) =
            support::run(Command::new(&python).arg(&shared).arg(&schemas).args(files));
        ok &= ok2;
        out.push_str(&out2);
    } else {
        eprintln!("note: scripts/validate_crd.py is not in this tree yet; the in-test strict check ran alone");
    }
    Some((ok, out))
}

fn files_of(dir: &Path, objs: &[(String, Value)], kinds: &[&str]) -> Vec<PathBuf> {
    objs.iter()
        .filter(|(_, v)| kinds.contains(&kind(v)))
        .map(|(p, _)| dir.join(p))
        .collect()
}

#[test]
fn emits_the_expected_objects() {
    let a = artifacts(&fixtures_ir::triage());
    let paths: Vec<&str> = a.iter().map(|a| a.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "k8s/api.deployment.yaml",
            "k8s/api.service.yaml",
            "k8s/api.pdb.yaml",
            "k8s/api.scaledobject.yaml",
            "k8s/search-index.deployment.yaml",
            "k8s/search-index.service.yaml",
            "k8s/search-index.pdb.yaml",
            "k8s/search-index.hpa.yaml",
            "k8s/api-availability.prometheusrule.yaml",
            "k8s/search-latency.prometheusrule.yaml",
            "k8s/observe-drift.prometheusrule.yaml",
        ]
    );
    for art in &a {
        assert!(
            art.contents
                .starts_with("# Generated by scalec 0.1.0 from input sha256:"),
            "{}",
            art.path
        );
    }
    assert_eq!(
        a,
        artifacts(&fixtures_ir::triage()),
        "output is not deterministic"
    );
}

#[test]
fn one_autoscaler_per_deployment_and_startup_probe_iff_prewarm() {
    let ir = fixtures_ir::triage();
    let objs = objects(&ir);
    let deployments: Vec<&Value> = objs
        .iter()
        .map(|(_, v)| v)
        .filter(|v| kind(v) == "Deployment")
        .collect();
    let workloads: Vec<_> = ir
        .services
        .iter()
        .filter(|s| s.kind.is_workload())
        .collect();
    assert_eq!(deployments.len(), workloads.len());
    let mut seen_prewarm = false;
    for (d, svc) in deployments.iter().zip(&workloads) {
        let name = d["metadata"]["name"].as_str().unwrap();
        assert!(is_dns_1035(name), "{name}");
        let scalers: Vec<&str> = objs
            .iter()
            .map(|(_, v)| v)
            .filter(|v| matches!(kind(v), "HorizontalPodAutoscaler" | "ScaledObject"))
            .filter(|v| v["spec"]["scaleTargetRef"]["name"].as_str() == Some(name))
            .map(kind)
            .collect();
        assert!(
            scalers.len() <= 1,
            "{name} has {scalers:?}: never both an HPA and a ScaledObject"
        );
        if matches!(
            svc.autoscale,
            Some(scalec::ir::Autoscale::QueueDepth { .. })
        ) {
            assert_eq!(scalers, ["ScaledObject"], "{name}");
        }
        // An autoscaled Deployment leaves the count to its autoscaler.
        assert_eq!(
            d["spec"]["replicas"].is_null(),
            !scalers.is_empty(),
            "{name}: replicas"
        );
        let container = &d["spec"]["template"]["spec"]["containers"][0];
        let startup = &container["startupProbe"];
        assert_eq!(
            !startup.is_null(),
            svc.prewarm,
            "{name}: startupProbe iff prewarm"
        );
        if svc.prewarm {
            seen_prewarm = true;
            assert_eq!(
                startup["httpGet"]["path"].as_str(),
                Some(svc.warmup_path.as_str())
            );
        }
        assert_eq!(
            container["readinessProbe"]["httpGet"]["path"].as_str(),
            Some(svc.ready_path.as_str())
        );
        assert_eq!(
            container["livenessProbe"]["httpGet"]["path"].as_str(),
            Some(svc.health_path.as_str())
        );
        let labels = &d["metadata"]["labels"];
        assert_eq!(labels["app.kubernetes.io/name"].as_str(), Some(name));
        assert_eq!(labels["app.kubernetes.io/part-of"].as_str(), Some("triage"));
        assert_eq!(
            labels["app.kubernetes.io/managed-by"].as_str(),
            Some("scalec")
        );
    }
    assert!(seen_prewarm, "the fixture should exercise prewarm");

    // The api scales on its queue through KEDA, with the spec's bounds.
    let so = &objs
        .iter()
        .find(|(p, _)| p == "k8s/api.scaledobject.yaml")
        .unwrap()
        .1;
    assert_eq!(so["spec"]["minReplicaCount"].as_u64(), Some(3));
    assert_eq!(so["spec"]["maxReplicaCount"].as_u64(), Some(60));
    let trigger = &so["spec"]["triggers"][0];
    assert_eq!(trigger["type"].as_str(), Some("prometheus"));
    assert_eq!(
        trigger["metadata"]["query"].as_str(),
        Some(r#"sum(app_queue_depth{queue="tickets"})"#)
    );
    assert_eq!(trigger["metadata"]["threshold"].as_str(), Some("100"));
    let d = &objs
        .iter()
        .find(|(p, _)| p == "k8s/api.deployment.yaml")
        .unwrap()
        .1;
    let res = &d["spec"]["template"]["spec"]["containers"][0]["resources"];
    assert_eq!(res["requests"]["cpu"].as_str(), Some("500m"));
    assert_eq!(res["limits"]["memory"].as_str(), Some("512Mi"));
}

#[test]
fn prometheus_rules_wrap_the_same_groups_as_the_rule_files() {
    let ir = fixtures_ir::triage();
    let k8s = objects(&ir);
    let prom = scalec::backends::prometheus::emit(&ir, &fixtures_ir::meta());
    for (k8s_path, prom_path) in [
        (
            "k8s/api-availability.prometheusrule.yaml",
            "prometheus/api_availability.rules.yml",
        ),
        (
            "k8s/search-latency.prometheusrule.yaml",
            "prometheus/search_latency.rules.yml",
        ),
        (
            "k8s/observe-drift.prometheusrule.yaml",
            "prometheus/observe.rules.yml",
        ),
    ] {
        let rule = &k8s.iter().find(|(p, _)| p == k8s_path).unwrap().1;
        let file = parse(prom.iter().find(|a| a.path == prom_path).unwrap());
        assert_eq!(
            rule["spec"]["groups"], file["groups"],
            "{k8s_path} differs from {prom_path}"
        );
    }
}

#[test]
fn names_are_mapped_without_collisions() {
    let mut ir = fixtures_ir::triage();
    // A second workload whose name maps to the same label as search_index
    // under a naive rule.
    let mut twin = ir.service("search_index").unwrap().clone();
    twin.name = "Search_Index".into();
    ir.services.push(twin);
    let names: Vec<String> = objects(&ir)
        .iter()
        .filter(|(_, v)| kind(v) == "Deployment")
        .map(|(_, v)| v["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 3);
    assert_eq!(names[1], "search-index");
    assert!(
        names[2].starts_with("search-index-") && is_dns_1035(&names[2]),
        "{names:?}"
    );
}

#[test]
fn kubernetes_validate_strict_accepts_the_core_kinds() {
    let Some(kv) = support::tool("kubernetes-validate") else {
        return;
    };
    let ir = fixtures_ir::triage();
    let objs = objects(&ir);
    let dir = write("k8s-core", &artifacts(&ir));
    let files = files_of(&dir, &objs, &CORE);
    assert_eq!(files.len(), 7);
    let (ok, out) = support::run(Command::new(&kv).arg("--strict").args(&files));
    assert!(ok, "kubernetes-validate --strict failed:\n{out}");
    assert!(!out.contains("WARN") && !out.contains("ERROR"), "{out}");
    eprintln!("kubernetes-validate --strict: {} files\n{out}", files.len());
}

#[test]
fn custom_resources_match_their_crd_schemas() {
    let ir = fixtures_ir::triage();
    let objs = objects(&ir);
    let dir = write("k8s-crd", &artifacts(&ir));
    let kinds: Vec<&str> = CRDS.iter().map(|c| c.0).collect();
    let files = files_of(&dir, &objs, &kinds);
    assert_eq!(files.len(), 4);
    let Some((ok, out)) = check_crds(&files) else {
        return;
    };
    assert!(ok, "CRD schema check failed:\n{out}");
    assert_eq!(out.matches(" valid").count(), 4, "{out}");
    eprintln!("CRD schema check:\n{out}");
}

/// Both checks can fail: an unknown field is rejected.
#[test]
fn the_schema_checks_reject_an_unknown_field() {
    let ir = fixtures_ir::triage();
    let mut arts = artifacts(&ir);
    for a in arts.iter_mut() {
        if a.path == "k8s/api.deployment.yaml" || a.path == "k8s/api.scaledobject.yaml" {
            a.contents = a
                .contents
                .replacen("\nspec:\n", "\nspec:\n  surplusField: 1\n", 1);
        }
        if a.path == "k8s/api-availability.prometheusrule.yaml" {
            a.contents = a
                .contents
                .replacen("  - name: ", "  - surplus: 1\n    name: ", 1);
        }
    }
    let dir = write("k8s-mutant", &arts);
    if let Some(kv) = support::tool("kubernetes-validate") {
        let (ok, out) = support::run(
            Command::new(&kv)
                .arg("--strict")
                .arg(dir.join("k8s/api.deployment.yaml")),
        );
        assert!(
            !ok && out.contains("surplusField"),
            "kubernetes-validate accepted an unknown field:\n{out}"
        );
    }
    for (file, field) in [
        ("k8s/api.scaledobject.yaml", "surplusField"),
        ("k8s/api-availability.prometheusrule.yaml", "surplus"),
    ] {
        if let Some((ok, out)) = check_crds(&[dir.join(file)]) {
            assert!(
                !ok && out.contains(field),
                "the CRD check accepted an unknown field in {file}:\n{out}"
            );
        }
    }
}

/// The other paths: a fixed count without autoscaler, an rps HPA, no
/// image or port, no resources, a data store that gets nothing.
#[test]
fn variants_validate_and_scale_as_declared() {
    let ir = fixtures_ir::variants();
    let objs = objects(&ir);
    let paths: Vec<&str> = objs.iter().map(|(p, _)| p.as_str()).collect();
    assert!(
        !paths.iter().any(|p| p.starts_with("k8s/cache.")),
        "a data store is not deployed: {paths:?}"
    );
    let get = |p: &str| {
        &objs
            .iter()
            .find(|(q, _)| q == p)
            .unwrap_or_else(|| panic!("no {p}"))
            .1
    };
    assert_eq!(
        get("k8s/web.deployment.yaml")["spec"]["replicas"].as_u64(),
        Some(2)
    );
    assert!(!paths.contains(&"k8s/web.hpa.yaml") && !paths.contains(&"k8s/legacy.hpa.yaml"));
    let hpa = get("k8s/worker.hpa.yaml");
    assert_eq!(
        hpa["spec"]["metrics"][0]["pods"]["target"]["averageValue"].as_str(),
        Some("12500m")
    );
    assert!(get("k8s/worker.deployment.yaml")["spec"]["replicas"].is_null());
    let Some(kv) = support::tool("kubernetes-validate") else {
        return;
    };
    let dir = write("k8s-variants", &artifacts(&ir));
    let files = files_of(&dir, &objs, &CORE);
    let (ok, out) = support::run(Command::new(&kv).arg("--strict").args(&files));
    assert!(
        ok && !out.contains("WARN"),
        "kubernetes-validate --strict failed:\n{out}"
    );
    let kinds: Vec<&str> = CRDS.iter().map(|c| c.0).collect();
    if let Some((ok, out)) = check_crds(&files_of(&dir, &objs, &kinds)) {
        assert!(ok, "CRD schema check failed:\n{out}");
    }
}

#[test]
fn snapshots() {
    for a in artifacts(&fixtures_ir::triage()) {
        insta::assert_snapshot!(a.path.replace('/', "__"), a.contents);
    }
}
