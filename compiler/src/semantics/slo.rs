//! `slo` and `alert_policy`: objectives, SLIs bound to real series, and the
//! multiwindow multi-burn-rate alert windows, scaled to each SLO's period.

use super::values::fmt_ms;
use super::{schema, Checker, Dim};
use crate::diagnostics::{catalog, Span};
use crate::ir::{self, AlertPolicy, BurnWindow, Service, Sli};
use crate::syntax::ast::{BinOp, Block, CmpOp, Expr, ExprKind, ItemKind};
use std::collections::BTreeMap;

/// The histogram a service exports unless `metrics { latency = … }` says otherwise.
pub const DEFAULT_LATENCY_HISTOGRAM: &str = "http_server_request_duration_seconds";

/// OpenTelemetry's default bucket bounds for `http.server.request.duration`, in ms.
pub const OTEL_BUCKETS_MS: &[f64] = &[
    5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0, 7500.0,
    10000.0,
];

/// The longest `for` an SLO's alerts may wait: a day.
const MAX_FOR_MS: f64 = 86_400_000.0;

pub fn lower_slos(cx: &mut Checker, services: &mut [Service]) -> Vec<ir::Slo> {
    // A service that keeps the default histogram exports the OpenTelemetry
    // default boundaries (`http.server.request.duration`): a latency SLI can
    // only count requests under one of them.
    for s in services.iter_mut() {
        if s.metrics.buckets_ms.is_none()
            && s.metrics.latency_histogram == DEFAULT_LATENCY_HISTOGRAM
        {
            s.metrics.buckets_ms = Some(OTEL_BUCKETS_MS.to_vec());
        }
    }
    let decls = cx.decls("slo");
    let mut out = Vec::with_capacity(decls.len());
    for r in decls {
        if let Some(s) = lower_slo(cx, &r.name.name, &r.decl.body, services) {
            cx.record_slo(r, &s);
            out.push(s);
        }
    }
    // Policies are checked even when no SLO uses them.
    for r in cx.decls("alert_policy") {
        if r.std.is_none() {
            lower_policy(cx, r.name.name.clone(), &r.decl.body);
        }
    }
    out
}

