//! From the compiler's byte spans and diagnostics to LSP's UTF-16 ranges
//! and diagnostics.

use crate::unit::Unit;
use scalec::diagnostics::{self as sd, Code};
use tower_lsp_server::ls_types::*;

/// One compiler diagnostic, published on the real file of its primary
/// label: that label's range (the start of the file when it has none), the
/// code linked to its explanation, the help line and notes in the message,
/// every other label as related information.
pub fn to_lsp_diagnostic(d: &sd::Diagnostic, unit: &Unit, explain: Option<&Uri>) -> Diagnostic {
    let primary = d
        .labels
        .iter()
        .position(|l| l.primary)
        .or(if d.labels.is_empty() { None } else { Some(0) });
    let range = primary
        .and_then(|i| unit.resolve(d.labels[i].span))
        .map(|(ri, a, b)| unit.range(ri, a, b))
        .unwrap_or_default();
    let mut message = d.message.clone();
    if let Some(l) = primary.map(|i| &d.labels[i]) {
        if !l.message.is_empty() && l.message != d.message {
            message.push_str(&format!(": {}", l.message));
        }
    }
    if let Some(h) = &d.help {
        message.push_str(&format!("\nhelp: {h}"));
    }
    for n in &d.notes {
        message.push_str(&format!("\nnote: {n}"));
    }
    let related: Vec<DiagnosticRelatedInformation> = d
        .labels
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != primary)
        .filter_map(|(_, l)| {
            Some(DiagnosticRelatedInformation {
                location: unit.location(l.span)?,
                message: if l.message.is_empty() {
                    "see here".into()
                } else {
                    l.message.clone()
                },
            })
        })
        .collect();
    Diagnostic {
        range,
        severity: Some(match d.severity {
            sd::Severity::Error => DiagnosticSeverity::ERROR,
            sd::Severity::Warning => DiagnosticSeverity::WARNING,
            sd::Severity::Note => DiagnosticSeverity::INFORMATION,
        }),
        code: Some(NumberOrString::String(d.code.as_str().to_string())),
        code_description: explain.map(|u| CodeDescription { href: u.clone() }),
        source: Some("scalec".into()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        tags: (d.code == Code::UnusedBudget).then(|| vec![DiagnosticTag::UNNECESSARY]),
        data: None,
    }
}
