//! The Kubernetes target (`k8s/`): the app's Namespace; per workload
//! service a Deployment (a StatefulSet for a data store), a Service, a ServiceAccount, a
//! PodDisruptionBudget, a NetworkPolicy, a ServiceMonitor and one
//! autoscaler (an HPA or a KEDA ScaledObject, never both); per SLO a
//! `PrometheusRule` holding the same rule groups as
//! `prometheus/<slo>.rules.yml`, and one for the `observe` drift alerts.
//!
//! One object per file, flat, so `kubectl apply -f k8s/` takes them all:
//! `k8s/<name>.<kind>.yaml` (`api.deployment.yaml`, `api.service.yaml`,
//! `api.serviceaccount.yaml`, `api.pdb.yaml`, `api.networkpolicy.yaml`,
//! `api.servicemonitor.yaml`, `api.scaledobject.yaml` or `api.hpa.yaml`,
//! `api-availability.prometheusrule.yaml`, `namespace.yaml`). Names follow
//! [`names`]. Every object lives in the app's namespace
//! ([`crate::ir::App::namespace`]: `app { namespace }`, by default the
//! app's name, with `-<env>` under `scalec build --env`), which enforces
//! the restricted Pod Security Standard.
//!
//! Labels follow [`crate::backends::common::k8s_labels`]; rules carry
//! `app.kubernetes.io/component: slo` or `drift`. (A Prometheus picks
//! PrometheusRules by its `ruleSelector`; match on these labels there.)

use super::common::rules::shapes::{self, Shapes};
use super::common::rules::{drift, slo::SloPlan, RuleGroup};
use super::common::{k8s_labels, yaml::yaml_artifact, yaml_emit};
use super::{Artifact, ArtifactSink, Backend, Collect, EmitError, Meta, Unit, UnitKind};
use crate::ir::Ir;
use rayon::prelude::*;

pub mod adapter;
pub mod autoscale;
pub mod network;
pub mod objects;
pub mod workload;

/// Object names ([`crate::backends::common::k8s_names`]).
pub use super::common::k8s_names as names;

use autoscale::Scaler;
use names::Names;
use objects::{Bare, Labels, Object, ObjectMeta, PrometheusRuleSpec};
use std::collections::HashMap;

/// What every object of one build shares: the app, its namespace, the
/// service name table and the call graph's reverse edges.
pub struct Ctx<'a> {
    pub ir: &'a Ir,
    /// The app's Kubernetes name (`app.kubernetes.io/part-of`).
    pub app: String,
    pub namespace: String,
    pub names: Names,
    callers: HashMap<&'a str, Vec<&'a crate::ir::Service>>,
}

impl<'a> Ctx<'a> {
    pub fn new(ir: &'a Ir) -> Self {
        let app = names::single(&ir.app.name);
        let mut callers: HashMap<&str, Vec<&crate::ir::Service>> = HashMap::new();
        for s in &ir.services {
            for c in &s.calls {
                callers.entry(c.as_str()).or_default().push(s);
            }
        }
        Ctx {
            ir,
            namespace: ir.app.namespace(),
            app,
            names: Names::new(ir.services.iter().map(|s| s.name.as_str())),
            callers,
        }
    }

    /// Metadata of an object in the app's namespace.
    pub fn meta(&self, name: &str, labels: Labels) -> ObjectMeta {
        ObjectMeta::new(name, &self.namespace, labels)
    }

    /// The services that call this one, in declaration order.
    pub fn callers(&self, service: &str) -> impl Iterator<Item = &'a crate::ir::Service> + '_ {
        self.callers.get(service).into_iter().flatten().copied()
    }
}

/// The app's namespace: it enforces the restricted Pod Security Standard.
fn namespace(cx: &Ctx) -> Bare {
    let mut labels = k8s_labels::component(&cx.app, "namespace");
    for mode in ["enforce", "audit", "warn"] {
        labels.insert(
            format!("pod-security.kubernetes.io/{mode}"),
            "restricted".into(),
        );
    }
    Bare {
        api_version: "v1",
        kind: "Namespace",
        metadata: ObjectMeta {
            name: cx.namespace.clone(),
            namespace: None,
            labels,
        },
        automount_service_account_token: None,
    }
}