fn lower_slo(cx: &mut Checker, name: &str, body: &Block, services: &[Service]) -> Option<ir::Slo> {
    let f = cx.fields(body, &schema::SLO);
    // service = api | api.route
    let target = f.required(cx, "service", "api");
    let (service, route) = match target.map(|e| &e.kind) {
        Some(ExprKind::Path(p)) if p.len() <= 2 => {
            let r = cx.lookup("service", &p[0]);
            let svc = r.and_then(|_| cx.service(services, &p[0].name));
            let route = match (p.get(1), svc) {
                (Some(rn), Some(svc)) => {
                    if svc.routes.iter().any(|x| x.name == rn.name) {
                        cx.model.refer_route(rn, &p[0].name);
                        Some(rn.name.clone())
                    } else {
                        let names: Vec<&str> = svc.routes.iter().map(|x| x.name.as_str()).collect();
                        cx.unknown("route", rn, &names);
                        None
                    }
                }
                _ => None,
            };
            (svc, route)
        }
        Some(_) => {
            let e = target.expect("checked");
            cx.wrong(e, catalog::Expected::ServiceOrRoute);
            (None, None)
        }
        None => (None, None),
    };
    let objective = f.required(cx, "objective", "99.9%").and_then(|e| {
        let v = cx.quantity(e, Dim::Fraction)?;
        if !(v > 0.0 && v < 1.0) {
            cx.diags
                .push(catalog::objective_range(&round_pct(v).to_string(), e.span));
            return None;
        }
        Some((v, e.span))
    });
    let window_expr = f.expr(cx, "window");
    let window_ms = match window_expr {
        Some(e) => cx.bounded(
            e,
            Dim::Duration,
            86_400_000.0,
            366.0 * 86_400_000.0,
            "1d..366d",
        ),
        None => Some(schema::default_of(&schema::SLO, "window", Dim::Duration)),
    };
    let sli = f
        .required(cx, "sli", "errors(status >= 500) / requests")
        .and_then(|e| lower_sli(cx, e));
    let alerts_expr = f.expr(cx, "alerts");
    let runbook = match f.expr(cx, "runbook") {
        None => Some(None),
        Some(e) => cx.text(e).and_then(|url| {
            let bad = super::url_flaw(&url);
            if url.strip_prefix("https://").is_none_or(|r| r.is_empty()) || bad.is_some() {
                cx.diags.push(catalog::not_http_url(
                    &url,
                    bad,
                    e.span,
                    "https://runbooks.example.com/slo",
                ));
                None
            } else {
                Some(Some(url))
            }
        }),
    };
    let labels = match f.block(cx, "labels") {
        Some(b) => lower_text_map(cx, b, "labels", MapKeys::AlertLabels),
        None => Some(BTreeMap::new()),
    };
    let annotations = match f.block(cx, "annotations") {
        Some(b) => lower_text_map(cx, b, "annotations", MapKeys::Annotations),
        None => Some(BTreeMap::new()),
    };
    // `for = 2m`: how long a burn-rate alert must hold before it fires.
    let for_ms = match f.expr(cx, "for") {
        None => Some(None),
        Some(e) => cx
            .bounded(e, Dim::Duration, 0.0, MAX_FOR_MS, "0s..1d")
            .map(|v| (v > 0.0).then_some(v)),
    };
    let policy = lower_policy_ref(cx, alerts_expr)?;
    let (runbook, labels, annotations, for_ms) = (runbook?, labels?, annotations?, for_ms?);
    let (service, (objective, objective_span), window_ms, sli) =
        (service?, objective?, window_ms?, sli?);
    let sli = match sli {
        (Sli::Latency { threshold_ms }, span) => {
            check_bucket(cx, service, threshold_ms, span)?;
            Sli::Latency { threshold_ms }
        }
        (other, _) => other,
    };
    let budget = 1.0 - objective;
    let mut windows = Vec::new();
    for w in &policy.windows {
        if w.long_ms > window_ms {
            let d = catalog::alert_beyond_slo(
                &w.name,
                &fmt_ms(w.long_ms),
                &fmt_ms(window_ms),
                window_expr.map(|e| e.span),
                w.span,
                body.span,
            );
            cx.diags.push(d);
            continue;
        }
        let factor = match w.factor {
            Some(f) => f,
            None => burn_factor(w.share, window_ms, w.long_ms),
        };
        if factor * budget > 1.0 + 1e-12 {
            let d = catalog::burn_factor_impossible(
                &w.name,
                (factor * 1e4).round() / 1e4,
                &round_pct(objective).to_string(),
                (factor * budget * 1000.0).round() / 10.0,
                objective_span,
                w.span,
            );
            cx.diags.push(d);
            continue;
        }
        windows.push(BurnWindow {
            severity: w.severity,
            long_ms: w.long_ms,
            short_ms: w.short_ms,
            factor: super::values::tidy(factor),
            // With an explicit factor, the share of the budget it stands for.
            budget_share: super::values::tidy(factor * w.long_ms / window_ms),
        });
    }
    if windows.len() != policy.windows.len() {
        return None;
    }
    Some(ir::Slo {
        for_ms,
        runbook,
        labels,
        annotations,
        name: name.to_string(),
        service: service.name.clone(),
        route,
        objective,
        window_ms,
        sli,
        alerts: AlertPolicy {
            name: policy.name,
            windows,
        },
    })
}

/// The burn-rate factor at which a window spends `budget_share` of the
/// error budget of an SLO period (`window_ms`) within `long_ms`:
/// `share × period / long`, to 12 significant digits. 2% of a 30-day
/// budget in 1h is 14.4×; over a 28-day period the same 2% is 13.44×.
pub fn burn_factor(budget_share: f64, window_ms: f64, long_ms: f64) -> f64 {
    super::values::tidy(budget_share * window_ms / long_ms)
}

