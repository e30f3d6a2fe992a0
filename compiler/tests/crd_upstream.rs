//! Custom resources checked against the schemas their upstream projects
//! publish on npm (`@kubernetes-models/keda`, `…/prometheus-operator`), so a
//! fresh clone checks them without `../shared/schemas` (which remains the
//! strict check, with unknown fields refused, in `target_k8s.rs`).
//!
//! Needs node and `.tools/npm` from `scripts/install-tools.sh`: missing, this
//! fails under CI=true and SKIPs loudly otherwise.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

struct Models {
    node: PathBuf,
    modules: PathBuf,
}

impl Models {
    fn find() -> Option<Models> {
        let node = support::tool("node")?;
        let tools = std::env::var_os("SCALE_TOOLS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| support::repo_root().join(".tools"));
        let modules = tools.join("npm/node_modules");
        if !modules.join("@kubernetes-models/keda").is_dir() {
            support::missing(&format!("the npm packages in {}", modules.display()));
            return None;
        }
        Some(Models { node, modules })
    }

    /// (exit code, stdout + stderr) of the validator on `files`.
    fn run(&self, files: &[PathBuf]) -> (Option<i32>, String) {
        let out = Command::new(&self.node)
            .arg(support::repo_root().join("scripts/validate_k8s_models.mjs"))
            .arg(&self.modules)
            .args(files)
            .output()
            .expect("run node");
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        (out.status.code(), text)
    }
}

fn build(example: &str) -> PathBuf {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("crd-upstream-{example}"));
    let _ = std::fs::remove_dir_all(&out);
    let (ok, text) = support::run(
        support::scalec()
            .arg("build")
            .arg(support::repo_root().join("examples").join(example))
            .arg("-o")
            .arg(&out),
    );
    assert!(ok, "{text}");
    out
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_example_custom_resource_passes_its_upstream_schema() {
    let Some(models) = Models::find() else { return };
    let mut examples: Vec<String> = std::fs::read_dir(support::repo_root().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    examples.sort();
    let mut checked = 0;
    for example in &examples {
        let files = yaml_files(&build(example).join("k8s"));
        let (code, text) = models.run(&files);
        assert_eq!(code, Some(0), "{example}:\n{text}");
        checked += text.lines().filter(|l| l.starts_with("ok ")).count();
        // Every custom resource kind scalec writes has an upstream model here.
        for line in text.lines().filter(|l| l.starts_with("skip ")) {
            let kind = line.rsplit(' ').next().unwrap_or("");
            assert!(
                !kind.contains("keda.sh") && !kind.contains("monitoring.coreos.com"),
                "{example}: no upstream model for {line}"
            );
        }
    }
    eprintln!("upstream schemas: {checked} custom resources passed");
    assert!(
        checked >= 4,
        "the flagship alone has 4 custom resources: {checked}"
    );
}

#[test]
fn the_upstream_schemas_reject_a_wrong_type() {
    let Some(models) = Models::find() else { return };
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("crd-upstream-bad");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let scaled = dir.join("bad.scaledobject.yaml");
    std::fs::write(
        &scaled,
        "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata:\n  name: api\nspec:\n  scaleTargetRef:\n    name: api\n  minReplicaCount: three\n  triggers:\n  - type: cpu\n    metadata:\n      value: '70'\n",
    )
    .unwrap();
    let rule = dir.join("bad.prometheusrule.yaml");
    std::fs::write(
        &rule,
        "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata:\n  name: slo\nspec:\n  groups:\n  - name: g\n    rules: not-a-list\n",
    )
    .unwrap();
    for (file, fragment) in [(&scaled, "minReplicaCount"), (&rule, "rules")] {
        let (code, text) = models.run(std::slice::from_ref(file));
        assert_eq!(code, Some(1), "{text}");
        assert!(
            text.contains("FAIL") && text.contains(fragment),
            "{fragment}: {text}"
        );
    }
}
