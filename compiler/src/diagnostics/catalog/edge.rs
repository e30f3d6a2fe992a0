//! The edge: what the proxy target cannot express, and the checker's rule
//! on limits enforced per proxy instance (S1201–S1299).

use super::{Code, Diagnostic};

/// A header name nginx cannot read (`$http_…` holds letters, digits and
/// `_`; `-` maps to `_`): `what` says where it is used.
pub fn proxy_header_unreadable(header: &str, what: &str) -> Diagnostic {
    Diagnostic::error(
        Code::InvalidName,
        format!("the proxy target cannot read the header {header:?} ({what})"),
    )
    .help("nginx reads request headers named with letters, digits, `-` and `_` only; rename the header (for example `x-api-key`)")
}

/// A string of the spec that a proxy config format cannot hold.
pub fn proxy_unrepresentable(format: &str, ch: char, what: &str) -> Diagnostic {
    Diagnostic::error(
        Code::InvalidPath,
        format!(
            "{format} cannot hold the character U+{:04X} of {what}",
            ch as u32
        ),
    )
    .help("remove the character; the proxy configs must carry the value exactly or not at all")
}

/// More `per` keys read from a header or the address than HAProxy 2.6
/// tracks per request (3 sticky counters): the keys past the third are not
/// enforced by `haproxy.cfg`.
pub fn limit_keys_over_haproxy(n: usize, max: usize, span: super::Span, extra: &str) -> Diagnostic {
    Diagnostic::warning(
        Code::LimitKeysOverHaproxy,
        format!("{n} limit keys are read from headers or the client address; HAProxy tracks {max} per request"),
    )
    .primary(span, format!("`per {extra}` is not enforced by haproxy.cfg"))
    .help(format!("keep at most {max} `per` keys read from a header or the address (a key read from a JWT claim does not count), or use the Envoy or nginx config"))
}

/// A route path longer than the proxies can carry.
pub fn route_path_too_long(len: usize, max: usize, span: super::Span) -> Diagnostic {
    Diagnostic::error(
        Code::RoutePathTooLong,
        format!("a route path of {len} bytes is longer than {max}"),
    )
    .primary(span, "this path")
    .help(format!(
        "keep route paths to {max} bytes: the proxy configs carry each path as one word, and nginx reads none longer than 4 KiB"
    ))
}

/// A JWT issuer or JWKS address longer than Envoy Gateway takes.
pub fn url_too_long(what: &str, len: usize, max: usize, span: super::Span) -> Diagnostic {
    Diagnostic::error(
        Code::UrlTooLong,
        format!("the {what} address is {len} characters long; the edge configs take at most {max}"),
    )
    .primary(span, "this address")
    .help(format!(
        "Envoy Gateway's SecurityPolicy takes issuers and JWKS addresses of at most 253 characters (an issuer at most {}, so that `<issuer>/.well-known/jwks.json` fits); use a shorter address",
        253 - "/.well-known/jwks.json".len()
    ))
}

/// A per-key limit enforced by each of `replicas` proxy instances: up to
/// `replicas × rate` in all, more than the burst over the stated rate.
pub fn limit_multiplied(
    key: &str,
    rate: f64,
    burst: u32,
    replicas: u32,
    span: super::Span,
    replicas_span: Option<super::Span>,
) -> Diagnostic {
    let global = rate * f64::from(replicas);
    let mut d = Diagnostic::warning(
        Code::LimitMultiplied,
        format!(
            "`per {key}` is enforced by each of {replicas} edge replicas: up to {}/s in all, not {}/s",
            num(global),
            num(rate)
        ),
    )
    .primary(span, format!("{}/s, burst {burst}, per replica", num(rate)));
    if let Some(s) = replicas_span {
        d = d.secondary(s, "each replica has its own buckets");
    }
    d.help(format!(
        "the excess ({}/s) is more than the burst ({burst}); state the rate per replica (`rate = {}/s` gives {}/s in all) or enforce it in one place",
        num(global - rate),
        num(rate / f64::from(replicas)),
        num(rate)
    ))
}

fn num(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{}", x.round() as i64)
    } else {
        format!("{x:.2}")
    }
}

/// Within the burst: what the key admits in all, for the author to see.
pub fn effective_rate(
    key: &str,
    rate: f64,
    burst: u32,
    replicas: u32,
    span: super::Span,
    replicas_span: Option<super::Span>,
) -> Diagnostic {
    let global = rate * f64::from(replicas);
    let mut d = Diagnostic::informational(
        Code::EffectiveRate,
        format!(
            "`per {key}` admits up to {}/s in all across {replicas} edge replicas",
            num(global)
        ),
    )
    .primary(span, format!("{}/s per replica", num(rate)));
    if let Some(s) = replicas_span {
        d = d.secondary(s, "each replica has its own buckets");
    }
    d.help(format!(
        "the excess over the stated rate ({}/s) is within the burst ({burst}); nothing to change unless {}/s is meant for all replicas together",
        num(global - rate),
        num(rate)
    ))
}
