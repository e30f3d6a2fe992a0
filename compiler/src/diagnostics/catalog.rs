//! The wording of every diagnostic, in one place: one constructor per
//! condition. Reporting sites pass spans, names and candidates; the text,
//! the labels' wording, the help line and the fixes are written here.
//!
//! Grouped by the stage that reports them (syntax, project, names and
//! structure, values, services and budgets, policies, SLOs, exercises).

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

// ------------------------------------------------------------------ syntax

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

// ------------------------------------------------------------------ project

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

// ------------------------------------------------------------------ names and structure

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

// ------------------------------------------------------------------ values

/// What a field takes, when it was given a value of another shape (S0201).
#[derive(Debug, Clone, Copy)]
pub enum Expected<'a> {
    String,
    /// A bare word out of these.
    Word(&'a [&'a str]),
    /// `header("x")` and its kin.
    RequestValue,
    RequestValueArgument,
    BudgetName,
    /// `queue_depth("…")` (`overflow` false) or `overflow = queue("…")`.
    QueueName {
        overflow: bool,
    },
    LimitKey,
    RoleName,
    AuthRule,
    /// `FIELD = FUN("name")`.
    NamedCall {
        field: &'a str,
        fun: &'a str,
    },
    DurationList,
    ServiceOrRoute,
    AlertPolicyName,
    HeaderOrClaim,
    OnOff,
    Hook,
    AlgorithmName,
    AttributeName,
    AttributeList,
    ServiceName,
    ShapeName,
    ChaosDelay,
    Probe,
    ProbeService,
    /// `FIELD = SUBJECT < …`: the comparison, then its subject.
    Bound(&'a str),
    BoundSubject(&'a str),
}

impl Expected<'_> {
    /// (what was expected, the help line).
    fn wording(self) -> (String, String) {
        let s = |a: &str, b: &str| (a.to_string(), b.to_string());
        match self {
            Expected::String => s("a string", "write it in double quotes: \"…\""),
            Expected::Word(allowed) => (
                format!("one of {}", allowed.join(", ")),
                "write one of the words, without quotes".to_string(),
            ),
            Expected::RequestValue => s(
                "where to read the value",
                "write header(\"name\"), query(\"name\"), cookie(\"name\") or claim(\"name\")",
            ),
            Expected::RequestValueArgument => s("one string argument", "write header(\"name\")"),
            Expected::BudgetName => s(
                "a budget name",
                "write `budget = NAME` or `budget { p99 = … }`",
            ),
            Expected::QueueName { overflow: false } => {
                s("one queue name", "write `queue_depth(\"queue-name\")`")
            }
            Expected::QueueName { overflow: true } => {
                s("one queue name", "write `overflow = queue(\"name\")`")
            }
            Expected::LimitKey => s(
                "a limit key",
                "write `limit = per_ip` (or per_api_key, per_identity, per_tenant)",
            ),
            Expected::RoleName => s("one role name", "write `role(\"admin\")`"),
            Expected::AuthRule => s(
                "an auth rule",
                "write public, authenticated, role(\"name\"), mfa or device, combined with & and |",
            ),
            Expected::NamedCall { field, fun } => (
                format!("`{fun}(\"…\")`"),
                format!("write `{field} = {fun}(\"name\")`"),
            ),
            Expected::DurationList => s(
                "a list of durations",
                "write `buckets = [50ms, 100ms, 250ms]`",
            ),
            Expected::ServiceOrRoute => s(
                "a service or `service.route`",
                "write `service = api` or `service = api.search`",
            ),
            Expected::AlertPolicyName => s("an alert policy name", "write `alerts = multiwindow`"),
            Expected::HeaderOrClaim => s(
                "header(…) or claim(…)",
                "a limit key comes from a header or a token claim",
            ),
            Expected::OnOff => s(
                "`on` or `off`",
                "write `proof_of_work = on suspicious { difficulty = 20 }`",
            ),
            Expected::Hook => s(
                "`hook(\"name\")`",
                "write `risk_scoring = hook(\"risk.score\")` or `off`",
            ),
            Expected::AlgorithmName => s("an algorithm name", "write algorithms = [ES256]"),
            Expected::AttributeName => {
                s("an attribute name", "write attach = [model, prompt_hash]")
            }
            Expected::AttributeList => s(
                "a list of attribute names",
                "write attach = [model, prompt_hash, dataset]",
            ),
            Expected::ServiceName => s("a service name", "write `target = api`"),
            Expected::ShapeName => s(
                "a shape name",
                "write `shape = ramp` with `use std.shapes.{ramp}`",
            ),
            Expected::ChaosDelay => s(
                "a positive delay or percentage",
                "write `latency db +50ms` or `latency db +5%`",
            ),
            Expected::Probe => s(
                "a probe such as `breaker(db)`",
                "write `expect breaker(db) opens and closes within 2m`",
            ),
            Expected::ProbeService => s("one service name", "write `breaker(db)`"),
            Expected::Bound(subject) => (
                format!("a bound on `{subject}`"),
                format!("write `{subject} < …`"),
            ),
            Expected::BoundSubject(subject) => (
                format!("`{subject}`"),
                format!("this field bounds `{subject}`: write `{subject} < …`"),
            ),
        }
    }
}

