//! A direct YAML writer: the block style that `yaml_serde` (libyaml) writes
//! followed by [`quote_yaml11`](super::yaml::quote_yaml11), byte for byte,
//! for the values the backends make, in a fraction of the time (libyaml's
//! event machinery and the second pass over the text were half of a
//! build's user CPU).
//!
//! It knows a deliberately small part of YAML: block mappings and
//! sequences, `{}` and `[]` for empty ones, plain and single-quoted
//! single-line scalars of printable ASCII, and literal block scalars
//! (`|`, `|-`) of printable ASCII lines. Whatever lies outside (a tab, a
//! non-ASCII letter, a key longer than 128 bytes, an enum variant that
//! YAML would tag, a scalar at the root, …) makes it give up with
//! [`Unsupported`], and the caller writes that document the slow way, so
//! the result is always the slow path's.
//!
//! The rules are libyaml's (`yaml_emitter_analyze_scalar`,
//! `yaml_emitter_select_scalar_style`, the block scalar hints) and
//! `yaml_serde`'s (a string that would read back as another type is
//! single-quoted; one with a line break is a literal block), then the
//! YAML 1.1 quoting of [`super::yaml`]. Debug builds check every document
//! against the slow path ([`super::yaml::yaml_artifact`]), so the whole
//! test suite is a differential test of this writer.

use serde::ser::{self, Serialize};
use std::fmt;

/// The value holds something this writer leaves to `yaml_serde`.
#[derive(Debug)]
pub struct Unsupported;

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("outside the direct YAML writer's subset")
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<T: fmt::Display>(_msg: T) -> Self {
        Unsupported
    }
}

type R<T = ()> = Result<T, Unsupported>;

/// `value` as block YAML, or [`Unsupported`].
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> R<String> {
    let mut e = Emitter {
        out: String::with_capacity(2048),
        ctx: Ctx::Root,
    };
    value.serialize(&mut e)?;
    Ok(e.out)
}

/// Where the next node goes, and what was written before it.
#[derive(Clone, Copy, Debug)]
enum Ctx {
    /// The document's root: nothing written.
    Root,
    /// A mapping's value: `key:` written, the key at this column.
    Value(usize),
    /// A sequence's item: `- ` written, the dash at this column.
    Item(usize),
    /// A mapping's key: indentation written.
    Key,
}

struct Emitter {
    out: String,
    ctx: Ctx,
}

/// How a string is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Style {
    Plain,
    Single,
    /// A literal block scalar; `true`: strip the final line break (`|-`).
    Literal(bool),
}

/// The style `yaml_serde` and libyaml choose for `s`, followed by the
/// YAML 1.1 quoting; `None` when `s` is outside this writer's subset.
/// Whether the writer puts `s`, as a value, as a plain scalar (unquoted,
/// one line): then it reads back as the same string wherever it stands.
pub fn is_plain(s: &str) -> bool {
    matches!(style(s, false), Some(Style::Plain))
}

fn style(s: &str, key: bool) -> Option<Style> {
    let b = s.as_bytes();
    let mut newline = false;
    for &c in b {
        if c == b'\n' {
            newline = true;
        } else if !(0x20..=0x7e).contains(&c) {
            return None;
        }
    }
    if newline {
        return literal(b, key);
    }
    // libyaml writes a key longer than 128 bytes as `? key`.
    if key && b.len() > 128 {
        return None;
    }
    // A string that starts with a letter and is longer than the longest
    // YAML word (`FALSE`) reads as a string to every reader (Rust's float
    // parser reads `infinity` and `nan`, which are not finite, so
    // `yaml_serde` keeps them strings).
    let maybe_typed = b.len() <= 5 || !b[0].is_ascii_alphabetic();
    if maybe_typed && serde_quotes(s)? {
        return Some(Style::Single);
    }
    if !block_plain_allowed(b) {
        return Some(Style::Single);
    }
    if maybe_typed && super::yaml::yaml11_not_a_string(s) && !super::yaml::yaml12_not_a_string(s) {
        return Some(Style::Single);
    }
    Some(Style::Plain)
}