fn round_pct(v: f64) -> f64 {
    (v * 100.0 * 1e6).round() / 1e6
}

fn lower_sli(cx: &mut Checker, e: &Expr) -> Option<(Sli, Span)> {
    let bad = |cx: &mut Checker| {
        cx.diags.push(catalog::sli_not_understood(e.span));
        None
    };
    match &e.kind {
        ExprKind::Binary {
            op: BinOp::Div,
            lhs,
            rhs,
        } => {
            let ok_rhs = rhs.as_ident().is_some_and(|i| i.name == "requests");
            let ExprKind::Call { callee, args } = &lhs.kind else {
                return bad(cx);
            };
            if callee.name != "errors" || !ok_rhs || args.len() != 1 {
                return bad(cx);
            }
            // Terms joined by `|`: `status >= 500` (a whole class, 4xx or
            // 5xx) or `status == 429` (one code, any: spelled out).
            let mut terms = Vec::new();
            let mut stack = vec![&args[0].value];
            while let Some(t) = stack.pop() {
                match &t.kind {
                    ExprKind::Binary {
                        op: BinOp::Or,
                        lhs,
                        rhs,
                    } => {
                        stack.push(rhs);
                        stack.push(lhs);
                    }
                    _ => terms.push(t),
                }
            }
            let mut min: Option<u16> = None;
            let mut codes: Vec<u16> = Vec::new();
            for t in terms {
                let ExprKind::Binary {
                    op: BinOp::Cmp(op),
                    lhs: l,
                    rhs: r,
                } = &t.kind
                else {
                    return bad(cx);
                };
                if l.as_ident().is_none_or(|i| i.name != "status") {
                    return bad(cx);
                }
                match op {
                    CmpOp::Ge | CmpOp::Gt => {
                        let v = cx.integer(r, 100.0, 599.0)? as u16;
                        let from = if *op == CmpOp::Gt { v + 1 } else { v };
                        if from % 100 != 0 {
                            cx.diags.push(catalog::status_not_class(r.span));
                            return None;
                        }
                        if from < 400 {
                            cx.diags.push(catalog::status_counts_success(from, r.span));
                            return None;
                        }
                        min = Some(min.map_or(from, |m| m.min(from)));
                    }
                    CmpOp::Eq => {
                        let v = cx.integer(r, 100.0, 599.0)? as u16;
                        codes.push(v);
                    }
                    _ => return bad(cx),
                }
            }
            codes.sort_unstable();
            codes.dedup();
            if let Some(m) = min {
                codes.retain(|c| *c < m);
            }
            Some((
                Sli::Availability {
                    error_status_min: min,
                    error_codes: codes,
                },
                e.span,
            ))
        }
        ExprKind::Binary {
            op: BinOp::Cmp(op @ (CmpOp::Lt | CmpOp::Le)),
            lhs,
            rhs,
        } if lhs.as_ident().is_some_and(|i| i.name == "latency") => {
            let _ = op;
            let t = cx.positive(rhs, Dim::Duration, false)?;
            Some((Sli::Latency { threshold_ms: t }, rhs.span))
        }
        _ => bad(cx),
    }
}

fn check_bucket(cx: &mut Checker, s: &Service, t: f64, span: Span) -> Option<()> {
    let Some(b) = &s.metrics.buckets_ms else {
        return Some(());
    };
    if b.iter().any(|x| (x - t).abs() < 1e-9) {
        return Some(());
    }
    let below = b
        .iter()
        .copied()
        .filter(|x| *x < t)
        .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
    let above = b
        .iter()
        .copied()
        .filter(|x| *x > t)
        .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.min(x))));
    cx.diags.push(catalog::latency_not_bucket(
        &fmt_ms(t),
        &s.metrics.latency_histogram,
        (below.map(fmt_ms), above.map(fmt_ms)),
        &b.iter().map(|x| fmt_ms(*x)).collect::<Vec<_>>(),
        span,
    ));
    None
}

