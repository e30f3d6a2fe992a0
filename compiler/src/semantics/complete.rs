//! Where the cursor is, read from the text itself: which schema blocks are
//! open around an offset, and what is being typed there (a field name, the
//! value of `key =`, a callee after `calls`, a unit after a number).
//!
//! The text is scanned, not the syntax tree, so a half-typed file answers
//! too: `budget = ` with nothing after it, an unclosed block, a declaration
//! the parser skipped. Strings and `//` comments are stepped over.

use super::schema::{self, BlockSpec};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Ident(String),
    /// A number with the unit letters written against it (`150ms`, `99.9%`).
    Number(String),
    Str,
    Punct(char),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Position {
    /// Where an item starts: a field or a statement (at top level: a
    /// declaration kind).
    ItemStart,
    /// After `key =`.
    Value { key: String },
    /// After `calls`, `latency` or `breaker(`: a service name.
    Service,
    /// After `SERVICE.` in a value: a route of that service.
    RouteOf(String),
    /// In `use std.MODULE.{…}`: a name of that module.
    StdName(String),
    /// Right after a number: a unit. `key` is the field, when known.
    Unit { key: Option<String> },
    /// A declaration's name, or anything else.
    Other,
}

#[derive(Debug, Clone)]
pub(crate) struct Context {
    /// The blocks open at the offset, outermost first (`None`: a block the
    /// schema does not know).
    pub blocks: Vec<Option<&'static BlockSpec>>,
    pub position: Position,
    /// The word being typed before the offset (may be empty).
    pub prefix: String,
}

impl Context {
    /// The innermost open block, if any is open and known.
    pub fn block(&self) -> Option<&'static BlockSpec> {
        self.blocks.last().copied().flatten()
    }

    pub fn top_level(&self) -> bool {
        self.blocks.is_empty()
    }
}

