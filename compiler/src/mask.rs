//! `scalec mask`: production traffic made safe to replay.
//!
//! A trace is JSON lines, one request an object:
//!
//! ```json
//! {"t_ms": 1250, "method": "GET", "path": "/v1/search?q=printer&email=a%40b.co",
//!  "headers": {"authorization": "Bearer eyJ…", "x-api-key": "k_live_42"},
//!  "body": {"email": "a@b.co"}}
//! ```
//!
//! The fields a load test names (`mask = ["email", "authorization", "id"]`)
//! are replaced by pseudonyms wherever they occur, compared without case:
//! a key of any object at any depth (headers, a JSON body, or a body that
//! is a string holding JSON), a query parameter of `path`, and a path
//! parameter of the target's routes (`/v1/reports/{id}`). A pseudonym is a
//! keyed hash (HMAC-SHA-256) of the value: the same value masks the same
//! way everywhere and on every run with the same key, so joins between
//! requests (the same user, the same ticket) still hold, and without the key
//! a pseudonym cannot be reversed by trying likely values. Its form follows
//! the value's: an e-mail stays an address (`u…@masked.invalid`), digits
//! stay digits of the same length, `Bearer …` keeps its scheme.
//!
//! Then every value seen in a masked field (six characters or more, as
//! written or percent-encoded) is replaced wherever else it appears in any
//! string of the trace — a free-text body that quotes an e-mail, a URL
//! holding a token — so no unmasked value survives. Shorter values (an id
//! `42`) are replaced only where they are a masked field's whole value, so a
//! short id never rewrites unrelated text.

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;
use std::collections::BTreeMap;

/// The shortest key `scalec mask` takes, in bytes.
pub const MIN_KEY_BYTES: usize = 16;

/// Values this long or longer are also replaced inside other strings.
pub const MIN_SUBSTRING: usize = 6;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaskError {
    /// The key is shorter than [`MIN_KEY_BYTES`].
    ShortKey(usize),
    /// A line that is not a JSON object (1-based line number, reason).
    Line(usize, String),
}

impl std::fmt::Display for MaskError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MaskError::ShortKey(n) => write!(
                f,
                "the masking key has {n} bytes; at least {MIN_KEY_BYTES} are needed"
            ),
            MaskError::Line(n, why) => write!(f, "line {n}: {why}"),
        }
    }
}

impl std::error::Error for MaskError {}

/// What a run masked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub lines: usize,
    /// Distinct values replaced.
    pub values: usize,
}

enum Seg {
    Text(String),
    Param(String),
}

pub struct Masker {
    key: Vec<u8>,
    fields: Vec<String>,
    /// Route templates, split on `/`.
    templates: Vec<Vec<Seg>>,
}

