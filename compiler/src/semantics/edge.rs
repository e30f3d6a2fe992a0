//! Rules of the edge: what the proxy configs must be able to carry, and
//! what a limit enforced per proxy instance really allows.

use super::Checker;
use crate::diagnostics::{catalog, Diagnostic, Span};
use crate::ir::{LimitSource, Limits};
use crate::syntax::ast::ItemKind;

/// The longest route path, in bytes. nginx reads no configuration word
/// longer than 4 KiB, and a path becomes a regex there (a `.` is written
/// `\\x2E`): 1000 characters stay within it whatever they are.
pub const MAX_ROUTE_PATH: usize = 1000;

/// A route path too long for the proxy configs.
pub fn path_too_long(path: &str, span: Span) -> Option<Diagnostic> {
    (path.len() > MAX_ROUTE_PATH)
        .then(|| catalog::route_path_too_long(path.len(), MAX_ROUTE_PATH, span))
}

/// The longest JWKS address Envoy Gateway's SecurityPolicy takes; an
/// issuer must leave room for the default JWKS address derived from it
/// (`<issuer>/.well-known/jwks.json`).
pub const MAX_JWKS_URL: usize = 253;
pub const MAX_ISSUER: usize = MAX_JWKS_URL - "/.well-known/jwks.json".len();

/// An issuer or JWKS address longer than the Gateway resources carry.
pub fn url_too_long(what: &str, url: &str, span: Span) -> Option<Diagnostic> {
    let max = if what == "issuer" {
        MAX_ISSUER
    } else {
        MAX_JWKS_URL
    };
    (url.len() > max).then(|| catalog::url_too_long(what, url.len(), max, span))
}

/// Sticky counters HAProxy 2.6 tracks per request.
pub const HAPROXY_COUNTERS: usize = 3;

/// The checks of a `limits` block for the edge: keys past HAProxy's
/// counters, and limits multiplied by the edge's replicas.
pub fn check_limits(cx: &mut Checker, limits: Option<&Limits>) {
    let Some(limits) = limits else { return };
    check_replicas(cx, limits);
    check_counters(cx, limits);
}

/// The span of `per <key>` in the `limits` block.
fn key_span(cx: &Checker, key: &str) -> Option<Span> {
    cx.singletons.get("limits").and_then(|d| {
        d.body.items.iter().find_map(|item| match &item.kind {
            ItemKind::Per { key: k, .. } if k.name == key => Some(k.span),
            _ => None,
        })
    })
}

/// Limits are enforced by each proxy instance with its own buckets: with
/// `edge_replicas = N`, one key admits up to `N × rate` in all. A warning
/// when the excess over the stated rate, `(N − 1) × rate`, is more than
/// the key's burst (what one bucket already lets through at once); within
/// the burst, a note gives the effective global rate.
fn check_replicas(cx: &mut Checker, limits: &Limits) {
    let n = limits.edge_replicas;
    if n <= 1 {
        return;
    }
    let replicas_span = cx.singletons.get("limits").and_then(|d| {
        d.body
            .properties()
            .find(|(k, _, _)| k.name == "edge_replicas")
            .map(|(_, v, _)| v.span)
    });
    for k in &limits.keys {
        let excess = k.rate_rps * f64::from(n - 1);
        if excess <= f64::from(k.burst) {
            if let Some(span) = key_span(cx, &k.key) {
                let d =
                    catalog::effective_rate(&k.key, k.rate_rps, k.burst, n, span, replicas_span);
                cx.diags.push(d);
            }
            continue;
        }
        if let Some(span) = key_span(cx, &k.key) {
            let d = catalog::limit_multiplied(&k.key, k.rate_rps, k.burst, n, span, replicas_span);
            cx.diags.push(d);
        }
    }
}

/// `per` keys read from a header or the client address past HAProxy's
/// counters: a warning at the first key left out.
fn check_counters(cx: &mut Checker, limits: &Limits) {
    let read: Vec<&str> = limits
        .keys
        .iter()
        .filter(|k| !matches!(k.source, LimitSource::Claim(_)))
        .map(|k| k.key.as_str())
        .collect();
    if read.len() <= HAPROXY_COUNTERS {
        return;
    }
    let extra = read[HAPROXY_COUNTERS];
    if let Some(span) = key_span(cx, extra) {
        let d = catalog::limit_keys_over_haproxy(read.len(), HAPROXY_COUNTERS, span, extra);
        cx.diags.push(d);
    }
}