/// A value of the wrong shape; `found` describes what was written.
pub fn wrong_type(expected: Expected<'_>, found: &str, span: Span) -> Diagnostic {
    let (expected, help) = expected.wording();
    Diagnostic::error(
        Code::UnitMismatch,
        format!("expected {expected}, found {found}"),
    )
    .primary(span, format!("expected {expected}"))
    .help(help)
}

/// A quantity of the wrong dimension: `want` and `found` are dimension names.
pub fn wrong_unit(want: &str, found: &str, example: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::UnitMismatch,
        format!("expected {want}, found {found}"),
    )
    .primary(span, format!("this is {found}"))
    .help(format!("write {want} with its unit, for example {example}"))
}

pub fn not_a_quantity(want: &str, found: &str, example: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::UnitMismatch,
        format!("expected {want}, found {found}"),
    )
    .primary(span, "not a quantity")
    .help(format!("write {want}, for example {example}"))
}

pub fn not_a_stage_rate(found: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::UnitMismatch,
        format!("expected a rate (or a percentage of `peak`), found {found}"),
    )
    .primary(span, format!("this is {found}"))
    .help("write a rate such as `1k rps` or `100/s`, or a share of the peak such as `50%`")
}

pub fn mixed_units(verb: &str, left: &str, right: &str, ls: Span, rs: Span) -> Diagnostic {
    Diagnostic::error(Code::MixedUnits, format!("cannot {verb} {left} and {right}"))
        .primary(rs, format!("this is {right}"))
        .secondary(ls, format!("this is {left}"))
        .help("arithmetic needs the same unit on both sides of `+` and `-`, and a plain number on one side of `*` and `/`")
}

/// `same_letters`: a unit spelt the same but for case (`Ms` for `ms`).
pub fn unknown_unit(
    unit: &str,
    span: Span,
    same_letters: Option<&str>,
    units: &[&str],
    known: &str,
) -> Diagnostic {
    let d = Diagnostic::error(Code::UnknownUnit, format!("unknown unit `{unit}`"))
        .primary(span, "this unit is not known");
    match same_letters.or_else(|| suggest(unit, units.iter().copied())) {
        Some(s) => d
            .help(format!("did you mean `{s}`? The units are: {known}"))
            .fix(Fix::replace(
                format!("replace `{unit}` with `{s}`"),
                span,
                s,
            )),
        None => d.help(format!("the units are: {known}")),
    }
}