/// A string with a line break: `yaml_serde` asks for a literal block,
/// which libyaml writes when the text allows it (else double quotes, not
/// in this subset).
fn literal(b: &[u8], key: bool) -> Option<Style> {
    // (Only printable ASCII and line breaks reach here: see [`style`].)
    if key {
        return None;
    }
    // A leading space or break needs an indentation hint.
    if matches!(b.first(), Some(b' ' | b'\n')) {
        return None;
    }
    // A trailing space, or a space before a break: no block scalar.
    if b.last() == Some(&b' ') || b.windows(2).any(|w| w == b" \n") {
        return None;
    }
    match b {
        [.., b'\n', b'\n'] => None, // `|+`
        [.., b'\n'] => Some(Style::Literal(false)),
        _ => Some(Style::Literal(true)),
    }
}

/// `yaml_serde`'s check: a plain scalar that would read back as a null, a
/// boolean, an integer or a float (or digits with a leading zero) is
/// written single-quoted. `None` for the radix forms (`0x…`, `0o…`,
/// `0b…`), whose corners are left to the slow path.
fn serde_quotes(s: &str) -> Option<bool> {
    if matches!(
        s,
        "" | "~"
            | "null"
            | "Null"
            | "NULL"
            | "true"
            | "True"
            | "TRUE"
            | "false"
            | "False"
            | "FALSE"
    ) {
        return Some(true);
    }
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    if ["0x", "0o", "0b"].iter().any(|p| body.starts_with(p)) {
        return None;
    }
    // digits_but_not_number
    if body.len() > 1 && body.starts_with('0') && body[1..].bytes().all(|c| c.is_ascii_digit()) {
        return Some(true);
    }
    // An integer in decimal is a finite float too, but for the digits
    // past f64's range, which are not integers of u128 either.
    Some(parse_f64(s))
}

/// `yaml_serde`'s `parse_f64`: Rust's float syntax, finite, or one of
/// YAML's infinities and NaNs.
fn parse_f64(s: &str) -> bool {
    let unpositive = match s.strip_prefix('+') {
        Some(u) if u.starts_with(['+', '-']) => return false,
        Some(u) => u,
        None => s,
    };
    if matches!(unpositive, ".inf" | ".Inf" | ".INF")
        || matches!(s, "-.inf" | "-.Inf" | "-.INF" | ".nan" | ".NaN" | ".NAN")
    {
        return true;
    }
    unpositive.parse::<f64>().is_ok_and(f64::is_finite)
}

/// libyaml's `block_plain_allowed` for a single-line printable ASCII
/// string (no line breaks, no special characters).
fn block_plain_allowed(b: &[u8]) -> bool {
    let Some(&first) = b.first() else {
        return true;
    };
    if b.starts_with(b"---") || b.starts_with(b"...") {
        return false;
    }
    if first == b' ' || b[b.len() - 1] == b' ' {
        return false;
    }
    let blank_at = |i: usize| i >= b.len() || b[i] == b' ' || b[i] == b'\t';
    for (i, &c) in b.iter().enumerate() {
        let followed_by_ws = blank_at(i + 1);
        if i == 0 {
            if matches!(
                c,
                b'#' | b','
                    | b'['
                    | b']'
                    | b'{'
                    | b'}'
                    | b'&'
                    | b'*'
                    | b'!'
                    | b'|'
                    | b'>'
                    | b'\''
                    | b'"'
                    | b'%'
                    | b'@'
                    | b'`'
            ) {
                return false;
            }
            if matches!(c, b'?' | b':' | b'-') && followed_by_ws {
                return false;
            }
        } else {
            if c == b':' && followed_by_ws {
                return false;
            }
            if c == b'#' && b[i - 1] == b' ' {
                return false;
            }
        }
    }
    true
}

fn pad(out: &mut String, n: usize) {
    const SPACES: &str = "                                                                ";
    let mut n = n;
    while n > SPACES.len() {
        out.push_str(SPACES);
        n -= SPACES.len();
    }
    out.push_str(&SPACES[..n]);
}

impl Emitter {
    /// A scalar written as it is (a number, a boolean, a null).
    fn raw(&mut self, text: &str) -> R {
        match self.ctx {
            Ctx::Root => return Err(Unsupported),
            Ctx::Value(_) => {
                self.out.push(' ');
                self.out.push_str(text);
                self.out.push('\n');
            }
            Ctx::Item(_) => {
                self.out.push_str(text);
                self.out.push('\n');
            }
            Ctx::Key => self.out.push_str(text),
        }
        Ok(())
    }

