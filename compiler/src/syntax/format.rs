//! The formatter behind `scalec fmt`: one canonical layout for `.scale`,
//! printed from the syntax tree, idempotent, every comment kept.
//!
//! A file that does not parse is refused (its diagnostics are returned):
//! the formatter never guesses at broken text.
//!
//! # Style
//!
//! - **Order.** `use` lines come first, in their written order, then the
//!   declarations in theirs. One blank line separates declarations (and the
//!   `use` lines from the first declaration). A `use` written after a
//!   declaration moves up with the comments above it; the comments that
//!   open the file (up to their last blank line) stay at the top.
//! - **Indentation.** Two spaces per block level; one item per line in a
//!   multi-line block.
//! - **One-line blocks.** A block stays on one line when it was written on
//!   one line, holds no comment, and the whole line (indentation included,
//!   alignment padding not) fits in [`MAX_WIDTH`] columns:
//!   `budget { p95 = 250ms  p99 = 600ms }`. Items on one line are separated
//!   by two spaces; an empty block without comments is `{}`. Any other block
//!   is written one item per line; a one-line block that no longer fits is
//!   split at its outer level only (inner blocks get the same test again).
//! - **Blank lines.** Where the source had one or more blank lines between
//!   two items (or comments), there is exactly one; none right after `{` or
//!   right before `}`, none at the start or end of the file.
//! - **Spacing.** `name = value`, `a + b`, `a & b`, `x >= 1` with single
//!   spaces; `f(a, b)`, `[a, b]`, `-x`, `+5%`, `!x` tight; a range is tight
//!   (`100ms..2s`) unless one of its ends is itself an operation
//!   (`1 + 1 .. 2 * 2`). Parentheses are kept exactly where the source had
//!   them. Quantities print from their value and unit (`150ms`, `99.9%`,
//!   `20k rps`, `1.2`, `100/s`): the shortest decimal that reads back as the
//!   same number, never an exponent (a number too large for a float keeps
//!   its digits as written). Strings are re-escaped (`\"`, `\\`, `\n`,
//!   `\t`).
//! - **Statements** print in their own syntax: `route NAME METHOD "path"
//!   class CLASS { … }`, `calls a, b { timeout = 2s }` (a call edge's
//!   options always on the `calls` line), `autoscale on X target Y`,
//!   `per KEY { … }`, `ramp A -> B over D` (the other stages take `for`),
//!   `kill pod every D`, `latency SVC +5%`,
//!   `expect breaker(db) opens and closes within D`, `slo_burn < 1x over 1h`.
//! - **Alignment is the author's choice, kept deterministically.** Items
//!   that sit on consecutive single lines of one block form a run when they
//!   have the same shape, and the run has a column after the first word(s):
//!   properties and conditions together (`key = …`, `key < …`); named
//!   one-line blocks (`name { … }`) among themselves; `per` blocks; stages
//!   (`ramp`, `burst`, …); routes (their `class` and `{`). Inside one-line
//!   blocks whose items have the same keys in the same order, every item is
//!   a column too (a table, as in `std.slo`). Any other line — blank, a
//!   comment, another statement, a multi-line item — ends a run. A column
//!   of a run is aligned (padded so that what follows starts in one column)
//!   when the source had extra space in that column on at least one of the
//!   run's lines — more than one space after a key, more than two between
//!   items of a one-line block; otherwise it is written with single (or
//!   double) spaces. The formatter's own output keeps that choice on the
//!   next run.
//! - **Comments.** A comment that followed code on the same line stays at
//!   the end of that line, starting at column [`COMMENT_COLUMN`] (or two
//!   spaces after the code when the code is longer). Every other comment is
//!   on its own line, indented with the items around it. Comments written
//!   inside an item (between its words, inside an expression) cannot stay
//!   there: they move, in order, to their own lines just above the item.
//!   Line comments lose trailing whitespace; block comments are kept
//!   verbatim.

use super::ast::*;
use super::parser::parse;
use crate::diagnostics::{Diagnostic, FileId, Span};

/// The widest line a one-line block may make.
pub const MAX_WIDTH: usize = 100;

