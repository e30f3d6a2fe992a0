//! Options on call edges (S0308–S0310) and a route's several limits and
//! own rates (S0404, S0405).

use super::*;

/// `calls psp { timeout = 2s  retries = 1 }` on a route whose p99 cannot
/// hold every try timing out.
#[allow(clippy::too_many_arguments)]
pub fn edge_over_budget(
    service: &str,
    route: &str,
    callee: &str,
    bound: &str,
    have: &str,
    cost: &str,
    tries: u32,
    route_span: Span,
    edge_span: Span,
) -> Diagnostic {
    let how = if tries > 1 {
        format!("{tries} tries")
    } else {
        "one try".to_string()
    };
    Diagnostic::error(
        Code::EdgeOverBudget,
        format!(
            "the call `{service} → {callee}` may take {cost} ({how}), more than the {bound} {have} of the route `{service}.{route}`"
        ),
    )
    .primary(edge_span, format!("up to {cost} with these options"))
    .secondary(route_span, format!("{bound} {have} here"))
    .note("a call costs its timeout × (retries + 1) when every try times out; without `timeout`, the callee's own p99 per try")
    .help("lower the edge's `timeout` or `retries`, or raise the route's p99")
}

/// Options written for the same callee twice in one service.
pub fn call_options_twice(callee: &str, span: Span, first: Span) -> Diagnostic {
    Diagnostic::error(
        Code::CallOptionsTwice,
        format!("the call to `{callee}` is given options twice"),
    )
    .primary(span, "options given again here")
    .secondary(first, "first given here")
    .help("write one `{ … }` per callee, with all its options")
}

/// `calls db { timeout = 50ms }` while `db`'s p99 is 200ms: more than one
/// call in a hundred is cut.
pub fn edge_timeout_below_callee(
    callee: &str,
    timeout: &str,
    callee_p99: &str,
    span: Span,
) -> Diagnostic {
    Diagnostic::warning(
        Code::EdgeTimeoutBelowCallee,
        format!("the timeout {timeout} of the call to `{callee}` is below its p99 {callee_p99}"),
    )
    .primary(span, "this timeout")
    .note(format!(
        "`{callee}` answers within {callee_p99} 99% of the time by its own budget: more than 1% of calls would time out"
    ))
    .help(format!(
        "raise the timeout to {callee_p99} or more, or tighten `{callee}`'s budget"
    ))
}

/// `limit = [per_ip, per_ip]` or two own rates of one key on a route.
pub fn route_limit_twice(key: &str, span: Span, first: Span) -> Diagnostic {
    Diagnostic::error(
        Code::RouteLimitTwice,
        format!("the route limits per `{key}` twice"),
    )
    .primary(span, "limited again here")
    .secondary(first, "first limited here")
    .help(format!(
        "keep one limit per key: the app-wide `per_{key}`, or one own rate `per_{key}(RATE)` (both together only when the own rate is lower)"
    ))
}

/// `limit = [per_api_key, per_api_key(200/s)]` under `per api_key { rate = 100/s }`.
pub fn own_rate_never_binds(key: &str, own: f64, shared: f64, span: Span) -> Diagnostic {
    Diagnostic::warning(
        Code::OwnRateNeverBinds,
        format!(
            "the route's own rate {own}/s per `{key}` is not below the app-wide {shared}/s it also takes from"
        ),
    )
    .primary(span, "never the tighter limit")
    .note("a request is refused when any of the route's buckets is empty; the app-wide bucket empties first")
    .help(format!(
        "lower the own rate below {shared}/s, or drop it (or `per_{key}`) from the list"
    ))
}

/// S1103 for a route's own `per_api_key(RATE)`: the test's share of its
/// peak on that route, spread over its keys, above the route's rate.
#[allow(clippy::too_many_arguments)]
pub fn route_key_rate_above_limit(
    test: &str,
    route: &str,
    route_peak: f64,
    keys: u32,
    limit: f64,
    peak_span: Span,
    limit_span: Span,
    keys_span: Option<Span>,
) -> Diagnostic {
    let per_key = route_peak / keys as f64;
    let needed = (route_peak / limit).ceil() as u64;
    // As the spec would write it (the wording of the app-wide S1103).
    let r = |v: f64| {
        let x = (v * 1000.0).round() / 1000.0;
        if x.fract() == 0.0 {
            format!("{} rps", x as i64)
        } else {
            format!("{x} rps")
        }
    };
    let mut d = Diagnostic::warning(
        Code::KeyRateAboveLimit,
        format!(
            "the load test `{test}` sends {} per API key to the route `{route}`, above its own limit of {}",
            r(per_key),
            r(limit)
        ),
    )
    .primary(
        peak_span,
        format!(
            "{} reach `{route}` at the peak: over {keys} keys, {} per key",
            r(route_peak),
            r(per_key)
        ),
    )
    .secondary(limit_span, format!("`{route}` allows {} per API key", r(limit)));
    if let Some(s) = keys_span {
        d = d.secondary(s, format!("{keys} keys"));
    }
    d.help(format!(
        "the test would measure its own throttling (429s) on `{route}`: set `api_keys = {needed}` or more on the load test, or lower its peak"
    ))
}
