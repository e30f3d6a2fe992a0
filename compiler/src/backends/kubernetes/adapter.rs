//! What a request-rate HPA needs from the metrics adapter.
//!
//! `autoscale on rps target N/s` becomes an HPA on a Pods metric (the
//! request rate per pod, `averageValue` N). The custom metrics API serves
//! it through [prometheus-adapter], which needs a discovery rule naming the
//! metric and saying how to compute it. This module writes that rule, one
//! per request counter the rps-scaled services count with, into
//! `k8s/prometheus-adapter/rules.yaml`, in the adapter's own configuration
//! format (`rules:` of its `--config` file; the Helm chart's `rules.custom`
//! takes the same list). The file sits in a subfolder so `kubectl apply -f
//! k8s/` (not recursive) never reads it as an object.
//!
//! A rule:
//!
//! - `seriesQuery`: the counter in the app's namespace, on series with a
//!   `pod` label (what the ServiceMonitor's targets carry);
//! - `resources.overrides`: the `namespace` and `pod` labels are those
//!   Kubernetes resources;
//! - `name`: the counter, exposed as the metric the HPA names
//!   ([`rps_metric`]);
//! - `metricsQuery`: the per-pod request rate over 2 minutes,
//!   [`METRICS_QUERY`].
//!
//! [prometheus-adapter]: https://github.com/kubernetes-sigs/prometheus-adapter

use super::Ctx;
use crate::backends::common::promql;
use crate::ir::{Autoscale, Service};
use serde::Serialize;
use std::collections::BTreeMap;

/// The metric an `rps` HPA reads when the service counts requests with the
/// default OpenTelemetry series.
pub const RPS_METRIC: &str = "http_server_requests_per_second";

/// The default request counter (the OpenTelemetry histogram's `_count`).
pub const DEFAULT_REQUESTS: &str = "http_server_request_duration_seconds_count";

/// The adapter's query template: the per-pod request rate. The adapter
/// fills `<<.Series>>`, `<<.LabelMatchers>>` (namespace and pods) and
/// `<<.GroupBy>>` (`pod`).
pub const METRICS_QUERY: &str = "sum(rate(<<.Series>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)";

/// The custom metric an `rps` HPA of this service names: [`RPS_METRIC`]
/// for the default counter, else the counter's name and `_per_second`.
pub fn rps_metric(svc: &Service) -> String {
    metric_for(&svc.metrics.requests)
}

fn metric_for(requests: &str) -> String {
    if requests == DEFAULT_REQUESTS {
        RPS_METRIC.to_string()
    } else {
        format!("{}_per_second", promql::metric_name(requests))
    }
}

/// prometheus-adapter's configuration: `rules`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdapterConfig {
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    pub series_query: String,
    pub resources: Resources,
    pub name: NameMapping,
    pub metrics_query: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resources {
    pub overrides: BTreeMap<&'static str, GroupResource>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupResource {
    pub resource: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NameMapping {
    pub matches: String,
    #[serde(rename = "as")]
    pub as_: String,
}

/// The adapter rules of the app's rps-scaled workloads, one per request
/// counter, sorted; `None` when no workload scales on rps.
pub fn config(cx: &Ctx) -> Option<AdapterConfig> {
    let counters: std::collections::BTreeSet<&str> = cx
        .ir
        .services
        .iter()
        .filter(|s| s.is_workload() && matches!(s.autoscale, Some(Autoscale::Rps { .. })))
        .map(|s| s.metrics.requests.as_str())
        .collect();
    if counters.is_empty() {
        return None;
    }
    let rules = counters
        .into_iter()
        .map(|series| {
            let name = promql::metric_name(series);
            Rule {
                series_query: promql::selector(
                    series,
                    &[
                        promql::Matcher::eq("namespace", &cx.namespace),
                        promql::Matcher::re("pod", ".+"),
                    ],
                ),
                resources: Resources {
                    overrides: BTreeMap::from([
                        (
                            "namespace",
                            GroupResource {
                                resource: "namespace",
                            },
                        ),
                        ("pod", GroupResource { resource: "pod" }),
                    ]),
                },
                name: NameMapping {
                    matches: format!("^{name}$"),
                    as_: metric_for(series),
                },
                metrics_query: METRICS_QUERY,
            }
        })
        .collect();
    Some(AdapterConfig { rules })
}
