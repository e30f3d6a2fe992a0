//! The `promtool test rules` file for the drift alerts of `observe`
//! (the rules are in [`crate::backends::common::rules::drift`]).

use super::promtool_test::{counter_values, AlertTest, ExpAlert, InputSeries, TestFile, TestGroup};
use crate::backends::common::promql::{self, Matcher};
use crate::backends::common::rules::drift::{
    alert_name, annotations, group_name, kind, timing, Kind, EVAL, STEP,
};
use crate::ir::{Ir, Observe};
use std::collections::BTreeMap;

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
