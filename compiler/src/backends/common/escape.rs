//! Escapers: the only way spec data enters a text format.
//!
//! Each function turns an arbitrary string (a service name, a path, a
//! header, an issuer…) into a literal of one format that, read back by that
//! format's parser, is exactly the input — and can never end the literal
//! early, open a comment, interpolate a variable or start a new statement.
//! Where a format has no way to write a character at all (nginx has no
//! escape for `$` inside a string), the escaper refuses with an
//! [`Unrepresentable`] instead of writing something else: the backend turns
//! that into a diagnostic pointing at the construct.
//!
//! Bidirectional controls (`U+202A…U+202E`, `U+2066…U+2069`, `U+200E`,
//! `U+200F`, `U+061C`) and line/paragraph separators are always escaped or
//! refused, so generated files cannot be made to read differently from what
//! they do (CVE-2021-42574, "Trojan Source").

use std::fmt::{self, Write as _};

/// A character a format cannot hold inside a string literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unrepresentable {
    pub format: &'static str,
    pub ch: char,
}

impl fmt::Display for Unrepresentable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} cannot hold the character U+{:04X} in a string",
            self.format, self.ch as u32
        )
    }
}

impl std::error::Error for Unrepresentable {}

/// Bidirectional controls, line and paragraph separators, BOM and other
/// invisible characters that change how text reads.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{2066}'..='\u{2069}'
            | '\u{061C}'
            | '\u{FEFF}'
    )
}

/// A double-quoted PromQL (Go) string literal, for label values and
/// regexes. Backslash, quote, control and invisible characters are escaped.
pub fn promql_label_value(s: &str) -> String {
    c_quoted(s, |out, c| {
        let _ = write!(out, "\\u{:04x}", c as u32);
    })
}

/// `"…"` with the C-style escapes Go and Rust share (`\\`, `\"`, `\n`,
/// `\r`, `\t`); every other control or invisible character is written by
/// `unicode` in the target's own `\u` form.
fn c_quoted(s: &str, unicode: fn(&mut String, char)) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || is_invisible(c) => unicode(&mut out, c),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A double-quoted JavaScript string literal (k6 scripts). Besides quotes
/// and backslashes it escapes `` ` `` and `$` (safe to paste into a template
/// literal), `/` (so `*/` cannot close a comment nor `</script>` a tag),
/// `<`, and every control or invisible character.
pub fn js_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '/' => out.push_str("\\/"),
            '`' | '$' | '<' | '>' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if c.is_control() || is_invisible(c) => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON value as a JavaScript expression (k6 options, thresholds): JSON
/// from serde, then `<`, `>`, `/`, U+2028/U+2029 and invisible characters
/// escaped. Those only occur inside JSON strings, where `\uXXXX` and `\/`
/// mean the same character, so the value is unchanged for a JSON parser.
pub fn js_json<T: serde::Serialize>(value: &T) -> Result<String, serde_json::Error> {
    let json = serde_json::to_string(value)?;
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '/' => out.push_str("\\/"),
            '<' | '>' | '`' | '$' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if is_invisible(c) => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// A double-quoted nginx string. nginx unescapes `\"` and `\\` inside
/// quotes; `;`, `{`, `}` and `#` are plain text there. It has no escape for
/// `$` (variables interpolate in most directives) and none for line breaks,
/// so those, control and invisible characters are refused.
pub fn nginx_string(s: &str) -> Result<String, Unrepresentable> {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if c == '$' || c.is_control() || is_invisible(c) => {
                return Err(Unrepresentable {
                    format: "nginx",
                    ch: c,
                })
            }
            c => out.push(c),
        }
    }
    out.push('"');
    Ok(out)
}

