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

use super::promql::{self, Matcher};
use super::promtool_test::{counter_values, AlertTest, ExpAlert, InputSeries, TestFile, TestGroup};
use super::slo::camel;
use super::{Rule, RuleFile, RuleGroup};
use crate::ir::{Drift, Ir, Observe};
use std::collections::BTreeMap;

const DAY: u64 = 86_400_000;
const HOUR: u64 = 3_600_000;
const STEP: u64 = 300_000;
/// Rule evaluation in the tests: every 15 minutes (the checks fall on it).
const EVAL: u64 = 900_000;

/// How a signal is read and compared.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// Relative change of a counter's rate.
    Relative { metric: String },
    /// Change of each class's share, in share points.
    Share { metric: String, class: String },
}

fn kind(signal: &str) -> Kind {
    match signal {
        "token_usage" => Kind::Relative {
            metric: "llm_tokens_total".into(),
        },
        "error_taxonomy" => Kind::Share {
            metric: "app_errors_total".into(),
            class: "class".into(),
        },
        other => Kind::Relative {
            metric: promql::metric_name(&format!("{other}_total")),
        },
    }
}

struct Timing {
    compare: u64,
    window: u64,
    hold: u64,
}

fn timing(d: &Drift) -> Timing {
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

fn alert_name(d: &Drift) -> String {
    format!("{}Drift", camel(&d.signal))
}

fn annotations(d: &Drift, attach: &[&str]) -> BTreeMap<String, String> {
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

fn group_name(ir: &Ir) -> String {
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

/// The tests: a steady first period, then a step change at `S = compare +
/// window`; checked at `S` (quiet) and at `S + window + hold`, when the
/// current window has seen only the new level for longer than `hold` and
/// the compared window only the old one. Changes of twice `max_change` up
/// and down fire; half of it stays quiet.
pub fn tests(ir: &Ir, obs: &Observe, rules_file: &str) -> TestFile {
    let attach: Vec<&str> = obs.attach.iter().map(String::as_str).collect();
    let mut groups = Vec::new();
    for d in &obs.drift {
        let t = timing(d);
        let step = t.compare + t.window;
        let end = step + t.window + t.hold;
        let (n0, n1) = (step / STEP, (end - step) / STEP);
        let base: Vec<Matcher> = attach
            .iter()
            .map(|a| Matcher::eq(a, &format!("{a}-1")))
            .collect();
        let mut labels: BTreeMap<String, String> = attach
            .iter()
            .map(|a| (a.to_string(), format!("{a}-1")))
            .collect();
        labels.insert("severity".into(), "ticket".into());
        let check = |at: u64, alerts: Vec<ExpAlert>| AlertTest {
            eval_time: promql::duration(at as f64),
            alertname: alert_name(d),
            exp_alerts: alerts,
        };
        let fire = |labels: BTreeMap<String, String>| ExpAlert {
            exp_labels: labels,
            exp_annotations: annotations(d, &attach),
        };
        match kind(&d.signal) {
            Kind::Relative { metric } => {
                let before = 10_000u64;
                let cases = [
                    ("rises by twice the limit", 1.0 + 2.0 * d.max_change, true),
                    ("falls by twice the limit", 1.0 - 2.0 * d.max_change, true),
                    ("rises by half the limit", 1.0 + 0.5 * d.max_change, false),
                ];
                for (what, factor, fires) in cases {
                    if factor <= 0.0 {
                        continue;
                    }
                    let after = (before as f64 * factor).round() as u64;
                    groups.push(TestGroup {
                        name: format!(
                            "{}: {what}: {}",
                            d.signal,
                            if fires { "fires" } else { "stays quiet" }
                        ),
                        interval: promql::duration(STEP as f64),
                        input_series: vec![InputSeries {
                            series: promql::selector(&metric, &base),
                            values: counter_values(before * 100_000, &[(before, n0), (after, n1)]),
                        }],
                        alert_rule_test: vec![
                            check(step, vec![]),
                            check(
                                end,
                                if fires {
                                    vec![fire(labels.clone())]
                                } else {
                                    vec![]
                                },
                            ),
                        ],
                        promql_expr_test: vec![],
                    });
                }
            }
            Kind::Share { metric, class } => {
                let total = 10_000u64;
                // The alert expected for one class, with the signal's labels.
                let with_class = |name: &str| {
                    let mut l = labels.clone();
                    l.insert(class.clone(), name.to_string());
                    fire(l)
                };
                let cases = [(1.5 * d.max_change, true), (0.5 * d.max_change, false)];
                for (shift, fires) in cases {
                    if 0.5 + shift >= 1.0 {
                        continue;
                    }
                    let a = (total as f64 * (0.5 + shift)).round() as u64;
                    let series = |name: &str, after: u64| {
                        let mut m = vec![Matcher::eq(&class, name)];
                        m.extend(base.iter().cloned());
                        InputSeries {
                            series: promql::selector(&metric, &m),
                            values: counter_values(
                                total * 100_000,
                                &[(total / 2, n0), (after, n1)],
                            ),
                        }
                    };
                    groups.push(TestGroup {
                        name: format!(
                            "{}: shares move from 50/50 to {}/{}: {}",
                            d.signal,
                            promql::num((0.5 + shift) * 100.0),
                            promql::num((0.5 - shift) * 100.0),
                            if fires {
                                "fires for both classes"
                            } else {
                                "stays quiet"
                            }
                        ),
                        interval: promql::duration(STEP as f64),
                        input_series: vec![series("class-a", a), series("class-b", total - a)],
                        alert_rule_test: vec![
                            check(step, vec![]),
                            check(
                                end,
                                if fires {
                                    vec![with_class("class-a"), with_class("class-b")]
                                } else {
                                    vec![]
                                },
                            ),
                        ],
                        promql_expr_test: vec![],
                    });
                }
                // A class never seen a week earlier takes a share above the
                // limit: it counts against a share of 0, and the old class
                // loses as much.
                let new_share = 3.0 * d.max_change;
                if new_share < 1.0 {
                    let b = (total as f64 * new_share).round() as u64;
                    let mut old = vec![Matcher::eq(&class, "class-a")];
                    old.extend(base.iter().cloned());
                    let mut new = vec![Matcher::eq(&class, "class-b")];
                    new.extend(base.iter().cloned());
                    groups.push(TestGroup {
                        name: format!(
                            "{}: a new class takes {}% of errors: fires for both classes",
                            d.signal,
                            promql::num(new_share * 100.0)
                        ),
                        interval: promql::duration(STEP as f64),
                        input_series: vec![
                            InputSeries {
                                series: promql::selector(&metric, &old),
                                values: counter_values(
                                    total * 100_000,
                                    &[(total, n0), (total - b, n1)],
                                ),
                            },
                            InputSeries {
                                series: promql::selector(&metric, &new),
                                values: format!(
                                    "_x{n0} {}",
                                    counter_values(total * 100_000, &[(b, n1 - 1)])
                                ),
                            },
                        ],
                        alert_rule_test: vec![
                            check(step, vec![]),
                            check(end, vec![with_class("class-a"), with_class("class-b")]),
                        ],
                        promql_expr_test: vec![],
                    });
                }
            }
        }
    }
    TestFile {
        rule_files: vec![rules_file.to_string()],
        evaluation_interval: promql::duration(obs.drift.iter().fold(EVAL, |g, d| {
            let t = timing(d);
            promql::gcd(promql::gcd(promql::gcd(g, t.window), t.compare), t.hold)
        }) as f64),
        group_eval_order: vec![group_name(ir)],
        tests: groups,
    }
}