/// `bound` reads "more than zero" or "zero or more"; `want` the dimension.
pub fn not_positive(bound: &str, want: &str, span: Span) -> Diagnostic {
    Diagnostic::error(Code::OutOfRange, format!("this must be {bound}"))
        .primary(span, "out of range")
        .help(format!("use {want} {bound}"))
}

pub fn outside_range(want: &str, range: &str, span: Span) -> Diagnostic {
    Diagnostic::error(Code::OutOfRange, format!("{want} must be within {range}"))
        .primary(span, "out of range")
        .help(format!("use {want} within {range}"))
}

pub fn whole_number_range(lo: f64, hi: f64, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::OutOfRange,
        format!("expected a whole number from {lo} to {hi}"),
    )
    .primary(span, "out of range")
    .help(format!("use a whole number between {lo} and {hi}"))
}

pub fn not_finite(span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::OutOfRange,
        "this number is too large to mean anything",
    )
    .primary(span, "not a finite number")
    .help("write a value of a realistic size")
}

pub fn division_by_zero(span: Span) -> Diagnostic {
    Diagnostic::error(Code::DivisionByZero, "division by zero")
        .primary(span, "this is zero")
        .help("divide by a non-zero value")
}

pub fn not_one_line(text: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::NotOneLine,
        format!("\"{}\" is not one printable line", text.escape_debug()),
    )
    .primary(span, "control characters or too long")
    .help("write one line of at most 256 characters, without control characters")
}

/// A queue or other name every target carries unquoted.
pub fn invalid_token(text: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::InvalidName,
        format!("\"{}\" is not a valid name here", text.escape_debug()),
    )
    .primary(span, "invalid name")
    .help("use letters, digits, `.`, `_` and `-` (at most 63), starting with a letter or digit")
}

pub fn invalid_request_name(span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::InvalidName,
        "a header, query, cookie or claim name cannot be empty or hold spaces",
    )
    .primary(span, "invalid name")
    .help("use a plain token such as \"x-tenant-id\"")
}

pub fn invalid_role(role: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::InvalidName,
        format!("\"{}\" is not a role name", role.escape_debug()),
    )
    .primary(span, "invalid role")
    .help("role names use letters, digits and `-_.:`")
}

pub fn invalid_hook(name: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::InvalidName,
        format!("\"{}\" is not a hook name", name.escape_debug()),
    )
    .primary(span, "invalid hook name")
    .help("hook names use letters, digits, `_` and `.`: \"risk.score\"")
}

/// A Prometheus metric (`label` false) or label name.
pub fn invalid_prometheus_name(name: &str, label: bool, span: Span) -> Diagnostic {
    let what = if label { "label" } else { "metric" };
    Diagnostic::error(
        Code::InvalidName,
        format!(
            "\"{}\" is not a Prometheus {what} name",
            name.escape_debug()
        ),
    )
    .primary(span, "invalid name")
    .help(format!(
        "{what} names match {}",
        if label {
            "[a-zA-Z_][a-zA-Z0-9_]*"
        } else {
            "[a-zA-Z_:][a-zA-Z0-9_:]*"
        }
    ))
}

/// `why` says what is wrong with the path (the label).
pub fn invalid_path(path: &str, why: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::InvalidPath,
        format!("\"{}\" is not a valid route path", path.escape_debug()),
    )
    .primary(span, why.to_string())
    .help("paths use letters, digits, `-._~/` and `{param}` segments, e.g. \"/v1/reports/{id}\"")
}

pub fn invalid_image(image: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::InvalidImage,
        format!(
            "\"{}\" is not a container image reference",
            image.escape_debug()
        ),
    )
    .primary(span, "invalid image")
    .help("write REGISTRY/NAME:TAG or NAME@sha256:DIGEST")
}

/// The URL of what KEDA queries (`example`: a good one).
pub fn not_http_url(url: &str, span: Span, example: &str) -> Diagnostic {
    Diagnostic::error(
        Code::InvalidUrl,
        format!("\"{}\" is not an http(s) URL", url.escape_debug()),
    )
    .primary(span, "expected http://… or https://…")
    .help(format!(
        "the Prometheus that KEDA queries, for example \"{example}\""
    ))
}

