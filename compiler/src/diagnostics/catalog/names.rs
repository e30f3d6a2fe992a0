//! Names and the structure of blocks: declarations, fields, their forms.

use super::*;

pub fn unknown_decl_kind(name: &str, span: Span, kinds: &[&str]) -> Diagnostic {
    let d = Diagnostic::error(
        Code::UnknownDeclKind,
        format!("unknown declaration kind `{name}`"),
    )
    .primary(span, "not a kind of declaration");
    suggest_or(d, span, name, kinds, || {
        format!("the kinds are: {}", kinds.join(", "))
    })
}

pub fn singleton_twice(kind: &str, span: Span, first: Span) -> Diagnostic {
    Diagnostic::error(
        Code::SingletonTwice,
        format!("a project has one `{kind}` declaration"),
    )
    .primary(span, "declared again here")
    .secondary(first, "first declared here")
    .help(format!("merge the two `{kind}` blocks into one"))
}

/// `limits NAME { … }`: the name is removed by the fix.
pub fn singleton_named(kind: &str, name: &str, span: Span) -> Diagnostic {
    Diagnostic::error(Code::SingletonNamed, format!("`{kind}` takes no name"))
        .primary(span, "remove this name")
        .help(format!("write `{kind} {{ … }}`"))
        .fix(Fix::replace(format!("remove the name `{name}`"), span, ""))
}

pub fn decl_needs_name(kind: &str, span: Span) -> Diagnostic {
    Diagnostic::error(Code::DeclWithoutName, format!("this `{kind}` needs a name"))
        .primary(span, "no name")
        .help(format!("write `{kind} NAME {{ … }}`"))
}

/// `from_std`: the first declaration came from a standard library import.
pub fn duplicate_decl(
    kind: &str,
    name: &str,
    span: Span,
    first: Span,
    from_std: bool,
) -> Diagnostic {
    let d = Diagnostic::error(
        Code::DuplicateName,
        format!("the {kind} `{name}` is declared twice"),
    )
    .primary(span, "declared again here")
    .secondary(first, "first declared here");
    if from_std {
        d.help(format!(
            "`{name}` is imported from the standard library: rename yours or drop the import"
        ))
    } else {
        d.help("give each declaration its own name")
    }
}

/// An unknown name of a kind. `std_module`: the standard library module
/// that has it (the fix adds the import at `file_start`).
pub fn unknown_name(
    kind: &str,
    name: &str,
    span: Span,
    std_module: Option<&str>,
    candidates: &[&str],
) -> Diagnostic {
    let what = kind.replace('_', " ");
    let d = Diagnostic::error(Code::UnknownName, format!("unknown {what} `{name}`"))
        .primary(span, format!("no {what} has this name"));
    if let Some(module) = std_module {
        let line = format!("use std.{module}.{{{name}}}");
        let file_start = Span::new(span.file, 0, 0);
        return d
            .help(format!("`{name}` is in the standard library: add `{line}`"))
            .fix(Fix::replace(
                format!("add `{line}` at the top of the file"),
                file_start,
                format!("{line}\n"),
            ));
    }
    match suggest(name, candidates.iter().copied()) {
        Some(s) => did_you_mean(d, span, name, s),
        None if candidates.is_empty() => d.help(format!("declare a {what} named `{name}`")),
        None => {
            let mut c = candidates.to_vec();
            c.truncate(8);
            d.help(format!("the known names are: {}", c.join(", ")))
        }
    }
}

pub fn statement_misplaced(name: &str, span: Span, what: &str, home: &str) -> Diagnostic {
    Diagnostic::error(
        Code::UnknownField,
        format!("a `{name}` statement cannot appear in {what}"),
    )
    .primary(span, "not allowed here")
    .help(format!("`{name}` belongs in {home}"))
}

pub fn unknown_field(what: &str, name: &str, span: Span, allowed: &[&str]) -> Diagnostic {
    let d = Diagnostic::error(Code::UnknownField, format!("{what} has no field `{name}`"))
        .primary(span, "unknown field");
    suggest_or(d, span, name, allowed, || {
        if allowed.is_empty() {
            format!("{what} takes no fields")
        } else {
            format!("{what} takes: {}", allowed.join(", "))
        }
    })
}

pub fn duplicate_field(name: &str, span: Span, first: Span) -> Diagnostic {
    Diagnostic::error(Code::DuplicateField, format!("`{name}` is given twice"))
        .primary(span, "given again here")
        .secondary(first, "first given here")
        .help("keep one of them")
}

pub fn block_for_value(name: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::ValueOrBlock,
        format!("`{name}` takes a value, not a block"),
    )
    .primary(span, "unexpected block")
    .help(format!("write `{name} = …`"))
}

pub fn value_for_block(name: &str, span: Span) -> Diagnostic {
    Diagnostic::error(Code::ValueOrBlock, format!("`{name}` takes a block"))
        .primary(span, "expected `{ … }`")
        .help(format!("write `{name} {{ … }}`"))
}

/// A required field is missing from the block starting at `owner`.
pub fn missing_field(what: &str, name: &str, owner: Span, example: &str) -> Diagnostic {
    Diagnostic::error(Code::MissingField, format!("{what} needs `{name}`"))
        .primary(
            Span {
                end: owner.start + 1,
                ..owner
            },
            format!("`{name}` is missing in this block"),
        )
        .help(format!("add `{name} = {example}`"))
}

pub fn no_app(span: Span) -> Diagnostic {
    Diagnostic::error(Code::NoApp, "the project has no `app` declaration")
        .primary(span, "expected `app NAME { … }` in the project")
        .help("add `app NAME { owner = \"team\" }` to one of the project's files")
}
