//! pest → AST, with declaration- and item-level recovery: every broken
//! declaration or item becomes one S0001 diagnostic and parsing goes on.

use super::ast::*;
use crate::diagnostics::{catalog, Diagnostic, Diagnostics, FileId, Span};
use pest::iterators::Pair;
use pest::Parser as _;

#[derive(pest_derive::Parser)]
#[grammar = "syntax/scale.pest"]
struct ScaleParser;

/// Parses one file. Always returns a tree (possibly partial) and every
/// syntax error found.
pub fn parse(file: FileId, text: &str) -> (File, Vec<Diagnostic>) {
    parse_in_pieces(file, text, PIECE_BYTES)
}

/// [`parse`], a balanced file cut into pieces of about `piece_bytes`.
fn parse_in_pieces(file: FileId, text: &str, piece_bytes: usize) -> (File, Vec<Diagnostic>) {
    let mut diags = Diagnostics::default();
    // Declarations nested deeper than any spec needs are blanked out (with
    // one diagnostic each), so no input can exhaust the parser's stack and
    // the rest of the file is still checked.
    let mut owned: Option<String> = None;
    for (start, end) in chunks(text) {
        if let Some(pos) = too_deep(&text[start..end]) {
            let pos = start + pos;
            diags.push(catalog::nesting_too_deep(
                Span::new(file, pos, pos + 1),
                MAX_DEPTH,
            ));
            let t = owned.get_or_insert_with(|| text.to_string());
            let blank: String = text[start..end]
                .bytes()
                .map(|b| if b == b'\n' { '\n' } else { ' ' })
                .collect();
            t.replace_range(start..end, &blank);
        }
    }
    let text = owned.as_deref().unwrap_or(text);
    // A file is parsed a declaration at a time (in parallel, merged in
    // order): pest's token queue then holds one declaration, not the whole
    // file beside its tree. A file whose braces balance is cut where a line
    // starts a top-level declaration; if any piece has a syntax error (a
    // declaration may run past a cut: its name on the next line, a comment
    // open across it), the file is parsed again whole, so that recovery and
    // every diagnostic are the grammar's own. One that leaves braces open is
    // cut before every line that starts in column 0, so an unclosed block
    // costs its own declaration, not a rescan of the rest of the file per
    // declaration.
    let balanced = balanced(text);
    let pieces = if balanced {
        top_level_pieces(text, piece_bytes)
    } else {
        chunks(text)
    };
    use rayon::prelude::*;
    let mut parsed: Vec<Piece> = if pieces.len() > 1 {
        pieces
            .par_iter()
            .map(|&(start, end)| parse_piece(file, text, start, end))
            .collect()
    } else {
        // One piece (most files): no hand-off to another thread.
        pieces
            .iter()
            .map(|&(start, end)| parse_piece(file, text, start, end))
            .collect()
    };
    if balanced && parsed.len() > 1 && parsed.iter().any(|p| !p.diags.is_empty()) {
        parsed = vec![parse_piece(file, text, 0, text.len())];
    }
    let mut file_ast = File {
        uses: Vec::with_capacity(parsed.iter().map(|p| p.file.uses.len()).sum()),
        decls: Vec::with_capacity(parsed.iter().map(|p| p.file.decls.len()).sum()),
    };
    for p in parsed {
        file_ast.uses.extend(p.file.uses);
        file_ast.decls.extend(p.file.decls);
        diags.extend(p.diags.into_vec());
    }
    (file_ast, diags.into_vec())
}

/// What one piece of a file parsed to.
struct Piece {
    file: File,
    diags: Diagnostics,
}

/// Parses `text[start..end]` alone, with spans in the whole file.
fn parse_piece(file: FileId, text: &str, start: usize, end: usize) -> Piece {
    let mut p = Lower {
        file,
        text: &text[start..end],
        base: start,
        diags: Diagnostics::default(),
    };
    let f = match ScaleParser::parse(Rule::file, p.text) {
        Ok(mut pairs) => p.file(pairs.next().expect("file rule")),
        Err(e) => {
            p.pest_error(e, 0, true);
            File::default()
        }
    };
    Piece {
        file: f,
        diags: p.diags,
    }
}

/// A balanced file cut into its top-level declarations: before every line
/// that starts (in column 0) with a letter or `_` outside brackets, strings
/// and comments. A cut in the wrong place only costs a second parse (see
/// [`parse`]).
fn top_level_pieces(text: &str, piece_bytes: usize) -> Vec<(usize, usize)> {
    let mut cuts = vec![0];
    let bytes = text.as_bytes();
    let mut depth = 0i64;
    let mut i = 0;
    let mut no_close = false;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                if bytes.get(i) == Some(&b'\n') {
                    continue;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') && !no_close => {
                match text[i + 2..].find("*/") {
                    Some(close) => i += 2 + close + 1,
                    None => no_close = true,
                }
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth -= 1,
            b'\n'
                if depth == 0
                    && bytes
                        .get(i + 1)
                        .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_') =>
            {
                cuts.push(i + 1);
            }
            _ => {}
        }
        i += 1;
    }
    cuts.push(text.len());
    cuts.dedup();
    // Declarations in runs of about `piece_bytes`: fewer, larger pieces
    // cost less to hand between threads and leave fewer holes behind.
    let mut batched = vec![0];
    for &c in &cuts[1..] {
        if c - batched[batched.len() - 1] >= piece_bytes || c == text.len() {
            batched.push(c);
        }
    }
    batched.dedup();
    batched.windows(2).map(|w| (w[0], w[1])).collect()
}