#[derive(Clone)]
pub(crate) struct PolicyWindow {
    name: String,
    severity: ir::Severity,
    long_ms: f64,
    short_ms: f64,
    share: f64,
    factor: Option<f64>,
    span: Option<Span>,
}

#[derive(Clone)]
pub(crate) struct Policy {
    name: String,
    windows: Vec<PolicyWindow>,
}

/// `alerts = NAME` (default: `std.slo.multiwindow`).
fn lower_policy_ref(cx: &mut Checker, e: Option<&Expr>) -> Option<Policy> {
    let (name, body) = match e {
        Some(e) => {
            let Some(id) = e.as_ident() else {
                cx.wrong(e, catalog::Expected::AlertPolicyName);
                return None;
            };
            let r = cx.lookup("alert_policy", id)?;
            (id.name.clone(), &r.decl.body)
        }
        None => {
            let project = cx.project;
            let file = project
                .files
                .iter()
                .find(|f| f.std_module.as_deref() == Some("slo"))?;
            let d = file
                .ast
                .decls
                .iter()
                .find(|d| d.name.as_ref().is_some_and(|n| n.name == "multiwindow"))?;
            ("multiwindow".to_string(), &d.body)
        }
    };
    lower_policy(cx, name, body)
}

/// Each policy is lowered (and its problems reported) once, however many
/// SLOs use it.
fn lower_policy(cx: &mut Checker, name: String, body: &Block) -> Option<Policy> {
    if let Some(p) = cx.policies.get(&body.span) {
        return p.clone();
    }
    let p = lower_policy_once(cx, name, body);
    cx.policies.insert(body.span, p.clone());
    p
}

fn lower_policy_once(cx: &mut Checker, name: String, body: &Block) -> Option<Policy> {
    if body.items.is_empty() {
        cx.diags
            .push(catalog::policy_without_windows(&name, body.span));
        return None;
    }
    let mut windows = Vec::new();
    for item in &body.items {
        let ItemKind::Block { name: wname, block } = &item.kind else {
            cx.diags.push(catalog::policy_item_not_window(item.span));
            continue;
        };
        let f = cx.fields(block, &schema::WINDOW);
        let severity = f
            .required(cx, "severity", "page")
            .and_then(|e| cx.word(e, schema::words(&schema::WINDOW, "severity")))
            .and_then(|w| w.parse::<ir::Severity>().ok());
        let long_e = f.required(cx, "long", "1h");
        let long = long_e.and_then(|e| cx.positive(e, Dim::Duration, false));
        let short_e = f.required(cx, "short", "5m");
        let short = short_e.and_then(|e| cx.positive(e, Dim::Duration, false));
        let share = f.expr(cx, "budget").and_then(|e| {
            let v = cx.positive(e, Dim::Fraction, false)?;
            if v > 1.0 {
                cx.diags.push(catalog::window_budget_above_all(e.span));
                return None;
            }
            Some(v)
        });
        let factor = f
            .expr(cx, "factor")
            .and_then(|e| cx.positive(e, Dim::Factor, false));
        if share.is_none() && factor.is_none() {
            if f.get("budget").is_none() && f.get("factor").is_none() {
                f.required(cx, "budget", "2%");
            }
            continue;
        }
        let (Some(severity), Some(long), Some(short)) = (severity, long, short) else {
            continue;
        };
        if long <= short {
            cx.diags.push(catalog::long_not_longer(
                &fmt_ms(long),
                &fmt_ms(short),
                long_e.expect("long").span,
                short_e.expect("short").span,
            ));
            continue;
        }
        windows.push(PolicyWindow {
            name: wname.name.clone(),
            severity,
            long_ms: long,
            short_ms: short,
            share: share.unwrap_or(0.0),
            factor,
            span: Some(wname.span),
        });
    }
    if windows.is_empty() {
        return None;
    }
    Some(Policy { name, windows })
}

