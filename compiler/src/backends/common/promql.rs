//! Small, exact pieces of PromQL text: numbers, durations, quoted strings,
//! selectors, the status-code regex and the `le` value of a bucket. Every
//! function here is pure and deterministic; the rule builders only combine
//! their results.

use std::fmt::Write as _;

/// A number as PromQL and YAML want it: rounded to 12 significant digits
/// (so `0.02 × 672` prints as `13.44`, not `13.440000000000001`), then the
/// shortest decimal form, never an exponent.
pub fn num(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return if x.is_nan() {
            "NaN".into()
        } else if x.is_infinite() {
            if x > 0.0 {
                "+Inf".into()
            } else {
                "-Inf".into()
            }
        } else {
            "0".into()
        };
    }
    let rounded: f64 = format!("{x:.11e}")
        .parse()
        .expect("a formatted float parses");
    format!("{rounded}")
}

/// A duration in milliseconds as a Prometheus duration: compound units from
/// days down to milliseconds (`5m`, `1h`, `3d`, `1h30m`, `90s`). Weeks and
/// years are not used, so `7d` stays `7d`. Sub-millisecond parts are dropped.
pub fn duration(ms: f64) -> String {
    let mut rest = ms.round().max(0.0) as u64;
    if rest == 0 {
        return "0s".into();
    }
    const UNITS: [(&str, u64); 5] = [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    let mut out = String::new();
    for (unit, size) in UNITS {
        if rest >= size {
            let _ = write!(out, "{}{unit}", rest / size);
            rest %= size;
        }
    }
    out
}

/// A double-quoted PromQL string literal. Backslash, quote, control and
/// invisible characters are escaped, so a label value can never end the
/// string early ([`super::escape::promql_label_value`]).
pub fn string(s: &str) -> String {
    super::escape::promql_label_value(s)
}

/// A label name as PromQL accepts it (`[a-zA-Z_][a-zA-Z0-9_]*`): the
/// checker only lets identifiers through, and anything else is turned into
/// one here (other characters become `_`) rather than breaking the query.
pub fn label_name(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        out.insert(0, '_');
    }
    out
}

/// A metric name as PromQL accepts it (`[a-zA-Z_:][a-zA-Z0-9_:]*`), made so
/// the same way as [`label_name`].
pub fn metric_name(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == ':') {
        out.insert(0, '_');
    }
    out
}

/// The words of the PromQL lexer (keywords, operators, aggregations and
/// modifiers; it compares them in lower case) that a bare metric name
/// cannot be.
const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "unless",
    "atan2",
    "sum",
    "avg",
    "count",
    "min",
    "max",
    "group",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "count_values",
    "quantile",
    "limitk",
    "limit_ratio",
    "offset",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "start",
    "end",
    "step",
    "range",
    "smoothed",
    "anchored",
    "inf",
    "nan",
];

/// How a label is matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Re,
}

/// One label matcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    pub label: String,
    pub op: Op,
    pub value: String,
}

impl Matcher {
    pub fn eq(label: &str, value: &str) -> Self {
        Matcher {
            label: label.into(),
            op: Op::Eq,
            value: value.into(),
        }
    }

    pub fn re(label: &str, value: &str) -> Self {
        Matcher {
            label: label.into(),
            op: Op::Re,
            value: value.into(),
        }
    }
}

/// `metric{a="x",b=~"y"}`, matchers in the order given. Names go through
/// [`metric_name`] and [`label_name`], values through [`string`].
pub fn selector(metric: &str, matchers: &[Matcher]) -> String {
    let name = metric_name(metric);
    // A metric named like a PromQL keyword (`on`, `bool`, `group_left`,
    // `inf`, …) cannot stand as a bare name: select it by `__name__`.
    let keyword = KEYWORDS.contains(&name.to_ascii_lowercase().as_str());
    let mut out = if keyword {
        format!("{{__name__={}", string(&name))
    } else {
        format!("{name}{{")
    };
    for (i, m) in matchers.iter().enumerate() {
        if i > 0 || keyword {
            out.push(',');
        }
        out.push_str(&label_name(&m.label));
        out.push_str(match m.op {
            Op::Eq => "=",
            Op::Re => "=~",
        });
        out.push_str(&string(&m.value));
    }
    out.push('}');
    out
}