/// The size a balanced file is cut into pieces of (see [`top_level_pieces`]);
/// a smaller file is parsed whole.
const PIECE_BYTES: usize = 32 * 1024;

/// The declarations of a file, roughly: it is cut before every line that
/// starts (in column 0) with a letter or `_`. Used for recovery only.
fn chunks(text: &str) -> Vec<(usize, usize)> {
    let mut cuts = vec![0];
    let bytes = text.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'\n'
            && bytes
                .get(i + 1)
                .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
        {
            cuts.push(i + 1);
        }
    }
    cuts.push(text.len());
    cuts.dedup();
    cuts.windows(2).map(|w| (w[0], w[1])).collect()
}

/// True when every `{`, `(` and `[` (outside strings and comments) is closed.
fn balanced(text: &str) -> bool {
    let mut depth = 0i64;
    scan_brackets(text, |_, b| {
        depth += if matches!(b, b'(' | b'[' | b'{') {
            1
        } else {
            -1
        };
        depth >= 0
    });
    depth == 0
}

/// Calls `f` with every bracket outside strings and comments, until it returns false.
fn scan_brackets(text: &str, mut f: impl FnMut(usize, u8) -> bool) {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut no_close = false;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            // A comment only when it is closed, as the grammar reads it: an
            // unclosed `/*` is text, and the brackets after it count (else a
            // file would look balanced to this scan and not to the parser,
            // which then backtracks over all of it). Once no `*/` follows,
            // none follows any later `/*` either.
            b'/' if bytes.get(i + 1) == Some(&b'*') && !no_close => {
                match text[i + 2..].find("*/") {
                    Some(close) => i += 2 + close + 1,
                    None => no_close = true,
                }
            }
            b @ (b'(' | b'[' | b'{' | b')' | b']' | b'}') if !f(i, b) => return,
            _ => {}
        }
        i += 1;
    }
}

struct Lower<'t> {
    file: FileId,
    /// The text being parsed: the whole file, or one declaration of it.
    text: &'t str,
    /// Where `text` starts in the file.
    base: usize,
    diags: Diagnostics,
}

fn rule_name(r: &Rule) -> Option<&'static str> {
    Some(match r {
        Rule::ident | Rule::path => "a name",
        Rule::string | Rule::string_inner => "a string",
        Rule::quantity | Rule::number => "a number",
        Rule::block => "`{`",
        Rule::rbrace => "`}`",
        Rule::expr | Rule::sum | Rule::neg_op => "a value",
        Rule::call | Rule::list | Rule::paren => "a value",
        Rule::on_value => "a value",
        Rule::http_method => "an HTTP method (GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS)",
        Rule::kw_class => "`class`",
        Rule::kw_on => "`on`",
        Rule::kw_target => "`target`",
        Rule::kw_over => "`over`",
        Rule::kw_for => "`for`",
        Rule::kw_every => "`every`",
        Rule::kw_within => "`within`",
        Rule::kw_and => "`and`",
        Rule::cmp_op => "a comparison (`<`, `<=`, `>`, `>=`, `==`, `!=`)",
        Rule::or_op | Rule::and_op | Rule::add_op | Rule::mul_op | Rule::range_op => "an operator",
        Rule::eq => "`=`",
        Rule::use_names => "`.{`",
        Rule::EOI => "end of file",
        Rule::decl | Rule::use_decl => "a declaration",
        Rule::property | Rule::sub_block | Rule::condition_item => "an item",
        Rule::route_item
        | Rule::calls_item
        | Rule::call_edge
        | Rule::autoscale_item
        | Rule::per_item
        | Rule::stage_item
        | Rule::kill_item
        | Rule::latency_item
        | Rule::expect_item => "an item",
        _ => return None,
    })
}

impl<'t> Lower<'t> {
    /// A span in the file from offsets in `text`.
    fn mk(&self, start: usize, end: usize) -> Span {
        Span::new(self.file, self.base + start, self.base + end)
    }

