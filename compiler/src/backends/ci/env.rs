//! The per-branch ephemeral environment of a pull request, and the jobs
//! that run against it.
//!
//! On a pull request, when `vars.SCALE_EPHEMERAL == 'true'`:
//!
//! - `env_up` builds the manifests with `scalec build --env pr-<number>
//!   --target k8s` (every namespaced object in `<namespace>-pr-<number>`,
//!   the shared environment contract), applies them with the cluster
//!   credentials of `secrets.SCALE_KUBECONFIG`, waits for the Deployments
//!   and, when the app names where its tenant comes from (`tenant = …`),
//!   runs the project's `scale/seed.sh` (the tenants the smoke test uses);
//!   its output `namespace` is the namespace it created.
//! - the smoke jobs (and `dast`, when a gate sets `dast = zap_baseline`)
//!   port-forward the target's Service to 127.0.0.1 and run there; without
//!   the environment (a push), the smoke jobs run against
//!   `vars.SCALE_SMOKE_URL` as before.
//! - `env_down` deletes the namespace when every job that uses it has
//!   ended, whatever their result (`if: always()`).
//!
//! The jobs that use the environment are listed by [`USERS`]: a job added
//! there (by its key prefix) is waited for by `env_down`.

use super::{checkout, gha_literal, install_scalec, job, run, uses, Job, Step};
use crate::backends::common::k8s_names;
use crate::backends::kubernetes::workload::DEFAULT_PORT;
use crate::ir::Ir;
use std::collections::BTreeMap;

/// Key prefixes of the jobs that run against the environment.
pub const USERS: &[&str] = &["smoke_", "dast", "contract"];

/// The ZAP image the DAST baseline runs (pinned by version).
pub const ZAP_IMAGE: &str = "ghcr.io/zaproxy/zaproxy:2.16.1";

/// When the environment exists: a pull request, and the repository turned
/// it on.
const ENV_COND: &str = "github.event_name == 'pull_request' && vars.SCALE_EPHEMERAL == 'true'";

const KUBECONFIG: &str = "if [[ -z ${SCALE_KUBECONFIG:-} ]]; then\n  echo \"::error::vars.SCALE_EPHEMERAL is true: set the secret SCALE_KUBECONFIG\"\n  exit 1\nfi\numask 077\nprintf '%s\\n' \"$SCALE_KUBECONFIG\" > \"$RUNNER_TEMP/kubeconfig\"\necho \"KUBECONFIG=$RUNNER_TEMP/kubeconfig\" >> \"$GITHUB_ENV\"\n";

const BUILD: &str = "scalec build --env \"$SCALE_ENV\" --target k8s -o \"$RUNNER_TEMP/env\" \"$SCALE_SPEC\"\nns=$(kubectl create --dry-run=client -o 'jsonpath={.metadata.name}' \\\n  -f \"$RUNNER_TEMP/env/k8s/namespace.yaml\")\necho \"namespace=$ns\" >> \"$GITHUB_OUTPUT\"\n";

const APPLY: &str = "kubectl apply -f \"$RUNNER_TEMP/env/k8s/namespace.yaml\"\nkubectl apply --recursive -f \"$RUNNER_TEMP/env/k8s\"\nkubectl -n \"$SCALE_NAMESPACE\" wait --for=condition=Available deployment --all --timeout=600s\n";

const SEED: &str = "bash scale/seed.sh";

const REACH: &str = "if [[ -n ${SCALE_NAMESPACE:-} ]]; then\n  kubectl -n \"$SCALE_NAMESPACE\" port-forward \"service/$SCALE_SERVICE\" \"18080:$SCALE_SERVICE_PORT\" \\\n    > port-forward.log 2>&1 &\n  for _ in $(seq 1 30); do\n    if curl -s -o /dev/null http://127.0.0.1:18080/; then\n      break\n    fi\n    sleep 1\n  done\n  echo \"SCALE_BASE_URL=http://127.0.0.1:18080\" >> \"$GITHUB_ENV\"\nelse\n  echo \"SCALE_BASE_URL=$SCALE_SMOKE_URL\" >> \"$GITHUB_ENV\"\nfi\n";