/// `k8s`: Deployments, Services, PDBs, autoscalers and PrometheusRules.
pub struct Kubernetes;

impl Backend for Kubernetes {
    fn name(&self) -> &'static str {
        "k8s"
    }
    fn description(&self) -> &'static str {
        "Kubernetes manifests: Namespace, Deployment or StatefulSet, Service, ServiceAccount, PDB, NetworkPolicy, Service/PodMonitor, HPA or KEDA ScaledObject, PrometheusRule"
    }
    fn emit(&self, ir: &Ir, meta: &Meta, sink: &dyn ArtifactSink) -> Result<(), EmitError> {
        super::check_slos(ir)?;
        write(ir, meta, sink)
    }
}

/// The PrometheusRule of the `observe` block is named like this identifier
/// (in the same name table as the SLOs, so they cannot clash); when an SLO
/// has that name, `observe_drift_2`, `_3`, … ([`observe_key`]).
const OBSERVE_RULE: &str = "observe_drift";

/// The observe rule's key in the name table: one no SLO has.
fn observe_key(ir: &Ir) -> String {
    let taken = |k: &str| ir.slos.iter().any(|s| s.name == k);
    let mut key = OBSERVE_RULE.to_string();
    let mut n = 2;
    while taken(&key) {
        key = format!("{OBSERVE_RULE}_{n}");
        n += 1;
    }
    key
}

/// A PrometheusRule's labels: the app's, its component's, and the app's
/// `rule_labels` (what a Prometheus `ruleSelector` picks, such as
/// kube-prometheus-stack's `release`).
fn rule_labels(cx: &Ctx, component: &str) -> Labels {
    let mut l = k8s_labels::component(&cx.app, component);
    l.extend(cx.ir.app.rule_labels.clone());
    l
}

fn prometheus_rule(
    cx: &Ctx,
    name: &str,
    labels: Labels,
    groups: Vec<RuleGroup>,
) -> Object<PrometheusRuleSpec> {
    Object {
        api_version: "monitoring.coreos.com/v1",
        kind: "PrometheusRule",
        metadata: cx.meta(name, labels),
        spec: PrometheusRuleSpec { groups },
    }
}

/// Every artifact of the target, sorted by path.
pub fn emit(ir: &Ir, meta: &Meta) -> Vec<Artifact> {
    let sink = Collect::default();
    // A `Collect` sink cannot fail; an SLO the target cannot plan is left
    // out (`Backend::emit` reports it).
    let _ = write(ir, meta, &sink);
    sink.into_sorted()
}

