//! `promtool test rules` files that prove the generated alerts fire at
//! their burn rate and stay quiet below it.
//!
//! For every window pair (short `s`, long `l`, factor `f`) of an SLO's
//! policy, two test groups run against synthetic counters sampled every
//! minute:
//!
//! - a baseline of good traffic only (`T0`);
//! - from `T0` on, a constant error ratio `m × f × (1 − objective)`:
//!   `m = 1.05` in the *fires* group and `m = 0.95` in the *quiet* group;
//! - alert checks at `T0` (nothing fires), at `T0 + 0.9 l` (fires group
//!   only: the long window has not yet burnt enough) and at `T0 + l`.
//!
//! What each check expects comes from an exact model of the ratios, not
//! from running the rules: with a request rate that never changes, a
//! window `w` that has seen the errors for `D` reports
//! `m·f·b · min(D, w) / min(w, T0 + D)`, so a pair fires iff both its
//! windows report more than `f·b`. The model is evaluated for every pair of
//! every severity, so the expectation names exactly the alerts that must
//! fire (for the default policy: only the pair under test, except that
//! the two ticket pairs spend the same budget share and fire together).
//! The verdicts are those of a baseline as long as the longest window
//! (every window full of data); the baseline used is the shortest one that
//! gives every pair the same verdict at every check, which saves days of
//! evaluation steps. A multiplier is only used when no window sits within
//! 2.5% of a threshold (else the next of 1.06/1.04/… is tried), so the
//! outcome never hinges on rounding or on Prometheus 3's left-open ranges.
//!
//! Counters are integers (a power of ten of requests per minute, large
//! enough that the error count per minute keeps four significant digits) on
//! a large starting value, so sums are exact in float64 and `rate()`
//! extrapolation treats every series alike. Rules are evaluated every 15
//! minutes (or a multiple of the sample interval below it).
//!
//! An SLO's `for` (none by default) moves every alert check later by `for`,
//! rounded up to whole evaluation intervals, so each shows the verdict of
//! its time without one ([`model_time`]); a fires group also checks at the
//! long window itself, where the condition holds but has not held for
//! `for` yet, so rules without the `for:` fail the tests.
//!
//! A further group sends only good traffic (and, for availability, no
//! error series at all) and checks that the SLI reads 0, the period ratio
//! 0, the remaining budget 1, and that nothing fires. Another stops the
//! SLI's series after 30 minutes: the missing-data alert is quiet at 30m
//! and fires at 60m.

use crate::backends::common::promql::{self, Matcher};
use crate::backends::common::rules::slo::{Severity, SliSource, SloPlan};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

