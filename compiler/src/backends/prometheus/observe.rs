//! The `promtool test rules` file for the drift alerts of `observe`
//! (the rules are in [`crate::backends::common::rules::drift`]).

use super::promtool_test::{counter_values, AlertTest, ExpAlert, InputSeries, TestFile, TestGroup};
use crate::backends::common::promql::{self, Matcher};
use crate::backends::common::rules::drift::{
    alert_name, annotations, group_name, kind, rule_labels, timing, watched, Kind, Watched, EVAL,
    STEP,
};
use crate::ir::{Ir, Observe};
use std::collections::BTreeMap;

/// The volatile tags of one side of the step: every `attach` tag and a
/// `release` label, valued `<tag>-1` before it and `<tag>-2` after it.
fn tags(attach: &[&str], side: u8) -> Vec<Matcher> {
    let mut names: Vec<&str> = attach.to_vec();
    if !names.contains(&"release") {
        names.push("release");
    }
    names
        .iter()
        .map(|a| Matcher::eq(a, &format!("{a}-{side}")))
        .collect()
}

/// A counter of the watched service whose tags change at the step: one
/// series with the old tags rising by `before` per sample until the step,
/// and a new one with the new tags, from the step on, rising by `after`
/// (`None`: no series before the step).
#[allow(clippy::too_many_arguments)]
fn switching(
    metric: &str,
    w: &Watched,
    extra: &[Matcher],
    attach: &[&str],
    start: u64,
    before: Option<u64>,
    after: u64,
    (n0, n1): (u64, u64),
) -> Vec<InputSeries> {
    let select = |side: u8| {
        let mut m = w.matchers.clone();
        m.extend(extra.iter().cloned());
        m.extend(tags(attach, side));
        promql::selector(metric, &m)
    };
    let mut out = Vec::new();
    if let Some(before) = before {
        out.push(InputSeries {
            series: select(1),
            values: counter_values(start, &[(before, n0)]),
        });
    }
    out.push(InputSeries {
        series: select(2),
        values: format!("_x{n0} {}", counter_values(start, &[(after, n1 - 1)])),
    });
    out
}

/// The tests, for the first watched service: a steady first period, then a
/// step change at `S = compare + window`, where every `attach` tag and the
/// `release` label change value too (so the series of the new week have no
/// namesake a week earlier); checked at `S` (quiet) and at
/// `S + window + hold`, when the current window has seen only the new level
/// for longer than `hold` and the compared window only the old one. Changes
/// of twice `max_change` up and down fire; half of it stays quiet. Another
/// watched service, steady throughout, never alerts.
pub fn tests(ir: &Ir, obs: &Observe, rules_file: &str) -> TestFile {
    let attach: Vec<&str> = obs.attach.iter().map(String::as_str).collect();
    let services = watched(ir);
    let w = &services[0];
    let other = services.get(1);
    let mut groups = Vec::new();
    for d in &obs.drift {
        let t = timing(d);
        let step = t.compare + t.window;
        let end = step + t.window + t.hold;
        let (n0, n1) = (step / STEP, (end - step) / STEP);
        let kept = w.by();
        let mut labels: BTreeMap<String, String> = w
            .matchers
            .iter()
            .filter(|m| kept.contains(&m.label.as_str()))
            .map(|m| (promql::label_name(&m.label), m.value.clone()))
            .collect();
        labels.extend(rule_labels(ir, w));
        let check = |at: u64, alerts: Vec<ExpAlert>| AlertTest {
            eval_time: promql::duration(at as f64),
            alertname: alert_name(d),
            exp_alerts: alerts,
        };
        let fire = |labels: BTreeMap<String, String>| ExpAlert {
            exp_labels: labels,
            exp_annotations: annotations(d, &attach, w),
        };
        // The other service's steady series, with the given extra matchers.
        let steady = |metric: &str, extra: &[Matcher], per: u64, start: u64| {
            other.map(|o| {
                let mut m = o.matchers.clone();
                m.extend(extra.iter().cloned());
                InputSeries {
                    series: promql::selector(metric, &m),
                    values: counter_values(start, &[(per, n0 + n1)]),
                }
            })
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
                    let mut input = switching(
                        &metric,
                        w,
                        &[],
                        &attach,
                        before * 100_000,
                        Some(before),
                        after,
                        (n0, n1),
                    );
                    input.extend(steady(&metric, &[], before, before * 100_000));
                    groups.push(TestGroup {
                        name: format!(
                            "{} of {}: {what} while the tags change: {}",
                            d.signal,
                            w.service,
                            if fires { "fires" } else { "stays quiet" }
                        ),
                        interval: promql::duration(STEP as f64),
                        input_series: input,
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
                let start = total * 100_000;
                // The alert expected for one class, with the signal's labels.
                let with_class = |name: &str| {
                    let mut l = labels.clone();
                    l.insert(class.clone(), name.to_string());
                    fire(l)
                };
                let of = |name: &str| vec![Matcher::eq(&class, name)];
                let cases = [(1.5 * d.max_change, true), (0.5 * d.max_change, false)];
                for (shift, fires) in cases {
                    if 0.5 + shift >= 1.0 {
                        continue;
                    }
                    let a = (total as f64 * (0.5 + shift)).round() as u64;
                    let mut input = Vec::new();
                    for (name, after) in [("class-a", a), ("class-b", total - a)] {
                        input.extend(switching(
                            &metric,
                            w,
                            &of(name),
                            &attach,
                            start,
                            Some(total / 2),
                            after,
                            (n0, n1),
                        ));
                        input.extend(steady(&metric, &of(name), total / 2, start));
                    }
                    groups.push(TestGroup {
                        name: format!(
                            "{} of {}: shares move from 50/50 to {}/{} as the tags change: {}",
                            d.signal,
                            w.service,
                            promql::num((0.5 + shift) * 100.0),
                            promql::num((0.5 - shift) * 100.0),
                            if fires {
                                "fires for both classes"
                            } else {
                                "stays quiet"
                            }
                        ),
                        interval: promql::duration(STEP as f64),
                        input_series: input,
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
                    let mut input = switching(
                        &metric,
                        w,
                        &of("class-a"),
                        &attach,
                        start,
                        Some(total),
                        total - b,
                        (n0, n1),
                    );
                    input.extend(switching(
                        &metric,
                        w,
                        &of("class-b"),
                        &attach,
                        start,
                        None,
                        b,
                        (n0, n1),
                    ));
                    input.extend(steady(&metric, &of("class-a"), total, start));
                    groups.push(TestGroup {
                        name: format!(
                            "{} of {}: a new class takes {}% of errors: fires for both classes",
                            d.signal,
                            w.service,
                            promql::num(new_share * 100.0)
                        ),
                        interval: promql::duration(STEP as f64),
                        input_series: input,
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
