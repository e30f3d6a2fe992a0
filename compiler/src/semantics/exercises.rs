//! What the application must survive and pass: `load_test` (with `shape`
//! presets), `chaos` and `gate`.

use super::values::{fmt_ms, round3};
use super::{Checker, Dim};
use crate::diagnostics::{suggest, Code, Diagnostic};
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
        cx.wrong(e, "a service name", "write `target = api`");
        return None;
    };
    cx.lookup("service", id)?;
    cx.service(services, &id.name)
}

pub fn lower_load_tests(cx: &mut Checker, services: &[Service]) -> Vec<ir::LoadTest> {
    let mut out = Vec::new();
    for r in cx.decls("load_test") {
        if let Some(t) = lower_load_test(cx, &r.name.name, &r.decl.body, services) {
            out.push(t);
        }
    }
    // Shapes are checked even when unused (with a nominal peak).
    for r in cx.decls("shape") {
        let f = cx.fields(&r.decl.body, "a shape", &["stages"], &[]);
        if let Some(b) = f.block(cx, "stages") {
            lower_stages(cx, b, Some(1000.0));
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
    let f = cx.fields(
        body,
        "a load test",
        &["target", "mix", "stages", "shape", "peak", "thresholds"],
        &[],
    );
    let target_e = f.required(cx, "target", "api");
    let target = target_service(cx, target_e, services);
    let peak = f
        .expr(cx, "peak")
        .and_then(|e| cx.positive(e, Dim::Rate, false));
    let stages = match (f.block(cx, "stages"), f.expr(cx, "shape")) {
        (Some(_), Some(e)) => {
            cx.diags.push(
                Diagnostic::error(
                    Code::BadStage,
                    "a load test takes `stages` or `shape`, not both",
                )
                .primary(e.span, "a shape as well as stages")
                .help("keep the explicit `stages`, or the `shape` preset with `peak = …`"),
            );
            None
        }
        (Some(b), None) => lower_stages(cx, b, peak),
        (None, Some(e)) => {
            let id = e.as_ident();
            match id.and_then(|id| cx.lookup("shape", id)) {
                Some(r) => {
                    if peak.is_none() {
                        f.required(cx, "peak", "20k rps");
                        None
                    } else {
                        let sf = cx.fields(&r.decl.body, "a shape", &["stages"], &[]);
                        sf.block(cx, "stages")
                            .and_then(|b| lower_stages(cx, b, peak))
                    }
                }
                None => {
                    if id.is_none() {
                        cx.wrong(
                            e,
                            "a shape name",
                            "write `shape = ramp` with `use std.shapes.{ramp}`",
                        );
                    }
                    None
                }
            }
        }
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
    let target = target?;
    let classes: Vec<&str> = {
        let mut c: Vec<&str> = target.routes.iter().map(|r| r.class.as_str()).collect();
        c.sort();
        c.dedup();
        c
    };
    if classes.is_empty() {
        cx.diags.push(
            Diagnostic::error(
                Code::UnknownClass,
                format!("the service `{}` has no routes to load", target.name),
            )
            .primary(target_e.expect("target").span, "no routes")
            .help("target an HTTP service with routes"),
        );
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
            cx.diags.push(
                Diagnostic::error(Code::UnknownField, "a mix holds `class = share` lines")
                    .primary(item.span, "not a share")
                    .help("write `read = 80%`"),
            );
            ok = false;
            continue;
        };
        if !classes.contains(&key.name.as_str()) {
            let mut d = Diagnostic::error(
                Code::UnknownClass,
                format!("`{target}` has no route of class `{}`", key.name),
            )
            .primary(key.span, "no such class on the target");
            d = match suggest(&key.name, classes.iter().copied()) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help(format!("the target's classes are: {}", classes.join(", "))),
            };
            cx.diags.push(d);
            ok = false;
            continue;
        }
        if mix.contains_key(&key.name) {
            cx.diags.push(
                Diagnostic::error(
                    Code::DuplicateField,
                    format!("`{}` is given twice", key.name),
                )
                .primary(key.span, "given again")
                .help("give each class one share"),
            );
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
        let d = Diagnostic::error(
            Code::MixSum,
            format!("the mix sums to {}%, not 100%", round3(sum * 100.0)),
        )
        .primary(b.span, format!("{}% in all", round3(sum * 100.0)))
        .help("adjust the shares so they add up to exactly 100%");
        cx.diags.push(d);
        return None;
    }
    Some(mix)
}

fn stage_rate(cx: &mut Checker, e: &Expr, peak: Option<f64>) -> Option<f64> {
    let v = cx.eval_any(e, Dim::Rate);
    let v = settle(cx, e, v, peak)?;
    if v < 0.0 {
        cx.diags.push(
            Diagnostic::error(Code::OutOfRange, "a stage rate cannot be negative")
                .primary(e.span, "negative")
                .help("use a rate such as `100 rps`"),
        );
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
                cx.diags.push(
                        Diagnostic::error(Code::BadStage, "a percentage stage needs the test's `peak`")
                            .primary(e.span, "a share of what?")
                            .help("add `peak = 20k rps` to the load test, or write a rate such as `1k rps`"),
                    );
                None
            }
        },
        _ => {
            cx.diags.push(
                Diagnostic::error(
                    Code::UnitMismatch,
                    format!("expected a rate (or a percentage of `peak`), found {}", v.dim.name()),
                )
                .primary(e.span, format!("this is {}", v.dim.name()))
                .help("write a rate such as `1k rps` or `100/s`, or a share of the peak such as `50%`"),
            );
            None
        }
    }
}