/// `what` the URL is (an issuer, a JWKS), `why` it must be https.
pub fn not_https_url(what: &str, url: &str, span: Span, why: &str) -> Diagnostic {
    Diagnostic::error(
        Code::InvalidUrl,
        format!("the {what} \"{}\" is not an https URL", url.escape_debug()),
    )
    .primary(span, "expected https://…")
    .help(why.to_string())
}

pub fn unknown_word(word: &str, span: Span, allowed: &[&str]) -> Diagnostic {
    let d = Diagnostic::error(
        Code::UnknownWord,
        format!("`{word}` is not one of {}", allowed.join(", ")),
    )
    .primary(span, "not allowed here");
    suggest_or(d, span, word, allowed, || {
        format!("use one of: {}", allowed.join(", "))
    })
}

pub fn unknown_source(name: &str, span: Span) -> Diagnostic {
    let d = Diagnostic::error(Code::UnknownName, format!("unknown source `{name}`"))
        .primary(span, "not a request value");
    suggest_or(
        d,
        span,
        name,
        &["header", "query", "cookie", "claim"],
        || "use header(…), query(…), cookie(…) or claim(…)".to_string(),
    )
}

pub fn percentile_has_no_value(name: &str, span: Span) -> Diagnostic {
    Diagnostic::error(Code::UnknownName, format!("`{name}` has no value here"))
        .primary(span, "no value here")
        .help(format!(
            "`{name}` names a percentile of the same budget, and only there; set it in that budget, or write the value"
        ))
}

// ------------------------------------------------------------------ app and services

pub fn generator_not_one_line(span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::BadVersion,
        "the generator pin must be one printable line",
    )
    .primary(span, "invalid generator")
    .help("write it as \"tool@1.2.3\"")
}

/// `@1.2` names no tool; `tool` or `tool@` names no version.
pub fn generator_incomplete(pin: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::BadVersion,
        if pin.starts_with('@') {
            format!("the generator pin \"{pin}\" names no tool")
        } else {
            format!("the generator pin \"{pin}\" names no version")
        },
    )
    .primary(span, "expected \"tool@version\"")
    .help("pin the generator that produced the app, for example \"appforge@3.2.1\"")
}

/// `error`: why the requirement does not parse.
pub fn bad_version_req(req: &str, error: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::BadVersion,
        format!("\"{req}\" is not a version requirement: {error}"),
    )
    .primary(span, "malformed version")
    .help("write a requirement such as \"0.1\", \">=0.1, <0.3\" or \"=0.1.0\"")
}

pub fn compiler_version(req: &str, ours: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::CompilerVersion,
        format!("this spec needs scalec {req}, but this is scalec {ours}"),
    )
    .primary(span, format!("scalec {ours} does not satisfy this"))
    .help("install a scalec that matches the pin, or update the pin after reading the changelog")
}

pub fn circular_percentile(key: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::CircularPercentile,
        format!("`{key}` is defined in terms of itself"),
    )
    .primary(span, "a circular definition")
    .help("write at least one of the percentiles as a plain duration")
}

pub fn percentile_not_positive(key: &str, span: Span) -> Diagnostic {
    Diagnostic::error(Code::OutOfRange, format!("`{key}` must be more than zero"))
        .primary(span, "not a positive duration")
        .help("a latency budget is a positive duration such as `150ms`")
}

pub fn timeout_not_positive(span: Span) -> Diagnostic {
    Diagnostic::error(Code::OutOfRange, "`timeout` must be more than zero")
        .primary(span, "not a positive duration")
        .help("write a positive duration such as `1s`")
}

