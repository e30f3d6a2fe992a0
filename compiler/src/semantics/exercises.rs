//! What the application must survive and pass: `load_test` (with `shape`
//! presets), `chaos` and `gate`.

use super::values::{fmt_ms, round3};
use super::{schema, Checker, Dim};
use crate::diagnostics::catalog;
use crate::ir::{self, ChaosAction, Service};
use crate::syntax::ast::{BinOp, Block, CmpOp, Expr, ExprKind, Ident, ItemKind};
use std::collections::BTreeMap;

fn target_service<'s>(
    cx: &mut Checker,
    e: Option<&Expr>,
    services: &'s [Service],
) -> Option<&'s Service> {
    let e = e?;
    let Some(id) = e.as_ident() else {
        cx.wrong(e, catalog::Expected::ServiceName);
        return None;
    };
    cx.lookup("service", id)?;
    cx.service(services, &id.name)
}

pub fn lower_load_tests(cx: &mut Checker, services: &[Service]) -> Vec<ir::LoadTest> {
    let mut out = Vec::new();
    // Every shape is checked once, used or not (with a nominal peak: whether
    // stages check does not depend on the peak).
    for r in cx.decls("shape") {
        let f = cx.fields(&r.decl.body, &schema::SHAPE);
        let clean = f
            .block(cx, "stages")
            .filter(|b| lower_stages(cx, b, Some(1000.0)).is_some());
        cx.shapes.insert(r.decl.body.span, clean);
    }
    for r in cx.decls("load_test") {
        if let Some(t) = lower_load_test(cx, &r.name.name, &r.decl.body, services) {
            out.push(t);
        }
    }
    out
}

fn lower_load_test(
    cx: &mut Checker,
    name: &str,
    body: &Block,
    services: &[Service],
) -> Option<ir::LoadTest> {
    let f = cx.fields(body, &schema::LOAD_TEST);
    let target_e = f.required(cx, "target", "api");
    let target = target_service(cx, target_e, services);
    let peak = f
        .expr(cx, "peak")
        .and_then(|e| cx.positive(e, Dim::Rate, false));
    let replay = f.expr(cx, "replay").and_then(|e| {
        let s = cx.string(e)?;
        cx.project_path(&s, e.span)
    });
    let stages = match (f.block(cx, "stages"), f.expr(cx, "shape")) {
        (Some(_), Some(e)) => {
            cx.diags.push(catalog::stages_and_shape(e.span));
            None
        }
        (Some(b), None) => lower_stages(cx, b, peak),
        (None, Some(e)) => {
            let id = e.as_ident();
            match id.and_then(|id| cx.lookup("shape", id)) {
                Some(r) => {
                    if peak.is_none() {
                        // A `peak` written wrongly is reported already.
                        if f.get("peak").is_none() {
                            f.required(cx, "peak", "20k rps");
                        }
                        None
                    } else {
                        // Checked already: only a clean shape is lowered again.
                        let clean = cx.shapes.get(&r.decl.body.span).copied().flatten();
                        clean.and_then(|b| lower_stages(cx, b, peak))
                    }
                }
                None => {
                    if id.is_none() {
                        cx.wrong(e, catalog::Expected::ShapeName);
                    }
                    None
                }
            }
        }
        // A replayed trace sets its own pace.
        (None, None) if f.get("replay").is_some() => Some(Vec::new()),
        (None, None) => {
            f.required(cx, "stages", "{ ramp 10 rps -> 100 rps over 1m }");
            None
        }
    };
    let thresholds_from_budgets = match f.expr(cx, "thresholds") {
        None => true,
        Some(e) => cx
            .word(e, &["budgets", "none"])
            .map(|w| w == "budgets")
            .unwrap_or(true),
    };
    let api_keys = f
        .expr(cx, "api_keys")
        .and_then(|e| cx.integer(e, 1.0, 1e9))
        .map(|n| n as u32);
    let mask = f
        .expr(cx, "mask")
        .map(|e| super::load::mask_fields(cx, e))
        .unwrap_or_default();
    let target = target?;
    let classes: Vec<&str> = {
        let mut c: Vec<&str> = target.routes.iter().map(|r| r.class.as_str()).collect();
        c.sort();
        c.dedup();
        c
    };
    if classes.is_empty() {
        cx.diags.push(catalog::target_without_routes(
            &target.name,
            target_e.expect("target").span,
        ));
        return None;
    }
    let mix = match f.block(cx, "mix") {
        Some(b) => lower_mix(cx, b, &classes, &target.name)?,
        None => {
            let share = 1.0 / classes.len() as f64;
            classes.iter().map(|c| (c.to_string(), share)).collect()
        }
    };
    Some(ir::LoadTest {
        name: name.to_string(),
        target: target.name.clone(),
        mix,
        stages: stages?,
        thresholds_from_budgets,
        api_keys,
        replay,
        mask,
    })
}

