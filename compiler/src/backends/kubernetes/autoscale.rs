//! One autoscaler per workload, never two: an HPA (`autoscaling/v2`) for
//! CPU or request-rate scaling, or — for `autoscale on queue_depth(…)` — a
//! KEDA `ScaledObject`, which creates and owns its own HPA.
//!
//! - `cpu`: Resource metric, `averageUtilization` = target × 100 (needs a
//!   CPU request on the container).
//! - `rps`: Pods metric `http_server_requests_per_second`, `averageValue` =
//!   the target per replica. It is served by a custom-metrics adapter
//!   (prometheus-adapter) from the OpenTelemetry request counter, e.g. the
//!   rule `rate(http_server_request_duration_seconds_count[2m])` per pod
//!   named `http_server_requests_per_second`.
//! - `queue_depth(q)`: a KEDA `prometheus` trigger on
//!   `sum(app_queue_depth{queue="q"})` (a gauge of items waiting in queue
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
use crate::backends::common::promql;
use crate::ir::{Autoscale, Service};
use std::collections::BTreeMap;

/// The queue-depth gauge KEDA reads.
pub const QUEUE_DEPTH_METRIC: &str = "app_queue_depth";

/// The per-pod request rate an `rps` HPA reads.
pub const RPS_METRIC: &str = "http_server_requests_per_second";

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

fn target(name: &str) -> ScaleTargetRef {
    ScaleTargetRef {
        api_version: "apps/v1",
        kind: "Deployment",
        name: name.into(),
    }
}

fn hpa(app: &str, name: &str, svc: &Service, metric: MetricSpec) -> Scaler {
    let min = svc.replicas.min.max(1);
    Scaler::Hpa(Object {
        api_version: "autoscaling/v2",
        kind: "HorizontalPodAutoscaler",
        metadata: ObjectMeta {
            name: name.into(),
            labels: labels(app, name),
        },
        spec: HpaSpec {
            scale_target_ref: target(name),
            min_replicas: min,
            max_replicas: svc.replicas.max.max(min),
            metrics: vec![metric],
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
pub fn scaler(app: &str, prometheus: &str, name: &str, svc: &Service) -> Option<Scaler> {
    match &svc.autoscale {
        Some(Autoscale::Cpu { target_utilization }) => {
            Some(hpa(app, name, svc, cpu(*target_utilization)))
        }
        Some(Autoscale::Rps { target_per_replica }) => Some(hpa(
            app,
            name,
            svc,
            MetricSpec {
                type_: "Pods",
                resource: None,
                pods: Some(PodsMetric {
                    metric: MetricIdentifier {
                        name: RPS_METRIC.into(),
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
                promql::selector(QUEUE_DEPTH_METRIC, &[promql::Matcher::eq("queue", queue)])
            );
            let mut metadata = BTreeMap::new();
            metadata.insert("serverAddress", prometheus.to_string());
            metadata.insert("query", query);
            metadata.insert("threshold", promql::num(*per_replica));
            Some(Scaler::Keda(Object {
                api_version: "keda.sh/v1alpha1",
                kind: "ScaledObject",
                metadata: ObjectMeta {
                    name: name.into(),
                    labels: labels(app, name),
                },
                spec: ScaledObjectSpec {
                    scale_target_ref: target(name),
                    min_replica_count: svc.replicas.min,
                    max_replica_count: svc.replicas.max.max(svc.replicas.min).max(1),
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
