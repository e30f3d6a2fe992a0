//! Values: types and units, ranges, names and text written into other files.

use super::*;

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
    /// The arguments of a route's own rate: `per_api_key(50/s)`.
    OwnRate,
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
            Expected::OwnRate => s(
                "a rate, and optionally a burst",
                "write `per_api_key(50/s)` or `per_api_key(rate = 50/s, burst = 100)`",
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
/// A `{…}` segment of a route path whose name is not an identifier.
pub fn invalid_route_param(path: &str, param: &str, span: Span) -> Diagnostic {
    let why = if param.is_empty() {
        "`{}` is a parameter without a name".to_string()
    } else {
        format!("`{{{}}}` is not a parameter name", param.escape_debug())
    };
    Diagnostic::error(
        Code::InvalidPath,
        format!("\"{}\" is not a valid route path", path.escape_debug()),
    )
    .primary(span, why)
    .help("name each parameter with an identifier (a letter or `_`, then letters, digits and `_`), e.g. \"/v1/items/{id}\"")
}

pub fn invalid_path(path: &str, why: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::InvalidPath,
        format!("\"{}\" is not a valid route path", path.escape_debug()),
    )
    .primary(span, why.to_string())
    .help("paths use letters, digits, `-._~/` and `{param}` segments, e.g. \"/v1/reports/{id}\"")
}

/// What is wrong with a container image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageFlaw {
    Empty,
    /// The name is longer than 255 characters.
    TooLong,
    /// The registry host (before the first `/`) is not `host[:port]`.
    Registry,
    /// A path component (this one) is empty, upper case, `..`, or holds
    /// other characters.
    Component(String),
    Tag,
    Digest,
}

pub fn invalid_image(image: &str, flaw: ImageFlaw, span: Span) -> Diagnostic {
    let shown: String = if image.chars().count() > 80 {
        format!("{}…", image.chars().take(80).collect::<String>())
    } else {
        image.to_string()
    };
    let why = match flaw {
        ImageFlaw::Empty => "the reference is empty".to_string(),
        ImageFlaw::TooLong => "the name is longer than 255 characters".to_string(),
        ImageFlaw::Registry => "the registry is not HOST or HOST:PORT".to_string(),
        ImageFlaw::Component(c) if c.is_empty() => {
            "the name has an empty component (`//`, or `/` at an end)".to_string()
        }
        ImageFlaw::Component(c) => format!(
            "the name component \"{}\" is not lower-case letters and digits joined by `.`, `_`, `__` or `-`",
            c.chars().take(40).collect::<String>().escape_debug()
        ),
        ImageFlaw::Tag => "the tag is not 1 to 128 letters, digits, `_`, `.` and `-` (not starting with `.` or `-`)".to_string(),
        ImageFlaw::Digest => "the digest is not sha256: and 64 lower-case hex digits (or sha512: and 128)".to_string(),
    };
    Diagnostic::error(
        Code::InvalidImage,
        format!(
            "\"{}\" is not a container image reference",
            shown.escape_debug()
        ),
    )
    .primary(span, why)
    .help("write [REGISTRY[:PORT]/]name/path[:TAG][@sha256:DIGEST], with a lower-case name, such as \"ghcr.io/acme/api:1.2.0\" (the OCI distribution reference grammar)")
}

/// The URL of what KEDA queries (`example`: a good one); `bad` the first
/// character outside RFC 3986, if that is what is wrong.
pub fn not_http_url(url: &str, bad: Option<char>, span: Span, example: &str) -> Diagnostic {
    let d = Diagnostic::error(
        Code::InvalidUrl,
        format!("\"{}\" is not an http(s) URL", url.escape_debug()),
    );
    match bad {
        Some(c) => d.primary(span, url_char_label(c)).help(URL_CHARS_HELP),
        None => d
            .primary(span, "expected http://… or https://…")
            .help(format!(
                "the Prometheus that KEDA queries, for example \"{example}\""
            )),
    }
}

/// `what` the URL is (an issuer, a JWKS), `why` it must be https; `bad`
/// the first character outside RFC 3986, if that is what is wrong.
pub fn not_https_url(
    what: &str,
    url: &str,
    bad: Option<char>,
    span: Span,
    why: &str,
) -> Diagnostic {
    let d = Diagnostic::error(
        Code::InvalidUrl,
        format!("the {what} \"{}\" is not an https URL", url.escape_debug()),
    );
    match bad {
        Some(c) => d.primary(span, url_char_label(c)).help(URL_CHARS_HELP),
        None => d.primary(span, "expected https://…").help(why.to_string()),
    }
}

fn url_char_label(c: char) -> String {
    if c == '%' {
        "a `%` that is not followed by two hex digits".to_string()
    } else {
        format!("{} is not allowed in a URL", describe_char(c))
    }
}

const URL_CHARS_HELP: &str = "a URL holds letters, digits, `-._~:/?#[]@!$&'()*+,;=` and `%` followed by two hex digits (RFC 3986); write any other character percent-encoded";

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

