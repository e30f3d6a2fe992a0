//! YAML artifacts: built from typed serde values only, never by gluing
//! text, so serde's YAML emitter is the escaper.
//!
//! The emitter follows YAML 1.2, where `on`, `yes`, `n`, `1:20` or `1_000`
//! are plain strings and are written unquoted. The readers of these files do
//! not all agree: PyYAML (kubernetes-validate, many CI tools) and Go's
//! `gopkg.in/yaml.v2` read YAML 1.1, where those words are booleans and
//! numbers, so a service named `on` would become `name: true`. Every plain
//! scalar that YAML 1.1 would read as something other than a string is
//! therefore single-quoted ([`quote_yaml11`]): the same string to every
//! reader.

use crate::backends::{Artifact, Meta};
use serde::Serialize;

/// A YAML artifact built from a typed value, headed by the build header.
///
/// Written by the direct writer ([`super::yaml_emit`]) when the value is in
/// its subset, else by `yaml_serde` and [`quote_yaml11`]; the two agree
/// byte for byte, which debug builds (every test) check on each document.
pub fn yaml_artifact<T: Serialize>(path: String, meta: &Meta, value: &T) -> Artifact {
    let mut contents = meta.header("#");
    match super::yaml_emit::to_string(value) {
        Ok(body) => {
            #[cfg(debug_assertions)]
            {
                let slow = slow_yaml(value);
                assert!(
                    body == slow,
                    "the direct YAML writer disagrees with yaml_serde on {path}:\n--- direct\n{body}\n--- yaml_serde\n{slow}"
                );
            }
            contents.push_str(&body);
        }
        Err(_) => contents.push_str(&slow_yaml(value)),
    }
    Artifact { path, contents }
}

/// `value` by `yaml_serde`, then the YAML 1.1 quoting.
fn slow_yaml<T: Serialize>(value: &T) -> String {
    let body = yaml_serde::to_string(value).expect("generated values serialise to YAML");
    quote_yaml11(&body)
}

/// Whether YAML 1.1 reads this plain scalar as a boolean, a null or a
/// number (not a string). Errs on the side of quoting: a quoted string is
/// the same string to every reader.
pub(super) fn yaml11_not_a_string(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false",
        "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL", "~", "",
        "=", "<<",
    ];
    if s.len() <= 5 && WORDS.contains(&s) {
        return true;
    }
    yaml11_number(s)
}

/// YAML 1.1's int and float forms (as PyYAML and `gopkg.in/yaml.v2`
/// resolve them): `0b…`, `0x…`, octal `0…`, decimal with `_`, base 60
/// (`1:20`), floats with `_`, `.inf`, `.nan`.
fn yaml11_number(s: &str) -> bool {
    if matches!(s, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    // Every form below starts with a digit or a `.`.
    if !body
        .bytes()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || c == b'.')
    {
        return false;
    }
    if matches!(body, ".inf" | ".Inf" | ".INF") {
        return true;
    }
    let all = |t: &str, f: fn(u8) -> bool| !t.is_empty() && t.bytes().all(f);
    let dec_ = |b: u8| b.is_ascii_digit() || b == b'_';
    if let Some(b) = body.strip_prefix("0b") {
        return all(b, |c| c == b'0' || c == b'1' || c == b'_');
    }
    if let Some(x) = body.strip_prefix("0x") {
        return all(x, |c| c.is_ascii_hexdigit() || c == b'_');
    }
    // Float: mantissa with a `.`, then an optional exponent `e[+-]N`.
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        e.strip_prefix(['+', '-'])
            .is_some_and(|d| all(d, |c| c.is_ascii_digit()))
    });
    // Base 60: N(:[0-5]?[0-9])+ with an optional `.fraction`.
    let sexagesimal = |t: &str| {
        let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
        let mut parts = whole.split(':');
        let first = parts.next().unwrap_or("");
        let rest: Vec<&str> = parts.collect();
        !rest.is_empty()
            && all(first, dec_)
            && first.as_bytes()[0].is_ascii_digit()
            && rest.iter().all(|p| {
                (1..=2).contains(&p.len())
                    && all(p, |c| c.is_ascii_digit())
                    && (p.len() == 1 || p.as_bytes()[0] <= b'5')
            })
            && (frac.is_empty() || all(frac, dec_))
    };
    if sexagesimal(body) {
        return true;
    }
    if let Some((int, frac)) = mantissa.split_once('.') {
        let int_ok = int.is_empty() || (all(int, dec_) && int.as_bytes()[0].is_ascii_digit());
        let frac_ok = frac.is_empty() || all(frac, dec_);
        return int_ok && frac_ok && !(int.is_empty() && frac.is_empty()) && exponent_ok;
    }
    // Ints: decimal (with `_`) or octal `0[0-7_]+`.
    exponent.is_none() && all(body, dec_) && body.as_bytes()[0].is_ascii_digit()
}