/// Where a comment that ends a line of code starts (zero-based column).
pub const COMMENT_COLUMN: usize = 38;

/// Formats one file, or returns its syntax errors.
pub fn format(text: &str) -> Result<String, Vec<Diagnostic>> {
    let (file, diags) = parse(FileId(0), text);
    if !diags.is_empty() {
        return Err(diags);
    }
    let mut f = Formatter {
        src: text,
        lines: Vec::new(),
    };
    f.file(&file);
    f.align();
    Ok(f.render())
}

// ------------------------------------------------------------------ comments

/// What lies between two nodes: line breaks and comments.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Newlines(usize),
    Comment(String),
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// A gap between nodes (only whitespace and comments) as pieces.
fn pieces(gap: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut rest = gap;
    loop {
        let trimmed = rest.trim_start_matches(is_space);
        let newlines = rest[..rest.len() - trimmed.len()].matches('\n').count();
        if newlines > 0 {
            out.push(Piece::Newlines(newlines));
        }
        rest = trimmed;
        if rest.starts_with("//") {
            let end = rest.find('\n').unwrap_or(rest.len());
            out.push(Piece::Comment(rest[..end].trim_end().to_string()));
            rest = &rest[end..];
        } else if rest.starts_with("/*") {
            let end = rest[2..].find("*/").map_or(rest.len(), |e| e + 4);
            out.push(Piece::Comment(rest[..end].to_string()));
            rest = &rest[end..];
        } else {
            // The end of the gap (code never appears in one).
            return out;
        }
    }
}

/// The comments in a stretch of code, in order (strings skipped).
pub fn comments_in(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' && b[i] != b'\n' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                let end = text[i..].find('\n').map_or(b.len(), |e| i + e);
                out.push(text[i..end].trim_end().to_string());
                i = end;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let end = text[i + 2..].find("*/").map_or(b.len(), |e| i + e + 4);
                out.push(text[i..end].to_string());
                i = end;
            }
            _ => i += 1,
        }
    }
    out
}

/// The gaps around a run of nodes, split into what trails each node on its
/// line and what leads the next one.
struct Gaps {
    /// Comments on the line of the opening `{` (before any line break).
    head: Vec<String>,
    /// Per node: the blank lines and own-line comments before it.
    leading: Vec<Vec<Piece>>,
    /// Per node: the comments after it on its last line.
    trailing: Vec<Vec<String>>,
    /// What follows the last node (or the `{` when there is none).
    foot: Vec<Piece>,
}

fn gaps(src: &str, start: usize, spans: &[Span], end: usize) -> Gaps {
    let mut g = Gaps {
        head: Vec::new(),
        leading: Vec::new(),
        trailing: Vec::new(),
        foot: Vec::new(),
    };
    let mut prev = start;
    for (i, s) in spans.iter().enumerate() {
        let (trail, rest) = split_trailing(pieces(&src[prev..s.start as usize]));
        if i == 0 {
            g.head = trail;
        } else {
            g.trailing.push(trail);
        }
        g.leading.push(rest);
        prev = s.end as usize;
    }
    let (trail, rest) = split_trailing(pieces(&src[prev..end]));
    if spans.is_empty() {
        g.head = trail;
    } else {
        g.trailing.push(trail);
    }
    g.foot = rest;
    g
}

/// The comments before the first line break, and the rest.
fn split_trailing(mut p: Vec<Piece>) -> (Vec<String>, Vec<Piece>) {
    let n = p
        .iter()
        .position(|x| matches!(x, Piece::Newlines(_)))
        .unwrap_or(p.len());
    let rest = p.split_off(n);
    let trail = p
        .into_iter()
        .filter_map(|x| match x {
            Piece::Comment(c) => Some(c),
            Piece::Newlines(_) => None,
        })
        .collect();
    (trail, rest)
}

// ------------------------------------------------------------------ lines

/// One column of a line of code.
struct Cell {
    text: String,
    /// The spaces after it when the column is not aligned.
    gap: usize,
    /// The spaces after it as printed.
    pad: usize,
    /// Which cells of neighbouring lines this one may align with.
    sig: String,
    /// The source had extra space after this cell: align its column.
    padded: bool,
}