fn ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The context at `offset` (a byte offset; one past the end is the end).
pub(crate) fn context(text: &str, offset: usize) -> Context {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let src = &text[..end];
    let mut blocks: Vec<Option<&'static BlockSpec>> = Vec::new();
    // The words before each open `{` (to tell `use std.m.{` from a block).
    let mut headers: Vec<Vec<Tok>> = Vec::new();
    let mut seg: Vec<Tok> = Vec::new();
    let mut chars = src.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\n' => seg.clear(),
            '/' if src[i..].starts_with("//") => {
                while chars.peek().is_some_and(|(_, c)| *c != '\n') {
                    chars.next();
                }
            }
            // A closed block comment is skipped (as the grammar reads it);
            // the cursor inside an unclosed one sees no block in it.
            '/' if src[i..].starts_with("/*") => {
                chars.next();
                let mut prev = '\0';
                for (_, c) in chars.by_ref() {
                    if prev == '*' && c == '/' {
                        break;
                    }
                    prev = c;
                }
            }
            '"' => {
                // `\"` and `\\` inside a string do not end it.
                let mut escaped = false;
                for (_, c) in chars.by_ref() {
                    if escaped {
                        escaped = false;
                        continue;
                    }
                    if c == '\\' {
                        escaped = true;
                        continue;
                    }
                    if c == '"' || c == '\n' {
                        if c == '\n' {
                            seg.clear();
                        }
                        break;
                    }
                }
                seg.push(Tok::Str);
            }
            '{' => {
                let spec = open_block(&blocks, &seg);
                blocks.push(spec);
                headers.push(std::mem::take(&mut seg));
            }
            '}' => {
                blocks.pop();
                // After a call edge's options the `calls` line goes on:
                // `calls psp { … }, |` is where a callee is due.
                match headers.pop() {
                    Some(h) if h.first() == Some(&Tok::Ident("calls".into())) => {
                        seg = h;
                        seg.push(Tok::Punct('}'));
                    }
                    _ => seg.clear(),
                }
            }
            c if c.is_ascii_digit() => {
                let mut s = c.to_string();
                while let Some((_, c)) = chars.peek().copied() {
                    if ident_char(c)
                        || (c == '.' && !src[i + s.len()..].starts_with(".."))
                        || c == '%'
                    {
                        s.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                seg.push(Tok::Number(s));
            }
            c if ident_char(c) => {
                let mut s = c.to_string();
                while let Some((_, c)) = chars.peek().copied() {
                    if ident_char(c) {
                        s.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                seg.push(Tok::Ident(s));
            }
            c if c.is_whitespace() => {}
            c => seg.push(Tok::Punct(c)),
        }
    }
    let touching = src.chars().next_back().is_some_and(ident_char);
    let spaced = src.chars().next_back().is_some_and(char::is_whitespace);
    let mut prefix = String::new();
    let position = match (touching, seg.last()) {
        (true, Some(Tok::Number(n))) => {
            prefix = n
                .trim_start_matches(|c: char| c.is_ascii_digit() || c == '.')
                .to_string();
            seg.pop();
            Position::Unit {
                key: value_key(&seg),
            }
        }
        _ => {
            if touching {
                if let Some(Tok::Ident(w)) = seg.pop() {
                    prefix = w;
                }
            }
            match use_module(headers.last()) {
                Some(m) if seg.is_empty() || seg.last() == Some(&Tok::Punct(',')) => {
                    Position::StdName(m)
                }
                _ => position(&seg, touching || spaced),
            }
        }
    };
    Context {
        blocks,
        position,
        prefix,
    }
}

/// `use std.MODULE.{`: the module.
fn use_module(header: Option<&Vec<Tok>>) -> Option<String> {
    match header?.as_slice() {
        [Tok::Ident(u), Tok::Ident(s), Tok::Punct('.'), Tok::Ident(m), Tok::Punct('.')]
            if u == "use" && s == "std" =>
        {
            Some(m.clone())
        }
        _ => None,
    }
}

/// The field whose value the segment is in (`key = …`).
fn value_key(seg: &[Tok]) -> Option<String> {
    let eq = seg.iter().rposition(|t| *t == Tok::Punct('='))?;
    match seg.get(eq.checked_sub(1)?) {
        Some(Tok::Ident(k)) => Some(k.clone()),
        _ => None,
    }
}

fn position(seg: &[Tok], spaced: bool) -> Position {
    let Some(last) = seg.last() else {
        return Position::ItemStart;
    };
    let n = seg.len();
    if *last == Tok::Punct('=') {
        if let Some(Tok::Ident(k)) = n.checked_sub(2).and_then(|i| seg.get(i)) {
            return Position::Value { key: k.clone() };
        }
    }
    // `limit = [per_ip, |`: another limit key.
    if matches!(last, Tok::Punct('[') | Tok::Punct(','))
        && value_key(seg).as_deref() == Some("limit")
        && seg.contains(&Tok::Punct('['))
    {
        return Position::Value {
            key: "limit".into(),
        };
    }
    if seg[0] == Tok::Ident("calls".into()) && (n == 1 || *last == Tok::Punct(',')) {
        return Position::Service;
    }
    if n == 1 && seg[0] == Tok::Ident("latency".into()) {
        return Position::Service;
    }
    if n >= 2 && *last == Tok::Punct('(') && seg[n - 2] == Tok::Ident("breaker".into()) {
        return Position::Service;
    }
    if *last == Tok::Punct('.') {
        if let Some(Tok::Ident(svc)) = n.checked_sub(2).and_then(|i| seg.get(i)) {
            if value_key(seg).is_some() {
                return Position::RouteOf(svc.clone());
            }
        }
    }
    // `p95 = 250ms  |`: the next item of a one-line block.
    let complete = matches!(
        last,
        Tok::Ident(_) | Tok::Number(_) | Tok::Str | Tok::Punct(')') | Tok::Punct(']')
    );
    if spaced && complete && seg.contains(&Tok::Punct('=')) {
        return Position::ItemStart;
    }
    Position::Other
}

/// The block a `{` opens, from the words before it and the block around it.
fn open_block(blocks: &[Option<&'static BlockSpec>], header: &[Tok]) -> Option<&'static BlockSpec> {
    let words = header.iter().rev().filter_map(|t| match t {
        Tok::Ident(w) => Some(w.as_str()),
        _ => None,
    });
    // `calls db, psp {`: the options of the edge to `psp`, whatever its name.
    if header.first() == Some(&Tok::Ident("calls".into())) {
        return match blocks.last() {
            Some(Some(parent)) => parent.child("calls"),
            _ => None,
        };
    }
    match blocks.last() {
        None => words.clone().find_map(schema::decl),
        Some(None) => None,
        Some(Some(parent)) => words
            .clone()
            .find_map(|w| parent.child(w))
            .or(parent.any_child),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Context {
        let off = text.find('|').expect("a cursor");
        let t = text.replace('|', "");
        context(&t, off)
    }

    #[test]
    fn reads_blocks_and_positions() {
        let c = at("service api {\n  route a GET \"/a\" {\n    budget = |");
        assert_eq!(c.block().map(|b| b.id), Some("route"));
        assert_eq!(
            c.position,
            Position::Value {
                key: "budget".into()
            }
        );
        let c = at("service api {\n  |");
        assert_eq!(c.block().map(|b| b.id), Some("service"));
        assert_eq!(c.position, Position::ItemStart);
        let c = at("service db { kind = postgres  budget { p95 = 50ms  p|");
        assert_eq!(c.block().map(|b| b.id), Some("budget"));
        assert_eq!(c.position, Position::ItemStart);
        assert_eq!(c.prefix, "p");
        let c = at("budget b { p99 = 150m|");
        assert_eq!(
            c.position,
            Position::Unit {
                key: Some("p99".into())
            }
        );
        assert_eq!(c.prefix, "m");
        let c = at("service a {\n  calls db, |");
        assert_eq!(c.position, Position::Service);
        let c = at("sl|");
        assert!(c.top_level());
        assert_eq!(c.position, Position::ItemStart);
        let c = at("slo s {\n  service = api.|");
        assert_eq!(c.position, Position::RouteOf("api".into()));
        let c = at("use std.budgets.{web, |");
        assert_eq!(c.position, Position::StdName("budgets".into()));
        let c = at("use std.budgets.{web}\n|");
        assert_eq!(c.position, Position::ItemStart);
        assert!(c.top_level());
        let c = at("auth {\n  jwt { rotation { |");
        assert_eq!(c.block().map(|b| b.id), Some("rotation"));
        // A call edge's options, whatever the callee is called; the
        // `calls` line going on after them; another key in a limit list.
        let c = at("service a {\n  calls db, budget { ti|");
        assert_eq!(c.block().map(|b| b.id), Some("call"));
        assert_eq!(c.position, Position::ItemStart);
        let c = at("service a {\n  calls psp { timeout = 2s }, |");
        assert_eq!(c.block().map(|b| b.id), Some("service"));
        assert_eq!(c.position, Position::Service);
        let c = at("service a {\n  route r GET \"/r\" { limit = [per_ip, |");
        assert_eq!(
            c.position,
            Position::Value {
                key: "limit".into()
            }
        );
    }
}
