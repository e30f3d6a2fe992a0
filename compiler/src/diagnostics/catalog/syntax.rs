//! Syntax errors (the parser) and loading the project's files.

use super::*;

pub fn nesting_too_deep(span: Span, max: usize) -> Diagnostic {
    Diagnostic::error(Code::Syntax, format!("brackets nest more than {max} deep"))
        .primary(span, "too deep")
        .help("a spec never needs this much nesting; look for an unclosed `(`, `[` or `{`")
}

/// A parse failure: `expected` (already joined, may be empty) and what was found.
pub fn parse_error(span: Span, expected: &str, found: &str, top_level: bool) -> Diagnostic {
    let message = if expected.is_empty() {
        format!("unexpected {found}")
    } else {
        format!("expected {expected}, found {found}")
    };
    Diagnostic::error(Code::Syntax, message)
        .primary(span, "not expected here")
        .help(if top_level {
            "a file holds `use std.MODULE.{NAMES}`, `use \"file.scale\"` and declarations `KIND NAME { … }` (app, budget, service, slo, load_test, chaos, gate, …); see docs/language.md"
        } else {
            "a block holds items such as `name = value`, `name { … }`, `route NAME METHOD \"/path\" class CLASS { … }` or `calls a, b`; see docs/language.md"
        })
}

/// Adds the brace that was never closed to a parse error at the end.
pub fn never_closed(d: Diagnostic, open: Span) -> Diagnostic {
    d.secondary(open, "this `{` is never closed").help(
        "add the missing `}`: a declaration ends before the next line that starts a declaration",
    )
}

pub fn expression_too_long(span: Span, max: usize) -> Diagnostic {
    Diagnostic::error(
        Code::Syntax,
        format!("this expression has more than {max} operators"),
    )
    .primary(span, "too long")
    .help("split the value up, or write the result")
}

pub fn does_not_fit(span: Span) -> Diagnostic {
    Diagnostic::error(Code::Syntax, "this does not fit here")
        .primary(span, "not expected here")
        .help("check the braces around this line: it parses on its own, not in this place")
}

/// `use "…"` or a path field leaving the project root; `relative_to_file`
/// says whether paths are relative to the file (`use`) or to the root.
pub fn path_escapes(path: &str, span: Span, relative_to_file: bool) -> Diagnostic {
    Diagnostic::error(
        Code::PathEscapesRoot,
        format!(
            "the path \"{}\" leaves the project root",
            path.escape_debug()
        ),
    )
    .primary(span, "outside the project")
    .help(if relative_to_file {
        "use a path relative to this file that stays inside the project folder"
    } else {
        "use a path relative to the project root, without `..` above it and without a leading `/`"
    })
}

/// A `use` of a link that leads to `target`, outside the root.
pub fn path_escapes_by_link(path: &str, span: Span, target: &str) -> Diagnostic {
    Diagnostic::error(
        Code::PathEscapesRoot,
        format!(
            "the path \"{}\" leaves the project root through a link (to {})",
            path.escape_debug(),
            target.escape_debug()
        ),
    )
    .primary(span, "a link to a file outside the project")
    .help(
        "copy the file into the project folder, or make the project root a folder that holds both",
    )
}

/// A file that is not UTF-8: `byte` at byte `offset`, `span` on the
/// replacement character shown in its place.
pub fn invalid_utf8(byte: u8, offset: usize, bad_len: usize, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::InvalidUtf8,
        format!("this file is not valid UTF-8: byte 0x{byte:02X} at offset {offset}"),
    )
    .primary(
        span,
        format!(
            "{bad_len} invalid byte{}",
            if bad_len == 1 { "" } else { "s" }
        ),
    )
    .help("save the file as UTF-8 (a .scale file is UTF-8 text)")
}

pub fn file_not_found(path: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::FileNotFound,
        format!("cannot find \"{}\"", path.escape_debug()),
    )
    .primary(span, "no such file in the project")
    .help("paths in `use \"…\"` are relative to the file that has the `use`")
}

/// `use std.x` naming no module: `written` is the whole path, `last` its
/// last segment, `two_segments` whether it reads `std.NAME`.
pub fn unknown_module(
    written: &str,
    last: &str,
    two_segments: bool,
    span: Span,
    modules: &[&str],
) -> Diagnostic {
    let d = Diagnostic::error(
        Code::UnknownModule,
        format!("there is no module `{written}`"),
    )
    .primary(span, "unknown module");
    match suggest(last, modules.iter().copied()) {
        Some(s) if two_segments => d
            .help(format!("did you mean `std.{s}`?"))
            .fix(Fix::replace(
                format!("replace `{written}` with `std.{s}`"),
                span,
                format!("std.{s}"),
            )),
        _ => d.help(format!(
            "the standard library modules are {}; other files are imported by path: `use \"file.scale\"`",
            modules.iter().map(|m| format!("std.{m}")).collect::<Vec<_>>().join(", ")
        )),
    }
}

pub fn std_has_no(module: &str, name: &str, span: Span, available: &[&str]) -> Diagnostic {
    let d = Diagnostic::error(
        Code::UnknownModule,
        format!("`std.{module}` has no `{name}`"),
    )
    .primary(span, "not in this module");
    suggest_or(d, span, name, available, || {
        format!("`std.{module}` provides: {}", available.join(", "))
    })
}
