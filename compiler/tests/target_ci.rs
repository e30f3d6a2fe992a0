//! The `ci` target: every example's `ci/scale.yml` is accepted by
//! actionlint (which runs shellcheck on each `run:`) and by the GitHub
//! workflow JSON Schema; a broken workflow is refused by both (so the
//! acceptance means something); actions are pinned by full commit SHA;
//! spec text reaches shells only through `env:`.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds an example's workflow into a folder of the calling test's own.
fn build(example: &str, test: &str) -> PathBuf {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("target_ci")
        .join(test)
        .join(example);
    let _ = std::fs::remove_dir_all(&out);
    let status = support::scalec()
        .args(["build", "--target", "ci", "-o"])
        .arg(&out)
        .arg(support::repo_root().join("examples").join(example))
        .status()
        .unwrap();
    assert!(status.success(), "build {example}");
    out.join("ci/scale.yml")
}

fn examples() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(support::repo_root().join("examples"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    assert!(v.len() >= 2, "{v:?}");
    v
}

/// (actionlint accepts, check-jsonschema accepts, output) or None if a tool is missing.
fn judge(file: &Path) -> Option<(bool, bool, String)> {
    let actionlint = support::tool("actionlint")?;
    let cj = support::tool("check-jsonschema")?;
    let (a, out_a) = support::run(Command::new(actionlint).arg("-no-color").arg(file));
    let (c, out_c) = support::run(
        Command::new(cj)
            .args(["--builtin-schema", "vendor.github-workflows"])
            .arg(file),
    );
    Some((a, c, format!("{out_a}\n{out_c}")))
}

#[test]
fn every_example_workflow_is_accepted_by_actionlint_and_the_schema() {
    for ex in examples() {
        let f = build(&ex, "every");
        let Some((a, c, out)) = judge(&f) else { return };
        assert!(a && c, "{ex}: {out}");
    }
}

#[test]
fn a_broken_workflow_is_refused_by_both_tools() {
    let f = build("triage", "broken");
    let text = std::fs::read_to_string(&f).unwrap();
    assert!(text.contains("runs-on: ubuntu-latest"));
    let dir = f.parent().unwrap();
    // An unknown job key and a step that both uses an action and runs a script.
    let mutations = [
        ("typo.yml", text.replace("runs-on:", "runs_on:")),
        (
            "both.yml",
            text.replacen(
                "    - name: Install scalec\n",
                "    - name: Install scalec\n      uses: actions/checkout@de0fac2e4500dabe0009e67214ff5f5447ce83dd\n",
                1,
            ),
        ),
    ];
    for (name, bad) in mutations {
        assert_ne!(bad, text, "{name}: the mutation applied");
        let p = dir.join(name);
        std::fs::write(&p, bad).unwrap();
        let Some((a, c, out)) = judge(&p) else { return };
        assert!(!a, "actionlint accepted {name}: {out}");
        assert!(!c, "check-jsonschema accepted {name}: {out}");
    }
}

#[test]
fn actions_are_pinned_by_sha_and_runs_use_no_expressions() {
    let text = std::fs::read_to_string(build("triage", "pinned")).unwrap();
    let v: yaml_serde::Value = yaml_serde::from_str(&text).unwrap();
    let mut uses = 0;
    let mut runs = 0;
    for (_, job) in v["jobs"].as_mapping().unwrap() {
        for step in job["steps"].as_sequence().unwrap() {
            if let Some(u) = step["uses"].as_str() {
                uses += 1;
                let (_, sha) = u.split_once('@').unwrap();
                assert!(
                    sha.len() == 40 && sha.chars().all(|c| c.is_ascii_hexdigit()),
                    "{u}"
                );
            }
            if let Some(r) = step["run"].as_str() {
                runs += 1;
                assert!(!r.contains("${{"), "an expression in a run: {r}");
            }
        }
    }
    assert!(uses >= 4 && runs >= 6, "{uses} {runs}");
    // Each pinned line names its version.
    for line in text.lines().filter(|l| l.contains("uses: ")) {
        assert!(line.contains(" # v"), "{line}");
    }
    // The flagship's gate asks for an SBOM and Sigstore signing; its two
    // load tests each get a smoke job gated by `scalec gate k6`.
    let jobs = v["jobs"].as_mapping().unwrap();
    for j in ["check", "sast", "supply_chain", "db_gates", "smoke_peak"] {
        assert!(jobs.contains_key(j), "{j}");
    }
    assert_eq!(
        v["jobs"]["smoke_peak"]["env"]["SCALE_TEST"].as_str(),
        Some("peak")
    );
    assert!(text.contains("scalec gate k6 --test \"$SCALE_TEST\""));
    assert!(text.contains("cosign sign-blob"));
}

#[test]
fn a_spec_without_gates_gets_no_supply_chain_or_db_jobs() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("target_ci/nogate");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("app.scale"),
        "app a { owner = \"t\" }\nservice api {\n  image = \"a/api:1\"\n  route r GET \"/r\"\n}\n",
    )
    .unwrap();
    let out = dir.join("out");
    let ok = support::scalec()
        .args(["build", "--target", "ci", "-o"])
        .arg(&out)
        .arg(&dir)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let f = out.join("ci/scale.yml");
    let text = std::fs::read_to_string(&f).unwrap();
    let v: yaml_serde::Value = yaml_serde::from_str(&text).unwrap();
    let jobs = v["jobs"].as_mapping().unwrap();
    assert!(jobs.contains_key("check") && jobs.contains_key("sast"));
    for j in ["supply_chain", "db_gates"] {
        assert!(!jobs.contains_key(j), "{j}: {text}");
    }
    if let Some((a, c, o)) = judge(&f) {
        assert!(a && c, "{o}");
    }
}

