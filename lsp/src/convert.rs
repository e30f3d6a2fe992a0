//! From the compiler's byte spans and diagnostics to LSP's UTF-16 ranges
//! and diagnostics.

use scalec::diagnostics::{self as sd, Code, FileId, SourceFile, SourceMap, Span};
use tower_lsp_server::ls_types::*;

fn position(src: &SourceFile, offset: usize) -> Position {
    let (line, col) = src.line_col_utf16(offset);
    Position::new(line as u32, col as u32)
}

/// A span of `src` as an LSP range (UTF-16 columns).
pub fn range_of(src: &SourceFile, span: Span) -> Range {
    Range::new(
        position(src, span.start as usize),
        position(src, span.end as usize),
    )
}

/// One compiler diagnostic, published on `file`: the primary label's range
/// (the start of the file when it has none), the code linked to its
/// explanation, the help line and notes in the message, every other label
/// as related information.
pub fn to_lsp_diagnostic(
    d: &sd::Diagnostic,
    file: FileId,
    sources: &SourceMap,
    uri_of: &dyn Fn(FileId) -> Option<Uri>,
    explain: Option<&Uri>,
) -> Diagnostic {
    let src = sources.get(file);
    let primary = d.labels.iter().position(|l| l.primary).or(if d.labels.is_empty() {
        None
    } else {
        Some(0)
    });
    let range = match primary.map(|i| d.labels[i].span) {
        Some(s) if s.file == file => range_of(src, s),
        _ => Range::default(),
    };
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
                location: Location {
                    uri: uri_of(l.span.file)?,
                    range: range_of(sources.get(l.span.file), l.span),
                },
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
