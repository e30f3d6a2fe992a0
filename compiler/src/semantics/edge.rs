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

/// `per` keys read from a header or the client address past HAProxy's
/// counters: a warning at the first key left out.
pub fn check_limits(cx: &mut Checker, limits: Option<&Limits>) {
    let Some(limits) = limits else { return };
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
    let span = cx.singletons.get("limits").and_then(|d| {
        d.body.items.iter().find_map(|item| match &item.kind {
            ItemKind::Per { key, .. } if key.name == extra => Some(key.span),
            _ => None,
        })
    });
    if let Some(span) = span {
        let d = catalog::limit_keys_over_haproxy(read.len(), HAPROXY_COUNTERS, span, extra);
        cx.diags.push(d);
    }
}
