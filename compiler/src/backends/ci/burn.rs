//! `slo_burn < 1x over 1h` in CI: the `burn_<gate>` job asks the
//! environment's Prometheus (`vars.SCALE_PROMETHEUS_URL`, `/api/v1/query`)
//! for the burn rate of every SLO over the gate's window, and `scalec gate
//! burn` judges the answer.
//!
//! The query, `ci/burn/<gate>.promql`, is one vector with a series per
//! SLO, labelled `scale_slo="<slo>"`: each is
//! [`SloPlan::burn_rate_expr`], the bad-event ratio of the SLI recordings
//! ([`SloPlan::sli_expr`]) over the error budget.

use super::{checkout, gha_literal, install_scalec, job, Job};
use crate::backends::common::k8s_names::Names;
use crate::backends::common::promql;
use crate::backends::common::rules::slo::SloPlan;
use crate::backends::{Artifact, Meta};
use crate::ir::{Gate, Ir};

/// The label that tells the SLOs' series apart in the answer.
pub const SLO_LABEL: &str = "scale_slo";

/// The gates with `slo_burn`, with their file stem.
fn gates(ir: &Ir) -> Vec<(&Gate, String)> {
    let with: Vec<&Gate> = ir.gates.iter().filter(|g| g.slo_burn.is_some()).collect();
    let names = Names::new(with.iter().map(|g| g.name.as_str()));
    with.into_iter()
        .map(|g| {
            let stem = names.get(&g.name).to_string();
            (g, stem)
        })
        .collect()
}

/// The burn-rate query of a gate over `over_ms`: one series per SLO the
/// rules can plan, `label_replace`d with [`SLO_LABEL`], joined by `or`.
/// `None` when the spec has no such SLO.
pub fn query(ir: &Ir, over_ms: f64) -> Option<String> {
    let ms = over_ms.round().max(1.0) as u64;
    let parts: Vec<String> = ir
        .slos
        .iter()
        .filter_map(|slo| SloPlan::new(ir, slo).ok())
        .map(|plan| {
            format!(
                "label_replace(\n{},\n{}, {}, \"\", \"\"\n)",
                plan.burn_rate_expr(ms),
                promql::string(SLO_LABEL),
                promql::string(&plan.slo.name)
            )
        })
        .collect();
    if parts.is_empty() {
        None
    } else {
        Some(parts.join("\nor\n") + "\n")
    }
}

/// `ci/burn/<gate>.promql` per gate with `slo_burn` (and SLOs to judge).
pub fn artifacts(ir: &Ir, meta: &Meta) -> Vec<Artifact> {
    gates(ir)
        .into_iter()
        .filter_map(|(g, stem)| {
            let q = query(ir, g.slo_burn.as_ref()?.over_ms)?;
            let mut contents = meta.header("#");
            contents.push_str(&q);
            Some(Artifact {
                path: format!("ci/burn/{stem}.promql"),
                contents,
            })
        })
        .collect()
}

const QUERY: &str = "if [[ -z ${SCALE_PROMETHEUS_URL:-} ]]; then\n  echo \"::error::the spec's gate bounds the SLO burn rate: set the variable SCALE_PROMETHEUS_URL\"\n  exit 1\nfi\nauth=()\nif [[ -n ${SCALE_PROMETHEUS_TOKEN:-} ]]; then\n  auth=(-H \"Authorization: Bearer $SCALE_PROMETHEUS_TOKEN\")\nfi\ncurl -fsS --retry 3 \"${auth[@]}\" --data-urlencode \"query@$SCALE_OUT/$BURN_QUERY\" \\\n  \"${SCALE_PROMETHEUS_URL%/}/api/v1/query\" -o burn.json\n";

/// `burn_<gate>` per gate with `slo_burn`.
pub(super) fn jobs(ir: &Ir) -> Vec<(String, Job)> {
    gates(ir)
        .into_iter()
        .filter(|(g, _)| g.slo_burn.as_ref().is_some_and(|b| query(ir, b.over_ms).is_some()))
        .map(|(g, stem)| {
            let mut j = job(
                gha_literal(&format!("SLO burn: {}", g.name)),
                vec![
                    checkout(),
                    install_scalec(),
                    super::run("Ask Prometheus for the burn rates", QUERY),
                    super::run(
                        "Burn rates within the gate",
                        "scalec gate burn --gate \"$SCALE_GATE\" --result burn.json \"$SCALE_SPEC\"",
                    ),
                ],
            );
            j.needs = vec!["check".into()];
            j.env.insert("SCALE_GATE", gha_literal(&g.name));
            j.env
                .insert("BURN_QUERY", gha_literal(&format!("ci/burn/{stem}.promql")));
            j.env.insert(
                "SCALE_PROMETHEUS_URL",
                "${{ vars.SCALE_PROMETHEUS_URL }}".to_string(),
            );
            j.env.insert(
                "SCALE_PROMETHEUS_TOKEN",
                "${{ secrets.SCALE_PROMETHEUS_TOKEN }}".to_string(),
            );
            (format!("burn_{}", stem.replace('-', "_")), j)
        })
        .collect()
}
