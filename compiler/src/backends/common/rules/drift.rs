//! Drift alerts from `observe`: a signal that moves more than `max_change`
//! against the same window `compare` earlier (a week for `weekly`) raises a
//! ticket (the app's ticket severity, `warning` by default).
//!
//! **Which series.** One alert rule per signal and watched service: every
//! service that runs the app's own code (an HTTP service or a worker with
//! an image). Its selector is the one its SLOs use: `namespace` (the app's
//! namespace) and the service label (`job` = the Kubernetes Service name,
//! as the generated ServiceMonitor sets it; `<namespace>/<name>` for a
//! worker, as a PodMonitor sets it; or the spec's own binding). The alert
//! carries `app`, `service` (the spec's name), `team` and the app's
//! `alert_labels`, and the series labels `namespace` and `job`.
//!
//! **Tags do not break the comparison.** The rates are summed `by
//! (namespace, <service label>)` (and `class` for the taxonomy) before the
//! `offset` comparison: every other label — the `attach` tags such as
//! `prompt_hash` or `model`, a `release` or `version`, `pod`, `instance` —
//! is aggregated away, so a new release or prompt hash compares this week's
//! total with last week's instead of finding no series a week earlier.
//!
//! The series this assumes (the generated middleware emits them; other
//! exporters can be relabelled to them):
//!
//! | signal | series | compared |
//! |---|---|---|
//! | `token_usage` | counter `llm_tokens_total` | relative change of the token rate: `abs(now / then − 1) > max_change` |
//! | `error_taxonomy` | counter `app_errors_total{class}` | each class's share of the errors, in share points: `abs(share_now − share_then) > max_change` (10% = 10 points) |
//! | any other `<signal>` | counter `<signal>_total` | relative change, as `token_usage` |
//!
//! Rates are taken over `window = min(1d, compare / 2)` (1d for weekly), so a
//! day of traffic is compared with the same day a week earlier; the alert
//! must hold for `for = min(1h, window / 2)`. A class that appears (or
//! vanishes) counts as a share of 0 on the other side, so a new error class
//! taking 30% of errors is a drift; a service with no traffic a week
//! earlier has nothing to compare with and does not alert.

use super::slo::camel;
use super::{Rule, RuleFile, RuleGroup};
use crate::backends::common::promql::{self, Matcher};
use crate::ir::{Drift, DriftSignal, Ir, Observe, ServiceKind};
use std::collections::BTreeMap;

const DAY: u64 = 86_400_000;
const HOUR: u64 = 3_600_000;
pub(crate) const STEP: u64 = 300_000;
/// Rule evaluation in the tests: every 15 minutes (the checks fall on it).
pub(crate) const EVAL: u64 = 900_000;

/// How a signal is read and compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Relative change of a counter's rate.
    Relative { metric: String },
    /// Change of each class's share, in share points.
    Share { metric: String, class: String },
}

pub(crate) fn kind(signal: &DriftSignal) -> Kind {
    match signal {
        DriftSignal::TokenUsage => Kind::Relative {
            metric: "llm_tokens_total".into(),
        },
        DriftSignal::ErrorTaxonomy => Kind::Share {
            metric: "app_errors_total".into(),
            class: "class".into(),
        },
        DriftSignal::Other(other) => Kind::Relative {
            metric: promql::metric_name(&format!("{other}_total")),
        },
    }
}

pub(crate) struct Timing {
    pub compare: u64,
    pub window: u64,
    pub hold: u64,
}

pub(crate) fn timing(d: &Drift) -> Timing {
    let compare = (d.compare_ms.round() as u64).max(2 * STEP);
    let window = ((compare / 2).min(DAY) / STEP * STEP).max(STEP);
    let hold = ((window / 2).min(HOUR) / STEP * STEP).max(STEP);
    Timing {
        compare,
        window,
        hold,
    }
}

/// One service whose drift is watched.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Watched {
    /// The spec's name of the service (the alert's `service` label).
    pub service: String,
    /// `namespace` and the service label, as its SLOs select it.
    pub matchers: Vec<Matcher>,
}

impl Watched {
    /// The labels the sums keep: `namespace` and the service label —
    /// unless the service label is a word PromQL cannot group by
    /// (`without`, `inf`, `nan`: Prometheus 2 reads them as a keyword or a
    /// number there); the selector still pins it, and the alert names the
    /// service in its `service` label.
    pub fn by(&self) -> Vec<&str> {
        self.matchers
            .iter()
            .map(|m| m.label.as_str())
            .filter(|l| {
                let n = promql::label_name(l).to_ascii_lowercase();
                !matches!(n.as_str(), "without" | "inf" | "nan")
            })
            .collect()
    }
}

/// The services whose drift is watched: those that run the app's own code
/// (HTTP services and workers with an image), in the order written. The
/// selector follows the SLO rules': the app's namespace and the service
/// label, whose value for `job` is what the generated monitor gives the
/// series (the Service's name for a ServiceMonitor, `<namespace>/<name>`
/// for a worker's PodMonitor). An app with none is watched as a whole, by
/// its namespace.
pub(crate) fn watched(ir: &Ir) -> Vec<Watched> {
    let namespace = ir.app.namespace();
    let own: Vec<Watched> = ir
        .services
        .iter()
        .filter(|s| s.is_workload() && matches!(s.kind, ServiceKind::Http | ServiceKind::Worker))
        .map(|s| {
            let m = &s.metrics;
            let value = super::slo::service_value(ir, s);
            let mut matchers = vec![Matcher::eq("namespace", &namespace)];
            if m.service_label != "namespace" {
                matchers.push(Matcher::eq(&m.service_label, &value));
            }
            Watched {
                service: s.name.clone(),
                matchers,
            }
        })
        .collect();
    if own.is_empty() {
        vec![Watched {
            service: ir.app.name.clone(),
            matchers: vec![Matcher::eq("namespace", &namespace)],
        }]
    } else {
        own
    }
}

