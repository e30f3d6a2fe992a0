//! `scalec gate k6`: a k6 `--summary-export` file against the budgets.
//!
//! The budgets are the ones the generated script's thresholds hold, taken
//! from the same plan ([`crate::backends::common::k6_script::plan`]): p95
//! and p99 of each route's `http_req_duration{route:<tag>}` sub-metric, and
//! the error rate of `http_req_failed` (per route when the summary has a
//! `http_req_failed{route:<tag>}` sub-metric, else for all requests). A
//! value passes when it is strictly below its budget, as k6's `p(95)<250`.
//!
//! A summary that lacks a budgeted route's sub-metric, or a percentile a
//! budget needs, was not produced by this test's script: an input error.

use super::{jnum, read_json, Check, InputError, Report};
use crate::backends::common::k6_script::plan;
use crate::ir::Ir;
use serde_json::Value;
use std::path::Path;

/// Evaluates `summary` for load test `test` (the only one when `None`).
pub fn evaluate(ir: &Ir, test: Option<&str>, summary: &Path) -> Result<Report, InputError> {
    let lt = match test {
        Some(name) => ir
            .load_tests
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| {
                InputError(format!(
                    "no load test `{name}`; the spec has: {}",
                    names(ir)
                ))
            })?,
        None => match &ir.load_tests[..] {
            [one] => one,
            [] => return Err(InputError("the spec has no load test".into())),
            _ => {
                return Err(InputError(format!(
                    "the spec has several load tests; name one with --test ({})",
                    names(ir)
                )))
            }
        },
    };
    let Some(target) = ir.services.iter().find(|s| s.name == lt.target) else {
        return Err(InputError(format!(
            "the load test `{}` targets `{}`, which is not a service",
            lt.name, lt.target
        )));
    };
    let doc = read_json(summary, "k6 summary")?;
    let metrics = doc
        .get("metrics")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            InputError(format!(
                "the k6 summary `{}` has no `metrics` object; write it with `k6 run --summary-export FILE`",
                summary.display()
            ))
        })?;
    let p = plan(ir, lt, target, &target.name);
    let mut checks = Vec::new();
    // Routes in the order the service declares them.
    for r in &target.routes {
        let Some(rp) = p
            .classes
            .iter()
            .flat_map(|c| &c.routes)
            .find(|rp| rp.method == r.method.as_str() && rp.name_tag == r.path)
        else {
            continue; // not in the test's mix: no traffic, no budget
        };
        if !lt.thresholds_from_budgets {
            continue;
        }
        let key = format!("http_req_duration{{route:{}}}", rp.tag);
        for (metric, stat, budget) in [
            ("p95", "p(95)", r.budget.p95_ms),
            ("p99", "p(99)", r.budget.p99_ms),
        ] {
            let Some(budget) = budget else { continue };
            let m = metrics.get(&key).ok_or_else(|| {
                InputError(format!(
                    "the k6 summary `{}` has no `{key}` metric: was it exported by the `{}` test's script?",
                    summary.display(),
                    lt.name
                ))
            })?;
            let measured = m.get(stat).and_then(Value::as_f64).ok_or_else(|| {
                InputError(format!(
                    "the k6 summary `{}` has no `{stat}` of `{key}` (the generated script sets summaryTrendStats to include it)",
                    summary.display()
                ))
            })?;
            checks.push(Check {
                item: r.name.clone(),
                metric: metric.into(),
                op: "<",
                budget: jnum(budget),
                measured: jnum(measured),
                unit: "ms",
                pass: measured < budget,
                notes: vec![],
            });
        }
        let per_route = format!("http_req_failed{{route:{}}}", rp.tag);
        if let Some(m) = metrics.get(&per_route) {
            let allowed = allowed_errors(&p.thresholds)?;
            let rate = rate_of(m, &per_route, summary)?;
            checks.push(error_check(r.name.clone(), allowed, rate));
        }
    }
    if !checks.iter().any(|c| c.metric == "error_rate") {
        let allowed = allowed_errors(&p.thresholds)?;
        let m = metrics.get("http_req_failed").ok_or_else(|| {
            InputError(format!(
                "the k6 summary `{}` has no `http_req_failed` metric",
                summary.display()
            ))
        })?;
        let rate = rate_of(m, "http_req_failed", summary)?;
        checks.push(error_check("*".into(), allowed, rate));
    }
    Ok(Report::new(
        "k6",
        format!(
            "load test {} on {} ({})",
            lt.name,
            target.name,
            summary.display()
        ),
        checks,
    ))
}

fn names(ir: &Ir) -> String {
    let v: Vec<&str> = ir.load_tests.iter().map(|t| t.name.as_str()).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

fn error_check(item: String, allowed: f64, rate: f64) -> Check {
    Check {
        item,
        metric: "error_rate".into(),
        op: "<",
        budget: jnum(allowed),
        measured: jnum(rate),
        unit: "",
        pass: rate < allowed,
        notes: vec![],
    }
}

/// The `rate<X` the plan gives `http_req_failed`.
fn allowed_errors(
    thresholds: &std::collections::BTreeMap<String, Vec<String>>,
) -> Result<f64, InputError> {
    thresholds
        .get("http_req_failed")
        .and_then(|t| t.iter().find_map(|e| e.strip_prefix("rate<")))
        .and_then(|x| x.parse::<f64>().ok())
        .ok_or_else(|| InputError("the k6 plan has no error budget; this is a scalec bug".into()))
}

/// A rate metric's value: `value` in `--summary-export` (the share of
/// requests that failed).
fn rate_of(m: &Value, key: &str, summary: &Path) -> Result<f64, InputError> {
    m.get("value")
        .and_then(Value::as_f64)
        .filter(|v| (0.0..=1.0).contains(v))
        .ok_or_else(|| {
            InputError(format!(
                "the k6 summary `{}` has no rate `value` (0 to 1) for `{key}`",
                summary.display()
            ))
        })
}