const ZAP: &str = "mkdir -p zap\nchmod a+rwx zap\nrules=()\nif [[ -f scale/zap-rules.tsv ]]; then\n  cp scale/zap-rules.tsv zap/\n  rules=(-c zap-rules.tsv)\nfi\nset +e\ndocker run --rm --network host -v \"$PWD/zap:/zap/wrk:rw\" \"$ZAP_IMAGE\" \\\n  zap-baseline.py -t \"$SCALE_BASE_URL\" -J report.json -r report.html \"${rules[@]}\"\ncode=$?\nset -e\ncase $code in\n  0) ;;\n  2) echo \"::warning::ZAP baseline: warnings only (see the report)\" ;;\n  *) echo \"::error::ZAP baseline failed (exit $code)\"; exit 1 ;;\nesac\n";

const DOWN: &str = "if [[ -z ${SCALE_NAMESPACE:-} ]]; then\n  echo \"no namespace was created\"\n  exit 0\nfi\nkubectl delete namespace \"$SCALE_NAMESPACE\" --ignore-not-found --wait=true --timeout=600s\n";

/// Whether the workflow builds an environment: a load test to smoke, a
/// gate asking for DAST or naming a contract to test, and a service to
/// reach.
fn wanted(ir: &Ir) -> bool {
    let contract = ir.gates.iter().any(|g| g.contract.is_some());
    let dast = ir
        .gates
        .iter()
        .any(|g| g.dast.as_deref() == Some("zap_baseline"));
    let smoke = ir
        .load_tests
        .iter()
        .any(|t| ir.service(&t.target).is_some());
    (smoke || dast || contract) && entry(ir).is_some()
}

/// The service DAST scans and the contract tests call: the first load
/// test's target, else the first service with routes.
pub(super) fn entry(ir: &Ir) -> Option<&str> {
    ir.load_tests
        .iter()
        .find(|t| ir.service(&t.target).is_some())
        .map(|t| t.target.as_str())
        .or_else(|| {
            ir.services
                .iter()
                .find(|s| !s.routes.is_empty())
                .map(|s| s.name.as_str())
        })
}

fn kubeconfig_step() -> Step {
    run("Cluster credentials", KUBECONFIG)
}

/// The step that sets `SCALE_BASE_URL`: a port-forward into the
/// environment when there is one, else `vars.SCALE_SMOKE_URL`.
pub(super) fn reach_step() -> Step {
    run("Reach the environment", REACH)
}

/// A job against the environment's `service`: it waits for `env_up`,
/// runs when the environment is up (or, `smoke_url`, when
/// `vars.SCALE_SMOKE_URL` is set), and gets the namespace, the service's
/// Kubernetes name and port.
fn on_environment(ir: &Ir, service: &str, j: &mut Job, smoke_url: bool) {
    let env = wanted(ir);
    j.needs = if env {
        vec!["check".into(), "env_up".into()]
    } else {
        vec!["check".into()]
    };
    j.cond = Some(match (env, smoke_url) {
        (true, true) => "!cancelled() && needs.check.result == 'success' && (needs.env_up.result == 'success' || vars.SCALE_SMOKE_URL != '')",
        (true, false) => "!cancelled() && needs.check.result == 'success' && needs.env_up.result == 'success'",
        (false, _) => "vars.SCALE_SMOKE_URL != ''",
    });
    if env {
        j.env.insert(
            "SCALE_NAMESPACE",
            "${{ needs.env_up.outputs.namespace }}".to_string(),
        );
        j.env.insert(
            "SCALE_KUBECONFIG",
            "${{ secrets.SCALE_KUBECONFIG }}".to_string(),
        );
        let port = ir
            .service(service)
            .and_then(|s| s.port)
            .unwrap_or(DEFAULT_PORT);
        j.env.insert(
            "SCALE_SERVICE",
            gha_literal(&k8s_names::service_name(&ir.services, service)),
        );
        j.env.insert("SCALE_SERVICE_PORT", port.to_string());
        // The credentials, only when the environment is there.
        let at = j
            .steps
            .iter()
            .position(|s| s.name == Some("Reach the environment"));
        if let Some(at) = at {
            j.steps.insert(
                at,
                Step {
                    cond: Some("env.SCALE_NAMESPACE != ''"),
                    ..kubeconfig_step()
                },
            );
        }
    }
    if smoke_url {
        j.env
            .insert("SCALE_SMOKE_URL", "${{ vars.SCALE_SMOKE_URL }}".to_string());
    }
}