/// Labels the SLO rules set themselves.
pub const RESERVED_ALERT_LABELS: &[&str] =
    &["app", "service", "slo", "route", "window", "severity"];

/// What the names of a text map must be.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum MapKeys {
    /// Alert labels: Prometheus label names, not `__…`, not reserved.
    AlertLabels,
    /// Annotations: any name.
    Annotations,
    /// Labels of Kubernetes objects: names and values as Kubernetes takes them.
    KubernetesLabels,
}

fn k8s_label_ok(s: &str, empty_ok: bool) -> bool {
    if s.is_empty() {
        return empty_ok;
    }
    s.len() <= 63
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// `labels { name = "text" … }` and the like: one-line texts by name.
pub(crate) fn lower_text_map(
    cx: &mut Checker,
    b: &Block,
    what: &str,
    keys: MapKeys,
) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut first: BTreeMap<String, Span> = BTreeMap::new();
    let mut ok = true;
    for item in &b.items {
        let ItemKind::Property { key, value, .. } = &item.kind else {
            cx.diags.push(catalog::map_item_not_text(what, item.span));
            ok = false;
            continue;
        };
        let name = key.name.as_str();
        if let Some(prev) = first.get(name) {
            cx.diags
                .push(catalog::duplicate_field(name, key.span, *prev));
            ok = false;
            continue;
        }
        first.insert(name.to_string(), key.span);
        match keys {
            MapKeys::AlertLabels if name.starts_with("__") => {
                cx.diags.push(catalog::internal_label(name, key.span));
                ok = false;
                continue;
            }
            MapKeys::AlertLabels if RESERVED_ALERT_LABELS.contains(&name) => {
                cx.diags.push(catalog::reserved_alert_label(name, key.span));
                ok = false;
                continue;
            }
            MapKeys::KubernetesLabels if !k8s_label_ok(name, false) => {
                cx.diags
                    .push(catalog::bad_label_value("name", name, key.span));
                ok = false;
                continue;
            }
            _ => {}
        }
        let Some(text) = cx.text(value) else {
            ok = false;
            continue;
        };
        if keys == MapKeys::KubernetesLabels && !k8s_label_ok(&text, true) {
            cx.diags
                .push(catalog::bad_label_value("value", &text, value.span));
            ok = false;
            continue;
        }
        out.insert(name.to_string(), text);
    }
    ok.then_some(out)
}

/// `alert_severities { page = "P1"  ticket = "P3" }`: the `severity` label
/// values of a page and a ticket. Each must be a plain word (what any
/// Alertmanager matcher or receiver mapping takes unquoted), and the two
/// must differ, or a page could not be routed apart from a ticket.
pub(crate) fn lower_alert_severities(cx: &mut Checker, b: &Block) -> Option<ir::AlertSeverities> {
    let f = cx.fields(b, &schema::ALERT_SEVERITIES);
    let defaults = ir::AlertSeverities::default();
    let mut ok = true;
    let read = |cx: &mut Checker, key: &str, default: &str| -> Option<(String, Option<Span>)> {
        let Some(e) = f.expr(cx, key) else {
            return Some((default.to_string(), None));
        };
        let text = cx.text(e)?;
        if !k8s_label_ok(&text, false) {
            cx.diags
                .push(catalog::bad_severity_name(key, &text, e.span));
            return None;
        }
        Some((text, Some(e.span)))
    };
    let page = read(cx, "page", &defaults.page);
    let ticket = read(cx, "ticket", &defaults.ticket);
    let (Some((page, page_span)), Some((ticket, ticket_span))) = (page, ticket) else {
        return None;
    };
    if page == ticket {
        let span = ticket_span.or(page_span).unwrap_or(b.span);
        let other = if ticket_span.is_some() {
            page_span
        } else {
            None
        };
        cx.diags.push(catalog::severities_alike(&page, span, other));
        ok = false;
    }
    ok.then_some(ir::AlertSeverities { page, ticket })
}