/// Whether YAML 1.2's core schema (the emitter's) reads this plain scalar
/// as a boolean, a null or a number. The emitter quotes every *string* of
/// that kind, so such a plain scalar in its output is a typed value (a
/// port, a count) and stays as it is.
pub(super) fn yaml12_not_a_string(s: &str) -> bool {
    if matches!(
        s,
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE" | "null" | "Null" | "NULL" | "~"
    ) {
        return true;
    }
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    if let Some(h) = s.strip_prefix("0x") {
        return !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit());
    }
    if let Some(o) = s.strip_prefix("0o") {
        return !o.is_empty() && o.bytes().all(|b| (b'0'..=b'7').contains(&b));
    }
    if matches!(body, ".inf" | ".Inf" | ".INF") || matches!(s, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    // [0-9]+ (. [0-9]*)? | . [0-9]+, then an optional exponent.
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        None => digits(mantissa),
        Some((int, frac)) => {
            (digits(int) && (frac.is_empty() || digits(frac))) || (int.is_empty() && digits(frac))
        }
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

/// The length of a quoted mapping key at the start of `rest` (up to and
/// including its closing quote), when `rest` is `'key': …` or `"key": …`.
fn quoted_key_end(rest: &str) -> Option<usize> {
    let b = rest.as_bytes();
    let q = *b.first()?;
    if q != b'\'' && q != b'"' {
        return None;
    }
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'\\' if q == b'"' => i += 2,
            c if c == q => {
                // `''` inside a single-quoted scalar is one quote.
                if q == b'\'' && b.get(i + 1) == Some(&b'\'') {
                    i += 2;
                    continue;
                }
                let end = i + 1;
                return (rest[end..].starts_with(": ") || &rest[end..] == ":").then_some(end);
            }
            _ => i += 1,
        }
    }
    None
}