fn lower_mix(
    cx: &mut Checker,
    b: &Block,
    classes: &[&str],
    target: &str,
) -> Option<BTreeMap<String, f64>> {
    let mut mix = BTreeMap::new();
    let mut ok = true;
    for item in &b.items {
        let ItemKind::Property { key, value, .. } = &item.kind else {
            cx.diags.push(catalog::mix_item_not_share(item.span));
            ok = false;
            continue;
        };
        if !classes.contains(&key.name.as_str()) {
            let d = catalog::class_not_on_target(target, &key.name, key.span, classes);
            cx.diags.push(d);
            ok = false;
            continue;
        }
        if mix.contains_key(&key.name) {
            cx.diags.push(catalog::mix_class_twice(&key.name, key.span));
            ok = false;
            continue;
        }
        match cx.positive(value, Dim::Fraction, true) {
            Some(v) => {
                mix.insert(key.name.clone(), v);
            }
            None => ok = false,
        }
    }
    if !ok {
        return None;
    }
    let sum: f64 = mix.values().sum::<f64>() + 0.0; // no "-0%" for an empty mix
    if (sum - 1.0).abs() > 1e-9 {
        let d = catalog::mix_sum(round3(sum * 100.0), b.span);
        cx.diags.push(d);
        return None;
    }
    Some(mix)
}

fn stage_rate(cx: &mut Checker, e: &Expr, peak: Option<f64>) -> Option<f64> {
    let v = cx.eval_any(e, Dim::Rate);
    let v = settle(cx, e, v, peak)?;
    if v < 0.0 {
        cx.diags.push(catalog::negative_stage_rate(e.span));
        return None;
    }
    Some(v)
}

/// Turns an evaluated stage value into requests per second.
fn settle(
    cx: &mut Checker,
    e: &Expr,
    v: Option<super::values::Value>,
    peak: Option<f64>,
) -> Option<f64> {
    let v = v?;
    match v.dim {
        Dim::Rate => Some(v.v),
        Dim::Fraction => match peak {
            Some(p) => Some(v.v * p),
            None => {
                cx.diags.push(catalog::percent_stage_without_peak(e.span));
                None
            }
        },
        _ => {
            cx.diags
                .push(catalog::not_a_stage_rate(v.dim.name(), e.span));
            None
        }
    }
}

fn lower_stages(cx: &mut Checker, b: &Block, peak: Option<f64>) -> Option<Vec<ir::Stage>> {
    let f = cx.fields(b, &schema::STAGES);
    let mut out = Vec::new();
    let mut ok = true;
    for item in &f.stmts {
        let ItemKind::Stage {
            kind,
            from,
            to,
            duration,
        } = &item.kind
        else {
            continue;
        };
        let ramp = kind.name == "ramp";
        if ramp != to.is_some() {
            cx.diags
                .push(catalog::malformed_stage(&kind.name, ramp, item.span));
            ok = false;
            continue;
        }
        let a = stage_rate(cx, from, peak);
        let bv = match to {
            Some(t) => stage_rate(cx, t, peak),
            None => a,
        };
        let d = cx.positive(duration, Dim::Duration, false);
        match (a, bv, d, kind.name.parse::<ir::StageKind>().ok()) {
            (Some(a), Some(bv), Some(d), Some(kind)) => out.push(ir::Stage {
                kind,
                from_rps: a,
                to_rps: bv,
                duration_ms: d,
            }),
            _ => ok = false,
        }
    }
    if out.is_empty() && ok {
        cx.diags.push(catalog::empty_stages(b.span));
        return None;
    }
    ok.then_some(out)
}