/// A smoke job (built with [`reach_step`]) runs in the environment on a
/// pull request, else against `vars.SCALE_SMOKE_URL`.
pub(super) fn use_environment(ir: &Ir, target: &str, j: &mut Job) {
    on_environment(ir, target, j, true);
}

/// `env_up`, `dast` (when asked) and `env_down`, which needs every job of
/// `jobs` that uses the environment ([`USERS`]).
pub(super) fn jobs(ir: &Ir, jobs: &BTreeMap<String, Job>) -> Vec<(String, Job)> {
    if !wanted(ir) {
        return vec![];
    }
    let Some(entry) = entry(ir) else {
        return vec![];
    };
    let mut out = Vec::new();

    let mut steps = vec![
        checkout(),
        install_scalec(),
        kubeconfig_step(),
        Step {
            id: Some("build"),
            ..run("Manifests for the pull request's namespace", BUILD)
        },
        Step {
            env: BTreeMap::from([(
                "SCALE_NAMESPACE",
                "${{ steps.build.outputs.namespace }}".to_string(),
            )]),
            ..run("Apply them and wait for the Deployments", APPLY)
        },
    ];
    if let Some(tenant) = &ir.app.tenant {
        use crate::ir::RequestValue as R;
        let from = match tenant {
            R::Header(h) => format!("header:{h}"),
            R::Query(q) => format!("query:{q}"),
            R::Cookie(c) => format!("cookie:{c}"),
            R::Claim(c) => format!("claim:{c}"),
        };
        steps.push(Step {
            name: Some("Seed the tenants"),
            cond: Some("hashFiles('scale/seed.sh') != ''"),
            env: BTreeMap::from([
                (
                    "SCALE_NAMESPACE",
                    "${{ steps.build.outputs.namespace }}".to_string(),
                ),
                ("SCALE_TENANT_FROM", gha_literal(&from)),
            ]),
            run: Some(SEED),
            ..Step::default()
        });
    }
    let mut up = job("ephemeral environment: up".into(), steps);
    up.cond = Some(ENV_COND);
    up.needs = vec!["check".into()];
    up.env.insert(
        "SCALE_ENV",
        "pr-${{ github.event.pull_request.number }}".to_string(),
    );
    up.env.insert(
        "SCALE_KUBECONFIG",
        "${{ secrets.SCALE_KUBECONFIG }}".to_string(),
    );
    up.outputs
        .insert("namespace", "${{ steps.build.outputs.namespace }}");
    out.push(("env_up".to_string(), up));

    let dast = ir
        .gates
        .iter()
        .any(|g| g.dast.as_deref() == Some("zap_baseline"));
    if dast {
        let mut j = job(
            "DAST (OWASP ZAP baseline)".into(),
            vec![
                checkout(),
                reach_step(),
                run("ZAP baseline scan", ZAP),
                Step {
                    name: Some("Keep the report"),
                    cond: Some("always()"),
                    uses: Some(uses("actions/upload-artifact")),
                    with: BTreeMap::from([
                        ("name", "zap-baseline".to_string()),
                        ("path", "zap/".to_string()),
                        ("if-no-files-found", "ignore".to_string()),
                    ]),
                    ..Step::default()
                },
            ],
        );
        on_environment(ir, entry, &mut j, false);
        j.env.insert("ZAP_IMAGE", ZAP_IMAGE.to_string());
        out.push(("dast".to_string(), j));
    }

    let mut needs: Vec<String> = vec!["env_up".into()];
    needs.extend(
        jobs.keys()
            .chain(out.iter().map(|(k, _)| k))
            .filter(|k| USERS.iter().any(|u| k.starts_with(u)))
            .cloned(),
    );
    let mut down = job(
        "ephemeral environment: down".into(),
        vec![kubeconfig_step(), run("Delete the namespace", DOWN)],
    );
    down.cond = Some("always() && needs.env_up.result != 'skipped'");
    down.needs = needs;
    down.env.insert(
        "SCALE_NAMESPACE",
        "${{ needs.env_up.outputs.namespace }}".to_string(),
    );
    down.env.insert(
        "SCALE_KUBECONFIG",
        "${{ secrets.SCALE_KUBECONFIG }}".to_string(),
    );
    out.push(("env_down".to_string(), down));
    out
}