/// A `promtool test rules` file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestFile {
    pub rule_files: Vec<String>,
    pub evaluation_interval: String,
    pub group_eval_order: Vec<String>,
    pub tests: Vec<TestGroup>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestGroup {
    pub name: String,
    pub interval: String,
    pub input_series: Vec<InputSeries>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alert_rule_test: Vec<AlertTest>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub promql_expr_test: Vec<PromqlTest>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputSeries {
    pub series: String,
    pub values: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertTest {
    pub eval_time: String,
    pub alertname: String,
    pub exp_alerts: Vec<ExpAlert>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExpAlert {
    pub exp_labels: BTreeMap<String, String>,
    pub exp_annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromqlTest {
    pub expr: String,
    pub eval_time: String,
    pub exp_samples: Vec<ExpSample>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExpSample {
    pub labels: String,
    pub value: f64,
}

/// Values of a counter sampled every interval: a start value, then
/// segments of (increase per sample, number of samples). Written in
/// promtool's expanding notation: `a+bxn` is `a, a+b, …, a+n·b`.
pub(crate) fn counter_values(start: u64, segments: &[(u64, u64)]) -> String {
    let mut parts = Vec::new();
    let mut last = start;
    let mut first = true;
    for &(inc, n) in segments {
        if first {
            parts.push(format!("{start}+{inc}x{n}"));
            last = start + inc * n;
            first = false;
        } else if n > 0 {
            let begin = last + inc;
            parts.push(format!("{begin}+{inc}x{}", n - 1));
            last += inc * n;
        }
    }
    if first {
        parts.push(start.to_string());
    }
    parts.join(" ")
}

/// `{a="x",b="y"}` for an expected sample.
pub(crate) fn label_set(labels: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}={}", promql::string(v)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// A promql check that `expr` is within 1e-9 of `value` for the series
/// with `labels`: `abs(expr - value) < bool 1e-9` must be 1.
pub(crate) fn close_to(
    expr: &str,
    value: f64,
    eval_ms: u64,
    labels: &BTreeMap<String, String>,
) -> PromqlTest {
    PromqlTest {
        expr: format!("abs({expr} - {}) < bool 1e-9", promql::num(value)),
        eval_time: promql::duration(eval_ms as f64),
        exp_samples: vec![ExpSample {
            labels: label_set(labels),
            value: 1.0,
        }],
    }
}

/// Timing and scale shared by every group of one SLO's tests.
#[derive(Debug, Clone)]
struct Setup {
    sample_ms: u64,
    eval_ms: u64,
    /// The longest alert window: a baseline this long fills every window.
    full_ms: u64,
    /// Requests per sample interval.
    per_sample: u64,
    /// Every counter starts here.
    start: u64,
    budget: f64,
}

/// A window pair: (short ms, long ms, factor).
type Pair = (u64, u64, f64);

fn pair(w: &crate::ir::BurnWindow) -> Pair {
    (
        w.short_ms.round() as u64,
        w.long_ms.round() as u64,
        w.factor,
    )
}

/// The model: the burn rate (in multiples of the budget) a window of
/// `w_ms` reports `d_ms` after errors at `burn` began, when the series
/// began `t0_ms` before the errors. Where the window reaches back before
/// the first sample, it only holds `t0 + d` of data; `rate()` extrapolates
/// every series by the same amount then (same timestamps, large start
/// values), so the ratio is still bad over total of the data it holds.
fn window_burn(burn: f64, t0_ms: u64, d_ms: u64, w_ms: u64) -> f64 {
    burn * d_ms.min(w_ms) as f64 / w_ms.min(t0_ms + d_ms) as f64
}

/// The verdict of every window pair (severities in order, pairs in
/// order) and whether any window sits within `margin` of its threshold.
fn predict(sevs: &[Severity], burn: f64, t0_ms: u64, d_ms: u64, margin: f64) -> (Vec<bool>, bool) {
    let mut pairs = Vec::new();
    let mut ambiguous = false;
    for sev in sevs {
        for w in &sev.windows {
            let (s, l, f) = pair(w);
            let bs = window_burn(burn, t0_ms, d_ms, s);
            let bl = window_burn(burn, t0_ms, d_ms, l);
            for b in [bs, bl] {
                if d_ms > 0 && ((b / f) - 1.0).abs() < margin {
                    ambiguous = true;
                }
            }
            pairs.push(bs > f && bl > f);
        }
    }
    (pairs, ambiguous)
}

/// The severities whose alert fires, given every pair's verdict.
fn firing(sevs: &[Severity], pairs: &[bool]) -> Vec<String> {
    let mut i = 0;
    let mut out = Vec::new();
    for sev in sevs {
        let n = sev.windows.len();
        if pairs[i..i + n].iter().any(|p| *p) {
            out.push(sev.name.clone());
        }
        i += n;
    }
    out
}

const MARGIN: f64 = 0.025;

fn round_down(ms: u64, step: u64) -> u64 {
    ms / step * step
}

/// What the promtool test search depends on: the SLO's shape (objective,
/// period, windows, severities and factors), not its names, labels or
/// metrics. SLOs of one shape share one search.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ShapeKey {
    objective: u64,
    /// The alerts' `for`, in ms.
    for_ms: u64,
    period_ms: u64,
    windows_ms: Vec<u64>,
    /// Per severity: its name and its (short, long, factor) pairs, as bits.
    severities: Vec<(String, Vec<PairBits>)>,
}

/// A window pair's (short, long, factor), as the bits of the floats.
type PairBits = (u64, u64, u64);

impl ShapeKey {
    fn of(plan: &SloPlan) -> Self {
        ShapeKey {
            objective: plan.slo.objective.to_bits(),
            for_ms: plan.for_ms,
            period_ms: plan.period_ms,
            windows_ms: plan.windows_ms.clone(),
            severities: plan
                .severities
                .iter()
                .map(|s| {
                    let pairs = s
                        .windows
                        .iter()
                        .map(|w| {
                            (
                                w.short_ms.to_bits(),
                                w.long_ms.to_bits(),
                                w.factor.to_bits(),
                            )
                        })
                        .collect();
                    (s.name.clone(), pairs)
                })
                .collect(),
        }
    }
}

/// The outcome of the search for one SLO shape: the setup, and for every
/// window pair of every severity (in order) the run that makes it fire and
/// the one that keeps it quiet, when there is one.
#[derive(Debug)]
struct Searched {
    setup: Setup,
    /// `[fires, quiet]` per window pair, severities in order.
    picks: Vec<[Option<Pick>; 2]>,
}

impl Searched {
    fn new(plan: &SloPlan) -> Self {
        let setup = setup(plan);
        let picks = plan
            .severities
            .iter()
            .flat_map(|sev| sev.windows.iter().map(move |w| (sev, *w)))
            .map(|(sev, w)| {
                [
                    search_pair(plan, &setup, sev, w, true),
                    search_pair(plan, &setup, sev, w, false),
                ]
            })
            .collect();
        Searched { setup, picks }
    }
}

/// The promtool test searches of one build, one per SLO shape; shared by
/// the threads that render the tests.
#[derive(Debug, Default)]
pub struct Searches {
    by_shape: Mutex<HashMap<ShapeKey, SearchCell>>,
}

/// One shape's search, run by the first thread that needs it.
type SearchCell = Arc<OnceLock<Searched>>;

impl Searches {
    /// The test file for one SLO, searching only when no SLO of its shape
    /// was searched before.
    pub fn slo_tests(&self, plan: &SloPlan, rules_file: &str) -> TestFile {
        let cell = {
            let mut map = self.by_shape.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(map.entry(ShapeKey::of(plan)).or_default())
        };
        let searched = cell.get_or_init(|| Searched::new(plan));
        render(plan, searched, rules_file)
    }

    /// How many shapes were searched.
    pub fn shapes(&self) -> usize {
        self.by_shape.lock().map(|m| m.len()).unwrap_or(0)
    }
}

/// The test file for one SLO (a search of its own; a build shares them
/// through [`Searches`]).
pub fn slo_tests(plan: &SloPlan, rules_file: &str) -> TestFile {
    Searches::default().slo_tests(plan, rules_file)
}

fn setup(plan: &SloPlan) -> Setup {
    // Samples every minute (or the gcd of the windows, if finer); rules
    // evaluated every 15 minutes. Every check time is a multiple of it; a
    // `for` is rounded up to it ([`model_time`]).
    let sample_ms = plan
        .windows_ms
        .iter()
        .fold(60_000u64, |g, w| promql::gcd(g, *w))
        .max(1);
    let eval_ms = 900_000u64 / sample_ms * sample_ms;
    let full_ms = plan
        .windows_ms
        .last()
        .expect("at least the base window")
        .div_ceil(eval_ms)
        * eval_ms;
    let budget = 1.0 - plan.slo.objective;
    // The smallest error ratio any group uses sets the scale.
    let smallest = plan
        .severities
        .iter()
        .flat_map(|s| s.windows.iter().map(|w| w.factor))
        .fold(f64::INFINITY, f64::min);
    let smallest_ratio = if smallest.is_finite() {
        0.9 * smallest * budget
    } else {
        1.0
    };
    let exp = (1000.0 / smallest_ratio.max(1e-12))
        .log10()
        .ceil()
        .clamp(3.0, 9.0) as u32;
    let per_sample = 10u64.pow(exp);
    Setup {
        sample_ms,
        eval_ms,
        full_ms,
        per_sample,
        start: per_sample * 100_000,
        budget,
    }
}

fn render(plan: &SloPlan, searched: &Searched, rules_file: &str) -> TestFile {
    let setup = &searched.setup;
    let mut tests = vec![no_errors_group(plan, setup)];
    if !plan.severities.is_empty() {
        tests.push(missing_group(plan, setup));
    }
    let mut first_fire = true;
    let pairs = plan
        .severities
        .iter()
        .flat_map(|sev| sev.windows.iter().map(move |w| (sev, *w)));
    for ((sev, w), [fire, quiet]) in pairs.zip(&searched.picks) {
        if let Some(p) = fire {
            tests.push(burn_group(plan, setup, sev, w, true, first_fire, p));
            first_fire = false;
        }
        if let Some(p) = quiet {
            tests.push(burn_group(plan, setup, sev, w, false, false, p));
        }
    }
    TestFile {
        rule_files: vec![rules_file.to_string()],
        evaluation_interval: promql::duration(setup.eval_ms as f64),
        group_eval_order: plan.group_names(),
        tests,
    }
}

/// The input series for a run: good traffic until `t0`, then `bad` of every
/// `per_sample` requests failing until `end`.
fn inputs(
    plan: &SloPlan,
    s: &Setup,
    sample_ms: u64,
    t0_ms: u64,
    end_ms: u64,
    bad: u64,
) -> Vec<InputSeries> {
    let n0 = t0_ms / sample_ms;
    let n1 = (end_ms - t0_ms) / sample_ms;
    let all = s.per_sample;
    let with = |base: &[Matcher], extra: Matcher| {
        let mut m = base.to_vec();
        m.push(extra);
        m
    };
    match &plan.sli {
        SliSource::Availability {
            requests,
            base,
            status_label,
            error_example,
            ok_example,
            ..
        } => {
            let (err, ok) = (*error_example, *ok_example);
            let mut series = vec![InputSeries {
                series: promql::selector(
                    requests,
                    &with(base, Matcher::eq(status_label, &ok.to_string())),
                ),
                values: counter_values(s.start, &[(all, n0), (all - bad, n1)]),
            }];
            // With no errors at all, the error series does not exist: the
            // rules must cope (`or vector(0)`).
            if bad > 0 {
                series.push(InputSeries {
                    series: promql::selector(
                        requests,
                        &with(base, Matcher::eq(status_label, &err.to_string())),
                    ),
                    values: counter_values(s.start, &[(0, n0), (bad, n1)]),
                });
            }
            series
        }
        SliSource::Latency {
            histogram,
            base,
            threshold_ms,
        } => {
            let le = promql::go_float(threshold_ms / 1000.0);
            vec![
                InputSeries {
                    series: promql::selector(&format!("{histogram}_count"), base),
                    values: counter_values(s.start, &[(all, n0), (all, n1)]),
                },
                InputSeries {
                    series: promql::selector(
                        &format!("{histogram}_bucket"),
                        &with(base, Matcher::eq("le", &le)),
                    ),
                    values: counter_values(s.start, &[(all, n0), (all - bad, n1)]),
                },
            ]
        }
    }
}

fn expected(plan: &SloPlan, firing: &[String]) -> Vec<ExpAlert> {
    plan.severities
        .iter()
        .filter(|sev| firing.contains(&sev.name))
        .map(|sev| ExpAlert {
            exp_labels: plan.alert_labels(&sev.name),
            exp_annotations: plan.alert_annotations(sev),
        })
        .collect()
}

fn with_window(plan: &SloPlan, ms: u64) -> BTreeMap<String, String> {
    let mut l = plan.labels.clone();
    l.insert("window".into(), promql::duration(ms as f64));
    l
}

fn no_errors_group(plan: &SloPlan, s: &Setup) -> TestGroup {
    let end = (s.full_ms.min(3_600_000) + s.eval_ms).max(2 * s.eval_ms);
    let end = round_down(end, s.eval_ms);
    let mut checks = vec![
        close_to(
            &plan.select(&SloPlan::sli_record(plan.base_ms)),
            0.0,
            end,
            &with_window(plan, plan.base_ms),
        ),
        close_to(
            &plan.select(&SloPlan::sli_record(plan.period_ms)),
            0.0,
            end,
            &with_window(plan, plan.period_ms),
        ),
        close_to(
            &plan.select("slo:period_error_budget_remaining:ratio"),
            1.0,
            end,
            &plan.labels,
        ),
    ];
    checks.push(close_to(
        &plan.select("slo:objective:ratio"),
        plan.slo.objective,
        end,
        &plan.labels,
    ));
    checks.push(close_to(
        &plan.select("slo:error_budget:ratio"),
        s.budget,
        end,
        &plan.labels,
    ));
    checks.push(close_to(
        &plan.select("slo:time_period:days"),
        plan.period_ms as f64 / 86_400_000.0,
        end,
        &plan.labels,
    ));
    let alerts = if plan.severities.is_empty() {
        vec![]
    } else {
        vec![AlertTest {
            eval_time: promql::duration(end as f64),
            alertname: plan.alert_name.clone(),
            exp_alerts: vec![],
        }]
    };
    TestGroup {
        name: format!(
            "{}: good traffic only, no error series: SLI 0, full budget, no alert",
            plan.slo.name
        ),
        interval: promql::duration(s.sample_ms as f64),
        input_series: inputs(plan, s, s.sample_ms, end, end, 0),
        alert_rule_test: alerts,
        promql_expr_test: checks,
    }
}

/// The SLI's series stop after 30 minutes: nothing fires while they are
/// there; once they are stale (5m) and absent for `for` (10m), the
/// missing-data alert fires, with the selector's labels.
fn missing_group(plan: &SloPlan, s: &Setup) -> TestGroup {
    const MIN: u64 = 60_000;
    let stop = 30 * MIN;
    let end = 70 * MIN;
    let values = format!(
        "{} _x{}",
        counter_values(s.start, &[(s.per_sample, stop / MIN)]),
        (end - stop) / MIN
    );
    let check = |t: u64, firing: bool| AlertTest {
        eval_time: promql::duration(t as f64),
        alertname: plan.missing_alert_name(),
        exp_alerts: if firing {
            vec![ExpAlert {
                exp_labels: plan.missing_alert_labels(),
                exp_annotations: plan.missing_alert_annotations(),
            }]
        } else {
            vec![]
        },
    };
    TestGroup {
        name: format!(
            "{}: the SLI's series vanish after 30m: the missing-data alert fires once they are gone for 10m",
            plan.slo.name
        ),
        interval: promql::duration(MIN as f64),
        input_series: vec![InputSeries {
            series: plan.total_selector(),
            values,
        }],
        alert_rule_test: vec![check(stop, false), check(60 * MIN, true)],
        promql_expr_test: vec![],
    }
}

/// The sample interval for the group of one pair: the coarsest of 15m, 5m
/// and the base interval that leaves at least six samples in the pair's
/// short window and divides every window that has two samples or more — so
/// fewer samples to read per evaluation. A window shorter than two samples
/// records nothing, so it is only allowed when every pair using it is
/// quiet anyway at the factors this group uses.
fn group_sample(plan: &SloPlan, s: &Setup, under_test: &crate::ir::BurnWindow) -> u64 {
    let (short, long, factor) = pair(under_test);
    let burn = 1.1 * factor;
    for c in [900_000u64, 300_000] {
        if !c.is_multiple_of(s.sample_ms)
            || !s.eval_ms.is_multiple_of(c)
            || short < 6 * c
            || !short.is_multiple_of(c)
            || !long.is_multiple_of(c)
        {
            continue;
        }
        let ok = plan
            .severities
            .iter()
            .flat_map(|sev| sev.windows.iter())
            .all(|w| {
                let (ws, wl, wf) = pair(w);
                let blind = ws < 2 * c || wl < 2 * c;
                let aligned =
                    (ws < 2 * c || ws.is_multiple_of(c)) && (wl < 2 * c || wl.is_multiple_of(c));
                aligned && (!blind || burn < wf)
            });
        if ok {
            return c;
        }
    }
    s.sample_ms
}

/// The run chosen for one window pair.
#[derive(Debug, Clone)]
struct Pick {
    sample_ms: u64,
    m: f64,
    bad: u64,
    burn: f64,
    t0: u64,
    /// Per check (`checks`): each pair's verdict at the check's model
    /// time (the latest evaluation at least `for` before it).
    preds: Vec<Vec<bool>>,
    /// When the alerts are checked, after the errors began.
    checks: Vec<u64>,
    d_end: u64,
    /// `for` rounded up to whole evaluation intervals.
    for_evals: u64,
}

/// The time whose verdicts an alert check at `check` (after the errors
/// began) shows, when the alerts have a `for` of `for_ms`: a pending alert
/// fires at the first evaluation at least `for` after its condition first
/// held, and the condition, once true, stays true in these runs (every
/// window's error ratio only grows). So the alert fires at `check` iff its
/// condition held at the latest evaluation at or before `check − for`.
/// Before the errors began, nothing held.
fn model_time(check: u64, for_ms: u64, eval_ms: u64) -> u64 {
    round_down(check.saturating_sub(for_ms), eval_ms)
}

/// The search for one window pair: the error ratio and baseline of a run
/// just above (`fires`) or just below its factor.
fn search_pair(
    plan: &SloPlan,
    s: &Setup,
    sev: &Severity,
    w: &crate::ir::BurnWindow,
    fires: bool,
) -> Option<Pick> {
    let (_, long, factor) = pair(w);
    let sample_ms = group_sample(plan, s, w);
    let tries: &[f64] = if fires {
        &[1.05, 1.06, 1.04, 1.08, 1.03, 1.1]
    } else {
        &[0.95, 0.94, 0.96, 0.92, 0.97, 0.9]
    };
    let d_end = long.div_ceil(s.eval_ms) * s.eval_ms;
    let d_early = round_down(long * 9 / 10, s.eval_ms);
    // With a `for`, every check moves later by `for` (in whole evaluation
    // intervals), so it shows the verdict of the time it had without one;
    // and a fires group also checks at `d_end`, where the condition holds
    // but has not held for `for` yet.
    let for_evals = plan.for_ms.div_ceil(s.eval_ms) * s.eval_ms;
    let mut checks = vec![0];
    if fires && d_early > 0 && d_early < d_end {
        checks.push(d_early + for_evals);
    }
    if fires && for_evals > 0 {
        checks.push(d_end);
    }
    checks.push(d_end + for_evals);
    checks.sort_unstable();
    checks.dedup();
    let evals: Vec<u64> = checks
        .iter()
        .map(|&c| model_time(c, plan.for_ms, s.eval_ms))
        .collect();

    struct Candidate {
        m: f64,
        bad: u64,
        burn: f64,
        t0: u64,
        preds: Vec<Vec<bool>>,
        clear: bool,
        wanted: bool,
    }
    // The shortest baseline worth trying: a few samples of the base window.
    let min_t0 = (plan.base_ms.max(2 * sample_ms)).div_ceil(s.eval_ms) * s.eval_ms;
    let candidates: Vec<Candidate> = tries
        .iter()
        .filter_map(|&m| {
            let bad = (m * factor * s.budget * s.per_sample as f64).round() as u64;
            if bad == 0 || bad > s.per_sample {
                return None;
            }
            let burn = bad as f64 / s.per_sample as f64 / s.budget;
            let at = |t0: u64| -> (Vec<Vec<bool>>, bool) {
                let p: Vec<(Vec<bool>, bool)> = evals
                    .iter()
                    .map(|&d| predict(&plan.severities, burn, t0, d, MARGIN))
                    .collect();
                let amb = p.iter().any(|(_, a)| *a);
                (p.into_iter().map(|(v, _)| v).collect(), amb)
            };
            // With a baseline as long as the longest window, every window
            // is full of data. A shorter baseline is used when every pair
            // gets the same verdict with it, at every check, with margin:
            // same test, far fewer evaluation steps.
            let (full, full_amb) = at(s.full_ms.max(min_t0));
            let t0 = (min_t0..=s.full_ms.max(min_t0))
                .step_by(s.eval_ms as usize)
                .find(|&t0| {
                    let (p, amb) = at(t0);
                    !amb && p == full
                })
                .unwrap_or(s.full_ms.max(min_t0));
            let clear = !full_amb;
            // The point of the group: this severity fires, or stays quiet.
            let last = firing(&plan.severities, full.last().expect("an eval"));
            let wanted = last.contains(&sev.name) == fires;
            Some(Candidate {
                m,
                bad,
                burn,
                t0,
                preds: full,
                clear,
                wanted,
            })
        })
        .collect();
    let pick = candidates
        .iter()
        .find(|c| c.clear && c.wanted)
        .or_else(|| candidates.iter().find(|c| c.clear))
        .or_else(|| candidates.first())?;
    Some(Pick {
        sample_ms,
        m: pick.m,
        bad: pick.bad,
        burn: pick.burn,
        t0: pick.t0,
        preds: pick.preds.clone(),
        checks,
        d_end,
        for_evals,
    })
}

/// One group for one window pair: errors at just above (`fires`) or just
/// below its factor.
fn burn_group(
    plan: &SloPlan,
    s: &Setup,
    sev: &Severity,
    w: &crate::ir::BurnWindow,
    fires: bool,
    with_meta: bool,
    pick: &Pick,
) -> TestGroup {
    let (short, long, factor) = pair(w);
    let (sample_ms, checks, d_end) = (pick.sample_ms, &pick.checks, pick.d_end);

    let (m, bad, burn, t0, preds) = (pick.m, pick.bad, pick.burn, pick.t0, &pick.preds);
    // The SLI checks look at `d_end`; the series run on until the last
    // alert check.
    let end = t0 + d_end;
    let series_end = end + pick.for_evals;
    let alerts = checks
        .iter()
        .zip(preds)
        .map(|(&d, pairs)| AlertTest {
            eval_time: promql::duration((t0 + d) as f64),
            alertname: plan.alert_name.clone(),
            exp_alerts: expected(plan, &firing(&plan.severities, pairs)),
        })
        .collect();
    let ratio = bad as f64 / s.per_sample as f64;
    let mut checks = Vec::new();
    if fires {
        for ms in [short, long] {
            checks.push(close_to(
                &plan.select(&SloPlan::sli_record(ms)),
                window_burn(ratio, t0, d_end, ms),
                end,
                &with_window(plan, ms),
            ));
        }
    }
    if with_meta {
        checks.push(close_to(
            &plan.select("slo:current_burn_rate:ratio"),
            burn,
            end,
            &plan.labels,
        ));
    }
    let verdict = match (fires, plan.for_ms) {
        (true, 0) => "fires".to_string(),
        (true, f) => format!("fires once it has held for {}", promql::duration(f as f64)),
        (false, _) => "stays quiet".to_string(),
    };
    TestGroup {
        name: format!(
            "{}: {} {}x over {} and {}: {verdict} at {}x the factor (error ratio {} after {} of good traffic)",
            plan.slo.name,
            sev.name,
            promql::num(factor),
            promql::duration(long as f64),
            promql::duration(short as f64),
            promql::num(m),
            promql::num(ratio),
            promql::duration(t0 as f64),
        ),
        interval: promql::duration(sample_ms as f64),
        input_series: inputs(plan, s, sample_ms, t0, series_end, bad),
        alert_rule_test: alerts,
        promql_expr_test: checks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_expand_without_a_gap() {
        // 10, 11, 12 | 14, 16
        assert_eq!(counter_values(10, &[(1, 2), (2, 2)]), "10+1x2 14+2x1");
        assert_eq!(counter_values(5, &[(0, 3)]), "5+0x3");
        assert_eq!(counter_values(5, &[(0, 3), (1, 0)]), "5+0x3");
    }

    /// With `for: 2m` and evaluations every 15m, a condition first true at
    /// the 60m evaluation fires at 75m (the first evaluation ≥ 62m), so a
    /// check at 60m shows the verdict of 45m, one at 75m that of 60m.
    #[test]
    fn a_for_shifts_the_verdict_a_check_shows() {
        let m = 60_000;
        assert_eq!(model_time(60 * m, 2 * m, 15 * m), 45 * m);
        assert_eq!(model_time(75 * m, 2 * m, 15 * m), 60 * m);
        assert_eq!(model_time(75 * m, 15 * m, 15 * m), 60 * m);
        assert_eq!(model_time(60 * m, 60 * m, 15 * m), 0);
        assert_eq!(model_time(10 * m, 60 * m, 15 * m), 0);
        assert_eq!(model_time(60 * m, 0, 15 * m), 60 * m);
    }

    #[test]
    fn the_model_matches_the_workbook() {
        // A 14.4x burn saturates the 1h window after 1h; after 50 minutes
        // it reads 12x.
        let day = 86_400_000;
        assert_eq!(window_burn(14.4, day, 3_600_000, 3_600_000), 14.4);
        assert!((window_burn(14.4, day, 3_000_000, 3_600_000) - 12.0).abs() < 1e-12);
        assert_eq!(window_burn(6.0, day, 3_600_000, 300_000), 6.0);
        // A 6h window with only 2h of data, 1h of it bad: half.
        assert_eq!(window_burn(6.0, 3_600_000, 3_600_000, 6 * 3_600_000), 3.0);
    }
}