/// Single-quotes every plain scalar (mapping key, value or sequence item)
/// of block YAML as the emitter writes it that YAML 1.1 would not read as
/// a string. Block scalars (`|`) are left alone.
pub fn quote_yaml11(body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 16);
    // Inside a `|` block scalar: lines indented deeper than this are text.
    let mut block_indent: Option<usize> = None;
    for line in body.split_inclusive('\n') {
        let text = line.strip_suffix('\n').unwrap_or(line);
        let indent = text.len() - text.trim_start_matches(' ').len();
        if let Some(b) = block_indent {
            if indent > b || text.trim().is_empty() {
                out.push_str(line);
                continue;
            }
            block_indent = None;
        }
        let mut rest = &text[indent..];
        let mut prefix = indent;
        while let Some(r) = rest.strip_prefix("- ") {
            rest = r;
            prefix += 2;
        }
        // A quoted key: copy it as written, then look at its value.
        if let Some(end) = quoted_key_end(rest) {
            out.push_str(&text[..prefix + end]);
            rest = &rest[end..];
            if let Some(v) = rest.strip_prefix(": ") {
                out.push_str(": ");
                rest = v;
                if rest.starts_with('|') || rest.starts_with('>') {
                    block_indent = Some(indent);
                    out.push_str(rest);
                } else if rest.starts_with(['\'', '"', '[', '{', '&', '*', '!']) {
                    out.push_str(rest);
                } else if !rest.is_empty()
                    && yaml11_not_a_string(rest)
                    && !yaml12_not_a_string(rest)
                {
                    out.push_str(&format!("'{rest}'"));
                } else {
                    out.push_str(rest);
                }
            } else {
                out.push_str(rest);
            }
            if line.ends_with('\n') {
                out.push('\n');
            }
            continue;
        }
        let (key, value) = match rest.find(": ") {
            _ if rest.starts_with(['\'', '"']) => (None, Some(rest)),
            Some(i) => (Some(&rest[..i]), Some(&rest[i + 2..])),
            None => match rest.strip_suffix(':') {
                Some(k) => (Some(k), None),
                None => (None, Some(rest)),
            },
        };
        let quoted = |s: &str| -> String {
            if !s.is_empty() && yaml11_not_a_string(s) && !yaml12_not_a_string(s) {
                format!("'{s}'")
            } else {
                s.to_string()
            }
        };
        out.push_str(&text[..prefix]);
        if let Some(k) = key {
            out.push_str(&quoted(k));
            out.push(':');
            if value.is_some() {
                out.push(' ');
            }
        }
        if let Some(v) = value {
            if v.starts_with('|') || v.starts_with('>') {
                block_indent = Some(indent);
                out.push_str(v);
            } else if v.starts_with(['\'', '"', '[', '{', '&', '*', '!']) {
                out.push_str(v);
            } else {
                out.push_str(&quoted(v));
            }
        }
        if line.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn emit<T: Serialize>(v: &T) -> String {
        quote_yaml11(&yaml_serde::to_string(v).unwrap())
    }

    #[test]
    fn yaml11_booleans_and_numbers_are_quoted() {
        let mut m = BTreeMap::new();
        for (k, v) in [
            ("on", "yes"),
            ("name", "off"),
            ("n", "N"),
            ("base60", "1:20"),
            ("under", "1_000"),
            ("octal", "0o17"),
            ("plain", "api"),
            ("sentence", "turn it on"),
        ] {
            m.insert(k, v);
        }
        let out = emit(&vec![m]);
        assert_eq!(
            out,
            "- base60: '1:20'\n  'n': 'N'\n  name: 'off'\n  octal: '0o17'\n  'on': 'yes'\n  plain: api\n  sentence: turn it on\n  under: '1_000'\n"
        );
        let items = emit(&vec!["on", "y", "api", "1.5", "1e3", "-3"]);
        assert_eq!(items, "- 'on'\n- 'y'\n- api\n- '1.5'\n- '1e3'\n- '-3'\n");
    }

    /// Numbers and booleans the emitter writes as such stay typed.
    #[test]
    fn typed_values_stay_plain() {
        #[derive(Serialize)]
        struct T {
            port: u16,
            ratio: f64,
            on: bool,
            name: &'static str,
        }
        let out = emit(&T {
            port: 8080,
            ratio: 0.5,
            on: true,
            name: "off",
        });
        assert_eq!(out, "port: 8080\nratio: 0.5\n'on': true\nname: 'off'\n");
    }

    #[test]
    fn block_scalars_and_quoted_values_are_left_alone() {
        let mut m = BTreeMap::new();
        m.insert("expr", "on\nyes\n- no: off");
        m.insert("quoted", "it's: on");
        let out = emit(&m);
        let back: BTreeMap<String, String> = yaml_serde::from_str(&out).unwrap();
        assert_eq!(back["expr"], "on\nyes\n- no: off");
        assert_eq!(back["quoted"], "it's: on");
        assert!(out.contains("  on\n  yes\n  - no: off"), "{out}");
    }

    /// A quoted key's value is looked at too (review finding).
    #[test]
    fn values_after_quoted_keys_are_quoted() {
        let mut m = BTreeMap::new();
        m.insert("true", "on");
        m.insert("a: b", "=");
        let out = emit(&m);
        let back: BTreeMap<String, String> = yaml_serde::from_str(&out).unwrap();
        assert_eq!(back["true"], "on");
        assert_eq!(back["a: b"], "=");
        assert!(out.contains("'true': 'on'"), "{out}");
        assert!(out.contains(": '='"), "{out}");
    }

    /// Quoting never changes what a YAML 1.2 reader gets.
    #[test]
    fn the_quoted_text_reads_back_the_same() {
        let words = [
            "on", "Off", "YES", "n", "~", "null", "1:2:3", "0x1F", ".inf", "-.5", "1_0", "api",
            "a b", "é", "#x", "x #y", "- z", "true", "1e3", "+1", "0b101", "api-1", "1.2.3", "1-2",
            "08", "v1.0",
        ];
        let mut m = BTreeMap::new();
        for (i, w) in words.iter().enumerate() {
            m.insert(w.to_string(), vec![w.to_string(), format!("{i}")]);
        }
        let out = emit(&m);
        let back: BTreeMap<String, Vec<String>> = yaml_serde::from_str(&out).unwrap();
        assert_eq!(back, m, "{out}");
    }
}
