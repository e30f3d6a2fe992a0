//! The Kubernetes target (`k8s/`): per workload service a Deployment, a
//! Service, a PodDisruptionBudget and one autoscaler (an HPA or a KEDA
//! ScaledObject, never both); per SLO a `PrometheusRule` holding the same
//! rule groups as `prometheus/<slo>.rules.yml`, and one for the `observe`
//! drift alerts.
//!
//! One object per file, flat, so `kubectl apply -f k8s/` takes them all:
//! `k8s/<name>.<kind>.yaml` (`api.deployment.yaml`, `api.service.yaml`,
//! `api.pdb.yaml`, `api.scaledobject.yaml` or `api.hpa.yaml`,
//! `api-availability.prometheusrule.yaml`). Names follow [`names`]. No
//! namespace is set: `kubectl apply -n` chooses it.
//!
//! Every object carries `app.kubernetes.io/part-of: <app>` and
//! `app.kubernetes.io/managed-by: scalec`; a workload's objects also
//! `app.kubernetes.io/name: <service>`, and rules
//! `app.kubernetes.io/component: slo` or `drift`. (A Prometheus picks
//! PrometheusRules by its `ruleSelector`; match on these labels there.)

use super::prometheus::{observe, slo::SloPlan, yaml_artifact};
use super::{Artifact, Meta};
use crate::ir::Ir;

pub mod autoscale;
pub mod names;
pub mod objects;
pub mod workload;

use autoscale::Scaler;
use names::Names;
use objects::{Labels, Object, ObjectMeta, PrometheusRuleSpec};

/// The PrometheusRule of the `observe` block is named like this identifier
/// (in the same name table as the SLOs, so they cannot clash).
const OBSERVE_RULE: &str = "observe_drift";

fn rule_labels(app: &str, component: &str) -> Labels {
    let mut l = Labels::new();
    l.insert("app.kubernetes.io/component".into(), component.into());
    l.insert("app.kubernetes.io/managed-by".into(), "scalec".into());
    l.insert("app.kubernetes.io/part-of".into(), app.into());
    l
}

fn prometheus_rule(
    name: &str,
    labels: Labels,
    groups: Vec<super::prometheus::RuleGroup>,
) -> Object<PrometheusRuleSpec> {
    Object {
        api_version: "monitoring.coreos.com/v1",
        kind: "PrometheusRule",
        metadata: ObjectMeta {
            name: name.into(),
            labels,
        },
        spec: PrometheusRuleSpec { groups },
    }
}

pub fn emit(ir: &Ir, meta: &Meta) -> Vec<Artifact> {
    let app = names::single(&ir.app.name);
    let services = Names::new(ir.services.iter().map(|s| s.name.as_str()));
    let mut out = Vec::new();
    for svc in ir.services.iter().filter(|s| s.is_workload()) {
        let name = services.get(&svc.name);
        let scaler = autoscale::scaler(&app, &ir.app.prometheus_url, name, svc);
        let file = |kind: &str| format!("k8s/{name}.{kind}.yaml");
        out.push(yaml_artifact(
            file("deployment"),
            meta,
            &workload::deployment(&app, name, svc, scaler.is_some()),
        ));
        out.push(yaml_artifact(
            file("service"),
            meta,
            &workload::service(&app, name, svc),
        ));
        out.push(yaml_artifact(file("pdb"), meta, &workload::pdb(&app, name)));
        match &scaler {
            Some(Scaler::Hpa(h)) => out.push(yaml_artifact(file("hpa"), meta, h)),
            Some(Scaler::Keda(k)) => out.push(yaml_artifact(file("scaledobject"), meta, k)),
            None => {}
        }
    }

    let observe = ir.observe.as_ref().filter(|o| !o.drift.is_empty());
    let rules = Names::new(
        ir.slos
            .iter()
            .map(|s| s.name.as_str())
            .chain(observe.map(|_| OBSERVE_RULE)),
    );
    for slo in &ir.slos {
        let name = rules.get(&slo.name);
        let groups = SloPlan::new(ir, slo).groups();
        out.push(yaml_artifact(
            format!("k8s/{name}.prometheusrule.yaml"),
            meta,
            &prometheus_rule(name, rule_labels(&app, "slo"), groups),
        ));
    }
    if let Some(obs) = observe {
        let name = rules.get(OBSERVE_RULE);
        out.push(yaml_artifact(
            format!("k8s/{name}.prometheusrule.yaml"),
            meta,
            &prometheus_rule(name, rule_labels(&app, "drift"), observe::groups(ir, obs)),
        ));
    }
    out
}