#[test]
fn the_workflow_is_the_same_from_any_folder() {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("target_ci/paths");
    let _ = std::fs::remove_dir_all(&base);
    let src = support::repo_root().join("examples/triage/triage.scale");
    let mut outs = Vec::new();
    for dir in ["a", "deeper/b c"] {
        let d = base.join(dir);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::copy(&src, d.join("triage.scale")).unwrap();
        for f in ["openapi.yaml", "schemas/ticket.json"] {
            std::fs::create_dir_all(d.join(f).parent().unwrap()).unwrap();
            std::fs::copy(src.with_file_name(f), d.join(f)).unwrap();
        }
        let out = d.join("out");
        let ok = support::scalec()
            .args(["build", "--target", "ci", "-o"])
            .arg(&out)
            .arg(&d)
            .status()
            .unwrap()
            .success();
        assert!(ok);
        outs.push(std::fs::read(out.join("ci/scale.yml")).unwrap());
    }
    assert_eq!(outs[0], outs[1]);
}

/// Builds a spec text with `--target ci` into a folder of the test's own.
fn build_text(test: &str, spec: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("target_ci")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("app.scale"), spec).unwrap();
    let out = dir.join("out");
    let ok = support::scalec()
        .args(["build", "--target", "ci", "-o"])
        .arg(&out)
        .arg(&dir)
        .status()
        .unwrap()
        .success();
    assert!(ok, "build {test}");
    out
}

fn workflow(out: &Path) -> yaml_serde::Value {
    yaml_serde::from_str(&std::fs::read_to_string(out.join("ci/scale.yml")).unwrap()).unwrap()
}