    fn string(&mut self, s: &str) -> R {
        let key = matches!(self.ctx, Ctx::Key);
        match style(s, key).ok_or(Unsupported)? {
            Style::Plain => self.raw(s),
            Style::Single => {
                if matches!(self.ctx, Ctx::Root) {
                    return Err(Unsupported);
                }
                if matches!(self.ctx, Ctx::Value(_)) {
                    self.out.push(' ');
                }
                self.out.push('\'');
                for (i, part) in s.split('\'').enumerate() {
                    if i > 0 {
                        self.out.push_str("''");
                    }
                    self.out.push_str(part);
                }
                self.out.push('\'');
                if !key {
                    self.out.push('\n');
                }
                Ok(())
            }
            Style::Literal(strip) => {
                let indent = match self.ctx {
                    Ctx::Value(k) => {
                        self.out.push(' ');
                        k + 2
                    }
                    Ctx::Item(i) => i + 2,
                    Ctx::Root | Ctx::Key => return Err(Unsupported),
                };
                self.out.push_str(if strip { "|-\n" } else { "|\n" });
                let body = if strip { s } else { &s[..s.len() - 1] };
                for line in body.split('\n') {
                    if !line.is_empty() {
                        pad(&mut self.out, indent);
                        self.out.push_str(line);
                    }
                    self.out.push('\n');
                }
                Ok(())
            }
        }
    }

    fn compound(&mut self, map: bool) -> R<Compound<'_>> {
        let (indent, newline, inline_first, empty) = match self.ctx {
            Ctx::Root => (0, false, true, if map { "{}\n" } else { "[]\n" }),
            Ctx::Value(k) => (
                if map { k + 2 } else { k },
                true,
                false,
                if map { " {}\n" } else { " []\n" },
            ),
            Ctx::Item(i) => (i + 2, false, true, if map { "{}\n" } else { "[]\n" }),
            Ctx::Key => return Err(Unsupported),
        };
        Ok(Compound {
            e: self,
            indent,
            count: 0,
            newline,
            inline_first,
            empty,
        })
    }
}

struct Compound<'a> {
    e: &'a mut Emitter,
    /// The column of this node's keys or dashes.
    indent: usize,
    count: usize,
    /// A line break before the first entry (a value's mapping or sequence).
    newline: bool,
    /// The first entry goes where the cursor is (after `- `, or at the
    /// root).
    inline_first: bool,
    /// What an empty node writes.
    empty: &'static str,
}

impl Compound<'_> {
    fn start(&mut self) {
        if self.count == 0 {
            if self.newline {
                self.e.out.push('\n');
            }
            if !self.inline_first {
                pad(&mut self.e.out, self.indent);
            }
        } else {
            pad(&mut self.e.out, self.indent);
        }
        self.count += 1;
    }

    fn key<K: Serialize + ?Sized>(&mut self, key: &K) -> R {
        self.start();
        self.e.ctx = Ctx::Key;
        key.serialize(&mut *self.e)?;
        self.e.out.push(':');
        Ok(())
    }

    fn value<V: Serialize + ?Sized>(&mut self, value: &V) -> R {
        self.e.ctx = Ctx::Value(self.indent);
        value.serialize(&mut *self.e)
    }

    fn item<V: Serialize + ?Sized>(&mut self, value: &V) -> R {
        self.start();
        self.e.out.push_str("- ");
        self.e.ctx = Ctx::Item(self.indent);
        value.serialize(&mut *self.e)
    }

    fn end(self) -> R {
        if self.count == 0 {
            self.e.out.push_str(self.empty);
        }
        Ok(())
    }
}

macro_rules! ints {
    ($($f:ident: $t:ty),*) => {$(
        fn $f(self, v: $t) -> R {
            self.raw(itoa::Buffer::new().format(v))
        }
    )*};
}

impl<'a> ser::Serializer for &'a mut Emitter {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = ser::Impossible<(), Unsupported>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = ser::Impossible<(), Unsupported>;

    fn serialize_bool(self, v: bool) -> R {
        self.raw(if v { "true" } else { "false" })
    }

