//! Load tests as the k6 target runs them: stage sanity and the test's own
//! traffic against the spec's own limits (S1101–S1103).

use super::*;

/// A number of requests per second as the spec would write it.
fn rps(v: f64) -> String {
    let r = (v * 1000.0).round() / 1000.0;
    if r.fract() == 0.0 {
        format!("{} rps", r as i64)
    } else {
        format!("{r} rps")
    }
}

/// `ramp 5 rps -> 5 rps over 1m`.
pub fn ramp_goes_nowhere(rate: f64, span: Span) -> Diagnostic {
    Diagnostic::warning(
        Code::RampGoesNowhere,
        format!("this ramp stays at {}", rps(rate)),
    )
    .primary(span, "starts and ends at the same rate")
    .help(format!(
        "a ramp goes from one rate to another; for a steady level write `hold {} for …`",
        rps(rate)
    ))
}

/// Every stage of a load test at 0 rps.
pub fn no_traffic(test: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::NoTraffic,
        format!("the load test `{test}` never sends a request"),
    )
    .primary(span, "every stage is at 0 rps")
    .help("give at least one stage a rate above zero, such as `hold 10 rps for 1m`")
}

/// The test's peak spread over its API keys is above `per api_key`.
pub fn key_rate_above_limit(
    test: &str,
    peak: f64,
    keys: u32,
    limit: f64,
    peak_span: Span,
    limit_span: Span,
    keys_span: Option<Span>,
) -> Diagnostic {
    let per_key = peak / keys as f64;
    let needed = (peak / limit).ceil() as u64;
    let mut d = Diagnostic::warning(
        Code::KeyRateAboveLimit,
        format!(
            "the load test `{test}` sends {} per API key, above the spec's own limit of {}",
            rps(per_key),
            rps(limit)
        ),
    )
    .primary(
        peak_span,
        format!("{} over {keys} keys is {} per key", rps(peak), rps(per_key)),
    )
    .secondary(limit_span, format!("`per api_key` allows {}", rps(limit)));
    if let Some(s) = keys_span {
        d = d.secondary(s, format!("{keys} keys"));
    }
    d.help(format!(
        "the test would measure its own throttling (429s), not the service: \
         set `api_keys = {needed}` or more on the load test, or lower its peak"
    ))
}

/// `mask = "email"`: not a list.
pub fn mask_not_list(span: Span) -> Diagnostic {
    Diagnostic::error(Code::UnitMismatch, "`mask` takes a list of field names")
        .primary(span, "not a list")
        .help("write `mask = [\"email\", \"authorization\", \"id\"]`")
}