/// The regex (anchored by Prometheus) matching every three-digit HTTP
/// status code from `min` to 599: `500` → `5..`, `400` → `4..|5..`,
/// `429` → `429|4[3-9].|5..`, `503` → `50[3-9]|5[1-9].`. Values outside
/// 100..=599 are clamped into it (the checker rejects them before).
pub fn status_at_least(min: u16) -> String {
    let min = min.clamp(100, 599);
    let (h, t, u) = (min / 100, (min / 10) % 10, min % 10);
    let mut alts: Vec<String> = Vec::new();
    // Same hundred and ten: units from `u` up.
    if u != 0 {
        alts.push(if u == 9 {
            format!("{h}{t}9")
        } else {
            format!("{h}{t}[{u}-9]")
        });
    }
    // Same hundred: tens from `t` (or `t + 1` when the units were partial) up.
    let tens_from = if u == 0 { t } else { t + 1 };
    if tens_from == 0 {
        alts.push(format!("{h}.."));
    } else if tens_from == 9 {
        alts.push(format!("{h}9."));
    } else if tens_from < 9 {
        alts.push(format!("{h}[{tens_from}-9]."));
    }
    // Every higher hundred up to 5xx.
    for higher in h + 1..=5 {
        alts.push(format!("{higher}.."));
    }
    alts.join("|")
}