/// Writes the target's artifacts into `sink`, services and SLOs in parallel.
pub fn write(ir: &Ir, meta: &Meta, sink: &dyn ArtifactSink) -> Result<(), EmitError> {
    let cx = Ctx::new(ir);
    let cx = &cx;
    sink.put(yaml_artifact(
        "k8s/namespace.yaml".into(),
        meta,
        &namespace(cx),
    ))?;
    if let Some(rules) = adapter::config(cx) {
        sink.put(yaml_artifact(
            "k8s/prometheus-adapter/rules.yaml".into(),
            meta,
            &rules,
        ))?;
    }
    ir.services
        .par_iter()
        .filter(|s| s.is_workload())
        .try_for_each(|svc| -> Result<(), EmitError> {
            let unit = Unit {
                target: "k8s",
                kind: UnitKind::Service,
                name: &svc.name,
            };
            sink.unit(&unit, &mut |sink| Ok(service_objects(cx, meta, svc, sink)?))
        })?;

    let observe = ir.observe.as_ref().filter(|o| !o.drift.is_empty());
    let observe_key = observe_key(ir);
    let rules = Names::new(
        ir.slos
            .iter()
            .map(|s| s.name.as_str())
            .chain(observe.map(|_| observe_key.as_str())),
    );
    let shapes = Shapes::default();
    ir.slos
        .par_iter()
        .try_for_each(|slo| -> Result<(), EmitError> {
            let unit = Unit {
                target: "k8s",
                kind: UnitKind::Slo,
                name: &slo.name,
            };
            sink.unit(&unit, &mut |sink| {
                let name = rules.get(&slo.name);
                let path = format!("k8s/{name}.prometheusrule.yaml");
                let service =
                    SloPlan::service_of(ir, slo).map_err(|d| EmitError::Unsupported(vec![*d]))?;
                let direct = || {
                    let plan =
                        SloPlan::new(ir, slo).map_err(|d| EmitError::Unsupported(vec![*d]))?;
                    let rule = prometheus_rule(cx, name, rule_labels(cx, "slo"), plan.groups());
                    Ok::<_, EmitError>(vec![yaml_artifact(path.clone(), meta, &rule)])
                };
                // The rule rendered once per SLO shape (see `shapes`).
                let texts = shapes.texts(ir, slo, service, &[(shapes::OBJECT, name)], |plan| {
                    let labels = rule_labels(cx, "slo");
                    let rule = prometheus_rule(cx, shapes::OBJECT, labels, plan.groups());
                    Some(vec![yaml_emit::to_string(&rule).ok()?])
                });
                let made = texts
                    .and_then(|t| <[String; 1]>::try_from(t).ok())
                    .map(|[body]| {
                        vec![Artifact {
                            path: path.clone(),
                            contents: format!("{}{body}", meta.header("#")),
                        }]
                    });
                shapes::put(sink, made, direct)
            })
        })?;
    if let Some(obs) = observe {
        let name = rules.get(&observe_key);
        sink.put(yaml_artifact(
            format!("k8s/{name}.prometheusrule.yaml"),
            meta,
            &prometheus_rule(cx, name, rule_labels(cx, "drift"), drift::groups(ir, obs)),
        ))?;
    }
    Ok(())
}

/// One service's objects (the body of a unit: see [`ArtifactSink::unit`]).
fn service_objects(
    cx: &Ctx,
    meta: &Meta,
    svc: &crate::ir::Service,
    sink: &dyn ArtifactSink,
) -> std::io::Result<()> {
    let name = cx.names.get(&svc.name);
    let scaler = autoscale::scaler(cx, name, svc);
    let file = |kind: &str| format!("k8s/{name}.{kind}.yaml");
    match workload::workload(cx, name, svc, scaler.is_some()) {
        workload::Workload::Deployment(d) => {
            sink.put(yaml_artifact(file("deployment"), meta, &d))?
        }
        workload::Workload::StatefulSet(s) => {
            sink.put(yaml_artifact(file("statefulset"), meta, &s))?
        }
    }
    if svc.kind != crate::ir::ServiceKind::Worker {
        sink.put(yaml_artifact(
            file("service"),
            meta,
            &workload::service(cx, name, svc),
        ))?;
    }
    sink.put(yaml_artifact(
        file("serviceaccount"),
        meta,
        &workload::service_account(cx, name, svc),
    ))?;
    sink.put(yaml_artifact(
        file("pdb"),
        meta,
        &workload::pdb(cx, name, svc),
    ))?;
    sink.put(yaml_artifact(
        file("networkpolicy"),
        meta,
        &network::network_policy(cx, name, svc),
    ))?;
    match workload::monitor(cx, name, svc) {
        Some(workload::Monitor::Service(m)) => {
            sink.put(yaml_artifact(file("servicemonitor"), meta, &m))?
        }
        Some(workload::Monitor::Pod(m)) => sink.put(yaml_artifact(file("podmonitor"), meta, &m))?,
        None => {}
    }
    match &scaler {
        Some(Scaler::Hpa(h)) => sink.put(yaml_artifact(file("hpa"), meta, h)),
        Some(Scaler::Keda(k)) => sink.put(yaml_artifact(file("scaledobject"), meta, k)),
        None => Ok(()),
    }
}