    /// The span of a pair, without the whitespace and comments pest keeps
    /// at the end of a rule whose last optional part did not match.
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let s = pair.as_span();
        self.mk(s.start(), self.tight_end(pair))
    }

    fn tight_end(&self, pair: &Pair<'_, Rule>) -> usize {
        let end = pair.as_span().end();
        let Some(last) = pair.clone().into_inner().last() else {
            return end;
        };
        let inner_end = self.tight_end(&last);
        if only_trivia(self.text.get(inner_end..end).unwrap_or("")) {
            inner_end
        } else {
            end
        }
    }

    fn pest_error(&mut self, e: pest::error::Error<Rule>, offset: usize, top_level: bool) {
        use pest::error::{ErrorVariant, InputLocation};
        let pos = match e.location {
            InputLocation::Pos(p) => p,
            InputLocation::Span((s, _)) => s,
        } + offset;
        let mut expected: Vec<&str> = match &e.variant {
            ErrorVariant::ParsingError { positives, .. } => {
                positives.iter().filter_map(rule_name).collect()
            }
            ErrorVariant::CustomError { .. } => vec![],
        };
        // "`=`" and "`}`" are literals pest does not list as rules; add the
        // usual suspects when the failure is at an item boundary.
        expected.sort();
        expected.dedup();
        let found = self.describe_at(pos);
        let end = (pos + found.1).min(self.text.len());
        let expected = if expected.is_empty() {
            String::new()
        } else {
            join_or(&expected)
        };
        self.diags.push(catalog::parse_error(
            self.mk(pos, end),
            &expected,
            &found.0,
            top_level,
        ));
    }

    /// What is at `pos`, for "found …", and how many bytes to underline.
    fn describe_at(&self, pos: usize) -> (String, usize) {
        let rest = self.text.get(pos..).unwrap_or("");
        let rest_trim = rest.trim_start_matches([' ', '\t']);
        let skip = rest.len() - rest_trim.len();
        match rest_trim.chars().next() {
            None => ("end of file".into(), 0),
            Some('\n') | Some('\r') => ("end of line".into(), 0),
            Some(c) if c.is_alphanumeric() || c == '_' => {
                let w: String = rest_trim
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
                    .collect();
                (format!("`{w}`"), skip + w.len())
            }
            Some(c) => (format!("`{c}`"), skip + c.len_utf8()),
        }
    }

    /// Builds the tree of a flat run of operands and operators by
    /// precedence (shunting-yard: no recursion, whatever the length).
    fn operators(&mut self, parts: Vec<Pair<'_, Rule>>) -> Expr {
        let mut operands: Vec<Expr> = Vec::new();
        let mut ops: Vec<(u8, Pair<'_, Rule>)> = Vec::new();
        let mut prefixes: Vec<Pair<'_, Rule>> = Vec::new();
        let reduce = |operands: &mut Vec<Expr>, op: Pair<'_, Rule>| {
            let rhs = operands.pop().expect("right operand");
            let lhs = operands.pop().expect("left operand");
            let span = lhs.span.to(rhs.span);
            let kind = match op.as_rule() {
                Rule::range_op => ExprKind::Range {
                    lo: Box::new(lhs),
                    hi: Box::new(rhs),
                },
                rule => ExprKind::Binary {
                    op: match (rule, op.as_str()) {
                        (Rule::or_op, _) => BinOp::Or,
                        (Rule::and_op, _) => BinOp::And,
                        (Rule::cmp_op, s) => BinOp::Cmp(cmp_op(s)),
                        (Rule::add_op, "+") => BinOp::Add,
                        (Rule::add_op, _) => BinOp::Sub,
                        (_, "*") => BinOp::Mul,
                        _ => BinOp::Div,
                    },
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
            };
            operands.push(Expr { kind, span });
        };
        for part in parts {
            let prec = match part.as_rule() {
                Rule::neg_op => {
                    prefixes.push(part);
                    continue;
                }
                Rule::or_op => 1,
                Rule::and_op => 2,
                Rule::cmp_op => 3,
                Rule::range_op => 4,
                Rule::add_op => 5,
                Rule::mul_op => 6,
                _ => {
                    let mut e = self.expr(part);
                    for op in prefixes.drain(..).rev() {
                        let op_span = self.span(&op);
                        let op = match op.as_str() {
                            "-" => UnOp::Neg,
                            "+" => UnOp::Plus,
                            _ => UnOp::Not,
                        };
                        e = Expr {
                            span: op_span.to(e.span),
                            kind: ExprKind::Unary {
                                op,
                                expr: Box::new(e),
                            },
                        };
                    }
                    operands.push(e);
                    continue;
                }
            };
            // All operators group to the left.
            while ops.last().is_some_and(|(p, _)| *p >= prec) {
                let (_, op) = ops.pop().expect("checked");
                reduce(&mut operands, op);
            }
            ops.push((prec, part));
        }
        while let Some((_, op)) = ops.pop() {
            reduce(&mut operands, op);
        }
        operands.pop().unwrap_or(Expr {
            kind: ExprKind::Error,
            span: self.mk(0, 0),
        })
    }

    /// An expression longer than any spec needs: refused, so that no input
    /// can exhaust the stack of the recursive passes over the tree.
    fn too_long(&mut self, span: Span) -> Expr {
        self.diags
            .push(catalog::expression_too_long(span, MAX_OPERANDS));
        Expr {
            kind: ExprKind::Error,
            span,
        }
    }

    /// Re-parses a skipped slice alone to learn what exactly is wrong.
    fn report_skipped(&mut self, rule: Rule, pair: &Pair<'_, Rule>) {
        let start = pair.as_span().start();
        let slice = pair.as_str();
        match ScaleParser::parse(rule, slice) {
            Err(e) => {
                self.pest_error(e, start, rule == Rule::decl_only);
                // Ran off the end: name the brace that was never closed.
                let at_end = self
                    .diags
                    .last()
                    .and_then(|d| d.primary_span())
                    .is_some_and(|sp| sp.start as usize >= start + slice.trim_end().len());
                if let (true, Some(open)) = (at_end, unclosed_brace(slice)) {
                    let span = self.mk(start + open, start + open + 1);
                    if let Some(d) = self.diags.pop() {
                        self.diags.push(catalog::never_closed(d, span));
                    }
                }
            }
            Ok(_) => {
                let end = start + slice.trim_end().len();
                self.diags.push(catalog::does_not_fit(self.mk(start, end)));
            }
        }
    }

    fn file(&mut self, pair: Pair<'_, Rule>) -> File {
        let mut f = File::default();
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::use_decl => f.uses.push(self.use_decl(p)),
                Rule::decl => f.decls.push(self.decl(p)),
                Rule::bad_decl => self.report_skipped(Rule::decl_only, &p),
                _ => {}
            }
        }
        f
    }

    fn ident(&self, p: Pair<'_, Rule>) -> Ident {
        Ident {
            name: p.as_str().to_string(),
            span: self.span(&p),
        }
    }

    fn use_decl(&mut self, p: Pair<'_, Rule>) -> Use {
        let span = self.span(&p);
        let mut inner = p.into_inner();
        inner.next(); // kw_use
        let first = inner.next().expect("use target");
        let target = match first.as_rule() {
            Rule::string => UseTarget::File {
                span: self.span(&first),
                path: self.string(first),
            },
            _ => {
                let path = first.into_inner().map(|i| self.ident(i)).collect();
                let names = inner
                    .next()
                    .map(|n| n.into_inner().map(|i| self.ident(i)).collect())
                    .unwrap_or_default();
                UseTarget::Module { path, names }
            }
        };
        Use { target, span }
    }

    fn decl(&mut self, p: Pair<'_, Rule>) -> Decl {
        let span = self.span(&p);
        let mut inner = p.into_inner();
        let kind = self.ident(inner.next().expect("decl kind"));
        let mut name = None;
        let mut body = None;
        for i in inner {
            match i.as_rule() {
                Rule::ident => name = Some(self.ident(i)),
                Rule::block => body = Some(self.block(i)),
                _ => {}
            }
        }
        Decl {
            kind,
            name,
            body: body.expect("decl block"),
            span,
        }
    }

    fn block(&mut self, p: Pair<'_, Rule>) -> Block {
        let span = self.span(&p);
        let mut items = Vec::new();
        for i in p.into_inner() {
            if i.as_rule() == Rule::bad_item {
                self.report_skipped(Rule::item_only, &i);
            } else if let Some(item) = self.item(i) {
                items.push(item);
            }
        }
        // Blocks are many and short: no spare capacity.
        items.shrink_to_fit();
        Block { items, span }
    }

    fn string(&self, p: Pair<'_, Rule>) -> String {
        let raw = p.into_inner().next().map(|i| i.as_str()).unwrap_or("");
        unescape(raw)
    }

    fn strlit(&self, p: Pair<'_, Rule>) -> StrLit {
        StrLit {
            span: self.span(&p),
            value: self.string(p),
        }
    }

    fn item(&mut self, p: Pair<'_, Rule>) -> Option<Item> {
        let span = self.span(&p);
        let rule = p.as_rule();
        let mut inner = p.into_inner();
        let kind = match rule {
            Rule::property => {
                let key = self.ident(inner.next()?);
                inner.next(); // `=`
                let value = self.expr(inner.next()?);
                let block = inner.next().map(|b| Box::new(self.block(b)));
                ItemKind::Property { key, value, block }
            }
            Rule::sub_block => {
                let name = self.ident(inner.next()?);
                let block = self.block(inner.next()?);
                ItemKind::Block { name, block }
            }
            Rule::route_item => {
                inner.next(); // route
                let name = self.ident(inner.next()?);
                let method = Box::new(self.ident(inner.next()?));
                let path = self.strlit(inner.next()?);
                let mut class = None;
                let mut block = None;
                for i in inner {
                    match i.as_rule() {
                        Rule::ident => class = Some(Box::new(self.ident(i))),
                        Rule::block => block = Some(Box::new(self.block(i))),
                        _ => {}
                    }
                }
                ItemKind::Route {
                    name,
                    method,
                    path,
                    class,
                    block,
                }
            }
            Rule::calls_item => {
                let mut targets = Vec::new();
                let mut options = Vec::new();
                for edge in inner.filter(|i| i.as_rule() == Rule::call_edge) {
                    let mut e = edge.into_inner();
                    let Some(name) = e.next() else { continue };
                    targets.push(self.ident(name));
                    options.push(e.next().map(|b| self.block(b)));
                }
                ItemKind::Calls { targets, options }
            }
            Rule::autoscale_item => {
                let rest: Vec<_> = inner.filter(|i| i.as_rule() == Rule::sum).collect();
                let mut it = rest.into_iter();
                let metric = Box::new(self.expr(it.next()?));
                let target = Box::new(self.expr(it.next()?));
                ItemKind::Autoscale { metric, target }
            }
            Rule::per_item => {
                inner.next();
                let key = self.ident(inner.next()?);
                let block = self.block(inner.next()?);
                ItemKind::Per { key, block }
            }
            Rule::stage_item => {
                let kind = self.ident(inner.next()?);
                let mut values = Vec::new();
                let mut arrow = false;
                for i in inner {
                    match i.as_rule() {
                        Rule::sum => values.push(self.expr(i)),
                        Rule::kw_over | Rule::kw_for => {}
                        _ => {}
                    }
                }
                if values.len() == 3 {
                    arrow = true;
                }
                let duration = Box::new(values.pop()?);
                let to = if arrow {
                    values.pop().map(Box::new)
                } else {
                    None
                };
                let from = Box::new(values.pop()?);
                ItemKind::Stage {
                    kind,
                    from,
                    to,
                    duration,
                }
            }
            Rule::kill_item => {
                inner.next();
                let what = self.ident(inner.next()?);
                inner.next(); // every
                let every = Box::new(self.expr(inner.next()?));
                ItemKind::Kill { what, every }
            }
            Rule::latency_item => {
                inner.next();
                let target = self.ident(inner.next()?);
                let amount = Box::new(self.expr(inner.next()?));
                ItemKind::Latency { target, amount }
            }
            Rule::expect_item => {
                inner.next();
                let subject = Box::new(self.expr(inner.next()?));
                let mut events = Vec::new();
                let mut within = None;
                for i in inner {
                    match i.as_rule() {
                        Rule::ident => events.push(self.ident(i)),
                        Rule::sum => within = Some(Box::new(self.expr(i))),
                        _ => {}
                    }
                }
                ItemKind::Expect {
                    subject,
                    events,
                    within: within?,
                }
            }
            Rule::condition_item => {
                let subject = self.ident(inner.next()?);
                let op = cmp_op(inner.next()?.as_str());
                let value = Box::new(self.expr(inner.next()?));
                let over = inner
                    .find(|i| i.as_rule() == Rule::sum)
                    .map(|i| Box::new(self.expr(i)));
                ItemKind::Condition {
                    subject,
                    op,
                    value,
                    over,
                }
            }
            _ => return None,
        };
        Some(Item { kind, span })
    }

    /// Any expression-level pair to an [`Expr`].
    fn expr(&mut self, p: Pair<'_, Rule>) -> Expr {
        // Most levels of the expression grammar only pass one child through;
        // the span is computed only for the nodes that are built.
        let whole = p.clone();
        let rule = p.as_rule();
        let kind = match rule {
            Rule::expr | Rule::sum => {
                let parts: Vec<Pair<'_, Rule>> = p.into_inner().collect();
                let operators = parts
                    .iter()
                    .filter(|q| {
                        matches!(
                            q.as_rule(),
                            Rule::or_op
                                | Rule::and_op
                                | Rule::cmp_op
                                | Rule::range_op
                                | Rule::add_op
                                | Rule::mul_op
                                | Rule::neg_op
                        )
                    })
                    .count();
                if operators > MAX_OPERANDS {
                    return self.too_long(self.span(&whole));
                }
                let Some(at) = parts.iter().position(|q| q.as_rule() == Rule::kw_for) else {
                    return self.operators(parts);
                };
                let mut parts = parts;
                let cond = parts.split_off(at + 1);
                parts.pop(); // `for`
                let value = self.operators(parts);
                let cond = self.operators(cond);
                ExprKind::For {
                    value: Box::new(value),
                    cond: Box::new(cond),
                }
            }
            Rule::quantity => quantity(p.as_str()),
            Rule::string => ExprKind::Str(self.string(p)),
            Rule::path => {
                // pest gives no length: collected with room for four.
                let mut path: Vec<Ident> = p.into_inner().map(|i| self.ident(i)).collect();
                path.shrink_to_fit();
                ExprKind::Path(path)
            }
            Rule::paren => {
                ExprKind::Paren(Box::new(self.expr(p.into_inner().next().expect("inner"))))
            }
            Rule::list => {
                let mut list: Vec<Expr> = p.into_inner().map(|i| self.expr(i)).collect();
                list.shrink_to_fit();
                ExprKind::List(list)
            }
            Rule::call => {
                let mut inner = p.into_inner();
                let callee = Box::new(self.ident(inner.next().expect("callee")));
                let mut args: Vec<Arg> = inner
                    .map(|a| {
                        let mut ai = a.into_inner();
                        let first = ai.next().expect("arg");
                        if first.as_rule() == Rule::ident {
                            let name = Some(self.ident(first));
                            Arg {
                                name,
                                value: self.expr(ai.next().expect("arg value")),
                            }
                        } else {
                            Arg {
                                name: None,
                                value: self.expr(first),
                            }
                        }
                    })
                    .collect();
                args.shrink_to_fit();
                ExprKind::Call { callee, args }
            }
            Rule::on_value => {
                let cond = p
                    .into_inner()
                    .find(|i| i.as_rule() == Rule::ident)
                    .map(|i| Box::new(self.ident(i)));
                ExprKind::On(cond)
            }
            _ => ExprKind::Str(p.as_str().to_string()),
        };
        Expr {
            kind,
            span: self.span(&whole),
        }
    }
}

