//! The wording of every diagnostic, in one place: one constructor per
//! condition. Reporting sites pass spans, names and candidates; the text,
//! the labels' wording, the help line and the fixes are written here.
//!
//! One file per area: syntax and project, names and structure, values,
//! services and budgets, policies, SLOs, exercises.

mod calls;
mod contract;
mod edge;
mod exercises;
mod load;
mod names;
mod policies;
mod services;
mod slo;
mod syntax;
mod values;

pub use calls::*;
pub use contract::*;
pub use edge::*;
pub use exercises::*;
pub use load::*;
pub use names::*;
pub use policies::*;
pub use services::*;
pub use slo::*;
pub use syntax::*;
pub use values::*;

use super::{suggest, Code, Diagnostic, Fix, Severity, Span};

/// A "did you mean" help line and the fix that makes the change.
fn did_you_mean(d: Diagnostic, span: Span, written: &str, s: &str) -> Diagnostic {
    d.help(format!("did you mean `{s}`?")).fix(Fix::replace(
        format!("replace `{written}` with `{s}`"),
        span,
        s,
    ))
}

/// The closest of `candidates` to `written`, as help and fix; else `other`.
fn suggest_or(
    d: Diagnostic,
    span: Span,
    written: &str,
    candidates: &[&str],
    other: impl FnOnce() -> String,
) -> Diagnostic {
    match suggest(written, candidates.iter().copied()) {
        Some(s) => did_you_mean(d, span, written, s),
        None => d.help(other()),
    }
}

/// The summary of the diagnostics of one code that the cap left out,
/// labelled at the first of them.
pub fn omitted(code: Code, severity: Severity, n: usize, first: Option<Span>) -> Diagnostic {
    let mut d = Diagnostic::error(
        code,
        format!(
            "{n} more {code} {} not shown",
            if n == 1 { "diagnostic" } else { "diagnostics" }
        ),
    )
    .help(format!(
        "at most {} diagnostics of one code are reported; fix the ones above and check again",
        super::CAP_PER_CODE
    ));
    if let Some(span) = first {
        d = d.primary(span, "the first of them");
    }
    Diagnostic {
        severity,
        hidden: n,
        ..d
    }
}