pub fn lower_chaos(cx: &mut Checker, services: &[Service]) -> Vec<ir::Chaos> {
    let mut out = Vec::new();
    for r in cx.decls("chaos") {
        let f = cx.fields(&r.decl.body, &schema::CHAOS);
        let target_e = f.required(cx, "target", "api");
        let target = target_service(cx, target_e, services);
        let mut actions = Vec::new();
        let mut expectations = Vec::new();
        let mut ok = true;
        for item in &f.stmts {
            match &item.kind {
                ItemKind::Kill { what, every } => {
                    if what.name != "pod" {
                        unknown_action(cx, what, &["pod"], "kill");
                        ok = false;
                        continue;
                    }
                    match cx.positive(every, Dim::Duration, false) {
                        Some(v) => actions.push(ChaosAction::PodKill { every_ms: v }),
                        None => ok = false,
                    }
                }
                ItemKind::Latency { target: t, amount } => match latency(cx, t, amount, services) {
                    Some(a) => actions.push(a),
                    None => ok = false,
                },
                ItemKind::Expect {
                    subject,
                    events,
                    within,
                } => match expectation(cx, subject, events, within, services) {
                    Some(e) => expectations.push(e),
                    None => ok = false,
                },
                _ => {}
            }
        }
        if let (Some(t), true) = (target, ok) {
            out.push(ir::Chaos {
                name: r.name.name.clone(),
                target: t.name.clone(),
                actions,
                expectations,
            });
        }
    }
    out
}

fn unknown_action(cx: &mut Checker, id: &Ident, allowed: &[&str], verb: &str) {
    let d = catalog::unknown_chaos_action(verb, &id.name, id.span, allowed);
    cx.diags.push(d);
}

fn latency(
    cx: &mut Checker,
    t: &Ident,
    amount: &Expr,
    services: &[Service],
) -> Option<ChaosAction> {
    cx.lookup("service", t)?;
    let svc = cx.service(services, &t.name)?;
    let v = cx.eval_any(amount, Dim::Duration)?;
    match v.dim {
        Dim::Duration if v.v > 0.0 => Some(ChaosAction::Latency {
            service: svc.name.clone(),
            added_ms: v.v,
            basis: None,
        }),
        Dim::Fraction if v.v > 0.0 => {
            // The percentile a relative delay is taken of: the service's
            // p95 (its own budget, else the slowest of its routes'), else
            // its p99.
            let pick = |f: fn(&ir::Budget) -> Option<f64>| {
                svc.budget.as_ref().and_then(f).or_else(|| {
                    svc.routes
                        .iter()
                        .filter_map(|r| f(&r.budget))
                        .reduce(f64::max)
                })
            };
            let basis = pick(|b| b.p95_ms)
                .map(|v| ("p95", v))
                .or_else(|| pick(|b| b.p99_ms).map(|v| ("p99", v)));
            let Some((which, p99)) = basis else {
                cx.diags.push(catalog::chaos_no_budget(
                    &svc.name,
                    round3(v.v * 100.0),
                    amount.span,
                ));
                return None;
            };
            let added = round3(v.v * p99);
            Some(ChaosAction::Latency {
                service: svc.name.clone(),
                added_ms: added,
                basis: Some(format!(
                    "{}% of {}'s {which} ({}) = {}",
                    round3(v.v * 100.0),
                    svc.name,
                    fmt_ms(p99),
                    fmt_ms(added)
                )),
            })
        }
        _ => {
            cx.wrong(amount, catalog::Expected::ChaosDelay);
            None
        }
    }
}

fn expectation(
    cx: &mut Checker,
    subject: &Expr,
    events: &[Ident],
    within: &Expr,
    services: &[Service],
) -> Option<ir::Expectation> {
    let ExprKind::Call { callee, args } = &subject.kind else {
        cx.wrong(subject, catalog::Expected::Probe);
        return None;
    };
    if callee.name != "breaker" {
        unknown_action(cx, callee, &["breaker"], "expect");
        return None;
    }
    let svc_id = match args.as_slice() {
        [a] if a.name.is_none() => a.value.as_ident(),
        _ => None,
    };
    let Some(svc_id) = svc_id else {
        cx.wrong(subject, catalog::Expected::ProbeService);
        return None;
    };
    cx.lookup("service", svc_id)?;
    let svc = cx.service(services, &svc_id.name)?;
    let mut evs = Vec::new();
    for e in events {
        let known = ["opens", "closes", "half_opens"];
        if !known.contains(&e.name.as_str()) {
            let d = catalog::unknown_breaker_event(&e.name, e.span, &known);
            cx.diags.push(d);
            return None;
        }
        evs.extend(e.name.parse::<ir::BreakerEvent>().ok());
    }
    let within_ms = cx.positive(within, Dim::Duration, false)?;
    Some(ir::Expectation {
        probe: "breaker".into(),
        service: svc.name.clone(),
        events: evs,
        within_ms,
    })
}

