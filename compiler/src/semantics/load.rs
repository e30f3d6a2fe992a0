//! Load tests as they will run (the k6 target): stage sanity, and the
//! test's own traffic against the spec's own limits. Runs after lowering,
//! on the IR tests and their declarations; reads the syntax only for spans
//! (no field is evaluated twice, so nothing is reported twice).
//!
//! - S1101 (warning): a ramp that starts and ends at the same rate.
//! - S1102: a test whose every stage is at 0 rps (k6 would have no
//!   scenario to run), unless it replays a trace.
//! - S1103 (warning): the test's peak spread over its API keys
//!   (`api_keys`, [`ir::DEFAULT_API_KEYS`] by default) is above the spec's
//!   `per api_key` rate: the test would measure its own 429s. Labels the
//!   peak stage (or `peak`), the limit's `rate` and `api_keys` if written.

use super::Checker;
use crate::diagnostics::{catalog, Span};
use crate::ir::{self, LimitSource};
use crate::syntax::ast::{Block, Expr, ExprKind, Item, ItemKind};

/// `mask = ["email", "authorization"]`: names a trace field can have
/// (checked like a token), repeats dropped.
pub fn mask_fields(cx: &mut Checker, e: &Expr) -> Vec<String> {
    let ExprKind::List(items) = &e.kind else {
        cx.diags.push(catalog::mask_not_list(e.span));
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for it in items {
        if let Some(s) = cx.token(it) {
            if !out.iter().any(|o| o.eq_ignore_ascii_case(&s)) {
                out.push(s);
            }
        }
    }
    out
}

fn property<'a>(block: &'a Block, name: &str) -> Option<&'a Item> {
    block.items.iter().find(|i| match &i.kind {
        ItemKind::Property { key, .. } => key.name == name,
        _ => false,
    })
}

fn value_span(item: &Item) -> Span {
    match &item.kind {
        ItemKind::Property { value, .. } => value.span,
        _ => item.span,
    }
}

fn stages_block(body: &Block) -> Option<&Block> {
    body.items.iter().find_map(|i| match &i.kind {
        ItemKind::Block { name, block } if name.name == "stages" => Some(block),
        ItemKind::Property {
            key,
            block: Some(b),
            ..
        } if key.name == "stages" => Some(b),
        _ => None,
    })
}

/// The span of the `rate` of `per api_key`, when the key is read from a
/// header (the only kind of key a load generator varies).
fn api_key_limit(cx: &Checker, limits: Option<&ir::Limits>) -> Option<(f64, Span)> {
    let key = limits?
        .keys
        .iter()
        .find(|k| k.key == "api_key" && matches!(k.source, LimitSource::Header(_)))?;
    let decl = cx.singletons.get("limits")?;
    let span = decl.body.items.iter().find_map(|i| match &i.kind {
        ItemKind::Per { key: k, block } if k.name == "api_key" => {
            property(block, "rate").map(value_span)
        }
        _ => None,
    })?;
    Some((key.rate_rps, span))
}