impl Cell {
    fn new(text: impl Into<String>, gap: usize, sig: impl Into<String>, padded: bool) -> Cell {
        Cell {
            text: text.into(),
            gap,
            pad: gap,
            sig: sig.into(),
            padded,
        }
    }

    fn last(text: impl Into<String>) -> Cell {
        Cell::new(text, 0, "", false)
    }
}

enum Line {
    Blank,
    Comment {
        indent: usize,
        text: String,
    },
    Code {
        indent: usize,
        cells: Vec<Cell>,
        trailing: Vec<String>,
        /// Ends with the `{` of a multi-line block.
        opens: bool,
    },
}

fn width(s: &str) -> usize {
    s.chars().count()
}

/// Cells as one unaligned line.
fn join(cells: &[Cell]) -> String {
    let mut s = String::new();
    for (i, c) in cells.iter().enumerate() {
        s.push_str(&c.text);
        if i + 1 < cells.len() {
            s.push_str(&" ".repeat(c.gap));
        }
    }
    s
}

struct Formatter<'s> {
    src: &'s str,
    lines: Vec<Line>,
}

impl Formatter<'_> {
    fn text(&self, span: Span) -> &str {
        &self.src[span.range()]
    }

    /// More than one space (or any tab) at `pos` in the source.
    fn padded_at(&self, pos: usize) -> bool {
        let run: &str = {
            let rest = &self.src[pos..];
            let n = rest.len() - rest.trim_start_matches([' ', '\t']).len();
            &rest[..n]
        };
        run.len() > 1 || run.contains('\t')
    }

    fn push_code(&mut self, indent: usize, cells: Vec<Cell>, opens: bool) {
        self.lines.push(Line::Code {
            indent,
            cells,
            trailing: Vec::new(),
            opens,
        });
    }

    fn push_blank(&mut self) {
        match self.lines.last() {
            None | Some(Line::Blank) | Some(Line::Code { opens: true, .. }) => {}
            _ => self.lines.push(Line::Blank),
        }
    }

    fn leading(&mut self, pieces: &[Piece], indent: usize) {
        for p in pieces {
            match p {
                Piece::Newlines(n) if *n >= 2 => self.push_blank(),
                Piece::Newlines(_) => {}
                Piece::Comment(c) => self.lines.push(Line::Comment {
                    indent,
                    text: c.clone(),
                }),
            }
        }
    }

    fn comment_lines(&mut self, comments: Vec<String>, indent: usize) {
        for text in comments {
            self.lines.push(Line::Comment { indent, text });
        }
    }

    fn trailing(&mut self, comments: Vec<String>) {
        if comments.is_empty() {
            return;
        }
        match self.lines.last_mut() {
            Some(Line::Code { trailing, .. }) => trailing.extend(comments),
            // Unreachable: a trailing comment always follows code.
            _ => self.comment_lines(comments, 0),
        }
    }

    fn close(&mut self, indent: usize) {
        while matches!(self.lines.last(), Some(Line::Blank)) {
            self.lines.pop();
        }
        self.push_code(indent, vec![Cell::last("}")], false);
    }

    // -------------------------------------------------------------- file

    fn file(&mut self, f: &File) {
        enum Top<'a> {
            Use(&'a Use),
            Decl(&'a Decl),
        }
        let mut nodes: Vec<(Span, Top)> = f
            .uses
            .iter()
            .map(|u| (u.span, Top::Use(u)))
            .chain(f.decls.iter().map(|d| (d.span, Top::Decl(d))))
            .collect();
        nodes.sort_by_key(|(s, _)| s.start);
        let spans: Vec<Span> = nodes.iter().map(|(s, _)| *s).collect();
        let mut g = gaps(self.src, 0, &spans, self.src.len());
        // At the top of the file nothing precedes: comments there lead.
        let head = std::mem::take(&mut g.head)
            .into_iter()
            .map(Piece::Comment)
            .collect::<Vec<_>>();
        let first = g.leading.first_mut().unwrap_or(&mut g.foot);
        let rest = std::mem::replace(first, head);
        first.extend(rest);
        // Uses first, each keeping its comments; what opens the file, up
        // to its last blank line, stays at the top.
        let mut order: Vec<usize> = (0..nodes.len()).collect();
        order.sort_by_key(|&i| (matches!(nodes[i].1, Top::Decl(_)), i));
        if order.first().is_some_and(|&i| i != 0) {
            let lead = &mut g.leading[0];
            if let Some(cut) = lead
                .iter()
                .rposition(|p| matches!(p, Piece::Newlines(n) if *n >= 2))
            {
                let rest = lead.split_off(cut + 1);
                let head = std::mem::replace(lead, rest);
                self.leading(&head, 0);
            }
        }
        for (n, &i) in order.iter().enumerate() {
            if n > 0 && matches!(nodes[i].1, Top::Decl(_)) {
                self.push_blank();
            }
            let leading = std::mem::take(&mut g.leading[i]);
            self.leading(&leading, 0);
            match nodes[i].1 {
                Top::Use(u) => {
                    self.comment_lines(comments_in(self.text(u.span)), 0);
                    let line = self.use_line(u);
                    self.push_code(0, vec![Cell::last(line)], false);
                }
                Top::Decl(d) => {
                    let inner =
                        comments_in(&self.src[d.span.start as usize..d.body.span.start as usize]);
                    self.comment_lines(inner, 0);
                    self.decl(d);
                }
            }
            let trailing = std::mem::take(&mut g.trailing[i]);
            self.trailing(trailing);
        }
        self.leading(&g.foot, 0);
        while matches!(self.lines.last(), Some(Line::Blank)) {
            self.lines.pop();
        }
    }

    fn use_line(&self, u: &Use) -> String {
        match &u.target {
            UseTarget::File { path, .. } => format!("use {}", quote(path)),
            UseTarget::Module { path, names } => {
                let mut s = format!("use {}", dotted(path));
                if !names.is_empty() {
                    s.push_str(&format!(
                        ".{{{}}}",
                        names
                            .iter()
                            .map(|n| n.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                s
            }
        }
    }

    fn decl(&mut self, d: &Decl) {
        let mut head = d.kind.name.clone();
        if let Some(n) = &d.name {
            head.push(' ');
            head.push_str(&n.name);
        }
        if let Some(b) = self.inline_block(&d.body) {
            let line = format!("{head} {b}");
            if width(&line) <= MAX_WIDTH {
                self.push_code(0, vec![Cell::last(line)], false);
                return;
            }
        }
        self.open_block(format!("{head} {{"), &d.body, 0);
    }

    // -------------------------------------------------------------- blocks

    /// The block on its own lines, under a header ending in `{`.
    fn open_block(&mut self, header: String, block: &Block, indent: usize) {
        self.push_code(indent, vec![Cell::last(header)], true);
        let spans: Vec<Span> = block.items.iter().map(|i| i.span).collect();
        let g = gaps(
            self.src,
            block.span.start as usize + 1,
            &spans,
            block.span.end as usize - 1,
        );
        self.trailing(g.head);
        for ((item, leading), trailing) in block.items.iter().zip(g.leading).zip(g.trailing) {
            self.leading(&leading, indent + 1);
            let inner = self.interior(item);
            self.comment_lines(inner, indent + 1);
            self.item(item, indent + 1);
            self.trailing(trailing);
        }
        self.leading(&g.foot, indent + 1);
        self.close(indent);
    }

    /// The comments inside an item but outside its block.
    fn interior(&self, item: &Item) -> Vec<String> {
        let (start, end) = (item.span.start as usize, item.span.end as usize);
        match item_block(item) {
            Some(b) => {
                let mut c = comments_in(&self.src[start..b.span.start as usize]);
                c.extend(comments_in(&self.src[b.span.end as usize..end]));
                c
            }
            None => comments_in(&self.src[start..end]),
        }
    }

    /// May this block be written on one line? (It was, and holds no comment;
    /// or it is empty.)
    fn one_line(&self, b: &Block) -> bool {
        let t = self.text(b.span);
        comments_in(t).is_empty() && (b.items.is_empty() || !t.contains('\n'))
    }

    /// `{ a = 1  b = 2 }`, when the block may be written on one line.
    fn inline_block(&self, b: &Block) -> Option<String> {
        if !self.one_line(b) {
            return None;
        }
        if b.items.is_empty() {
            return Some("{}".into());
        }
        let items: Option<Vec<String>> = b
            .items
            .iter()
            .map(|i| self.inline_item(i).map(|c| join(&c)))
            .collect();
        Some(format!("{{ {} }}", items?.join("  ")))
    }

    /// A block always on one line (a call edge's options): `{ a = 1  b = 2 }`.
    /// Its comments have moved above the statement (see `interior`); an
    /// item that cannot be written on one line keeps its source text.
    fn flat_block(&self, b: &Block) -> String {
        if b.items.is_empty() {
            return "{}".into();
        }
        let items: Vec<String> = b
            .items
            .iter()
            .map(|i| match self.inline_item(i) {
                Some(c) => join(&c),
                None => self.text(i.span).to_string(),
            })
            .collect();
        format!("{{ {} }}", items.join("  "))
    }

    /// A named block on one line as cells: the name, then one per item, so
    /// that rows of the same shape can form a table.
    fn table(&self, name: Cell, b: &Block, kind: &str) -> Option<Vec<Cell>> {
        if !self.one_line(b) {
            return None;
        }
        let mut cells = vec![name];
        if b.items.is_empty() {
            cells.push(Cell::last("{}"));
            return Some(cells);
        }
        let sig = format!(
            "{kind}|{}",
            b.items.iter().map(item_sig).collect::<Vec<_>>().join(",")
        );
        let n = b.items.len();
        for (j, item) in b.items.iter().enumerate() {
            let mut text = join(&self.inline_item(item)?);
            if j == 0 {
                text.insert_str(0, "{ ");
            }
            if j + 1 == n {
                text.push_str(" }");
                cells.push(Cell::last(text));
            } else {
                let gap = self.text(Span {
                    start: item.span.end,
                    end: b.items[j + 1].span.start,
                    ..item.span
                });
                let padded = gap.len() > 2 || gap.contains('\t');
                cells.push(Cell::new(text, 2, sig.clone(), padded));
            }
        }
        Some(cells)
    }

    /// An item on one line, as cells; `None` when one of its blocks must be
    /// written on several lines.
    fn inline_item(&self, item: &Item) -> Option<Vec<Cell>> {
        let key = |id: &Ident, sig: &str| {
            Cell::new(
                id.name.clone(),
                1,
                sig,
                self.padded_at(id.span.end as usize),
            )
        };
        Some(match &item.kind {
            ItemKind::Property {
                key: k,
                value,
                block,
            } => {
                let mut rest = format!("= {}", self.expr(value));
                if let Some(b) = block {
                    rest.push(' ');
                    rest.push_str(&self.inline_block(b)?);
                }
                vec![key(k, "key"), Cell::last(rest)]
            }
            ItemKind::Condition {
                subject,
                op,
                value,
                over,
            } => {
                let mut rest = format!("{} {}", op.as_str(), self.expr(value));
                if let Some(o) = over {
                    rest.push_str(&format!(" over {}", self.expr(o)));
                }
                vec![key(subject, "key"), Cell::last(rest)]
            }
            ItemKind::Block { name, block } => self.table(key(name, "block"), block, "block")?,
            ItemKind::Per { key: k, block } => {
                let name = Cell::new(
                    format!("per {}", k.name),
                    1,
                    "per",
                    self.padded_at(k.span.end as usize),
                );
                self.table(name, block, "per")?
            }
            ItemKind::Route {
                path, class, block, ..
            } => {
                let mut cells = vec![Cell::new(
                    self.route_head(item),
                    1,
                    "route",
                    self.padded_at(path.span.end as usize),
                )];
                if let Some(c) = class {
                    cells.push(Cell::new(
                        format!("class {}", c.name),
                        1,
                        "route-class",
                        self.padded_at(c.span.end as usize),
                    ));
                }
                if let Some(b) = block {
                    cells.push(Cell::last(self.inline_block(b)?));
                }
                let last = cells.len() - 1;
                cells[last].gap = 0;
                cells
            }
            ItemKind::Stage { kind, .. } => {
                let full = self.statement(item);
                let rest = full[kind.name.len() + 1..].to_string();
                vec![key(kind, "stage"), Cell::last(rest)]
            }
            _ => vec![Cell::last(self.statement(item))],
        })
    }

    /// `route NAME METHOD "path"`
    fn route_head(&self, item: &Item) -> String {
        match &item.kind {
            ItemKind::Route {
                name, method, path, ..
            } => format!("route {} {} {}", name.name, method.name, quote(&path.value)),
            _ => String::new(),
        }
    }

    /// The statements without a block, whole.
    fn statement(&self, item: &Item) -> String {
        match &item.kind {
            ItemKind::Calls { targets, options } => {
                let edges: Vec<String> = targets
                    .iter()
                    .enumerate()
                    .map(|(i, t)| match options.get(i).and_then(Option::as_ref) {
                        Some(b) => format!("{} {}", t.name, self.flat_block(b)),
                        None => t.name.clone(),
                    })
                    .collect();
                format!("calls {}", edges.join(", "))
            }
            ItemKind::Autoscale { metric, target } => format!(
                "autoscale on {} target {}",
                self.expr(metric),
                self.expr(target)
            ),
            ItemKind::Stage {
                kind,
                from,
                to,
                duration,
            } => {
                let mut s = format!("{} {}", kind.name, self.expr(from));
                if let Some(t) = to {
                    s.push_str(&format!(" -> {}", self.expr(t)));
                }
                let word = if kind.name == "ramp" { "over" } else { "for" };
                s.push_str(&format!(" {word} {}", self.expr(duration)));
                s
            }
            ItemKind::Kill { what, every } => {
                format!("kill {} every {}", what.name, self.expr(every))
            }
            ItemKind::Latency { target, amount } => {
                format!("latency {} {}", target.name, self.expr(amount))
            }
            ItemKind::Expect {
                subject,
                events,
                within,
            } => format!(
                "expect {} {} within {}",
                self.expr(subject),
                events
                    .iter()
                    .map(|e| e.name.as_str())
                    .collect::<Vec<_>>()
                    .join(" and "),
                self.expr(within)
            ),
            _ => String::new(),
        }
    }

    /// One item at `indent`: a line, or a header, its block's lines and `}`.
    fn item(&mut self, item: &Item, indent: usize) {
        if let Some(cells) = self.inline_item(item) {
            if item_block(item).is_none() || 2 * indent + width(&join(&cells)) <= MAX_WIDTH {
                self.push_code(indent, cells, false);
                return;
            }
        }
        let Some(block) = item_block(item) else {
            return;
        };
        let header = match &item.kind {
            ItemKind::Property { key, value, .. } => {
                format!("{} = {} {{", key.name, self.expr(value))
            }
            ItemKind::Block { name, .. } => format!("{} {{", name.name),
            ItemKind::Per { key, .. } => format!("per {} {{", key.name),
            ItemKind::Route { class, .. } => {
                let mut h = self.route_head(item);
                if let Some(c) = class {
                    h.push_str(&format!(" class {}", c.name));
                }
                h.push_str(" {");
                h
            }
            _ => return,
        };
        self.open_block(header, block, indent);
    }

    // -------------------------------------------------------------- expressions

    fn expr(&self, e: &Expr) -> String {
        match &e.kind {
            ExprKind::Quantity { value, unit, rps } => {
                let mut s = if value.is_finite() {
                    format!("{value}")
                } else {
                    // Too many digits for an f64: the digits as written.
                    self.text(e.span)
                        .chars()
                        .take_while(|c| c.is_ascii_digit() || *c == '.')
                        .collect()
                };
                s.push_str(unit);
                if *rps {
                    s.push_str(" rps");
                }
                s
            }
            ExprKind::Str(s) => quote(s),
            ExprKind::Path(p) => dotted(p),
            ExprKind::Call { callee, args } => format!(
                "{}({})",
                callee.name,
                args.iter()
                    .map(|a| match &a.name {
                        Some(n) => format!("{} = {}", n.name, self.expr(&a.value)),
                        None => self.expr(&a.value),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            ExprKind::List(items) => format!(
                "[{}]",
                items
                    .iter()
                    .map(|i| self.expr(i))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            ExprKind::Binary { op, lhs, rhs } => {
                let op = match op {
                    BinOp::Add => "+",
                    BinOp::Sub => "-",
                    BinOp::Mul => "*",
                    BinOp::Div => "/",
                    BinOp::And => "&",
                    BinOp::Or => "|",
                    BinOp::Cmp(c) => c.as_str(),
                };
                format!("{} {op} {}", self.expr(lhs), self.expr(rhs))
            }
            ExprKind::Unary { op, expr } => {
                let op = match op {
                    UnOp::Neg => "-",
                    UnOp::Plus => "+",
                    UnOp::Not => "!",
                };
                format!("{op}{}", self.expr(expr))
            }
            ExprKind::Range { lo, hi } => {
                let compound = |e: &Expr| {
                    matches!(
                        e.kind,
                        ExprKind::Binary { .. } | ExprKind::Range { .. } | ExprKind::For { .. }
                    )
                };
                let sep = if compound(lo) || compound(hi) {
                    " .. "
                } else {
                    ".."
                };
                format!("{}{sep}{}", self.expr(lo), self.expr(hi))
            }
            ExprKind::On(None) => "on".into(),
            ExprKind::On(Some(c)) => format!("on {}", c.name),
            ExprKind::For { value, cond } => {
                format!("{} for {}", self.expr(value), self.expr(cond))
            }
            ExprKind::Paren(inner) => format!("({})", self.expr(inner)),
            // Only in a file with syntax errors, which is never formatted.
            ExprKind::Error => self.text(e.span).to_string(),
        }
    }

    // -------------------------------------------------------------- output

    /// Pads the columns of each run of same-shaped lines that the author
    /// aligned (see the module documentation).
    fn align(&mut self) {
        let mut i = 0;
        while i < self.lines.len() {
            // A group: consecutive lines of more than one cell.
            if self.column(i, 0).is_none() {
                i += 1;
                continue;
            }
            let mut j = i + 1;
            while self.column(j, 0).is_some() {
                j += 1;
            }
            self.align_group(i..j);
            i = j;
        }
    }

    fn align_group(&mut self, group: std::ops::Range<usize>) {
        let base = group.start;
        // Where each line's cell `k` starts, as columns are settled.
        let mut starts: Vec<usize> = group
            .clone()
            .map(|i| match &self.lines[i] {
                Line::Code { indent, .. } => 2 * indent,
                _ => 0,
            })
            .collect();
        let mut k = 0;
        loop {
            // The runs of lines whose cell `k` has the same signature.
            let mut runs = Vec::new();
            let mut a = group.start;
            while a < group.end {
                let Some(key) = self.column(a, k) else {
                    a += 1;
                    continue;
                };
                let mut b = a + 1;
                while b < group.end && self.column(b, k) == Some(key) {
                    b += 1;
                }
                runs.push(a..b);
                a = b;
            }
            if runs.is_empty() {
                return;
            }
            for run in runs {
                let wanted = run.clone().any(|i| match &self.lines[i] {
                    Line::Code { cells, .. } => cells[k].padded,
                    _ => false,
                });
                let end = |f: &Self, i: usize| match &f.lines[i] {
                    Line::Code { cells, .. } => starts[i - base] + width(&cells[k].text),
                    _ => 0,
                };
                let target = run.clone().map(|i| end(self, i)).max().unwrap_or(0);
                if wanted {
                    for i in run {
                        let e = end(self, i);
                        if let Line::Code { cells, .. } = &mut self.lines[i] {
                            cells[k].pad = cells[k].gap + target - e;
                        }
                    }
                }
            }
            for i in group.clone() {
                if let Line::Code { cells, .. } = &self.lines[i] {
                    if let Some(c) = cells.get(k) {
                        starts[i - base] += width(&c.text) + c.pad;
                    }
                }
            }
            k += 1;
        }
    }

    /// The indent and signature of cell `k` of line `i`, when it has a
    /// cell after it.
    fn column(&self, i: usize, k: usize) -> Option<(usize, &str)> {
        match self.lines.get(i)? {
            Line::Code { indent, cells, .. } if cells.len() > k + 1 => {
                Some((*indent, cells[k].sig.as_str()))
            }
            _ => None,
        }
    }

    fn render(&self) -> String {
        let mut out = String::new();
        for l in &self.lines {
            match l {
                Line::Blank => {}
                Line::Comment { indent, text } => {
                    out.push_str(&"  ".repeat(*indent));
                    out.push_str(text);
                }
                Line::Code {
                    indent,
                    cells,
                    trailing,
                    ..
                } => {
                    let mut line = "  ".repeat(*indent);
                    for (i, c) in cells.iter().enumerate() {
                        line.push_str(&c.text);
                        if i + 1 < cells.len() {
                            line.push_str(&" ".repeat(c.pad));
                        }
                    }
                    if !trailing.is_empty() {
                        let w = width(&line);
                        let col = COMMENT_COLUMN.max(w + 2);
                        line.push_str(&" ".repeat(col - w));
                        line.push_str(&trailing.join(" "));
                    }
                    out.push_str(&line);
                }
            }
            out.push('\n');
        }
        out
    }
}

/// The block an item carries, if any.
fn item_block(item: &Item) -> Option<&Block> {
    match &item.kind {
        ItemKind::Property { block, .. } | ItemKind::Route { block, .. } => block.as_deref(),
        ItemKind::Block { block, .. } | ItemKind::Per { block, .. } => Some(block),
        _ => None,
    }
}

/// What identifies an item's place in a table row: its key and shape.
fn item_sig(item: &Item) -> String {
    match &item.kind {
        ItemKind::Property { key, block, .. } => {
            format!("{}={}", key.name, if block.is_some() { "{" } else { "" })
        }
        ItemKind::Block { name, .. } => format!("{}{{", name.name),
        ItemKind::Per { key, .. } => format!("per {}", key.name),
        ItemKind::Condition { subject, op, .. } => format!("{}{}", subject.name, op.as_str()),
        ItemKind::Stage { kind, .. } => kind.name.clone(),
        ItemKind::Route { .. } => "route".into(),
        ItemKind::Calls { .. } => "calls".into(),
        ItemKind::Autoscale { .. } => "autoscale".into(),
        ItemKind::Kill { .. } => "kill".into(),
        ItemKind::Latency { .. } => "latency".into(),
        ItemKind::Expect { .. } => "expect".into(),
    }
}

fn dotted(path: &[Ident]) -> String {
    path.iter()
        .map(|i| i.name.as_str())
        .collect::<Vec<_>>()
        .join(".")
}

/// A string literal that reads back as `s`.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_split_trailing_from_leading() {
        assert_eq!(
            pieces(" // a\n\n  /* b */ // c\n"),
            vec![
                Piece::Comment("// a".into()),
                Piece::Newlines(2),
                Piece::Comment("/* b */".into()),
                Piece::Comment("// c".into()),
                Piece::Newlines(1),
            ]
        );
        let (t, r) = split_trailing(pieces(" /* x */ // a  \n// b"));
        assert_eq!(t, ["/* x */", "// a"]);
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn comments_in_skips_strings() {
        assert_eq!(
            comments_in(r#"a = "http://x\"//" /* b */ + 1 // c"#),
            ["/* b */", "// c"]
        );
    }

    #[test]
    fn numbers_print_back_exactly() {
        for n in [
            "1.2",
            "0.1",
            "99.9",
            "1000000",
            "0.000001",
            "123456789012345678901234",
        ] {
            let v: f64 = n.parse().unwrap();
            let s = format!("{v}");
            assert!(!s.contains('e'), "{s}");
            assert_eq!(s.parse::<f64>().unwrap(), v);
        }
    }
}
