//! SLOs and alert policies.

use super::*;

pub fn objective_range(pct: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::ObjectiveRange,
        format!("an objective of {pct}% is outside (0%, 100%)"),
    )
    .primary(span, "not strictly between 0% and 100%")
    .help("100% leaves no error budget to alert on, and 0% promises nothing; use e.g. 99.9%")
}

/// An alert window looking back further than the SLO's window.
pub fn alert_beyond_slo(
    alert: &str,
    long: &str,
    window: &str,
    window_span: Option<Span>,
    alert_span: Option<Span>,
    slo: Span,
) -> Diagnostic {
    let d = Diagnostic::error(
        Code::AlertBeyondSlo,
        format!("the {alert} alert looks back {long}, longer than the SLO's {window} window"),
    )
    .help("an alert window must fit in the SLO period: lengthen `window` or use a policy with shorter windows");
    match (window_span, alert_span) {
        (Some(e), Some(s)) => d
            .primary(e, "the SLO period")
            .secondary(s, "this alert window"),
        (Some(e), None) => d.primary(e, "the SLO period"),
        (None, Some(s)) => d.primary(s, "this alert window"),
        (None, None) => d.primary(slo, "this SLO"),
    }
}

pub fn long_not_longer(long: &str, short: &str, long_span: Span, short_span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::AlertWindows,
        format!("the long window {long} is not longer than the short window {short}"),
    )
    .primary(long_span, "long window")
    .secondary(short_span, "short window")
    .help("the long window detects the burn and the short one confirms it is still happening: long > short, typically 12×")
}

/// `factor`, `objective` and `needed` already rounded for people.
pub fn burn_factor_impossible(
    alert: &str,
    factor: f64,
    objective: &str,
    needed: f64,
    objective_span: Span,
    alert_span: Option<Span>,
) -> Diagnostic {
    let d = Diagnostic::error(
        Code::BurnFactorImpossible,
        format!(
            "the {alert} alert's burn factor {factor}x at {objective}% would need {needed}% of requests to fail"
        ),
    )
    .primary(objective_span, "this objective leaves too large a budget")
    .help("lower the burn factor (or its budget share), or raise the objective, so factor × (1 − objective) ≤ 100%");
    match alert_span {
        Some(s) => d.secondary(s, "this alert window"),
        None => d,
    }
}

pub fn sli_not_understood(span: Span) -> Diagnostic {
    Diagnostic::error(Code::BadSli, "this SLI is not one scalec can measure")
        .primary(span, "not understood")
        .help("write `errors(status >= 500) / requests` (availability) or `latency < 400ms` (latency)")
}

pub fn status_not_class(span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::BadSli,
        "error status thresholds must be a whole class (400 or 500)",
    )
    .primary(span, "not a status class")
    .help("write `status >= 500` (server errors) or `status >= 400`")
}

/// A backend given an IR (an edited `ir.json`) whose SLO names a service
/// the IR does not hold.
pub fn slo_service_not_in_ir(slo: &str, service: &str) -> Diagnostic {
    Diagnostic::error(
        Code::UnknownName,
        format!("SLO `{slo}` is about service `{service}`, which the IR does not hold"),
    )
    .help("build from the .scale spec, or restore the service in the IR")
}

/// `errors(status >= 100)`: a class below 400 counts successes as errors.
pub fn status_counts_success(min: u16, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::BadSli,
        format!("`status >= {min}` counts successful responses as errors"),
    )
    .primary(span, "includes 1xx, 2xx or 3xx")
    .help("write `status >= 500` (server errors) or `status >= 400` (client and server errors)")
}

/// `threshold` and `buckets` as written for people.
/// `nearest`: the closest boundaries below and above the threshold.
pub fn latency_not_bucket(
    threshold: &str,
    histogram: &str,
    nearest: (Option<String>, Option<String>),
    buckets: &[String],
    span: Span,
) -> Diagnostic {
    let near = match nearest {
        (Some(a), Some(b)) => format!("the nearest are {a} and {b}"),
        (Some(a), None) | (None, Some(a)) => format!("the nearest is {a}"),
        (None, None) => "it has none".to_string(),
    };
    Diagnostic::error(
        Code::LatencyNotBucket,
        format!("{threshold} is not a bucket boundary of `{histogram}`: {near}"),
    )
    .primary(span, "not a boundary: no series counts requests under it")
    .help(format!(
        "a latency SLI counts the `le` bucket at the threshold; use one of: {}, or declare the buckets the service exports: `metrics {{ latency = histogram(\"{histogram}\", buckets = [...]) }}`",
        buckets.join(", ")
    ))
}

