//! `scalec gate burn`: the SLOs' burn rates over the gate's window
//! (`slo_burn < 1x over 1h`), from Prometheus' answer to the query the
//! `ci` target writes (`ci/burn/<gate>.promql`,
//! [`crate::backends::ci::burn::query`]).
//!
//! The answer is the JSON of `/api/v1/query`: `{"status": "success",
//! "data": {"resultType": "vector", "result": [{"metric": {"scale_slo":
//! "<slo>"}, "value": [<time>, "<burn>"]}, …]}}`. Every SLO of the spec must
//! have its series: one missing (no traffic in the window, or a query that
//! is not this spec's) is an input error, never a pass, and so is a burn
//! rate that is not a number (no request at all: 0/0).

use super::{jnum, read_json, Check, InputError, Report};
use crate::backends::ci::burn::SLO_LABEL;
use crate::backends::common::rules::slo::SloPlan;
use crate::ir::{BurnGate, Ir};
use serde_json::Value;
use std::path::Path;

pub fn evaluate(ir: &Ir, gate: &BurnGate, result: &Path) -> Result<Report, InputError> {
    let doc = read_json(result, "Prometheus answer")?;
    let bad = |why: String| {
        InputError(format!(
            "the Prometheus answer `{}` {why}",
            result.display()
        ))
    };
    if doc.get("status").and_then(Value::as_str) != Some("success") {
        let err = doc
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("no `status: success`");
        return Err(bad(format!("is not a successful query: {err}")));
    }
    let data = doc.get("data").ok_or_else(|| bad("has no `data`".into()))?;
    if data.get("resultType").and_then(Value::as_str) != Some("vector") {
        return Err(bad("is not an instant vector (`resultType: vector`)".into()));
    }
    let series = data
        .get("result")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("has no `result` list".into()))?;
    let window = crate::backends::common::promql::duration(gate.over_ms);
    let mut checks = Vec::new();
    for slo in &ir.slos {
        if SloPlan::new(ir, slo).is_err() {
            continue;
        }
        let found = series.iter().find(|s| {
            s.get("metric")
                .and_then(|m| m.get(SLO_LABEL))
                .and_then(Value::as_str)
                == Some(slo.name.as_str())
        });
        let Some(found) = found else {
            return Err(bad(format!(
                "has no series for the SLO `{}` ({SLO_LABEL}): no traffic in the last {window}, or not the query of this spec",
                slo.name
            )));
        };
        let text = found
            .get("value")
            .and_then(|v| v.get(1))
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("has no `value` for the SLO `{}`", slo.name)))?;
        let burn: f64 = text.parse().map_err(|_| {
            bad(format!(
                "has the value `{text}` for the SLO `{}`, not a number",
                slo.name
            ))
        })?;
        if burn.is_nan() {
            return Err(bad(format!(
                "has no burn rate for the SLO `{}` (NaN: no request in the last {window})",
                slo.name
            )));
        }
        let pass = burn < gate.max_factor;
        let mut notes = Vec::new();
        if !pass {
            notes.push(format!(
                "over the last {window} the SLO `{}` spent its error budget {}× as fast as it may",
                slo.name,
                super::num(burn)
            ));
        }
        checks.push(Check {
            item: slo.name.clone(),
            metric: format!("burn_rate_{window}"),
            op: "<",
            budget: jnum(gate.max_factor),
            measured: jnum(burn),
            unit: "x",
            pass,
            notes,
        });
    }
    if checks.is_empty() {
        return Err(InputError(
            "the spec has no SLO whose burn rate the gate could judge".into(),
        ));
    }
    Ok(Report::new(
        "burn",
        format!("SLO burn rates over {window} ({})", result.display()),
        checks,
    ))
}