fn needs(job: &yaml_serde::Value) -> Vec<String> {
    job["needs"]
        .as_sequence()
        .map(|s| s.iter().map(|n| n.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

fn step_names(job: &yaml_serde::Value) -> Vec<String> {
    job["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn the_pull_request_environment_is_torn_down_whatever_happens() {
    let f = build("triage", "env");
    let v: yaml_serde::Value = yaml_serde::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
    let jobs = &v["jobs"];
    let up = &jobs["env_up"];
    assert_eq!(
        up["if"].as_str(),
        Some("github.event_name == 'pull_request' && vars.SCALE_EPHEMERAL == 'true'")
    );
    // The shared environment contract: `--env pr-<number>`.
    assert_eq!(
        up["env"]["SCALE_ENV"].as_str(),
        Some("pr-${{ github.event.pull_request.number }}")
    );
    let build = up["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|s| s["id"].as_str() == Some("build"))
        .unwrap();
    assert!(build["run"]
        .as_str()
        .unwrap()
        .contains("scalec build --env \"$SCALE_ENV\" --target k8s"));
    assert_eq!(
        up["outputs"]["namespace"].as_str(),
        Some("${{ steps.build.outputs.namespace }}")
    );
    // The flagship says where its tenant comes from: a seed step.
    let seed = up["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|s| s["name"].as_str() == Some("Seed the tenants"))
        .expect("a seed step");
    assert_eq!(
        seed["env"]["SCALE_TENANT_FROM"].as_str(),
        Some("header:x-tenant-id")
    );

    // Every job that runs against it waits for it...
    let users: Vec<String> = jobs
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_string())
        .filter(|k| k.starts_with("smoke_") || k == "dast" || k.starts_with("contract"))
        .collect();
    assert_eq!(
        users.len(),
        4,
        "two smokes, dast and the contract tests: {users:?}"
    );
    for u in &users {
        assert!(
            needs(&jobs[u.as_str()]).contains(&"env_up".to_string()),
            "{u}"
        );
        let names = step_names(&jobs[u.as_str()]);
        assert!(names.contains(&"Reach the environment".to_string()), "{u}");
    }
    // ... and the teardown waits for all of them, and runs even when they
    // failed or were cancelled.
    let down = &jobs["env_down"];
    assert_eq!(
        down["if"].as_str(),
        Some("always() && needs.env_up.result != 'skipped'")
    );
    let mut want = users.clone();
    want.push("env_up".into());
    want.sort();
    let mut got = needs(down);
    got.sort();
    assert_eq!(got, want);
    assert!(down["steps"][1]["run"]
        .as_str()
        .unwrap()
        .contains("kubectl delete namespace \"$SCALE_NAMESPACE\""));
    // DAST runs only in the environment; the ZAP image is pinned.
    assert!(jobs["dast"]["if"]
        .as_str()
        .unwrap()
        .contains("needs.env_up.result == 'success'"));
    assert_eq!(
        jobs["dast"]["env"]["ZAP_IMAGE"].as_str(),
        Some("ghcr.io/zaproxy/zaproxy:2.16.1")
    );
    // Semgrep, pinned, as the gate asks.
    let sast = step_names(&jobs["sast"]);
    assert!(sast.contains(&"Semgrep".to_string()), "{sast:?}");
    assert_eq!(
        jobs["sast"]["env"]["SEMGREP_VERSION"].as_str(),
        Some("1.185.0")
    );
}

const PLAIN: &str =
    "app a { owner = \"t\" }\nservice api {\n  image = \"a/api:1\"\n  route r GET \"/r\"\n}\n";

#[test]
fn scans_and_environment_only_where_asked() {
    // A load test, no tenant, no sast/dast: the environment (for the
    // smoke), no seed, no DAST, no semgrep.
    let out = build_text(
        "asked-none",
        &format!("{PLAIN}load_test l {{ target = api  stages {{ soak 10 rps for 1m }} }}\ngate g {{ sbom = required }}\n"),
    );
    let v = workflow(&out);
    let jobs = v["jobs"].as_mapping().unwrap();
    assert!(jobs.contains_key("env_up") && jobs.contains_key("env_down"));
    assert!(!jobs.contains_key("dast"));
    assert!(!step_names(&v["jobs"]["env_up"]).contains(&"Seed the tenants".to_string()));
    assert!(!step_names(&v["jobs"]["sast"]).contains(&"Semgrep".to_string()));
    assert!(!out.join("ci/db").exists() && !out.join("ci/burn").exists());
    if let Some((a, c, o)) = judge(&out.join("ci/scale.yml")) {
        assert!(a && c, "{o}");
    }

    // DAST without a load test: an environment for it alone.
    let out = build_text(
        "asked-dast",
        &format!("{PLAIN}gate g {{ dast = zap_baseline  sast = semgrep }}\n"),
    );
    let v = workflow(&out);
    assert_eq!(needs(&v["jobs"]["env_down"]), ["env_up", "dast"]);
    assert!(step_names(&v["jobs"]["sast"]).contains(&"Semgrep".to_string()));
    if let Some((a, c, o)) = judge(&out.join("ci/scale.yml")) {
        assert!(a && c, "{o}");
    }

    // Neither: no environment at all.
    let out = build_text("asked-nothing", PLAIN);
    let v = workflow(&out);
    let jobs = v["jobs"].as_mapping().unwrap();
    assert!(!jobs.contains_key("env_up") && !jobs.contains_key("env_down"));
}

#[test]
fn gate_words_are_checked() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("target_ci/words");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("app.scale"),
        format!("{PLAIN}gate g {{ dast = zap  sast = semgrap  queries = \"../x\" }}\n"),
    )
    .unwrap();
    let out = support::scalec().arg("check").arg(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    // All three in one pass, each with its code.
    assert!(
        err.contains("error[S0208]: `zap` is not one of zap_baseline, none"),
        "{err}"
    );
    assert!(err.contains("did you mean `semgrep`?"), "{err}");
    assert!(
        err.contains("error[S0108]: the path \"../x\" leaves the project root"),
        "{err}"
    );
    assert!(err.contains("3 errors"), "{err}");
}

#[test]
fn the_capture_script_passes_shellcheck() {
    let f = build("triage", "shellcheck");
    let script = f.parent().unwrap().join("db/capture.sh");
    let text = std::fs::read_to_string(&script).unwrap();
    assert!(
        text.starts_with("#!/usr/bin/env bash\n# Generated by scalec"),
        "{text}"
    );
    let Some(sc) = support::tool("shellcheck") else {
        return;
    };
    let (ok, out) = support::run(Command::new(sc).arg(&script));
    assert!(ok, "{out}");
    // And refuses a broken one (so the acceptance means something).
    let bad = f.parent().unwrap().join("db/bad.sh");
    std::fs::write(&bad, text.replace("\"${files[@]}\"", "${files[@]}")).unwrap();
    let (ok, _) = support::run(Command::new(support::tool("shellcheck").unwrap()).arg(&bad));
    assert!(!ok);
}
