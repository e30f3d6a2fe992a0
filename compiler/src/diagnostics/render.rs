//! Turning diagnostics into text (codespan-reporting) and JSON lines.
//!
//! A spec's text is not trusted: escape sequences, other control characters
//! and bidirectional controls in it would retitle or clear the terminal, or
//! make a line read differently from how it runs. The human renderer shows
//! each of them as a visible `\u{…}` escape, in source snippets and in every
//! message; JSON escapes them as JSON does.

use super::{Diagnostic, Edit, FileId, Severity, SourceMap, Span};
use serde::Serialize;
use std::borrow::Cow;

/// Characters a terminal must not receive raw from a spec: control
/// characters other than newline and tab, line and paragraph separators,
/// bidirectional controls, and zero-width characters (which hide text).
fn unsafe_for_terminal(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{2060}'
        )
        || ('\u{200B}'..='\u{200D}').contains(&c)
        || ('\u{202A}'..='\u{202E}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

fn escaped(c: char) -> String {
    format!("\\u{{{:x}}}", c as u32)
}

/// `s` with every character unsafe for a terminal written as `\u{…}`
/// (a `\r` right before `\n` is kept: it is a Windows line end).
pub fn escape_text(s: &str) -> Cow<'_, str> {
    if !s.chars().any(unsafe_for_terminal) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if unsafe_for_terminal(c) && !(c == '\r' && chars.peek() == Some(&'\n')) {
            out.push_str(&escaped(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// One file's text as shown, and how its byte offsets moved: for each
/// escaped character, (its offset in the original, bytes added so far
/// including it).
struct Shown {
    shifts: Vec<(usize, usize)>,
}

impl Shown {
    fn map(&self, offset: usize) -> usize {
        // Characters that start before `offset` shifted it.
        let i = self.shifts.partition_point(|(at, _)| *at < offset);
        offset + if i == 0 { 0 } else { self.shifts[i - 1].1 }
    }
}

/// A copy of the files with unsafe characters escaped, and the offset maps.
fn shown_sources(sources: &SourceMap) -> (SourceMap, Vec<Shown>) {
    let mut out = SourceMap::default();
    let mut maps = Vec::new();
    for (_, f) in sources.files() {
        let mut shifts = Vec::new();
        let text = if f.text.chars().any(unsafe_for_terminal) {
            let mut t = String::with_capacity(f.text.len() + 16);
            let mut added = 0;
            let mut it = f.text.char_indices().peekable();
            while let Some((i, c)) = it.next() {
                if unsafe_for_terminal(c) && !(c == '\r' && it.peek().map(|p| p.1) == Some('\n')) {
                    let e = escaped(c);
                    added += e.len() - c.len_utf8();
                    shifts.push((i, added));
                    t.push_str(&e);
                } else {
                    t.push(c);
                }
            }
            t
        } else {
            f.text.clone()
        };
        // File names come from the file system or `use "…"`: escaped too.
        out.add(escape_text(&f.name).into_owned(), text);
        maps.push(Shown { shifts });
    }
    (out, maps)
}

fn suggestion_note(f: &super::Fix) -> String {
    format!("suggestion: {}", escape_text(&f.message))
}

fn to_codespan(
    d: &Diagnostic,
    maps: &[Shown],
) -> codespan_reporting::diagnostic::Diagnostic<FileId> {
    use codespan_reporting::diagnostic as cs;
    let base = match d.severity {
        Severity::Error => cs::Diagnostic::error(),
        Severity::Warning => cs::Diagnostic::warning(),
        Severity::Note => cs::Diagnostic::note(),
    };
    let mut notes: Vec<String> = d
        .notes
        .iter()
        .map(|n| escape_text(n).into_owned())
        .collect();
    if let Some(h) = &d.help {
        notes.push(format!("help: {}", escape_text(h)));
    }
    notes.extend(d.fixes.iter().map(suggestion_note));
    let range = |s: Span| {
        let m = &maps[s.file.0 as usize];
        m.map(s.start as usize)..m.map(s.end as usize)
    };
    base.with_code(d.code.as_str())
        .with_message(escape_text(&d.message))
        .with_labels(
            d.labels
                .iter()
                .map(|l| {
                    let style = if l.primary {
                        cs::LabelStyle::Primary
                    } else {
                        cs::LabelStyle::Secondary
                    };
                    cs::Label::new(style, l.span.file, range(l.span))
                        .with_message(escape_text(&l.message))
                })
                .collect(),
        )
        .with_notes(notes)
}

/// Renders diagnostics as text, the way `scalec check` prints them.
pub fn render(sources: &SourceMap, diags: &[Diagnostic], color: bool) -> String {
    use codespan_reporting::term;
    let config = term::Config::default();
    let (shown, maps) = shown_sources(sources);
    let mut out: Vec<u8> = Vec::new();
    for d in diags {
        let cd = to_codespan(d, &maps);
        if color {
            let mut w = term::termcolor::Ansi::new(&mut out);
            let _ = term::emit_to_write_style(&mut w, &config, &shown, &cd);
        } else {
            let mut w = term::termcolor::NoColor::new(&mut out);
            let _ = term::emit_to_write_style(&mut w, &config, &shown, &cd);
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Serialize)]
struct JsonPos {
    line: usize,
    column: usize,
}

#[derive(Serialize)]
struct JsonLabel<'a> {
    file: &'a str,
    byte_start: u32,
    byte_end: u32,
    start: JsonPos,
    end: JsonPos,
    message: &'a str,
    primary: bool,
}

#[derive(Serialize)]
struct JsonEdit<'a> {
    file: &'a str,
    byte_start: u32,
    byte_end: u32,
    start: JsonPos,
    end: JsonPos,
    replacement: &'a str,
}

#[derive(Serialize)]
struct JsonFix<'a> {
    message: &'a str,
    edits: Vec<JsonEdit<'a>>,
}

#[derive(Serialize)]
struct JsonDiag<'a> {
    code: &'static str,
    severity: Severity,
    message: &'a str,
    file: Option<&'a str>,
    byte_start: Option<u32>,
    byte_end: Option<u32>,
    start: Option<JsonPos>,
    end: Option<JsonPos>,
    labels: Vec<JsonLabel<'a>>,
    help: Option<&'a str>,
    notes: &'a [String],
    fixes: Vec<JsonFix<'a>>,
    #[serde(skip_serializing_if = "is_zero")]
    hidden: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// One JSON object per diagnostic, one per line. Lines and columns are
/// one-based (columns count characters).
pub fn to_json_lines(sources: &SourceMap, diags: &[Diagnostic]) -> String {
    let pos = |span: Span, off: u32| {
        let (l, c) = sources.get(span.file).line_col(off as usize);
        JsonPos {
            line: l + 1,
            column: c + 1,
        }
    };
    let edit = |e: &'_ Edit| JsonEdit {
        file: sources.get(e.span.file).name.as_str(),
        byte_start: e.span.start,
        byte_end: e.span.end,
        start: pos(e.span, e.span.start),
        end: pos(e.span, e.span.end),
        replacement: "",
    };
    let mut out = String::new();
    for d in diags {
        let primary = d.primary_span();
        let j = JsonDiag {
            code: d.code.as_str(),
            severity: d.severity,
            message: &d.message,
            file: primary.map(|s| sources.get(s.file).name.as_str()),
            byte_start: primary.map(|s| s.start),
            byte_end: primary.map(|s| s.end),
            start: primary.map(|s| pos(s, s.start)),
            end: primary.map(|s| pos(s, s.end)),
            labels: d
                .labels
                .iter()
                .map(|l| JsonLabel {
                    file: sources.get(l.span.file).name.as_str(),
                    byte_start: l.span.start,
                    byte_end: l.span.end,
                    start: pos(l.span, l.span.start),
                    end: pos(l.span, l.span.end),
                    message: &l.message,
                    primary: l.primary,
                })
                .collect(),
            help: d.help.as_deref(),
            notes: &d.notes,
            fixes: d
                .fixes
                .iter()
                .map(|f| JsonFix {
                    message: &f.message,
                    edits: f
                        .edits
                        .iter()
                        .map(|e| JsonEdit {
                            replacement: &e.replacement,
                            ..edit(e)
                        })
                        .collect(),
                })
                .collect(),
            hidden: d.hidden,
        };
        out.push_str(&serde_json::to_string(&j).expect("diagnostic serialises"));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_controls_only() {
        assert_eq!(escape_text("plain ü → x\tt"), "plain ü → x\tt");
        assert_eq!(escape_text("a\x1b[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(escape_text("\u{202E}x\u{9b}"), "\\u{202e}x\\u{9b}");
        assert_eq!(escape_text("a\r\nb\rc"), "a\r\nb\\u{d}c");
    }

    #[test]
    fn labels_follow_escaped_text() {
        let mut sources = SourceMap::default();
        let f = sources.add("a\x1b[2J.scale", "x \x1b]0;t\x07 bad\n");
        let start = "x \x1b]0;t\x07 ".len();
        let d = Diagnostic::error(super::super::Code::UnknownName, "m\x1b")
            .primary(Span::new(f, start, start + 3), "here");
        let out = render(&sources, &[d], false);
        assert!(!out.contains('\x1b') && !out.contains('\x07'), "{out}");
        assert!(out.contains("x \\u{1b}]0;t\\u{7} bad"), "{out}");
        assert!(out.contains("a\\u{1b}[2J.scale:1:"), "{out}");
        // The underline sits under `bad`.
        let line = out.lines().find(|l| l.contains("bad")).unwrap();
        let under = out.lines().find(|l| l.contains("^^^")).unwrap();
        assert_eq!(line.find("bad"), under.find("^^^"), "{out}");
    }
}
