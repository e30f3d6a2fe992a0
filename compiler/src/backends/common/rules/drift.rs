//! Drift alerts from `observe`: a signal that moves more than `max_change`
//! against the same window `compare` earlier (a week for `weekly`) pages a
//! ticket. The `attach` attributes (`model`, `prompt_hash`, `dataset`) are
//! the `by` labels, so a drift names the model, prompt and dataset it
//! happened on.
//!
//! The series this assumes (the generated middleware emits them; other
//! exporters can be relabelled to them):
//!
//! | signal | series | compared |
//! |---|---|---|
//! | `token_usage` | counter `llm_tokens_total{<attach>…}` | relative change of the token rate: `abs(now / then − 1) > max_change` |
//! | `error_taxonomy` | counter `app_errors_total{class, <attach>…}` | each class's share of the errors, in share points: `abs(share_now − share_then) > max_change` (10% = 10 points) |
//! | any other `<signal>` | counter `<signal>_total{<attach>…}` | relative change, as `token_usage` |
//!
//! Rates are taken over `window = min(1d, compare / 2)` (1d for weekly), so a
//! day of traffic is compared with the same day a week earlier; the alert
//! must hold for `for = min(1h, window / 2)`. A class that appears (or
//! vanishes) counts as a share of 0 on the other side, so a new error class
//! taking 30% of errors is a drift; a token-usage group with no traffic a
//! week earlier has nothing to compare with and does not alert.

use super::slo::camel;
use super::{Rule, RuleFile, RuleGroup};
use crate::backends::common::promql;
use crate::ir::{Drift, DriftSignal, Ir, Observe};
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

fn by(labels: &[&str]) -> String {
    if labels.is_empty() {
        String::new()
    } else {
        let names: Vec<String> = labels.iter().map(|l| promql::label_name(l)).collect();
        format!(" by ({})", names.join(", "))
    }
}

fn expr(d: &Drift, attach: &[&str]) -> String {
    let t = timing(d);
    let w = promql::duration(t.window as f64);
    let off = promql::duration(t.compare as f64);
    let limit = promql::num(d.max_change);
    match kind(&d.signal) {
        Kind::Relative { metric } => {
            let b = by(attach);
            format!(
                "abs(\n  sum{b} (rate({metric}[{w}]))\n  /\n  sum{b} (rate({metric}[{w}] offset {off}))\n  - 1\n) > {limit}"
            )
        }
        Kind::Share { metric, class } => {
            let mut with_class = vec![class.as_str()];
            with_class.extend(attach);
            let (bc, b) = (by(&with_class), by(attach));
            let share = |range: &str| {
                format!(
                    "(\n    sum{bc} (rate({metric}{range}))\n    / ignoring ({class}) group_left\n    sum{b} (rate({metric}{range}))\n  )"
                )
            };
            let now = share(&format!("[{w}]"));
            let then = share(&format!("[{w}] offset {off}"));
            format!("abs(\n  ({now} or {then} * 0)\n  -\n  ({then} or {now} * 0)\n) > {limit}")
        }
    }
}

pub(crate) fn alert_name(d: &Drift) -> String {
    format!("{}Drift", camel(d.signal.as_str()))
}

pub(crate) fn annotations(d: &Drift, attach: &[&str]) -> BTreeMap<String, String> {
    let t = timing(d);
    let (w, c) = (
        promql::duration(t.window as f64),
        promql::duration(t.compare as f64),
    );
    let per = if attach.is_empty() {
        String::new()
    } else {
        format!(" per {}", attach.join(", "))
    };
    let (summary, description) = match kind(&d.signal) {
        Kind::Relative { metric } => (
            format!("{} changed more than {}% against {c} earlier", d.signal, promql::num(d.max_change * 100.0)),
            format!(
                "The rate of {metric}{per} over the last {w} differs by more than {}% from the same {w} {c} earlier.",
                promql::num(d.max_change * 100.0)
            ),
        ),
        Kind::Share { metric, class } => (
            format!("{} shifted more than {} share points against {c} earlier", d.signal, promql::num(d.max_change * 100.0)),
            format!(
                "The share of errors per {class} ({metric}{per}) over the last {w} moved by more than {} points from the same {w} {c} earlier.",
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
    vec![RuleGroup {
        name: group_name(ir),
        rules: obs
            .drift
            .iter()
            .map(|d| Rule {
                record: None,
                alert: Some(alert_name(d)),
                expr: expr(d, &attach),
                for_: Some(promql::duration(timing(d).hold as f64)),
                labels: [("severity".to_string(), "ticket".to_string())]
                    .into_iter()
                    .collect(),
                annotations: annotations(d, &attach),
            })
            .collect(),
    }]
}

pub fn rule_file(ir: &Ir, obs: &Observe) -> RuleFile {
    RuleFile {
        groups: groups(ir, obs),
    }
}