fn by(labels: &[&str]) -> String {
    let mut names: Vec<String> = Vec::new();
    for l in labels {
        let n = promql::label_name(l);
        if !names.contains(&n) {
            names.push(n);
        }
    }
    format!(" by ({})", names.join(", "))
}

pub(crate) fn expr(d: &Drift, w: &Watched) -> String {
    let t = timing(d);
    let win = promql::duration(t.window as f64);
    let off = promql::duration(t.compare as f64);
    let limit = promql::num(d.max_change);
    let keep = w.by();
    match kind(&d.signal) {
        Kind::Relative { metric } => {
            let b = by(&keep);
            let sel = promql::selector(&metric, &w.matchers);
            format!(
                "abs(\n  sum{b} (rate({sel}[{win}]))\n  /\n  sum{b} (rate({sel}[{win}] offset {off}))\n  - 1\n) > {limit}"
            )
        }
        Kind::Share { metric, class } => {
            let mut with_class = keep.clone();
            with_class.push(class.as_str());
            let (bc, b) = (by(&with_class), by(&keep));
            let sel = promql::selector(&metric, &w.matchers);
            let share = |range: &str| {
                format!(
                    "(\n    sum{bc} (rate({sel}{range}))\n    / ignoring ({class}) group_left\n    sum{b} (rate({sel}{range}))\n  )"
                )
            };
            let now = share(&format!("[{win}]"));
            let then = share(&format!("[{win}] offset {off}"));
            format!("abs(\n  ({now} or {then} * 0)\n  -\n  ({then} or {now} * 0)\n) > {limit}")
        }
    }
}

pub(crate) fn alert_name(d: &Drift) -> String {
    format!("{}Drift", camel(d.signal.as_str()))
}

/// The labels a drift alert's rule sets: the ticket severity, `app`,
/// `service`, and the app's routing labels (`team`, `alert_labels`).
pub(crate) fn rule_labels(ir: &Ir, w: &Watched) -> BTreeMap<String, String> {
    let mut l = BTreeMap::new();
    if let Some(owner) = &ir.app.owner {
        l.insert("team".to_string(), owner.clone());
    }
    l.extend(ir.app.alert_labels.clone());
    l.insert("app".to_string(), ir.app.name.clone());
    l.insert("service".to_string(), w.service.clone());
    l.insert(
        "severity".to_string(),
        ir.app.alert_severities.ticket.clone(),
    );
    l
}

pub(crate) fn annotations(d: &Drift, attach: &[&str], w: &Watched) -> BTreeMap<String, String> {
    let t = timing(d);
    let (win, c) = (
        promql::duration(t.window as f64),
        promql::duration(t.compare as f64),
    );
    let summed = if attach.is_empty() {
        " (summed over every other label)".to_string()
    } else {
        format!(
            " (summed over every other label: {}, release, pod…)",
            attach.join(", ")
        )
    };
    let sel: Vec<String> = w
        .matchers
        .iter()
        .map(|m| {
            format!(
                "{}={}",
                promql::label_name(&m.label),
                promql::string(&m.value)
            )
        })
        .collect();
    let sel = format!("{{{}}}", sel.join(","));
    let (summary, description) = match kind(&d.signal) {
        Kind::Relative { metric } => (
            format!(
                "{} of {} changed more than {}% against {c} earlier",
                d.signal,
                w.service,
                promql::num(d.max_change * 100.0)
            ),
            format!(
                "The rate of {metric}{sel}{summed} over the last {win} differs by more than {}% from the same {win} {c} earlier.",
                promql::num(d.max_change * 100.0)
            ),
        ),
        Kind::Share { metric, class } => (
            format!(
                "{} of {} shifted more than {} share points against {c} earlier",
                d.signal,
                w.service,
                promql::num(d.max_change * 100.0)
            ),
            format!(
                "The share of errors per {class} ({metric}{sel}{summed}) over the last {win} moved by more than {} points from the same {win} {c} earlier.",
                promql::num(d.max_change * 100.0)
            ),
        ),
    };
    [
        ("summary".to_string(), summary),
        ("description".to_string(), description),
    ]
    .into_iter()
    .collect()
}

pub(crate) fn group_name(ir: &Ir) -> String {
    format!("scalec-observe-drift-{}", ir.app.name)
}

pub fn groups(ir: &Ir, obs: &Observe) -> Vec<RuleGroup> {
    let attach: Vec<&str> = obs.attach.iter().map(String::as_str).collect();
    let watched = watched(ir);
    vec![RuleGroup {
        name: group_name(ir),
        rules: obs
            .drift
            .iter()
            .flat_map(|d| watched.iter().map(move |w| (d, w)))
            .map(|(d, w)| Rule {
                record: None,
                alert: Some(alert_name(d)),
                expr: expr(d, w),
                for_: Some(promql::duration(timing(d).hold as f64)),
                labels: rule_labels(ir, w),
                annotations: annotations(d, &attach, w),
            })
            .collect(),
    }]
}

pub fn rule_file(ir: &Ir, obs: &Observe) -> RuleFile {
    RuleFile {
        groups: groups(ir, obs),
    }
}