/// A character named for people: what it is, and its code point when it
/// cannot be shown (`a line break (U+000A)`, `` `"` ``).
pub fn describe_char(c: char) -> String {
    let what = match c {
        '\n' => "a line break",
        '\r' => "a carriage return",
        '\t' => "a tab",
        '\0' => "a NUL character",
        '\u{1B}' => "an escape character",
        '\u{7F}' => "a delete character",
        '\u{2028}' => "a line separator",
        '\u{2029}' => "a paragraph separator",
        '\u{200E}'
        | '\u{200F}'
        | '\u{061C}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}' => "a bidirectional control",
        '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' => "an invisible character",
        ' ' => "a space",
        '`' => return "a backtick".to_string(),
        c if c.is_control() => "a control character",
        c if c.is_whitespace() => "a space character",
        c if c.is_ascii_graphic() => return format!("`{c}`"),
        _ => "the character",
    };
    if c == ' ' {
        return what.to_string();
    }
    format!("{what} (U+{:04X})", c as u32)
}

/// What is wrong with the text of a file path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathFlaw {
    /// A control, invisible or bidirectional character, or a non-plain space.
    Char(char),
    /// A space at the start or the end.
    OuterSpace,
}

/// A `contract`, `use` or other file path whose text is not one plain line.
pub fn unsafe_path(path: &str, flaw: PathFlaw, span: Span) -> Diagnostic {
    let what = match flaw {
        PathFlaw::Char(c) => format!("holds {}", describe_char(c)),
        PathFlaw::OuterSpace => "starts or ends with a space".to_string(),
    };
    Diagnostic::error(
        Code::NotOneLine,
        format!(
            "the path \"{}\" {what}: it is not a valid file path",
            path.escape_debug()
        ),
    )
    .primary(span, "not one printable line")
    .help("write the path as one line of printable characters: no control, invisible or bidirectional characters, and no spaces around it")
}

/// Where a request value is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestName {
    Header,
    Query,
    Cookie,
    Claim,
}

impl RequestName {
    fn word(self) -> &'static str {
        match self {
            RequestName::Header => "header",
            RequestName::Query => "query parameter",
            RequestName::Cookie => "cookie",
            RequestName::Claim => "claim",
        }
    }
}

/// What is wrong with a header, query, cookie or claim name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameFlaw {
    Empty,
    TooLong,
    Char(char),
}

/// A header, query, cookie or claim name its target does not allow.
pub fn invalid_request_name(
    kind: RequestName,
    name: &str,
    flaw: NameFlaw,
    span: Span,
) -> Diagnostic {
    let word = kind.word();
    let message = match flaw {
        NameFlaw::Empty => format!("a {word} name cannot be empty"),
        NameFlaw::TooLong => format!(
            "the {word} name \"{}…\" is longer than 256 characters",
            name.chars().take(32).collect::<String>().escape_debug()
        ),
        NameFlaw::Char(c) => format!(
            "the {word} name \"{}\" holds {}, which a {word} name cannot",
            name.escape_debug(),
            describe_char(c)
        ),
    };
    let help = match kind {
        RequestName::Header => format!(
            "{word} names are HTTP tokens (RFC 9110); so that every generated proxy carries them safely, use letters, digits, `-` and `_` (nginx reads no other), such as \"x-tenant-id\""
        ),
        RequestName::Cookie => format!(
            "{word} names are HTTP tokens (RFC 9110); so that every generated proxy carries them safely, use letters, digits, `-`, `_` and `.`, such as \"session_id\""
        ),
        RequestName::Query => "query parameter names use printable ASCII without spaces, quotes, `\\`, `{}`, `$`, `<>`, a backtick or `;`, such as \"tenant\"".to_string(),
        RequestName::Claim => "claim names use printable ASCII without spaces, quotes, `\\`, `{}`, `$`, `<>`, a backtick or `;`, such as \"tenant\" or \"https://example.com/tenant\"".to_string(),
    };
    Diagnostic::error(Code::InvalidName, message)
        .primary(span, format!("invalid {word} name"))
        .help(help)
}

/// `cpu = 0.5 cores` (or `2 vcpu`, `500 millicores`): CPU is a bare number
/// of cores or millicores with `m`; `fixed` is the amount written so.
pub fn cpu_unit(word: &str, fixed: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::UnknownUnit,
        format!("`{word}` is not a CPU unit: CPU is a number of cores (`0.5`, `2`) or of millicores (`500m`)"),
    )
    .primary(span, format!("write `{fixed}`"))
    .help(format!("write `cpu = {fixed}`: a bare number counts cores, `m` millicores (`0.5` = `500m`)"))
    .fix(Fix::replace(format!("replace with `{fixed}`"), span, fixed))
}

/// `512 MB`: a unit is written against its number, with no space.
pub fn spaced_unit(fixed: &str, unit: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::UnitMismatch,
        format!("the unit `{unit}` must be written against its number: `{fixed}`"),
    )
    .primary(span, "a space before the unit")
    .help(format!("write `{fixed}`, with no space"))
    .fix(Fix::replace(format!("replace with `{fixed}`"), span, fixed))
}