/// Deeper nesting than any spec needs is refused before parsing, so that
/// no input can exhaust the stack of the recursive parser.
pub const MAX_DEPTH: usize = 32;

/// The most operators one expression may chain (`a + b + …`, `---x`).
pub const MAX_OPERANDS: usize = 64;

/// The position where bracket nesting (outside strings and comments)
/// first goes past [`MAX_DEPTH`].
fn too_deep(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut found = None;
    scan_brackets(text, |i, b| {
        if matches!(b, b'(' | b'[' | b'{') {
            depth += 1;
            if depth > MAX_DEPTH {
                found = Some(i);
                return false;
            }
        } else {
            depth = depth.saturating_sub(1);
        }
        true
    });
    found
}

/// The offset of the innermost `{` left open at the end of `s`.
fn unclosed_brace(s: &str) -> Option<usize> {
    let mut open = Vec::new();
    scan_brackets(s, |i, b| {
        match b {
            b'{' => open.push(i),
            b'}' => {
                open.pop();
            }
            _ => {}
        }
        true
    });
    open.pop()
}

/// True when `s` is only whitespace and comments.
fn only_trivia(mut s: &str) -> bool {
    loop {
        s = s.trim_start();
        if s.is_empty() {
            return true;
        }
        if let Some(rest) = s.strip_prefix("//") {
            s = rest.split_once('\n').map(|x| x.1).unwrap_or("");
        } else if let Some(rest) = s.strip_prefix("/*") {
            match rest.split_once("*/") {
                Some((_, r)) => s = r,
                None => return false,
            }
        } else {
            return false;
        }
    }
}