    ints!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
          serialize_i128: i128, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32,
          serialize_u64: u64, serialize_u128: u128);

    fn serialize_f32(self, v: f32) -> R {
        if !v.is_finite() {
            return Err(Unsupported);
        }
        self.raw(ryu::Buffer::new().format_finite(v))
    }

    fn serialize_f64(self, v: f64) -> R {
        if !v.is_finite() {
            return Err(Unsupported);
        }
        self.raw(ryu::Buffer::new().format_finite(v))
    }

    fn serialize_char(self, _v: char) -> R {
        Err(Unsupported)
    }

    fn serialize_str(self, v: &str) -> R {
        self.string(v)
    }

    fn serialize_bytes(self, _v: &[u8]) -> R {
        Err(Unsupported)
    }

    fn serialize_none(self) -> R {
        self.raw("null")
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> R {
        value.serialize(self)
    }

    fn serialize_unit(self) -> R {
        self.raw("null")
    }

    fn serialize_unit_struct(self, _name: &'static str) -> R {
        self.raw("null")
    }

    fn serialize_unit_variant(self, _name: &'static str, _i: u32, variant: &'static str) -> R {
        self.string(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _name: &'static str, v: &T) -> R {
        v.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _i: u32,
        _variant: &'static str,
        _v: &T,
    ) -> R {
        // `yaml_serde` writes a tag (`!Variant value`).
        Err(Unsupported)
    }

    fn serialize_seq(self, _len: Option<usize>) -> R<Compound<'a>> {
        self.compound(false)
    }

    fn serialize_tuple(self, _len: usize) -> R<Compound<'a>> {
        self.compound(false)
    }

    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> R<Compound<'a>> {
        self.compound(false)
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _i: u32,
        _variant: &'static str,
        _len: usize,
    ) -> R<Self::SerializeTupleVariant> {
        Err(Unsupported)
    }

    fn serialize_map(self, _len: Option<usize>) -> R<Compound<'a>> {
        self.compound(true)
    }

    fn serialize_struct(self, _name: &'static str, _len: usize) -> R<Compound<'a>> {
        self.compound(true)
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _i: u32,
        _variant: &'static str,
        _len: usize,
    ) -> R<Self::SerializeStructVariant> {
        Err(Unsupported)
    }

    fn collect_str<T: fmt::Display + ?Sized>(self, value: &T) -> R {
        // `yaml_serde` reads a `!`-prefixed displayed key as a tag.
        let s = value.to_string();
        if s.starts_with('!') {
            return Err(Unsupported);
        }
        self.string(&s)
    }
}

/// The sequence-like serde traits: each element is a `- ` item.
macro_rules! items {
    ($($trait:ident::$method:ident),*) => {$(
        impl ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = Unsupported;
            fn $method<T: Serialize + ?Sized>(&mut self, v: &T) -> R {
                self.item(v)
            }
            fn end(self) -> R {
                Compound::end(self)
            }
        }
    )*};
}

items!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field
);

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> R {
        self.key(k)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> R {
        self.value(v)
    }
    fn end(self) -> R {
        Compound::end(self)
    }
}