impl Masker {
    /// `fields`: names to mask; `routes`: path templates (`/v1/reports/{id}`)
    /// whose parameters may be among them.
    pub fn new(key: &[u8], fields: &[String], routes: &[String]) -> Result<Masker, MaskError> {
        if key.len() < MIN_KEY_BYTES {
            return Err(MaskError::ShortKey(key.len()));
        }
        let templates = routes
            .iter()
            .map(|r| {
                r.split('/')
                    .map(
                        |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                            Some(p) => Seg::Param(p.to_string()),
                            None => Seg::Text(s.to_string()),
                        },
                    )
                    .collect()
            })
            .collect();
        Ok(Masker {
            key: key.to_vec(),
            fields: fields.iter().map(|f| f.to_ascii_lowercase()).collect(),
            templates,
        })
    }

    fn is_field(&self, name: &str) -> bool {
        let n = name.to_ascii_lowercase();
        self.fields.contains(&n)
    }

    /// The pseudonym of a value: stable for one key, shaped like the value.
    pub fn pseudonym(&self, value: &str) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .expect("HMAC takes a key of any length");
        mac.update(value.as_bytes());
        let digest = mac.finalize().into_bytes();
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        if value.contains('@') {
            return format!("u{}@masked.invalid", &hex[..16]);
        }
        if !value.is_empty() && value.len() <= 32 && value.bytes().all(|b| b.is_ascii_digit()) {
            let mut s: String = digest
                .iter()
                .take(value.len())
                .map(|b| char::from(b'0' + b % 10))
                .collect();
            // Keep a leading non-zero digit a number's.
            if !value.starts_with('0') && s.starts_with('0') {
                s.replace_range(0..1, "1");
            }
            return s;
        }
        if value.len() > 7 && value[..7].eq_ignore_ascii_case("bearer ") {
            return format!("Bearer m{}", &hex[..32]);
        }
        format!("m{}", &hex[..24])
    }

    /// Masks a whole trace (JSON lines; blank lines are kept out).
    pub fn mask(&self, input: &str) -> Result<(String, Stats), MaskError> {
        let mut lines = Vec::new();
        for (i, line) in input.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let v: Value = serde_json::from_str(line)
                .map_err(|e| MaskError::Line(i + 1, format!("not JSON: {e}")))?;
            if !v.is_object() {
                return Err(MaskError::Line(i + 1, "not a JSON object".into()));
            }
            lines.push(v);
        }
        // Pass 1: every value of a masked field.
        let mut seen: BTreeMap<String, ()> = BTreeMap::new();
        for v in &lines {
            self.collect(v, true, &mut |s| {
                seen.insert(s, ());
            });
        }
        let replacements: BTreeMap<String, String> = seen
            .keys()
            .map(|k| (k.clone(), self.pseudonym(k)))
            .collect();
        // Longest first, so a value inside a longer one is not cut in two.
        let mut long: Vec<(String, String)> = Vec::new();
        for (k, p) in &replacements {
            if k.chars().count() >= MIN_SUBSTRING {
                long.push((k.clone(), p.clone()));
                let enc = percent_encode(k);
                if enc != *k {
                    long.push((enc, percent_encode(p)));
                }
            }
        }
        long.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        // Pass 2: rewrite.
        let mut out = String::new();
        for v in lines {
            let mut v = v;
            self.rewrite(&mut v, true, &long);
            out.push_str(&serde_json::to_string(&v).expect("a JSON value serialises"));
            out.push('\n');
        }
        let stats = Stats {
            lines: out.lines().count(),
            values: replacements.len(),
        };
        Ok((out, stats))
    }

    /// Calls `found` with every value of a masked field in `v`.
    fn collect(&self, v: &Value, top: bool, found: &mut dyn FnMut(String)) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    if self.is_field(k) {
                        scalars(x, found);
                    } else if top && (k == "path" || k == "url") {
                        if let Value::String(p) = x {
                            for (_, value) in self.path_values(p) {
                                found(value);
                            }
                        }
                    } else {
                        self.collect(x, false, found);
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| self.collect(x, false, found)),
            Value::String(s) => {
                if let Some(inner) = embedded_json(s) {
                    self.collect(&inner, false, found);
                }
            }
            _ => {}
        }
    }

    /// The masked values of a request path: template parameters and query
    /// parameters that are masked fields, decoded, with where they are.
    fn path_values(&self, p: &str) -> Vec<(Where, String)> {
        let mut out = Vec::new();
        let (path, query) = p.split_once('?').unwrap_or((p, ""));
        let segs: Vec<&str> = path.split('/').collect();
        for t in &self.templates {
            if t.len() != segs.len() {
                continue;
            }
            let matches = t.iter().zip(&segs).all(|(seg, s)| match seg {
                Seg::Text(x) => x == s,
                Seg::Param(_) => !s.is_empty(),
            });
            if matches {
                for (i, (seg, s)) in t.iter().zip(&segs).enumerate() {
                    if let Seg::Param(name) = seg {
                        if self.is_field(name) {
                            out.push((Where::Segment(i), percent_decode(s, false)));
                        }
                    }
                }
                break;
            }
        }
        if !query.is_empty() {
            for (i, pair) in query.split('&').enumerate() {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                if self.is_field(&percent_decode(name, true)) && !value.is_empty() {
                    out.push((Where::Query(i), percent_decode(value, true)));
                }
            }
        }
        out
    }

    /// Masked fields become pseudonyms; every other string (never a
    /// pseudonym just written) has the long masked values replaced in it.
    fn rewrite(&self, v: &mut Value, top: bool, long: &[(String, String)]) {
        match v {
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if self.is_field(k) {
                        self.replace_scalars(x);
                    } else if top && (k == "path" || k == "url") && x.is_string() {
                        if let Value::String(p) = x {
                            *p = self.rewrite_path(p, long);
                        }
                    } else {
                        self.rewrite(x, false, long);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| self.rewrite(x, false, long)),
            Value::String(s) => match embedded_json(s) {
                Some(mut inner) => {
                    self.rewrite(&mut inner, false, long);
                    *s = serde_json::to_string(&inner).expect("a JSON value serialises");
                }
                None => *s = scrub(s, long),
            },
            _ => {}
        }
    }

    fn rewrite_path(&self, p: &str, long: &[(String, String)]) -> String {
        let found = self.path_values(p);
        let (path, query) = p.split_once('?').map_or((p, None), |(a, b)| (a, Some(b)));
        let mut segs: Vec<String> = path.split('/').map(|s| scrub(s, long)).collect();
        let mut pairs: Vec<String> = query
            .map(|q| q.split('&').map(|s| scrub(s, long)).collect())
            .unwrap_or_default();
        for (at, value) in found {
            let masked = percent_encode(&self.pseudonym(&value));
            match at {
                Where::Segment(i) => segs[i] = masked,
                Where::Query(i) => {
                    let raw = query.and_then(|q| q.split('&').nth(i)).unwrap_or("");
                    let name = raw.split_once('=').map_or("", |(n, _)| n).to_string();
                    pairs[i] = format!("{name}={masked}");
                }
            }
        }
        let mut out = segs.join("/");
        if query.is_some() {
            out.push('?');
            out.push_str(&pairs.join("&"));
        }
        out
    }

    fn replace_scalars(&self, v: &mut Value) {
        match v {
            Value::String(s) => *s = self.pseudonym(s),
            Value::Number(n) => {
                let p = self.pseudonym(&n.to_string());
                *v = p
                    .parse::<u64>()
                    .map(Value::from)
                    .unwrap_or(Value::String(p));
            }
            Value::Bool(_) | Value::Null => {}
            Value::Array(a) => a.iter_mut().for_each(|x| self.replace_scalars(x)),
            Value::Object(m) => m.values_mut().for_each(|x| self.replace_scalars(x)),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Where {
    Segment(usize),
    Query(usize),
}

/// Every string and number under `v`, as text.
fn scalars(v: &Value, found: &mut dyn FnMut(String)) {
    match v {
        Value::String(s) => found(s.clone()),
        Value::Number(n) => found(n.to_string()),
        Value::Array(a) => a.iter().for_each(|x| scalars(x, found)),
        Value::Object(m) => m.values().for_each(|x| scalars(x, found)),
        _ => {}
    }
}

/// A string that holds a JSON object or array (a request body as text).
fn embedded_json(s: &str) -> Option<Value> {
    let t = s.trim_start();
    if !(t.starts_with('{') || t.starts_with('[')) {
        return None;
    }
    serde_json::from_str::<Value>(s)
        .ok()
        .filter(|v| v.is_object() || v.is_array())
}

/// `s` with every long masked value (as written or percent-encoded)
/// replaced by its pseudonym.
fn scrub(s: &str, long: &[(String, String)]) -> String {
    let mut out = s.to_string();
    for (from, to) in long {
        if out.contains(from.as_str()) {
            out = out.replace(from.as_str(), to);
        }
    }
    out
}

/// RFC 3986 percent-encoding of everything but unreserved characters.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` (and `+` as a space in a query); invalid escapes stay.
pub fn percent_decode(s: &str, query: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(x) => {
                        out.push(x);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' if query => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef-test-key";

    fn masker(fields: &[&str]) -> Masker {
        let f: Vec<String> = fields.iter().map(|s| s.to_string()).collect();
        Masker::new(KEY, &f, &["/v1/reports/{id}".to_string()]).unwrap()
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231 test case 2 (key "Jefe").
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn pseudonyms_keep_the_shape() {
        let m = masker(&[]);
        let e = m.pseudonym("ann@example.com");
        assert!(e.ends_with("@masked.invalid") && e.starts_with('u'), "{e}");
        let d = m.pseudonym("123456");
        assert_eq!(d.len(), 6);
        assert!(d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0'));
        assert!(m.pseudonym("Bearer abc.def").starts_with("Bearer m"));
        assert_eq!(m.pseudonym("x"), m.pseudonym("x"));
        assert_ne!(m.pseudonym("x"), m.pseudonym("y"));
        let other = Masker::new(b"another-key-of-16+", &[], &[]).unwrap();
        assert_ne!(other.pseudonym("x"), m.pseudonym("x"));
        assert!(matches!(
            Masker::new(b"short", &[], &[]),
            Err(MaskError::ShortKey(5))
        ));
    }

    #[test]
    fn percent_coding_round_trips() {
        assert_eq!(percent_encode("a@b.co"), "a%40b.co");
        assert_eq!(percent_decode("a%40b.co", true), "a@b.co");
        assert_eq!(percent_decode("a+b", true), "a b");
        assert_eq!(percent_decode("a+b", false), "a+b");
        assert_eq!(percent_decode("%zz%4", true), "%zz%4");
        assert_eq!(percent_decode("x%41", true), "xA");
    }

    #[test]
    fn bad_lines_are_reported_with_their_number() {
        let m = masker(&["email"]);
        assert_eq!(
            m.mask("{}\n[1]\n").unwrap_err(),
            MaskError::Line(2, "not a JSON object".into())
        );
        assert!(matches!(
            m.mask("{}\n{").unwrap_err(),
            MaskError::Line(2, _)
        ));
    }
}