fn cmp_op(s: &str) -> CmpOp {
    match s.trim() {
        "<" => CmpOp::Lt,
        "<=" => CmpOp::Le,
        ">" => CmpOp::Gt,
        ">=" => CmpOp::Ge,
        "==" => CmpOp::Eq,
        _ => CmpOp::Ne,
    }
}

fn quantity(raw: &str) -> ExprKind {
    let (body, rps) = match raw.strip_suffix("rps") {
        Some(b) => (b.trim_end(), true),
        None => (raw, false),
    };
    let split = body
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(body.len());
    let value = body[..split].parse::<f64>().unwrap_or(0.0);
    ExprKind::Quantity {
        value,
        unit: body[split..].to_string(),
        rps,
    }
}

fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn join_or(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} or {}", init.join(", "), last),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(src: &str) -> File {
        let (f, d) = parse(FileId(0), src);
        assert!(d.is_empty(), "unexpected diagnostics: {d:#?}");
        f
    }

    #[test]
    fn parses_the_shapes_of_the_language() {
        let f = ok(r#"
use std.budgets.{web, batch}
use "common.scale"
app triage { owner = "x"  tenant = header("x-tenant-id") }
budget b { p50 = 150ms  p95 = 400ms  p99 = 900ms  timeout = 1.2 * p99 }
service api {
  replicas = 3..60
  cpu = 500m
  autoscale on queue_depth("tickets") target 100
  calls db, search_index
  route signin POST "/v1/session" class write { budget = b  auth = public  limit = per_ip }
  route report GET "/v1/reports/{id}" class admin { budget { p99 = 3s }  auth = role("admin") & mfa }
}
limits { per api_key { rate = 100/s  burst = 200 }  concurrency = cores }
auth { mfa = required for role("admin")  device_binding = on  proof_of_work = on suspicious { difficulty = 20 } }
slo s { sli = errors(status >= 500) / requests  objective = 99.9% }
load_test peak { stages { ramp 1k rps -> 20k rps over 10m  burst 30k rps for 30s } }
chaos c { kill pod every 1m  latency db +5%  expect breaker(db) opens and closes within 2m }
gate deploy { query_plans = cost_increase < 20%  slo_burn < 1x over 1h }
"#);
        assert_eq!(f.uses.len(), 2);
        assert_eq!(f.decls.len(), 9);
        let svc = &f.decls[2];
        assert_eq!(svc.body.items.len(), 6);
        let lt = &f.decls[6];
        let ItemKind::Block { block, .. } = &lt.body.items[0].kind else {
            panic!("stages block")
        };
        let ItemKind::Stage { to, .. } = &block.items[0].kind else {
            panic!("ramp stage")
        };
        let Some(Expr {
            kind: ExprKind::Quantity { value, unit, rps },
            ..
        }) = to.as_deref()
        else {
            panic!("to quantity")
        };
        assert_eq!((*value, unit.as_str(), *rps), (20.0, "k", true));
    }

    #[test]
    fn recovers_and_reports_every_broken_item() {
        let src = "service a {\n  port = \n  image = \"x\"\n  cpu = 500m +\n}\nservice b {\n  port = 80\n";
        let (f, d) = parse(FileId(0), src);
        // two broken items in `a`, and the unclosed `b`
        assert_eq!(d.len(), 3, "{d:#?}");
        assert!(d.iter().all(|d| d.code == crate::diagnostics::Code::Syntax));
        assert_eq!(f.decls.len(), 1);
        assert_eq!(f.decls[0].name.as_ref().unwrap().name, "a");
    }

    #[test]
    fn spans_stop_at_the_last_token() {
        let src = "x { r = 60..3   // c\n  calls db  t = a.b  \n}";
        let (f, d) = parse(FileId(0), src);
        assert!(d.is_empty(), "{d:?}");
        let props: Vec<_> = f.decls[0].body.properties().collect();
        assert_eq!(&src[props[0].1.span.range()], "60..3");
        assert_eq!(&src[props[1].1.span.range()], "a.b");
        assert_eq!(&src[f.decls[0].body.items[0].span.range()], "r = 60..3");
    }

    #[test]
    fn refuses_absurd_nesting_without_overflowing() {
        let src = format!(
            "x {{ v = {}1{} }}",
            "(".repeat(100_000),
            ")".repeat(100_000)
        );
        let (_, d) = parse(FileId(0), &src);
        assert_eq!(d.len(), 1);
        assert!(d[0].message.contains("nest"));
        let ok = format!(
            "x {{ v = {}1ms{} }}",
            "(".repeat(MAX_DEPTH - 1),
            ")".repeat(MAX_DEPTH - 1)
        );
        assert!(parse(FileId(0), &ok).1.is_empty());
    }

    /// The tree of an expression, in prefix form, for precedence tests.
    fn shape(e: &Expr) -> String {
        match &e.kind {
            ExprKind::Binary { op, lhs, rhs } => {
                let op = match op {
                    BinOp::Add => "+".to_string(),
                    BinOp::Sub => "-".into(),
                    BinOp::Mul => "*".into(),
                    BinOp::Div => "/".into(),
                    BinOp::And => "&".into(),
                    BinOp::Or => "|".into(),
                    BinOp::Cmp(c) => c.as_str().into(),
                };
                format!("({op} {} {})", shape(lhs), shape(rhs))
            }
            ExprKind::Range { lo, hi } => format!("(.. {} {})", shape(lo), shape(hi)),
            ExprKind::Unary { expr, .. } => format!("(neg {})", shape(expr)),
            ExprKind::For { value, cond } => format!("(for {} {})", shape(value), shape(cond)),
            ExprKind::Paren(e) => shape(e),
            ExprKind::Call { callee, .. } => format!("{}()", callee.name),
            ExprKind::Quantity { value, unit, .. } => format!("{value}{unit}"),
            ExprKind::Path(p) => p[0].name.clone(),
            _ => "?".into(),
        }
    }

    #[test]
    fn operators_follow_precedence_and_group_left() {
        let cases = [
            ("1 + 2 * 3", "(+ 1 (* 2 3))"),
            ("1 - 2 - 3", "(- (- 1 2) 3)"),
            ("1.2 * p99", "(* 1.2 p99)"),
            ("-1ms + 2ms", "(+ (neg 1ms) 2ms)"),
            ("public | role(\"a\") & mfa", "(| public (& role() mfa))"),
            ("a & b | c", "(| (& a b) c)"),
            ("100ms..2s", "(.. 100ms 2s)"),
            ("1 + 1..2 * 2", "(.. (+ 1 1) (* 2 2))"),
            ("errors(status >= 500) / requests", "(/ errors() requests)"),
            ("cost_increase < 20%", "(< cost_increase 20%)"),
            (
                "required for role(\"a\") & mfa",
                "(for required (& role() mfa))",
            ),
            ("(1 + 2) * 3", "(* (+ 1 2) 3)"),
        ];
        for (src, want) in cases {
            let f = ok(&format!("x {{ v = {src} }}"));
            let (_, e, _) = f.decls[0].body.properties().next().unwrap();
            assert_eq!(shape(e), want, "{src}");
            assert_eq!(
                &format!("x {{ v = {src} }}")[e.span.range()],
                src,
                "span of {src}"
            );
        }
    }

    #[test]
    fn a_deep_declaration_does_not_cost_the_others() {
        let deep = format!(
            "budget deep {{ p99 = {}1ms{} }}",
            "(".repeat(500),
            ")".repeat(500)
        );
        let src = format!("app a {{ owner = \"x\" }}\n{deep}\nservice s {{ port = 80 }}\n");
        let (f, d) = parse(FileId(0), &src);
        assert_eq!(d.len(), 1, "{d:?}");
        let names: Vec<&str> = f.decls.iter().map(|d| d.kind.name.as_str()).collect();
        assert_eq!(names, ["app", "service"]);
    }

    #[test]
    fn unclosed_blocks_cost_their_own_declaration() {
        // Each unclosed block is its own error; the declarations after it parse.
        let src = "service a {\n  port = 80\nservice b { port = 81 }\nservice c {\nservice d { port = 83 }\n";
        let (f, d) = parse(FileId(0), src);
        assert_eq!(d.len(), 2, "{d:?}");
        let names: Vec<&str> = f
            .decls
            .iter()
            .filter_map(|d| d.name.as_ref())
            .map(|n| n.name.as_str())
            .collect();
        assert_eq!(names, ["b", "d"]);
        // Thousands of them: each is one error (recovery used to rescan the
        // rest of the file per declaration, quadratic in their number).
        let many = "a b {\n".repeat(20_000);
        // The first 100 are kept, the rest counted in one summary.
        let (_, d) = parse(FileId(0), &many);
        assert_eq!(d.len(), crate::diagnostics::CAP_PER_CODE + 1);
        assert_eq!(d.iter().map(|d| d.hidden.max(1)).sum::<usize>(), 20_000);
    }

    #[test]
    fn brackets_in_comments_do_not_count() {
        let src = "app a { owner = \"x\" }\n/* disabled:\nservice old {\n*/\nservice api { port = 80 } // {\n";
        let (f, d) = parse(FileId(0), src);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(f.decls.len(), 2);
    }

    /// Parsed a declaration at a time or whole, a file gives the same tree
    /// and the same diagnostics: every spec of the repository, and the
    /// shapes that run a declaration past a cut.
    #[test]
    fn pieces_parse_as_the_whole_file() {
        let same = |name: &str, src: &str| {
            let whole = format!("{:?}", parse_in_pieces(FileId(0), src, usize::MAX));
            let pieces = format!("{:?}", parse_in_pieces(FileId(0), src, 0));
            assert!(whole == pieces, "{name}: pieces differ from the whole file");
        };
        let tricky = [
            "service\napi { port = 80 }\nservice b { port = 81 }\n",
            "auth\nlimits { concurrency = 4 }\n",
            "use std.\nbudgets\napp a { owner = \"x\" }\n",
            "use\nstd.budgets\n",
            "app a { owner = \"x\" }\n/* off:\nservice old { port = 1 }\n*/\nservice b { port = 2 }\n",
            "app a { owner = \"x\" }\n/* never closed\nservice b { port = 2 }\n",
            "app a { owner = \"x\" } // {\nservice b { port = 2 }\n",
            "app a { owner = \"x{\" }\nservice b { port = 2 }\n",
            "app a { owner = \"x\n}\nservice b { port = 2 }\n",
            "service a { port = 80 }\nservice b {\n  port = \n}\nbroken here\nservice c { port = 82 }\n",
            "service a { replicas = 2..\n3 }\nx = 1\nservice b { port = 2 }\n",
            "}\nservice a { port = 1 }\n{\n",
            "",
            "\n\n",
            "service a { port = 80 }",
        ];
        for (i, src) in tricky.iter().enumerate() {
            same(&format!("case {i}"), src);
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut stack = vec![
            root.join("examples"),
            root.join("stdlib"),
            root.join("compiler/tests"),
            root.join("tests"),
        ];
        let mut seen = 0;
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let path = e.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|x| x == "scale") {
                    let Ok(src) = std::fs::read_to_string(&path) else {
                        continue;
                    };
                    let name = path.display().to_string();
                    same(&name, &src);
                    seen += 1;
                    // Broken copies: a line dropped, a line's end or its
                    // first brace lost, a line unindented.
                    let lines: Vec<&str> = src.lines().collect();
                    for at in (0..lines.len()).step_by(5) {
                        let mut l = lines.clone();
                        l.remove(at);
                        same(&name, &l.join("\n"));
                        let mut l: Vec<String> = lines.iter().map(|x| x.to_string()).collect();
                        l[at] = l[at].replacen('{', "", 1);
                        same(&name, &l.join("\n"));
                        l[at] = l[at].trim_start().to_string();
                        same(&name, &l.join("\n"));
                        same(&name, &lines[..at].join(" "));
                    }
                }
            }
        }
        assert!(seen > 50, "only {seen} specs found");
    }

    #[test]
    fn strings_unescape() {
        assert_eq!(unescape(r#"a\"b\\c\n"#), "a\"b\\c\n");
    }
}
