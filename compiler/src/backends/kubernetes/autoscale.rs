//! One autoscaler per workload, never two: an HPA (`autoscaling/v2`) for
//! CPU or request-rate scaling, or — for `autoscale on queue_depth(…)` — a
//! KEDA `ScaledObject`, which creates and owns its own HPA.
//!
//! - `cpu`: Resource metric, `averageUtilization` = target × 100 (needs a
//!   CPU request on the container).
//! - `rps`: Pods metric `http_server_requests_per_second` (for another
//!   request counter, its name and `_per_second`), `averageValue` = the
//!   target per replica. prometheus-adapter serves it by the rule the
//!   target writes ([`super::adapter`]): the per-pod rate of the request
//!   counter over 2 minutes.
//! - `queue_depth(q)`: a KEDA `prometheus` trigger on
//!   `sum(app_queue_depth{namespace="<app>",queue="q"})` (a gauge of items waiting in queue
//!   `q`, which the generated middleware exports), `metricType:
//!   AverageValue`, `threshold` = the target per replica, against the
//!   Prometheus the app names (`app { prometheus = "…" }`, by default the
//!   prometheus-operator's); min/max replica counts from `replicas`.
//! - no `autoscale`: no autoscaler (the checker fills in CPU at 70% for a
//!   replica range, so this is a fixed count).
//!
//! An HPA's `minReplicas` is at least 1 (scaling to zero needs KEDA).

use super::objects::*;
use super::workload::labels;
use super::Ctx;
use crate::backends::common::promql;
use crate::ir::{Autoscale, Service};
use std::collections::BTreeMap;

/// The queue-depth gauge KEDA reads.
pub const QUEUE_DEPTH_METRIC: &str = "app_queue_depth";

/// The per-pod request rate an `rps` HPA reads (by default;
/// [`super::adapter::rps_metric`]).
pub use super::adapter::RPS_METRIC;

/// What scales a workload.
#[derive(Debug, Clone, PartialEq)]
pub enum Scaler {
    Hpa(Object<HpaSpec>),
    Keda(Object<ScaledObjectSpec>),
}

/// A quantity for a rate: `100`, `12500m`.
pub fn rate_quantity(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{}", x as i64)
    } else {
        format!("{}m", (x * 1000.0).round() as i64)
    }
}

fn target(name: &str, svc: &Service) -> ScaleTargetRef {
    ScaleTargetRef {
        api_version: "apps/v1",
        kind: super::workload::controller_kind(svc),
        name: name.into(),
    }
}

/// Up fast (double, or four pods, every 15s, whichever is more); down
/// slowly (at most half every minute, after five minutes of lower load),
/// so a dip between bursts does not drop capacity the next burst needs.
pub fn behavior() -> ScalingBehavior {
    ScalingBehavior {
        scale_up: ScalingRules {
            stabilization_window_seconds: 0,
            select_policy: "Max",
            policies: vec![
                ScalingPolicy {
                    type_: "Percent",
                    value: 100,
                    period_seconds: 15,
                },
                ScalingPolicy {
                    type_: "Pods",
                    value: 4,
                    period_seconds: 15,
                },
            ],
        },
        scale_down: ScalingRules {
            stabilization_window_seconds: 300,
            select_policy: "Max",
            policies: vec![ScalingPolicy {
                type_: "Percent",
                value: 50,
                period_seconds: 60,
            }],
        },
    }
}

fn hpa(cx: &Ctx, name: &str, svc: &Service, metric: MetricSpec) -> Scaler {
    let min = svc.replicas.min.max(1);
    Scaler::Hpa(Object {
        api_version: "autoscaling/v2",
        kind: "HorizontalPodAutoscaler",
        metadata: cx.meta(name, labels(cx, name, svc)),
        spec: HpaSpec {
            scale_target_ref: target(name, svc),
            min_replicas: min,
            max_replicas: svc.replicas.max.max(min),
            metrics: vec![metric],
            behavior: behavior(),
        },
    })
}

fn cpu(utilization: f64) -> MetricSpec {
    MetricSpec {
        type_: "Resource",
        resource: Some(ResourceMetric {
            name: "cpu",
            target: MetricTarget {
                type_: "Utilization",
                average_utilization: Some((utilization * 100.0).round().clamp(1.0, 1000.0) as u32),
                average_value: None,
            },
        }),
        pods: None,
    }
}

/// The autoscaler for a workload, if any.
pub fn scaler(cx: &Ctx, name: &str, svc: &Service) -> Option<Scaler> {
    let prometheus = cx.ir.app.prometheus_url.as_str();
    match &svc.autoscale {
        Some(Autoscale::Cpu { target_utilization }) => {
            Some(hpa(cx, name, svc, cpu(*target_utilization)))
        }
        Some(Autoscale::Rps { target_per_replica }) => Some(hpa(
            cx,
            name,
            svc,
            MetricSpec {
                type_: "Pods",
                resource: None,
                pods: Some(PodsMetric {
                    metric: MetricIdentifier {
                        name: super::adapter::rps_metric(svc),
                    },
                    target: MetricTarget {
                        type_: "AverageValue",
                        average_utilization: None,
                        average_value: Some(rate_quantity(*target_per_replica)),
                    },
                }),
            },
        )),
        Some(Autoscale::QueueDepth {
            queue,
            target: per_replica,
        }) => {
            let query = format!(
                "sum({})",
                promql::selector(
                    QUEUE_DEPTH_METRIC,
                    &[
                        promql::Matcher::eq("namespace", &cx.namespace),
                        promql::Matcher::eq("queue", queue),
                    ]
                )
            );
            let mut metadata = BTreeMap::new();
            metadata.insert("serverAddress", prometheus.to_string());
            metadata.insert("query", query);
            metadata.insert("threshold", promql::num(*per_replica));
            Some(Scaler::Keda(Object {
                api_version: "keda.sh/v1alpha1",
                kind: "ScaledObject",
                metadata: cx.meta(name, labels(cx, name, svc)),
                spec: ScaledObjectSpec {
                    scale_target_ref: target(name, svc),
                    min_replica_count: svc.replicas.min,
                    max_replica_count: svc.replicas.max.max(svc.replicas.min).max(1),
                    advanced: KedaAdvanced {
                        horizontal_pod_autoscaler_config: KedaHpaConfig {
                            behavior: behavior(),
                        },
                    },
                    triggers: vec![Trigger {
                        type_: "prometheus",
                        metric_type: "AverageValue",
                        metadata,
                    }],
                },
            }))
        }
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_quantities() {
        assert_eq!(rate_quantity(100.0), "100");
        assert_eq!(rate_quantity(12.5), "12500m");
    }
}