impl ser::SerializeStruct for Compound<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> R {
        self.key(key)?;
        self.value(v)
    }
    fn end(self) -> R {
        Compound::end(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// The slow path: what `yaml_serde` and the YAML 1.1 quoting write.
    fn slow(v: &Value) -> String {
        super::super::yaml::quote_yaml11(&yaml_serde::to_string(v).unwrap())
    }

    /// A small deterministic generator (no dependency on the clock).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
        fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
            &xs[self.next() as usize % xs.len()]
        }
    }

    /// Strings that hit every branch of the style rules.
    const PARTS: &[&str] = &[
        "a",
        "api",
        "on",
        "yes",
        "No",
        "~",
        "null",
        "true",
        "1",
        "0",
        "07",
        "1.5",
        "1e3",
        "-3",
        "+1",
        ".5",
        "1.",
        "1_000",
        "1:20",
        "0x1F",
        "0o7",
        "0b1",
        ".inf",
        "-.inf",
        ".nan",
        "nan",
        "inf",
        "Infinity",
        " ",
        "  ",
        ":",
        ": ",
        "#",
        " #",
        "-",
        "- ",
        "?",
        "? ",
        "!",
        "&",
        "*",
        "|",
        ">",
        "'",
        "\"",
        "%",
        "@",
        "`",
        ",",
        "[",
        "]",
        "{",
        "}",
        "---",
        "...",
        "\n",
        "\n\n",
        "\t",
        "é",
        "\u{2028}",
        "\r",
        "x\ny",
        "  indented",
        "=",
        "<<",
        "a:b",
        "a#b",
        "250m",
        "256Mi",
        "v1.2.3",
        "{app=\"x\"}",
        "sum(rate(x[5m]))",
        "1h15m",
        "30d",
    ];

    fn string(g: &mut Lcg) -> String {
        let n = g.next() % 4;
        (0..n).map(|_| *g.pick(PARTS)).collect()
    }

    fn value(g: &mut Lcg, depth: u32) -> Value {
        match g.next() % if depth == 0 { 5 } else { 8 } {
            0 => Value::String(string(g)),
            1 => json!(g.next() % 100_000),
            2 => json!((g.next() % 1000) as f64 / 7.0),
            3 => Value::Bool(g.next().is_multiple_of(2)),
            4 => Value::Null,
            5 | 6 => Value::Object(
                (0..g.next() % 4)
                    .map(|_| (string(g), value(g, depth - 1)))
                    .collect(),
            ),
            _ => Value::Array((0..g.next() % 4).map(|_| value(g, depth - 1)).collect()),
        }
    }

    /// Whatever the writer accepts, it writes exactly as the slow path
    /// does; and it accepts most documents (so the comparison means
    /// something).
    #[test]
    fn matches_the_slow_path_byte_for_byte() {
        let mut g = Lcg(7);
        let (mut fast, mut total) = (0, 0);
        for _ in 0..20_000 {
            let v = Value::Object(
                (0..1 + g.next() % 4)
                    .map(|_| (string(&mut g), value(&mut g, 3)))
                    .collect(),
            );
            total += 1;
            if let Ok(out) = to_string(&v) {
                fast += 1;
                assert_eq!(out, slow(&v), "for {v}");
            }
        }
        eprintln!("{fast} of {total} written directly");
        assert!(fast * 3 > total, "only {fast} of {total} written directly");
    }

    #[test]
    fn literal_blocks_in_mappings_and_sequences() {
        for v in [
            json!({"expr": "(\n  sum(x)\n)\n/\nsum(y)"}),
            json!({"a": {"expr": "x\n\ny\n"}}),
            json!({"l": ["x\ny", {"k": "a\nb"}, ["p\nq"]]}),
            json!([{"k": [["a\n b"]]}]),
        ] {
            let out = to_string(&v).expect("in the subset");
            assert_eq!(out, slow(&v), "for {v}");
        }
    }

    #[test]
    fn typed_structs_and_empty_nodes() {
        #[derive(serde::Serialize)]
        struct T {
            port: u16,
            ratio: f64,
            on: bool,
            name: &'static str,
            none: Option<u8>,
            empty: Vec<u8>,
            map: std::collections::BTreeMap<String, u8>,
            tiny: f64,
        }
        let t = T {
            port: 8080,
            ratio: 0.5,
            on: true,
            name: "off",
            none: None,
            empty: vec![],
            map: Default::default(),
            tiny: 1e-9,
        };
        let out = to_string(&t).unwrap();
        assert_eq!(
            out,
            super::super::yaml::quote_yaml11(&yaml_serde::to_string(&t).unwrap())
        );
        assert_eq!(
            out,
            "port: 8080\nratio: 0.5\n'on': true\nname: 'off'\nnone: null\nempty: []\nmap: {}\ntiny: 1e-9\n"
        );
    }

    #[test]
    fn outside_the_subset_it_gives_up() {
        for v in [
            json!("root scalar"),
            json!({"k": "tab\there"}),
            json!({"k": "é"}),
            json!({"k": "trailing\n\n"}),
            json!({"k": " leading\nbreak"}),
            json!({"k\nx": 1}),
            json!({"x".repeat(129): 1}),
        ] {
            assert!(to_string(&v).is_err(), "{v}");
        }
    }
}