pub fn policy_without_windows(name: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::MissingField,
        format!("the alert policy `{name}` has no windows"),
    )
    .primary(span, "empty policy")
    .help("add a window: `fast { severity = page  long = 1h  short = 5m  budget = 2% }`")
}

pub fn policy_item_not_window(span: Span) -> Diagnostic {
    Diagnostic::error(Code::UnknownField, "an alert policy holds named windows")
        .primary(
            span,
            "expected `NAME { severity = page  long = 1h  short = 5m  budget = 2% }`",
        )
        .help("each window is a block with severity, long, short and budget (or factor)")
}

pub fn window_budget_above_all(span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::OutOfRange,
        "a window cannot spend more than 100% of the budget",
    )
    .primary(span, "above 100%")
    .help("use a share such as 2% (page) or 10% (ticket)")
}

/// A label an SLO's rules set themselves (`app`, `service`, `slo`, …).
pub fn reserved_alert_label(name: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::ReservedAlertLabel,
        format!("`{name}` is a label the SLO rules set themselves"),
    )
    .primary(span, "set by scalec")
    .help("the rules label every series with `app`, `service`, `slo`, `route`, `window` and `severity`; choose another name (`team`, `tier`, …)")
}

/// A label name Prometheus reserves (`__…`).
pub fn internal_label(name: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::InvalidName,
        format!("`{name}` starts with `__`, which Prometheus reserves"),
    )
    .primary(span, "reserved prefix")
    .help("label names starting with `__` are internal to Prometheus; drop the leading underscores")
}

/// A name or value a Kubernetes label cannot hold (`part`: "name" or "value").
pub fn bad_label_value(part: &str, value: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::BadLabelValue,
        format!("\"{}\" is not a Kubernetes label {part}", value.escape_debug()),
    )
    .primary(span, "labels the PrometheusRule objects")
    .help(format!("a label {part} is at most 63 characters: letters, digits, `-`, `_` and `.`, beginning and ending with a letter or digit"))
}

/// An item of a `labels { … }` or `annotations { … }` block that is not `name = "text"`.
pub fn map_item_not_text(what: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::UnitMismatch,
        format!("each item of `{what}` is `name = \"text\"`"),
    )
    .primary(span, "not `name = \"text\"`")
    .help(format!("write `{what} {{ team = \"payments\" }}`"))
}

/// `drift { tokens = 10% }`: not a signal the drift rules know. Every
/// known signal is offered as a fix, the closest first.
pub fn unknown_drift_signal(name: &str, span: Span, signals: &[&str]) -> Diagnostic {
    let d = Diagnostic::error(
        Code::UnknownDriftSignal,
        format!("`{name}` is not a drift signal"),
    )
    .primary(span, "unknown signal: no drift rule reads it");
    let closest = suggest(name, signals.iter().copied());
    let d = match closest {
        Some(s) => d.help(format!(
            "did you mean `{s}`? the signals are: {}",
            signals.join(", ")
        )),
        None => d.help(format!("the signals are: {}", signals.join(", "))),
    };
    closest
        .into_iter()
        .chain(signals.iter().copied().filter(|s| Some(*s) != closest))
        .fold(d, |d, s| {
            d.fix(Fix::replace(
                format!("replace `{name}` with `{s}`"),
                span,
                s,
            ))
        })
}

/// `alert_severities { page = "P 1" }`: not a plain word.
pub fn bad_severity_name(which: &str, value: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::BadSeverityName,
        format!("{value:?} cannot be the `severity` of a {which}"),
    )
    .primary(span, "not a plain word")
    .help("use 1 to 63 letters, digits, `-`, `_` or `.`, beginning and ending with a letter or digit, such as \"critical\", \"P1\" or \"sev-2\"")
}

/// `alert_severities { page = "P1"  ticket = "P1" }`: a page could not be
/// routed apart from a ticket.
pub fn severities_alike(value: &str, span: Span, other: Option<Span>) -> Diagnostic {
    let d = Diagnostic::error(
        Code::BadSeverityName,
        format!("a page and a ticket both have the severity {value:?}"),
    )
    .primary(span, "the same as the page's")
    .help("give a ticket a severity of its own (`ticket = \"warning\"`): Alertmanager routes a page and a ticket by this label");
    match other {
        Some(s) => d.secondary(s, "the page's severity"),
        None => d,
    }
}
