//! Load tests, chaos experiments and gates.

use super::*;

pub fn stages_and_shape(span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::BadStage,
        "a load test takes `stages` or `shape`, not both",
    )
    .primary(span, "a shape as well as stages")
    .help("keep the explicit `stages`, or the `shape` preset with `peak = …`")
}

pub fn target_without_routes(target: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::TargetWithoutRoutes,
        format!("the service `{target}` has no routes to load"),
    )
    .primary(span, "no routes")
    .help("target an HTTP service with routes")
}

pub fn mix_item_not_share(span: Span) -> Diagnostic {
    Diagnostic::error(Code::UnknownField, "a mix holds `class = share` lines")
        .primary(span, "not a share")
        .help("write `read = 80%`")
}

pub fn class_not_on_target(target: &str, class: &str, span: Span, classes: &[&str]) -> Diagnostic {
    let d = Diagnostic::error(
        Code::UnknownClass,
        format!("`{target}` has no route of class `{class}`"),
    )
    .primary(span, "no such class on the target");
    suggest_or(d, span, class, classes, || {
        format!("the target's classes are: {}", classes.join(", "))
    })
}

pub fn mix_class_twice(class: &str, span: Span) -> Diagnostic {
    Diagnostic::error(Code::DuplicateField, format!("`{class}` is given twice"))
        .primary(span, "given again")
        .help("give each class one share")
}

/// `pct`: the sum, rounded, in percent.
pub fn mix_sum(pct: f64, span: Span) -> Diagnostic {
    Diagnostic::error(Code::MixSum, format!("the mix sums to {pct}%, not 100%"))
        .primary(span, format!("{pct}% in all"))
        .help("adjust the shares so they add up to exactly 100%")
}

pub fn negative_stage_rate(span: Span) -> Diagnostic {
    Diagnostic::error(Code::OutOfRange, "a stage rate cannot be negative")
        .primary(span, "negative")
        .help("use a rate such as `100 rps`")
}

pub fn percent_stage_without_peak(span: Span) -> Diagnostic {
    Diagnostic::error(Code::BadStage, "a percentage stage needs the test's `peak`")
        .primary(span, "a share of what?")
        .help("add `peak = 20k rps` to the load test, or write a rate such as `1k rps`")
}

/// A stage with `->` that is not a ramp, or a ramp without it.
pub fn malformed_stage(kind: &str, ramp: bool, span: Span) -> Diagnostic {
    Diagnostic::error(Code::BadStage, format!("malformed `{kind}` stage"))
        .primary(
            span,
            if ramp {
                "a ramp goes from one rate to another: `ramp 1k rps -> 20k rps over 10m`"
            } else {
                "only a ramp has `->`: write `burst 30k rps for 30s`"
            },
        )
        .help("stages are `ramp A -> B over D`, `burst R for D`, `hold R for D` and `soak R for D`")
}

pub fn empty_stages(span: Span) -> Diagnostic {
    Diagnostic::error(Code::BadStage, "`stages` is empty")
        .primary(span, "no stage")
        .help("add e.g. `ramp 10 rps -> 100 rps over 1m`")
}

pub fn unknown_chaos_action(verb: &str, name: &str, span: Span, allowed: &[&str]) -> Diagnostic {
    let d = Diagnostic::error(
        Code::UnknownChaosAction,
        format!("cannot `{verb}` a `{name}`"),
    )
    .primary(span, "unknown here");
    suggest_or(d, span, name, allowed, || {
        format!("use: {}", allowed.join(", "))
    })
}

/// `pct`: the relative latency, rounded, in percent.
pub fn chaos_no_budget(service: &str, pct: f64, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::ChaosNoBudget,
        format!("`{service}` has no p95 or p99 to take {pct}% of"),
    )
    .primary(span, "relative to what?")
    .help(format!(
        "give `{service}` a budget with p95 (or p99), or write an absolute delay such as `+50ms`"
    ))
}

pub fn unknown_breaker_event(name: &str, span: Span, known: &[&str]) -> Diagnostic {
    let d = Diagnostic::error(
        Code::UnknownChaosAction,
        format!("`{name}` is not a circuit-breaker event"),
    )
    .primary(span, "unknown event");
    suggest_or(d, span, name, known, || {
        "a breaker `opens`, `half_opens` and `closes`".to_string()
    })
}

pub fn unknown_gate_check(name: &str, span: Span) -> Diagnostic {
    let d = Diagnostic::error(
        Code::UnknownGateCheck,
        format!("the gate cannot check `{name}`"),
    )
    .primary(span, "unknown condition");
    suggest_or(d, span, name, &["slo_burn"], || {
        "a gate checks `slo_burn < 1x over 1h`, and the fields contract, query_plans, migrations, sbom, signing".to_string()
    })
}

pub fn burn_gate_not_upper(op: &str, span: Span) -> Diagnostic {
    Diagnostic::error(Code::GateNotUpperBound, "a burn gate is an upper bound")
        .primary(span, format!("`{op}` is not `<` or `<=`"))
        .help("write `slo_burn < 1x over 1h`")
}

pub fn burn_gate_twice(span: Span, first: Span) -> Diagnostic {
    Diagnostic::error(Code::DuplicateField, "`slo_burn` is given twice")
        .primary(span, "given again here")
        .secondary(first, "first given here")
        .help("a gate has one burn condition: keep the stricter one")
}

pub fn gate_not_upper(subject: &str, op: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::GateNotUpperBound,
        format!("`{subject}` takes an upper bound"),
    )
    .primary(span, format!("`{op}` is not an upper bound"))
    .help(format!("write `{subject} < …` or `{subject} == 0`"))
}