/// The routes of `service` with an own `per_api_key(RATE)` read from a
/// header: (route, its class, the rate, where the rate is written).
fn own_api_key_limits(
    cx: &Checker,
    services: &[ir::Service],
    service: &str,
) -> Vec<(String, String, f64, Span)> {
    let Some(svc) = cx.service(services, service) else {
        return Vec::new();
    };
    // The symbol table holds the first declaration of each name, as
    // `decls` lists them.
    let Some(decl) = cx.symbols.get("service").and_then(|t| t.get(service)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for r in &svc.routes {
        let Some(l) = r
            .limits
            .iter()
            .find(|l| l.own && l.key == "api_key" && matches!(l.source, LimitSource::Header(_)))
        else {
            continue;
        };
        // The written rate: the first argument of `per_api_key(…)`.
        let span = decl.decl.body.items.iter().find_map(|i| match &i.kind {
            ItemKind::Route {
                name,
                block: Some(b),
                ..
            } if name.name == r.name => {
                let v = property(b, "limit")?;
                let ItemKind::Property { value, .. } = &v.kind else {
                    return None;
                };
                let items: Vec<&Expr> = match &value.kind {
                    ExprKind::List(xs) => xs.iter().collect(),
                    _ => vec![value],
                };
                items.into_iter().find_map(|e| match &e.kind {
                    ExprKind::Call { callee, args }
                        if callee.name.strip_prefix("per_").unwrap_or(&callee.name)
                            == "api_key" =>
                    {
                        args.iter()
                            .find(|a| a.name.as_ref().is_none_or(|n| n.name == "rate"))
                            .map(|a| a.value.span)
                    }
                    _ => None,
                })
            }
            _ => None,
        });
        if let Some(span) = span {
            out.push((
                r.name.clone(),
                r.class.as_str().to_string(),
                l.rate_rps,
                span,
            ));
        }
    }
    out
}

pub fn check(
    cx: &mut Checker,
    tests: &[ir::LoadTest],
    limits: Option<&ir::Limits>,
    services: &[ir::Service],
) {
    let limit = api_key_limit(cx, limits);
    for r in cx.decls("load_test") {
        let Some(test) = tests.iter().find(|t| t.name == r.name.name) else {
            continue;
        };
        let body = &r.decl.body;
        let stage_items: Vec<&Item> = stages_block(body)
            .map(|b| {
                b.items
                    .iter()
                    .filter(|i| matches!(i.kind, ItemKind::Stage { .. }))
                    .collect()
            })
            .unwrap_or_default();
        // Lowered one to one when written in the test (not from a shape).
        let items = (stage_items.len() == test.stages.len()).then_some(stage_items);
        if let Some(items) = &items {
            for (item, st) in items.iter().zip(&test.stages) {
                if st.kind == ir::StageKind::Ramp && st.from_rps == st.to_rps {
                    cx.diags
                        .push(catalog::ramp_goes_nowhere(st.from_rps, item.span));
                }
            }
        }
        let peak_of = |s: &ir::Stage| s.from_rps.max(s.to_rps);
        let peak = test.stages.iter().map(peak_of).fold(0.0, f64::max);
        // Where the peak was written: its stage, else `peak`, else `shape`.
        let peak_span = items
            .as_ref()
            .and_then(|items| {
                let i = test.stages.iter().position(|s| peak_of(s) == peak)?;
                Some(items[i].span)
            })
            .or_else(|| property(body, "peak").map(value_span))
            .or_else(|| property(body, "shape").map(value_span))
            .unwrap_or(r.name.span);
        if peak <= 0.0 && test.replay.is_none() {
            let span = stages_block(body).map(|b| b.span).unwrap_or(peak_span);
            cx.diags.push(catalog::no_traffic(&test.name, span));
            continue;
        }
        // A route's own `per_api_key(RATE)`: the route's share of the peak
        // (its class's share, split evenly among the class's routes, as
        // the k6 runtime sends them) spread over the keys.
        let keys = test.api_keys.unwrap_or(ir::DEFAULT_API_KEYS);
        let keys_span = property(body, "api_keys").map(value_span);
        let target = cx.service(services, &test.target);
        for (route, class, rate, span) in own_api_key_limits(cx, services, &test.target) {
            let share = test.mix.get(&class).copied().unwrap_or(0.0);
            let in_class = target.map_or(1, |s| {
                s.routes
                    .iter()
                    .filter(|r| r.class.as_str() == class)
                    .count()
                    .max(1)
            });
            let route_peak = peak * share / in_class as f64;
            if route_peak / keys as f64 > rate + 1e-9 {
                cx.diags.push(catalog::route_key_rate_above_limit(
                    &test.name, &route, route_peak, keys, rate, peak_span, span, keys_span,
                ));
            }
        }
        if let Some((rate, limit_span)) = limit {
            if peak / keys as f64 > rate + 1e-9 {
                let keys_span = property(body, "api_keys").map(value_span);
                cx.diags.push(catalog::key_rate_above_limit(
                    &test.name, peak, keys, rate, peak_span, limit_span, keys_span,
                ));
            }
        }
    }
}