pub fn lower_gates(cx: &mut Checker, _services: &[Service]) -> Vec<ir::Gate> {
    let mut out = Vec::new();
    for r in cx.decls("gate") {
        let mut burn_span: Option<crate::diagnostics::Span> = None;
        let f = cx.fields(&r.decl.body, &schema::GATE);
        let contract = f.expr(cx, "contract").and_then(|e| {
            let s = cx.string(e)?;
            cx.project_path(&s, e.span)
        });
        let max_query_cost_increase = f
            .expr(cx, "query_plans")
            .and_then(|e| bound(cx, e, "cost_increase", Dim::Fraction));
        let max_migration_drift = f
            .expr(cx, "migrations")
            .and_then(|e| bound(cx, e, "drift", Dim::Count));
        let sbom_required = f
            .expr(cx, "sbom")
            .and_then(|e| cx.switch(e))
            .unwrap_or(false);
        let signing = f
            .expr(cx, "signing")
            .and_then(|e| cx.word(e, schema::words(&schema::GATE, "signing")))
            .filter(|s| s != "none");
        let queries = f.expr(cx, "queries").and_then(|e| {
            let s = cx.string(e)?;
            cx.project_path(&s, e.span)
        });
        let queries = match (&max_query_cost_increase, queries) {
            (Some(_), Some(q)) => Some(q),
            (Some(_), None) => Some("db/queries".to_string()),
            (None, _) => None,
        };
        let sast = f
            .expr(cx, "sast")
            .and_then(|e| cx.word(e, schema::words(&schema::GATE, "sast")))
            .filter(|s| s != "none");
        let dast = f
            .expr(cx, "dast")
            .and_then(|e| cx.word(e, schema::words(&schema::GATE, "dast")))
            .filter(|s| s != "none");
        let mut slo_burn = None;
        for item in &f.stmts {
            let ItemKind::Condition {
                subject,
                op,
                value,
                over,
            } = &item.kind
            else {
                continue;
            };
            if subject.name != "slo_burn" {
                let d = catalog::unknown_gate_check(&subject.name, subject.span);
                cx.diags.push(d);
                continue;
            }
            if !matches!(op, CmpOp::Lt | CmpOp::Le) {
                cx.diags
                    .push(catalog::burn_gate_not_upper(op.as_str(), item.span));
                continue;
            }
            if let Some(prev) = burn_span {
                cx.diags.push(catalog::burn_gate_twice(subject.span, prev));
                continue;
            }
            burn_span = Some(subject.span);
            let factor = cx.positive(value, Dim::Factor, false);
            let over_ms = match over {
                Some(o) => cx.positive(o, Dim::Duration, false),
                None => Some(3_600_000.0),
            };
            if let (Some(max_factor), Some(over_ms)) = (factor, over_ms) {
                slo_burn = Some(ir::BurnGate {
                    max_factor,
                    over_ms,
                });
            }
        }
        out.push(ir::Gate {
            name: r.name.name.clone(),
            contract,
            max_query_cost_increase,
            max_migration_drift,
            sbom_required,
            signing,
            slo_burn,
            queries,
            sast,
            dast,
        });
    }
    out
}

/// `cost_increase < 20%`, `drift == 0`: the largest value allowed.
fn bound(cx: &mut Checker, e: &Expr, subject: &str, dim: Dim) -> Option<f64> {
    let ExprKind::Binary {
        op: BinOp::Cmp(op),
        lhs,
        rhs,
    } = &e.kind
    else {
        cx.wrong(e, catalog::Expected::Bound(subject));
        return None;
    };
    if lhs.as_ident().is_none_or(|i| i.name != subject) {
        cx.wrong(lhs, catalog::Expected::BoundSubject(subject));
        return None;
    }
    let v = cx.positive(rhs, dim, true)?;
    match op {
        CmpOp::Lt | CmpOp::Le | CmpOp::Eq => Some(v),
        _ => {
            cx.diags
                .push(catalog::gate_not_upper(subject, op.as_str(), e.span));
            None
        }
    }
}