/// `lower` (value `lower_ms`) is below `upper`; a `None` span means the
/// value is inherited, and `block` is the budget then pointed at.
pub fn percentile_order(
    lower: &str,
    lower_ms: &str,
    lower_span: Option<Span>,
    upper: &str,
    upper_ms: &str,
    upper_span: Option<Span>,
    block: Span,
) -> Diagnostic {
    let mut d = Diagnostic::error(
        Code::PercentileOrder,
        format!("`{lower}` ({lower_ms}) is below `{upper}` ({upper_ms})"),
    )
    .help("a budget must satisfy p50 ≤ p95 ≤ p99 ≤ timeout");
    d = match lower_span {
        Some(s) => d.primary(s, format!("{lower} is smaller")),
        None => d.primary(block, format!("inherited {lower} is smaller")),
    };
    match upper_span {
        Some(s) => d.secondary(s, format!("than this {upper}")),
        None if lower_span.is_some() => {
            d.secondary(block, format!("the inherited {upper} is {upper_ms}"))
        }
        None => d,
    }
}

pub fn no_budget_bound(span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::NoBudgetBound,
        "this budget has neither `p99` nor `timeout`",
    )
    .primary(span, "no upper bound")
    .help("add `p99 = …` (the timeout then defaults to 1.2 × p99) or `timeout = …`")
}

pub fn timeout_below_p99(timeout: &str, floor: &str, span: Span) -> Diagnostic {
    Diagnostic::warning(
        Code::TimeoutBelowP99,
        format!("timeout {timeout} is below 1.2 × p99 ({floor})"),
    )
    .primary(span, "a tight timeout")
    .help("requests near p99 will be cut off and retried; 1.2 × p99 leaves room, and is the default when `timeout` is omitted")
}

pub fn unused_budget(name: &str, span: Span) -> Diagnostic {
    Diagnostic::warning(
        Code::UnusedBudget,
        format!("the budget `{name}` is never used"),
    )
    .primary(span, "declared here, used nowhere")
    .help("reference it with `budget = NAME` in a route or service, or remove it")
}

pub fn prewarm_needs_warmup(span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::MissingField,
        "`prewarm` needs the endpoint that says the service is warm",
    )
    .primary(span, "warm according to what?")
    .help("add `warmup = \"/path\"`: the startup probe waits for it before the pod takes traffic")
}

pub fn autoscale_twice(span: Span) -> Diagnostic {
    Diagnostic::error(Code::DuplicateField, "`autoscale` is given twice")
        .primary(span, "a second autoscale rule")
        .help("a Deployment scales on one signal: keep one `autoscale` line")
}

pub fn duplicate_route(name: &str, span: Span, first: Span) -> Diagnostic {
    Diagnostic::error(
        Code::DuplicateName,
        format!("the route `{name}` is declared twice"),
    )
    .primary(span, "declared again here")
    .secondary(first, "first declared here")
    .help("give each route of a service its own name")
}

/// `key` is "METHOD /path", `other` the route that already serves it.
pub fn duplicate_endpoint(key: &str, other: &str, span: Span, first: Span) -> Diagnostic {
    Diagnostic::error(
        Code::DuplicateEndpoint,
        format!("`{key}` is already the route `{other}`"),
    )
    .primary(span, "same method and path")
    .secondary(first, "first declared here")
    .help("each method and path is served by one route")
}

pub fn routes_on_dependency(kind: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::RoutesOnDependency,
        format!("a `{kind}` service cannot have routes"),
    )
    .primary(span, "a route on a dependency")
    .help("routes belong to HTTP services (the default kind); declare the HTTP service in front of it and `calls` it")
}

pub fn autoscale_fixed_replicas(replicas: u32, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::AutoscaleFixedReplicas,
        "autoscaling needs a replica range",
    )
    .primary(span, format!("replicas fixed at {replicas}"))
    .help("write `replicas = MIN..MAX` so the autoscaler has room to move")
}

pub fn cpu_autoscale_needs_cpu(span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::MissingField,
        "scaling on CPU needs the service's `cpu`",
    )
    .primary(span, "CPU utilisation is relative to the CPU request")
    .help("add `cpu = 500m` (the request per replica), or scale on `rps` or `queue_depth(…)`")
}