/// An HAProxy word in single quotes, where nothing is interpreted (no `$`
/// expansion, no escapes); a `'` closes the quotes, is written escaped
/// (`\'`) and the quotes reopen — HAProxy joins the parts into one word.
/// Line breaks, control and invisible characters are refused.
pub fn haproxy_string(s: &str) -> Result<String, Unrepresentable> {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("'\\''"),
            c if c.is_control() || is_invisible(c) => {
                return Err(Unrepresentable {
                    format: "HAProxy",
                    ch: c,
                })
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    Ok(out)
}

/// A Rust string literal (`"…"`) for generated Rust: every character that
/// is not printable ASCII or a letter is written as `\u{…}`, so nothing can
/// end the literal, start a comment or hide in bidi controls.
pub fn rust_string(s: &str) -> String {
    c_quoted(s, |out, c| {
        let _ = write!(out, "\\u{{{:x}}}", c as u32);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Strings an attacker would put in a service name or a header.
    const HOSTILE: &[&str] = &[
        "a\"; drop",
        "back\\slash\\",
        "new\nline\r\n",
        "${process.env.SECRET}",
        "`${x}`",
        "end */ /* start",
        "</script><script>",
        "semi; colon",
        "{ brace } }",
        "bidi\u{202E}override\u{2066}",
        "sep\u{2028}arator\u{2029}",
        "nul\u{0}bell\u{7}",
        "quote's",
        "$host",
        "# comment",
    ];

    /// Reads a Go/JS/JSON-style double-quoted literal back.
    fn unquote_c(lit: &str) -> String {
        assert!(
            lit.starts_with('"') && lit.ends_with('"') && lit.len() >= 2,
            "{lit}"
        );
        let inner = &lit[1..lit.len() - 1];
        let mut out = String::new();
        let mut it = inner.chars().peekable();
        while let Some(c) = it.next() {
            assert_ne!(c, '"', "an unescaped quote in {lit}");
            assert!(!c.is_control() && !is_invisible(c), "raw {c:?} in {lit}");
            if c != '\\' {
                out.push(c);
                continue;
            }
            match it.next().expect("a complete escape") {
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'u' => {
                    let braced = it.peek() == Some(&'{');
                    let hex: String = if braced {
                        it.next();
                        let h: String = it.by_ref().take_while(|c| *c != '}').collect();
                        h
                    } else {
                        it.by_ref().take(4).collect()
                    };
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap());
                }
                other => out.push(other),
            }
        }
        out
    }

    #[test]
    fn promql_values_round_trip_and_stay_closed() {
        for s in HOSTILE {
            let lit = promql_label_value(s);
            assert_eq!(unquote_c(&lit), *s);
        }
        assert_eq!(promql_label_value("a\"b"), r#""a\"b""#);
        assert_eq!(promql_label_value("\u{202E}"), r#""\u202e""#);
    }

    #[test]
    fn js_strings_round_trip_and_cannot_interpolate_or_close_comments() {
        for s in HOSTILE {
            let lit = js_string(s);
            assert_eq!(unquote_c(&lit), *s, "{lit}");
            for bad in ["${", "*/", "</", "`", "'", "\n", "\u{2028}", "\u{202E}"] {
                assert!(
                    !lit[1..lit.len() - 1].contains(bad) || bad == "'",
                    "{lit} holds {bad:?}"
                );
            }
            assert!(!lit.contains("*/"), "{lit}");
        }
        assert_eq!(js_string("a\"b"), r#""a\"b""#);
    }

    #[test]
    fn js_json_parses_back_to_the_same_value() {
        let v: Vec<&str> = HOSTILE.to_vec();
        let lit = js_json(&v).unwrap();
        for bad in ["</", "*/", "${", "\u{2028}", "\u{202E}", "`"] {
            assert!(!lit.contains(bad), "{lit} holds {bad:?}");
        }
        let back: Vec<String> = serde_json::from_str(&lit).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn nginx_strings_escape_quotes_and_refuse_variables_and_breaks() {
        assert_eq!(nginx_string("a\"; drop").unwrap(), r#""a\"; drop""#);
        assert_eq!(nginx_string("x\\").unwrap(), r#""x\\""#);
        assert_eq!(nginx_string("{ a; } # b").unwrap(), r#""{ a; } # b""#);
        assert_eq!(nginx_string("$host").unwrap_err().ch, '$');
        assert_eq!(nginx_string("${x}").unwrap_err().ch, '$');
        assert_eq!(nginx_string("a\nb").unwrap_err().ch, '\n');
        assert_eq!(nginx_string("a\u{202E}").unwrap_err().ch, '\u{202E}');
        for s in HOSTILE {
            if let Ok(lit) = nginx_string(s) {
                // Read back as nginx does: `\x` is `x`; no bare quote inside.
                assert_eq!(unquote_c(&lit), *s);
            }
        }
    }

    /// Reads an HAProxy word back: single-quoted parts verbatim, `\x`
    /// outside quotes is `x`.
    fn unquote_haproxy(word: &str) -> String {
        let mut out = String::new();
        let mut quoted = false;
        let mut it = word.chars();
        while let Some(c) = it.next() {
            match (quoted, c) {
                (_, '\'') => quoted = !quoted,
                (false, '\\') => out.push(it.next().expect("escape")),
                (false, c) => panic!("unquoted {c:?} in {word}"),
                (true, c) => out.push(c),
            }
        }
        assert!(!quoted, "unterminated {word}");
        out
    }

    #[test]
    fn haproxy_strings_round_trip() {
        assert_eq!(haproxy_string("quote's").unwrap(), r"'quote'\''s'");
        assert_eq!(haproxy_string("$HOME").unwrap(), "'$HOME'");
        assert!(haproxy_string("a\nb").is_err());
        assert!(haproxy_string("a\u{2066}").is_err());
        for s in HOSTILE {
            if let Ok(w) = haproxy_string(s) {
                assert_eq!(unquote_haproxy(&w), *s);
            }
        }
    }

    #[test]
    fn rust_strings_round_trip() {
        for s in HOSTILE {
            let lit = rust_string(s);
            assert_eq!(unquote_c(&lit), *s, "{lit}");
        }
        assert_eq!(rust_string("a\u{202E}"), r#""a\u{202e}""#);
    }
}
