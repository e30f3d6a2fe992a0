//! The chaos target (`chaos/`): per `chaos` block, Chaos Mesh
//! (`chaos-mesh.org/v1alpha1`) `Schedule`s of its faults, and a k6 script
//! that runs a steady load through the experiment and checks what the spec
//! expects.
//!
//! - `kill pod every D` → `chaos/<exp>.pod-kill.yaml`: a `Schedule` of
//!   `PodChaos` (`pod-kill`, mode `one`, the target's pods) at `@every D`.
//! - `latency SVC +X` → `chaos/<exp>.latency-<svc>.yaml`: a `Schedule` of
//!   `NetworkChaos` (`delay`, the absolute latency the checker computed;
//!   "+5%" is already milliseconds in the IR, its basis in an annotation)
//!   on traffic from the target's pods to SVC: SVC's pods when it runs in
//!   the cluster, else its name as an external target. Each fault lasts
//!   the experiment's longest `within` (1m without one) and recurs every
//!   twice that.
//! - `chaos/<exp>.js`: the target's routes at a steady rate (10% of the
//!   peak of the first load test on the target, else 10 rps) for three
//!   fault periods, with k6 checks: every answer inside the route's hard
//!   timeout, failures faster than the route's p95 (an open breaker
//!   answers at once), the budgets and the availability SLO as thresholds,
//!   and a failing stretch no longer than the expectation's `within` (the
//!   breaker closes in time). A k6 script cannot see a breaker's state:
//!   these are the effects the spec's expectation has on clients.
//!
//! Every object is in the app's namespace (as the `k8s` target's), and
//! Chaos Mesh selects pods in the experiment's own namespace.

use super::common::k6_script::{self, steady, ChaosPlan};
use super::common::k8s_labels::{self, Labels};
use super::common::k8s_names::{self as names, Names};
use super::common::yaml::yaml_artifact;
use super::{Artifact, ArtifactSink, Backend, Collect, EmitError, Meta};
use crate::ir::{Chaos, ChaosAction, Ir, LoadTest};
use serde::Serialize;
use std::collections::BTreeMap;

/// `chaos`: Chaos Mesh schedules and a k6 check script per experiment.
pub struct ChaosMesh;

impl Backend for ChaosMesh {
    fn name(&self) -> &'static str {
        "chaos"
    }
    fn description(&self) -> &'static str {
        "Chaos Mesh Schedules (PodChaos, NetworkChaos) and a k6 check script per chaos block"
    }
    fn emit(&self, ir: &Ir, meta: &Meta, sink: &dyn ArtifactSink) -> Result<(), EmitError> {
        write(ir, meta, sink)
    }
}

/// Every artifact of the target, sorted by path.
pub fn emit(ir: &Ir, meta: &Meta) -> Vec<Artifact> {
    let sink = Collect::default();
    let _ = write(ir, meta, &sink);
    sink.into_sorted()
}

// --- Chaos Mesh objects ------------------------------------------------------