/// `replicas = 5..2`: the fix swaps the bounds.
pub fn replicas_backwards(min: u64, max: u64, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::RangeOrder,
        format!("the replica range {min}..{max} runs backwards"),
    )
    .primary(span, "minimum above maximum")
    .help(format!("write `replicas = {max}..{min}`"))
    .fix(Fix::replace(
        format!("replace `{min}..{max}` with `{max}..{min}`"),
        span,
        format!("{max}..{min}"),
    ))
}

/// `replicas = 2-10`: a subtraction where a range was meant; the fix
/// writes the range.
pub fn range_with_minus(field: &str, lo: f64, hi: f64, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::OutOfRange,
        format!("`{lo}-{hi}` subtracts: it is {}, not a range", lo - hi),
    )
    .primary(span, "a subtraction")
    .help(format!(
        "a range is written with `..`: `{field} = {lo}..{hi}`"
    ))
    .fix(Fix::replace(
        format!("replace `{lo}-{hi}` with `{lo}..{hi}`"),
        span,
        format!("{lo}..{hi}"),
    ))
}

pub fn shard_needs_tenant(span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::MissingField,
        "`shard_by = tenant` needs the app's `tenant`",
    )
    .primary(span, "no tenant is declared")
    .help("add `tenant = header(\"x-tenant-id\")` (or similar) to the `app` block")
}

/// `word`: the signal when written as a bare word.
pub fn unknown_scaling_signal(described: &str, span: Span, word: Option<&str>) -> Diagnostic {
    let help = "scale on `cpu` (target 70%), `rps` (target 200/s per replica) or `queue_depth(\"name\")` (target 100)";
    let d = Diagnostic::error(
        Code::UnknownName,
        format!("cannot autoscale on {described}"),
    )
    .primary(span, "unknown scaling signal");
    match word {
        Some(w) => suggest_or(d, span, w, &["cpu", "rps", "queue_depth"], || {
            help.to_string()
        }),
        None => d.help(help),
    }
}

pub fn unsafe_retry(route: &str, method: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::UnsafeRetry,
        format!("`{route}` retries a {method} without an idempotency key"),
    )
    .primary(span, "a retried write may apply twice")
    .help("add `idempotency = header(\"Idempotency-Key\")` to the route, or remove `retry`")
}

pub fn backoff_backwards(span: Span) -> Diagnostic {
    Diagnostic::error(Code::RangeOrder, "the backoff range runs backwards")
        .primary(span, "first bound above the second")
        .help("write `backoff = SMALLER..LARGER`")
}

pub fn buckets_not_increasing(span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::RangeOrder,
        "histogram buckets must be strictly increasing",
    )
    .primary(span, "out of order")
    .help("list the bucket upper bounds from smallest to largest")
}

pub fn histogram_argument(span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::UnknownField,
        "`histogram` takes a name and `buckets = […]`",
    )
    .primary(span, "unexpected argument")
    .help("write `histogram(\"name\", buckets = [50ms, 100ms])`")
}

/// The label says why: `bad` the first character not allowed, else
/// whether the path lacks its leading `/`.
pub fn invalid_route_path(path: &str, bad: Option<char>, no_slash: bool, span: Span) -> Diagnostic {
    let why = match bad {
        Some(c) => format!("the character {c:?} is not allowed in a route path"),
        None if no_slash => "a route path starts with `/`".to_string(),
        None => "the path has unbalanced `{}`, `//` or `..`".to_string(),
    };
    invalid_path(path, &why, span)
}