fn lower_stages(cx: &mut Checker, b: &Block, peak: Option<f64>) -> Option<Vec<ir::Stage>> {
    let f = cx.fields(b, "`stages`", &[], &["stage"]);
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
            let msg = if ramp {
                "a ramp goes from one rate to another: `ramp 1k rps -> 20k rps over 10m`"
            } else {
                "only a ramp has `->`: write `burst 30k rps for 30s`"
            };
            cx.diags.push(
                Diagnostic::error(Code::BadStage, format!("malformed `{}` stage", kind.name))
                    .primary(item.span, msg)
                    .help("stages are `ramp A -> B over D`, `burst R for D`, `hold R for D` and `soak R for D`"),
            );
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
        cx.diags.push(
            Diagnostic::error(Code::BadStage, "`stages` is empty")
                .primary(b.span, "no stage")
                .help("add e.g. `ramp 10 rps -> 100 rps over 1m`"),
        );
        return None;
    }
    ok.then_some(out)
}

pub fn lower_chaos(cx: &mut Checker, services: &[Service]) -> Vec<ir::Chaos> {
    let mut out = Vec::new();
    for r in cx.decls("chaos") {
        let f = cx.fields(
            &r.decl.body,
            "a chaos experiment",
            &["target"],
            &["kill", "latency", "expect"],
        );
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
    let mut d = Diagnostic::error(
        Code::UnknownChaosAction,
        format!("cannot `{verb}` a `{}`", id.name),
    )
    .primary(id.span, "unknown here");
    d = match suggest(&id.name, allowed.iter().copied()) {
        Some(s) => d.help(format!("did you mean `{s}`?")),
        None => d.help(format!("use: {}", allowed.join(", "))),
    };
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
            let p99 = svc.budget.as_ref().and_then(|b| b.p99_ms).or_else(|| {
                svc.routes
                    .iter()
                    .filter_map(|r| r.budget.p99_ms)
                    .reduce(f64::max)
            });
            let Some(p99) = p99 else {
                cx.diags.push(
                    Diagnostic::error(
                        Code::ChaosNoBudget,
                        format!(
                            "`{}` has no p99 to take {}% of",
                            svc.name,
                            round3(v.v * 100.0)
                        ),
                    )
                    .primary(amount.span, "relative to what?")
                    .help(format!(
                        "give `{}` a budget with p99, or write an absolute delay such as `+50ms`",
                        svc.name
                    )),
                );
                return None;
            };
            let added = round3(v.v * p99);
            Some(ChaosAction::Latency {
                service: svc.name.clone(),
                added_ms: added,
                basis: Some(format!(
                    "{}% of {}'s p99 ({}) = {}",
                    round3(v.v * 100.0),
                    svc.name,
                    fmt_ms(p99),
                    fmt_ms(added)
                )),
            })
        }
        _ => {
            cx.wrong(
                amount,
                "a positive delay or percentage",
                "write `latency db +50ms` or `latency db +5%`",
            );
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
        cx.wrong(
            subject,
            "a probe such as `breaker(db)`",
            "write `expect breaker(db) opens and closes within 2m`",
        );
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
        cx.wrong(subject, "one service name", "write `breaker(db)`");
        return None;
    };
    cx.lookup("service", svc_id)?;
    let svc = cx.service(services, &svc_id.name)?;
    let mut evs = Vec::new();
    for e in events {
        let known = ["opens", "closes", "half_opens"];
        if !known.contains(&e.name.as_str()) {
            let mut d = Diagnostic::error(
                Code::UnknownChaosAction,
                format!("`{}` is not a circuit-breaker event", e.name),
            )
            .primary(e.span, "unknown event");
            d = match suggest(&e.name, known) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help("a breaker `opens`, `half_opens` and `closes`"),
            };
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
        let f = cx.fields(
            &r.decl.body,
            "a gate",
            &["contract", "query_plans", "migrations", "sbom", "signing"],
            &["condition"],
        );
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
            .and_then(|e| cx.word(e, &["sigstore", "none"]))
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
                let mut d = Diagnostic::error(
                    Code::UnknownGateCheck,
                    format!("the gate cannot check `{}`", subject.name),
                )
                .primary(subject.span, "unknown condition");
                d = match suggest(&subject.name, ["slo_burn"]) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d.help("a gate checks `slo_burn < 1x over 1h`, and the fields contract, query_plans, migrations, sbom, signing"),
                };
                cx.diags.push(d);
                continue;
            }
            if !matches!(op, CmpOp::Lt | CmpOp::Le) {
                cx.diags.push(
                    Diagnostic::error(Code::UnknownGateCheck, "a burn gate is an upper bound")
                        .primary(item.span, format!("`{}` is not `<` or `<=`", op.as_str()))
                        .help("write `slo_burn < 1x over 1h`"),
                );
                continue;
            }
            if let Some(prev) = burn_span {
                cx.diags.push(
                    Diagnostic::error(Code::DuplicateField, "`slo_burn` is given twice")
                        .primary(subject.span, "given again here")
                        .secondary(prev, "first given here")
                        .help("a gate has one burn condition: keep the stricter one"),
                );
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
        cx.wrong(
            e,
            &format!("a bound on `{subject}`"),
            &format!("write `{subject} < …`"),
        );
        return None;
    };
    if lhs.as_ident().is_none_or(|i| i.name != subject) {
        cx.wrong(
            lhs,
            &format!("`{subject}`"),
            &format!("this field bounds `{subject}`: write `{subject} < …`"),
        );
        return None;
    }
    let v = cx.positive(rhs, dim, true)?;
    match op {
        CmpOp::Lt | CmpOp::Le | CmpOp::Eq => Some(v),
        _ => {
            cx.diags.push(
                Diagnostic::error(
                    Code::UnknownGateCheck,
                    format!("`{subject}` takes an upper bound"),
                )
                .primary(e.span, format!("`{}` is not an upper bound", op.as_str()))
                .help(format!("write `{subject} < …` or `{subject} == 0`")),
            );
            None
        }
    }
}