/// A float written the way the Go Prometheus client writes a bucket bound
/// (`strconv.FormatFloat(f, 'g', -1, 64)`): `0.4`, `1`, `2.5`, `1e-05`,
/// `1e+06`. The Rust `prometheus` crate agrees for everyday values; the
/// Python client writes `1.0`, and Prometheus 3 normalises integral bounds
/// to `1.0` on ingestion — see [`le_matcher`].
pub fn go_float(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    if x.is_infinite() {
        return if x > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if x.is_nan() {
        return "NaN".into();
    }
    // Rust's `{:e}` gives the shortest round-tripping digits, as Go's -1
    // precision does: `d[.ddd]e<exp>`.
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').expect("exponent form");
    let exp: i32 = exp.parse().expect("exponent");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let sign = if x < 0.0 { "-" } else { "" };
    if !(-4..6).contains(&exp) {
        let frac = &digits[1..];
        let dot = if frac.is_empty() {
            String::new()
        } else {
            format!(".{frac}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{}{dot}e{esign}{:02}", &digits[..1], exp.abs());
    }
    let n = digits.len() as i32;
    let body = if exp < 0 {
        format!("0.{}{}", "0".repeat((-exp - 1) as usize), digits)
    } else if exp + 1 >= n {
        format!("{}{}", digits, "0".repeat((exp + 1 - n) as usize))
    } else {
        let (int, frac) = digits.split_at((exp + 1) as usize);
        format!("{int}.{frac}")
    };
    format!("{sign}{body}")
}

/// The matcher on `le` for a bucket bound given in milliseconds. The value
/// is written as the Go client writes it ([`go_float`] of the bound in
/// seconds). An integral bound (`1`, `2`) also appears as `1.0`: Prometheus 3
/// normalises `le` to that form on ingestion, and Prometheus 2 does so for
/// protobuf scrapes. For those bounds the matcher is a regex accepting both,
/// so the rule keeps matching across versions; a target exposes one form at
/// a time, so the sum never counts a bucket twice.
pub fn le_matcher(threshold_ms: f64) -> Matcher {
    let go = go_float(threshold_ms / 1000.0);
    if go.contains(['.', 'e']) || go.contains("Inf") {
        Matcher::eq("le", &go)
    } else {
        Matcher::re("le", &format!("{go}|{go}\\.0"))
    }
}

/// Greatest common divisor, for choosing test intervals.
pub fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(num(0.02 * 672.0), "13.44");
        assert_eq!(num(14.4), "14.4");
        assert_eq!(num(0.999), "0.999");
        assert_eq!(num(0.1 * 672.0 / 72.0), "0.933333333333");
        assert_eq!(num(100.0), "100");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(1e-5), "0.00001");
    }

    #[test]
    fn durations() {
        assert_eq!(duration(300_000.0), "5m");
        assert_eq!(duration(3_600_000.0), "1h");
        assert_eq!(duration(86_400_000.0 * 3.0), "3d");
        assert_eq!(duration(86_400_000.0 * 28.0), "28d");
        assert_eq!(duration(5_400_000.0), "1h30m");
        assert_eq!(duration(1_500.0), "1s500ms");
        assert_eq!(duration(0.0), "0s");
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(string(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(string("x\ny"), r#""x\ny""#);
    }

    #[test]
    fn names_cannot_break_a_query() {
        assert_eq!(label_name("http_route"), "http_route");
        assert_eq!(label_name(r#"a"} or up{"#), "a___or_up_");
        assert_eq!(label_name("9x"), "_9x");
        assert_eq!(
            metric_name("slo:sli_error:ratio_rate5m"),
            "slo:sli_error:ratio_rate5m"
        );
        assert_eq!(metric_name("a b"), "a_b");
        // Hostile corpus: `requests = counter("on")` gave `on{…}`, which
        // promtool refuses ("unexpected <on> in aggregation").
        assert_eq!(
            selector("on", &[Matcher::eq("svc", "api")]),
            r#"{__name__="on",svc="api"}"#
        );
        assert_eq!(selector("Inf", &[]), r#"{__name__="Inf"}"#);
        assert_eq!(
            selector("http_requests_total", &[]),
            "http_requests_total{}"
        );
        assert_eq!(
            selector(r#"x"y"#, &[Matcher::eq(r#"l"}"#, r#"v"}"#)]),
            r#"x_y{l__="v\"}"}"#
        );
    }

    #[test]
    fn status_regexes() {
        assert_eq!(status_at_least(500), "5..");
        assert_eq!(status_at_least(400), "4..|5..");
        assert_eq!(status_at_least(429), "429|4[3-9].|5..");
        assert_eq!(status_at_least(503), "50[3-9]|5[1-9].");
        assert_eq!(status_at_least(590), "59.");
        assert_eq!(status_at_least(599), "599");
        assert_eq!(status_at_least(410), "4[1-9].|5..");
        assert_eq!(status_at_least(1000), "599");
    }

    #[test]
    fn status_regex_matches_exactly_the_codes_at_or_above() {
        // Brute force over every minimum and code, with a tiny matcher for
        // the subset of regex syntax `status_at_least` writes.
        fn matches(alt: &str, code: &str) -> bool {
            let mut pat = alt.chars().peekable();
            for c in code.chars() {
                match pat.next() {
                    Some('.') => {}
                    Some('[') => {
                        let lo = pat.next().unwrap();
                        pat.next();
                        let hi = pat.next().unwrap();
                        pat.next();
                        if c < lo || c > hi {
                            return false;
                        }
                    }
                    Some(p) if p == c => {}
                    _ => return false,
                }
            }
            pat.next().is_none()
        }
        for min in 100..=599u16 {
            let re = status_at_least(min);
            for code in 100..=599u16 {
                let hit = re.split('|').any(|alt| matches(alt, &code.to_string()));
                assert_eq!(hit, code >= min, "min {min} code {code} regex {re}");
            }
        }
    }

    #[test]
    fn go_formatting() {
        assert_eq!(go_float(0.4), "0.4");
        assert_eq!(go_float(1.0), "1");
        assert_eq!(go_float(2.5), "2.5");
        assert_eq!(go_float(0.005), "0.005");
        assert_eq!(go_float(0.0001), "0.0001");
        assert_eq!(go_float(0.00001), "1e-05");
        assert_eq!(go_float(100000.0), "100000");
        assert_eq!(go_float(1000000.0), "1e+06");
        assert_eq!(go_float(1234567.0), "1.234567e+06");
        assert_eq!(go_float(10.0), "10");
    }

    #[test]
    fn le_matchers() {
        assert_eq!(le_matcher(400.0), Matcher::eq("le", "0.4"));
        assert_eq!(le_matcher(1000.0), Matcher::re("le", "1|1\\.0"));
        assert_eq!(
            selector("h_bucket", &[le_matcher(1000.0)]),
            r#"h_bucket{le=~"1|1\\.0"}"#
        );
    }
}