/// A call graph cycle: `hops` are (caller → callee, span of the call).
pub fn call_cycle(path: &[&str], hops: &[(&str, &str, Span)]) -> Diagnostic {
    let mut d = Diagnostic::error(
        Code::CallCycle,
        format!("the services call each other in a cycle: {}", path.join(" → ")),
    )
    .help("a call graph must be acyclic so budgets can be summed along it; break the cycle, e.g. with an asynchronous queue");
    for (i, (a, b, span)) in hops.iter().enumerate() {
        let msg = format!("{a} calls {b}");
        d = if i == 0 {
            d.primary(*span, msg)
        } else {
            d.secondary(*span, msg)
        };
    }
    d
}

/// One service on the slowest chain below a route, with what it costs.
pub struct ChainHop {
    service: String,
    duration: String,
    /// The cost is its routes' p99 (end to end), not its own budget.
    routes: bool,
}

impl ChainHop {
    /// A service whose routes' p99 covers everything below it.
    pub fn routes(service: &str, duration: String) -> ChainHop {
        ChainHop {
            service: service.to_string(),
            duration,
            routes: true,
        }
    }

    /// A service costing its own budget.
    pub fn service(service: &str, duration: String) -> ChainHop {
        ChainHop {
            service: service.to_string(),
            duration,
            routes: false,
        }
    }
}

/// `bound` is "p99" or "timeout"; `have` and `need` durations as written.
#[allow(clippy::too_many_arguments)]
pub fn critical_path(
    service: &str,
    route: &str,
    bound: &str,
    have: &str,
    need: &str,
    chain: &[ChainHop],
    span: Span,
    first_call: Option<Span>,
) -> Diagnostic {
    let d = Diagnostic::error(
        Code::CriticalPath,
        format!(
            "the route `{service}.{route}` has {bound} {have} but the slowest chain it calls needs {need}"
        ),
    )
    .primary(span, format!("{bound} {have} here"))
    .note(format!(
        "slowest chain: {}",
        chain
            .iter()
            .map(|h| if h.routes {
                format!("{} routes ({})", h.service, h.duration)
            } else {
                format!("{} ({})", h.service, h.duration)
            })
            .collect::<Vec<_>>()
            .join(" → ")
    ))
    .help("raise the route's p99, or tighten the budgets of the services on that chain");
    match first_call {
        Some(e) => d.secondary(e, "the chain starts with this call"),
        None => d,
    }
}

// ------------------------------------------------------------------ limits and auth

pub fn unknown_limit_key(key: &str, span: Span, keys: &[&str]) -> Diagnostic {
    let d = Diagnostic::error(Code::UnknownLimitKey, format!("cannot limit per `{key}`"))
        .primary(span, "unknown limit key");
    suggest_or(d, span, key, keys, || {
        format!("limit per one of: {}", keys.join(", "))
    })
}

pub fn duplicate_limit_key(key: &str, span: Span, first: Span) -> Diagnostic {
    Diagnostic::error(Code::DuplicateName, format!("`per {key}` is given twice"))
        .primary(span, "given again here")
        .secondary(first, "first given here")
        .help("keep one limit per key")
}

/// `burst = 5` under `rate = 20/s`: the fix raises the burst to one second.
pub fn burst_below_rate(burst: u64, rate: f64, span: Span, rate_span: Span) -> Diagnostic {
    let min = rate.ceil();
    Diagnostic::error(
        Code::BurstBelowRate,
        format!("burst {burst} is less than one second of the rate ({rate}/s)"),
    )
    .primary(span, "too small a burst")
    .secondary(rate_span, "this rate")
    .help(format!(
        "a bucket smaller than one second of rate rejects steady traffic at the stated rate; use `burst = {min}` or more"
    ))
    .fix(Fix::replace(
        format!("replace `{burst}` with `{min}`"),
        span,
        format!("{min}"),
    ))
}

pub fn tenant_not_proxy_readable(span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::TenantNotProxyReadable,
        "`per tenant` cannot use a tenant read from a query or cookie",
    )
    .primary(span, "the app's tenant is not a header or claim")
    .help(
        "proxies key limits on headers or token claims: add `from = header(\"x-tenant-id\")` here",
    )
}

