//! Limits and auth.

use super::*;

pub fn unknown_limit_key(key: &str, span: Span, keys: &[&str]) -> Diagnostic {
    let d = Diagnostic::error(Code::UnknownLimitKey, format!("cannot limit per `{key}`"))
        .primary(span, "unknown limit key");
    suggest_or(d, span, key, keys, || {
        format!("limit per one of: {}", keys.join(", "))
    })
}

pub fn duplicate_limit_key(key: &str, span: Span, first: Span) -> Diagnostic {
    Diagnostic::error(Code::DuplicateName, format!("`per {key}` is given twice"))
        .primary(span, "given again here")
        .secondary(first, "first given here")
        .help("keep one limit per key")
}

/// `burst = 5` under `rate = 20/s`: the fix raises the burst to one second.
pub fn burst_below_rate(burst: u64, rate: f64, span: Span, rate_span: Span) -> Diagnostic {
    let min = rate.ceil();
    Diagnostic::error(
        Code::BurstBelowRate,
        format!("burst {burst} is less than one second of the rate ({rate}/s)"),
    )
    .primary(span, "too small a burst")
    .secondary(rate_span, "this rate")
    .help(format!(
        "a bucket smaller than one second of rate rejects steady traffic at the stated rate; use `burst = {min}` or more"
    ))
    .fix(Fix::replace(
        format!("replace `{burst}` with `{min}`"),
        span,
        format!("{min}"),
    ))
}

pub fn tenant_not_proxy_readable(span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::TenantNotProxyReadable,
        "`per tenant` cannot use a tenant read from a query or cookie",
    )
    .primary(span, "the app's tenant is not a header or claim")
    .help(
        "proxies key limits on headers or token claims: add `from = header(\"x-tenant-id\")` here",
    )
}

pub fn per_tenant_needs_tenant(span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::MissingField,
        "`per tenant` needs the app's `tenant` (or `from = …`)",
    )
    .primary(span, "where is the tenant read from?")
    .help("add `tenant = header(\"x-tenant-id\")` to the `app`, or `from = header(\"…\")` here")
}

/// A route's `limit = per_x` naming no declared limit; `has_limits`:
/// whether the project has a `limits` block at all.
pub fn undeclared_route_limit(
    written: &str,
    key: &str,
    span: Span,
    declared: &[String],
    has_limits: bool,
) -> Diagnostic {
    let d = Diagnostic::error(
        Code::UnknownLimitKey,
        format!("no limit is declared per `{key}`"),
    )
    .primary(span, "unknown limit");
    let cands: Vec<&str> = declared.iter().map(String::as_str).collect();
    suggest_or(d, span, written, &cands, || {
        if has_limits {
            format!("add `per {key} {{ rate = … }}` to `limits`")
        } else {
            format!("add `limits {{ per {key} {{ rate = 20/s }} }}`")
        }
    })
}

pub fn refresh_cap_long(cap: &str, span: Span) -> Diagnostic {
    Diagnostic::warning(
        Code::RefreshCapLong,
        format!("a session refreshable for {cap} outlives 30 days"),
    )
    .primary(span, "long-lived session")
    .help("a stolen session stays usable until the cap; 30d or less is the usual bound")
}

pub fn unknown_algorithm(name: &str, span: Span, algorithms: &[&str]) -> Diagnostic {
    let d = Diagnostic::error(
        Code::UnknownAlgorithm,
        format!("`{name}` is not a JWT algorithm scalec accepts"),
    )
    .primary(span, "unknown algorithm");
    if name.eq_ignore_ascii_case("none") {
        return d.help("unsigned tokens (`none`) are never accepted");
    }
    suggest_or(d, span, name, algorithms, || {
        format!("use one of: {}", algorithms.join(", "))
    })
}

pub fn jwt_size_too_large(bytes: f64, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::JwtSizeTooLarge,
        format!("a token cap of {bytes} bytes is above 8KiB (8192 bytes)"),
    )
    .primary(span, "headers this large break proxies")
    .help("proxies reject large request headers (nginx's default buffer is 8KiB a line); keep tokens at 2KiB or less")
}

pub fn jwt_size_large(bytes: f64, span: Span) -> Diagnostic {
    Diagnostic::warning(
        Code::JwtSizeLarge,
        format!("a token cap of {bytes} bytes is above 2KiB (2048 bytes)"),
    )
    .primary(span, "large tokens")
    .help(
        "tokens above 2KiB slow every request and near header limits; move claims out of the token",
    )
}

pub fn rotation_start(value: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::RotationStart,
        format!("`{}` is not a UTC date or time", value.escape_debug()),
    )
    .primary(span, "not a date")
    .help("write the day key `k0` starts signing as \"YYYY-MM-DD\" (UTC midnight) or \"YYYY-MM-DDTHH:MM:SSZ\", a year from 1970 to 9999")
}

pub fn rotation_overlap(overlap: &str, every: &str, span: Span, every_span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::RotationOverlap,
        format!("the overlap {overlap} is not shorter than the rotation period {every}"),
    )
    .primary(span, "overlap too long")
    .secondary(every_span, "rotation period")
    .help("old and new keys overlap for part of a period: make `overlap` shorter than `every`")
}