#[derive(Debug, Clone, Serialize)]
pub struct ObjectMeta {
    pub name: String,
    /// The app's namespace ([`crate::ir::App::namespace`]), where its pods run.
    pub namespace: String,
    pub labels: Labels,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta,
    pub spec: ScheduleSpec,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleSpec {
    pub schedule: String,
    #[serde(rename = "type")]
    pub type_: &'static str,
    pub history_limit: u32,
    pub concurrency_policy: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_chaos: Option<PodChaosSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_chaos: Option<NetworkChaosSpec>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Selector {
    pub label_selectors: Labels,
}

#[derive(Debug, Clone, Serialize)]
pub struct PodChaosSpec {
    pub action: &'static str,
    pub mode: &'static str,
    pub selector: Selector,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkChaosSpec {
    pub action: &'static str,
    pub mode: &'static str,
    pub selector: Selector,
    pub direction: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<PodTarget>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub external_targets: Vec<String>,
    pub delay: Delay,
    pub duration: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PodTarget {
    pub mode: &'static str,
    pub selector: Selector,
}

#[derive(Debug, Clone, Serialize)]
pub struct Delay {
    pub latency: String,
    pub jitter: String,
}

/// A Go duration (`time.ParseDuration`, which Chaos Mesh and its `@every`
/// schedules read): `1h2m3s`, `10ms`, `1.5ms`; never `d`.
pub fn go_duration(ms: f64) -> String {
    let ms = if ms.is_finite() { ms.max(0.0) } else { 0.0 };
    // Microseconds, so 0.001 ms survives.
    let mut us = (ms * 1000.0).round() as u64;
    if us == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [("h", 3_600_000_000u64), ("m", 60_000_000), ("s", 1_000_000)] {
        if us >= size {
            out.push_str(&format!("{}{unit}", us / size));
            us %= size;
        }
    }
    if us > 0 {
        if us.is_multiple_of(1000) {
            out.push_str(&format!("{}ms", us / 1000));
        } else {
            out.push_str(&format!("{us}us"));
        }
    }
    out
}

/// How long each fault lasts: the longest `within` of the expectations,
/// else a minute.
fn fault_ms(exp: &Chaos) -> f64 {
    exp.expectations
        .iter()
        .map(|e| e.within_ms)
        .fold(None, |a: Option<f64>, b| Some(a.map_or(b, |a| a.max(b))))
        .unwrap_or(60_000.0)
}

fn schedule(
    app: &str,
    namespace: &str,
    name: String,
    every_ms: f64,
    annotations: BTreeMap<String, String>,
    pod: Option<PodChaosSpec>,
    net: Option<NetworkChaosSpec>,
) -> Schedule {
    Schedule {
        api_version: "chaos-mesh.org/v1alpha1",
        kind: "Schedule",
        metadata: ObjectMeta {
            name,
            namespace: namespace.to_string(),
            labels: k8s_labels::component(app, "chaos"),
            annotations,
        },
        spec: ScheduleSpec {
            schedule: format!("@every {}", go_duration(every_ms)),
            type_: if pod.is_some() {
                "PodChaos"
            } else {
                "NetworkChaos"
            },
            history_limit: 2,
            concurrency_policy: "Forbid",
            pod_chaos: pod,
            network_chaos: net,
        },
    }
}

/// The steady load of an experiment: 10% of the peak of the first load
/// test on the target, else 10 rps.
fn chaos_rate(ir: &Ir, exp: &Chaos) -> f64 {
    ir.load_tests
        .iter()
        .find(|t| t.target == exp.target)
        .map(|t| {
            t.stages
                .iter()
                .map(|s| s.from_rps.max(s.to_rps))
                .fold(0.0, f64::max)
                * 0.1
        })
        .filter(|r| *r > 0.0)
        .unwrap_or(10.0)
}

pub fn write(ir: &Ir, meta: &Meta, sink: &dyn ArtifactSink) -> Result<(), EmitError> {
    let app = names::single(&ir.app.name);
    let namespace = ir.app.namespace();
    let exps = Names::new(ir.chaos.iter().map(|c| c.name.as_str()));
    let services = Names::new(ir.services.iter().map(|s| s.name.as_str()));
    for exp in &ir.chaos {
        let Some(target) = ir.service(&exp.target) else {
            continue;
        };
        let name = exps.get(&exp.name);
        let target_name = services.get(&target.name);
        let pods = || Selector {
            label_selectors: k8s_labels::selector(target_name),
        };
        let fault = fault_ms(exp);
        let mut period = 2.0 * fault;
        // A latency fault's stem is `latency-<service>`, numbered when
        // taken (one service named twice).
        let mut taken = std::collections::BTreeSet::new();
        for action in &exp.actions {
            match action {
                ChaosAction::PodKill { every_ms } => {
                    period = period.max(*every_ms);
                    let s = schedule(
                        &app,
                        &namespace,
                        format!("{name}-pod-kill"),
                        *every_ms,
                        BTreeMap::new(),
                        Some(PodChaosSpec {
                            action: "pod-kill",
                            mode: "one",
                            selector: pods(),
                        }),
                        None,
                    );
                    sink.put(yaml_artifact(
                        format!("chaos/{name}.pod-kill.yaml"),
                        meta,
                        &s,
                    ))?;
                }
                ChaosAction::Latency {
                    service,
                    added_ms,
                    basis,
                } => {
                    let Some(svc) = ir.service(service) else {
                        continue;
                    };
                    let svc_name = services.get(&svc.name);
                    let base = format!("latency-{svc_name}");
                    let mut stem = base.clone();
                    let mut n = 2;
                    while !taken.insert(stem.clone()) {
                        stem = format!("{base}-{n}");
                        n += 1;
                    }
                    let (target, external_targets) = if svc.is_workload() {
                        (
                            Some(PodTarget {
                                mode: "all",
                                selector: Selector {
                                    label_selectors: k8s_labels::selector(svc_name),
                                },
                            }),
                            vec![],
                        )
                    } else {
                        (None, vec![svc_name.to_string()])
                    };
                    let mut annotations = BTreeMap::new();
                    if let Some(b) = basis {
                        annotations.insert("scale.dev/latency-basis".to_string(), b.clone());
                    }
                    let s = schedule(
                        &app,
                        &namespace,
                        format!("{name}-{stem}"),
                        2.0 * fault,
                        annotations,
                        None,
                        Some(NetworkChaosSpec {
                            action: "delay",
                            mode: "all",
                            selector: pods(),
                            direction: "to",
                            target,
                            external_targets,
                            delay: Delay {
                                latency: go_duration(*added_ms),
                                jitter: "0ms".into(),
                            },
                            duration: go_duration(fault),
                        }),
                    );
                    sink.put(yaml_artifact(format!("chaos/{name}.{stem}.yaml"), meta, &s))?;
                }
            }
        }
        // The k6 checks, run through three fault periods.
        let mix = ir
            .load_tests
            .iter()
            .find(|t| t.target == exp.target)
            .map(|t| t.mix.clone())
            .unwrap_or_else(|| {
                let mut classes: Vec<&str> =
                    target.routes.iter().map(|r| r.class.as_str()).collect();
                classes.sort();
                classes.dedup();
                let share = 1.0 / classes.len().max(1) as f64;
                classes.iter().map(|c| (c.to_string(), share)).collect()
            });
        if target.routes.is_empty() {
            continue;
        }
        let rate = chaos_rate(ir, exp);
        let duration = 3.0 * period;
        let test = LoadTest {
            name: exp.name.clone(),
            target: exp.target.clone(),
            mix,
            stages: vec![steady(rate, duration)],
            thresholds_from_budgets: true,
            api_keys: None,
            replay: None,
            mask: Vec::new(),
        };
        let chaos = ChaosPlan {
            experiment: exp.name.clone(),
            rate_rps: rate,
            duration_ms: duration,
            recover_within_ms: exp
                .expectations
                .iter()
                .map(|e| e.within_ms)
                .reduce(f64::min),
            expectations: exp
                .expectations
                .iter()
                .map(|e| {
                    let events: Vec<&str> = e.events.iter().map(|v| v.as_str()).collect();
                    format!(
                        "{}({}) {} within {}",
                        e.probe,
                        e.service,
                        events.join(" and "),
                        go_duration(e.within_ms)
                    )
                })
                .collect(),
        };
        let plan = k6_script::plan_for(ir, &test, target, target_name, Some(chaos));
        sink.put(Artifact {
            path: format!("chaos/{name}.js"),
            contents: k6_script::script(meta, &plan),
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(60_000.0), "1m");
        assert_eq!(go_duration(10.0), "10ms");
        assert_eq!(go_duration(0.5), "500us");
        assert_eq!(go_duration(3_723_004.0), "1h2m3s4ms");
        assert_eq!(go_duration(0.0), "0s");
        assert_eq!(go_duration(f64::NAN), "0s");
    }
}