pub fn per_tenant_needs_tenant(span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::MissingField,
        "`per tenant` needs the app's `tenant` (or `from = …`)",
    )
    .primary(span, "where is the tenant read from?")
    .help("add `tenant = header(\"x-tenant-id\")` to the `app`, or `from = header(\"…\")` here")
}

/// A route's `limit = per_x` naming no declared limit; `has_limits`:
/// whether the project has a `limits` block at all.
pub fn undeclared_route_limit(
    written: &str,
    key: &str,
    span: Span,
    declared: &[String],
    has_limits: bool,
) -> Diagnostic {
    let d = Diagnostic::error(
        Code::UnknownLimitKey,
        format!("no limit is declared per `{key}`"),
    )
    .primary(span, "unknown limit");
    let cands: Vec<&str> = declared.iter().map(String::as_str).collect();
    suggest_or(d, span, written, &cands, || {
        if has_limits {
            format!("add `per {key} {{ rate = … }}` to `limits`")
        } else {
            format!("add `limits {{ per {key} {{ rate = 20/s }} }}`")
        }
    })
}

pub fn refresh_cap_long(cap: &str, span: Span) -> Diagnostic {
    Diagnostic::warning(
        Code::RefreshCapLong,
        format!("a session refreshable for {cap} outlives 30 days"),
    )
    .primary(span, "long-lived session")
    .help("a stolen session stays usable until the cap; 30d or less is the usual bound")
}

pub fn unknown_algorithm(name: &str, span: Span, algorithms: &[&str]) -> Diagnostic {
    let d = Diagnostic::error(
        Code::UnknownAlgorithm,
        format!("`{name}` is not a JWT algorithm scalec accepts"),
    )
    .primary(span, "unknown algorithm");
    if name.eq_ignore_ascii_case("none") {
        return d.help("unsigned tokens (`none`) are never accepted");
    }
    suggest_or(d, span, name, algorithms, || {
        format!("use one of: {}", algorithms.join(", "))
    })
}

pub fn jwt_size_too_large(bytes: f64, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::JwtSizeTooLarge,
        format!("a token cap of {bytes} bytes is above 8KiB (8192 bytes)"),
    )
    .primary(span, "headers this large break proxies")
    .help("proxies reject large request headers (nginx's default buffer is 8KiB a line); keep tokens at 2KiB or less")
}

pub fn jwt_size_large(bytes: f64, span: Span) -> Diagnostic {
    Diagnostic::warning(
        Code::JwtSizeLarge,
        format!("a token cap of {bytes} bytes is above 2KiB (2048 bytes)"),
    )
    .primary(span, "large tokens")
    .help(
        "tokens above 2KiB slow every request and near header limits; move claims out of the token",
    )
}

pub fn rotation_overlap(overlap: &str, every: &str, span: Span, every_span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::RotationOverlap,
        format!("the overlap {overlap} is not shorter than the rotation period {every}"),
    )
    .primary(span, "overlap too long")
    .secondary(every_span, "rotation period")
    .help("old and new keys overlap for part of a period: make `overlap` shorter than `every`")
}

// ------------------------------------------------------------------ SLOs

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

/// `threshold` and `buckets` as written for people.
pub fn latency_not_bucket(
    threshold: &str,
    histogram: &str,
    buckets: &[String],
    span: Span,
) -> Diagnostic {
    Diagnostic::error(
        Code::LatencyNotBucket,
        format!("{threshold} is not a bucket bound of `{histogram}`"),
    )
    .primary(span, "not a declared bucket")
    .help(format!(
        "a latency SLI counts `le` buckets; use one of: {}, or add it to the histogram's buckets",
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

// ------------------------------------------------------------------ load tests, chaos, gates

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
        format!("`{service}` has no p99 to take {pct}% of"),
    )
    .primary(span, "relative to what?")
    .help(format!(
        "give `{service}` a budget with p99, or write an absolute delay such as `+50ms`"
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
