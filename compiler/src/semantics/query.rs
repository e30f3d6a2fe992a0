//! The questions a language server asks, answered from a [`Compilation`]'s
//! semantic model (kept even when the project has errors). Offsets are
//! bytes within one file of the project's source map; spans may point into
//! another file (the standard library's `std/….scale` files are in the
//! source map too).
//!
//! - [`definition_at`]: the declaration a name refers to (or whose name it is);
//! - [`references`]: every span that names a declaration, the declaration first;
//! - [`hover`]: markdown with the resolved values, their units and origins,
//!   or a field's or keyword's doc from the schema;
//! - [`document_symbols`]: the declarations of a file, routes as children;
//! - [`completions`]: what may be written at an offset, from the schema and
//!   the names in scope; works in a half-typed file.

use super::complete::{context, Position};
use super::model::{fmt_value, Declaration, Origin, ResolvedValue};
pub use super::model::{DeclId, Model};
use super::schema::{self, Ty};
use super::values::units_of;
use crate::diagnostics::{FileId, Span};
use crate::Compilation;

/// A declaration, where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    pub decl: DeclId,
    /// `service`, `budget`, `route`, …
    pub kind: String,
    pub name: String,
    /// The declaration's name.
    pub span: Span,
    /// The whole declaration.
    pub full_span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hover {
    /// What the hover is about (a name, a field key, an expression).
    pub span: Span,
    pub markdown: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    pub decl: DeclId,
    pub kind: String,
    pub name: String,
    pub detail: String,
    pub span: Span,
    pub name_span: Span,
    pub children: Vec<Symbol>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompletionKind {
    /// A declaration kind, a statement or `use`.
    Keyword,
    Field,
    /// A declaration's name (a budget, a service, a route, …).
    Name,
    /// One of a field's words (`postgres`, `on`).
    Value,
    Unit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub label: String,
    pub kind: CompletionKind,
    pub detail: String,
}

fn contains(span: Span, file: FileId, offset: usize) -> bool {
    span.file == file && (span.start as usize) <= offset && offset <= span.end as usize
}

fn definition(d: &Declaration) -> Definition {
    Definition {
        decl: d.id,
        kind: d.kind.clone(),
        name: d.name.clone(),
        span: d.name_span,
        full_span: d.span,
    }
}

/// The declaration the name at `offset` refers to, or whose name it is.
pub fn definition_at(c: &Compilation, file: FileId, offset: usize) -> Option<Definition> {
    let m = &c.model;
    let target = m
        .references
        .iter()
        .filter(|r| contains(r.span, file, offset))
        .min_by_key(|r| r.span.end - r.span.start)
        .map(|r| r.target)
        .or_else(|| {
            m.decls
                .iter()
                .find(|d| contains(d.name_span, file, offset))
                .map(|d| d.id)
        })?;
    m.decl(target).map(definition)
}

/// The declaration's name, then every reference to it, in text order.
pub fn references(c: &Compilation, decl: DeclId) -> Vec<Span> {
    let m = &c.model;
    let Some(d) = m.decl(decl) else {
        return Vec::new();
    };
    let mut refs: Vec<Span> = m
        .references
        .iter()
        .filter(|r| r.target == decl)
        .map(|r| r.span)
        .collect();
    refs.sort();
    refs.dedup();
    let mut out = vec![d.name_span];
    out.extend(refs.into_iter().filter(|s| *s != d.name_span));
    out
}

/// The declarations of a file, in order; a service's routes are its children.
pub fn document_symbols(c: &Compilation, file: FileId) -> Vec<Symbol> {
    let m = &c.model;
    let symbol = |d: &Declaration| Symbol {
        decl: d.id,
        kind: d.kind.clone(),
        name: d.name.clone(),
        detail: d.detail.clone(),
        span: d.span,
        name_span: d.name_span,
        children: Vec::new(),
    };
    let mut out: Vec<Symbol> = Vec::new();
    for d in m.decls.iter().filter(|d| d.span.file == file) {
        match d.parent {
            None => out.push(symbol(d)),
            Some(p) => {
                if let Some(parent) = out.iter_mut().find(|s| s.decl == p) {
                    parent.children.push(symbol(d));
                }
            }
        }
    }
    out
}

fn file_name(c: &Compilation, file: FileId) -> &str {
    c.project
        .sources
        .files()
        .find(|(id, _)| *id == file)
        .map(|(_, f)| f.name.as_str())
        .unwrap_or("?")
}

fn text_of(c: &Compilation, span: Span) -> Option<&str> {
    let (_, f) = c.project.sources.files().find(|(id, _)| *id == span.file)?;
    f.text.get(span.range())
}

/// Says where a value came from, seen from the declaration `owner`.
fn describe_origin(c: &Compilation, owner: &Declaration, o: &Origin) -> String {
    let m = &c.model;
    let budget = |id: DeclId| {
        m.decl(id)
            .map(|d| format!("`{}` in {}", d.name, file_name(c, d.span.file)))
            .unwrap_or_default()
    };
    match o {
        Origin::Written(s)
            if s.file == owner.span.file
                && owner.span.start <= s.start
                && s.end <= owner.span.end =>
        {
            "written".into()
        }
        Origin::Written(s) => format!("written in {}", file_name(c, s.file)),
        Origin::Default => "default".into(),
        Origin::Budget {
            decl,
            span,
            fallback,
        } => {
            let which = if *fallback {
                "the default budget"
            } else {
                "budget"
            };
            match span {
                Some(_) => format!("from {which} {}", budget(*decl)),
                None => format!("default, from {which} {}", budget(*decl)),
            }
        }
        Origin::Service { decl, inner } => {
            let svc = m.decl(*decl).map(|d| d.name.as_str()).unwrap_or("?");
            format!(
                "the service `{svc}`'s budget: {}",
                describe_origin(c, owner, inner)
            )
        }
    }
}

fn value_line(c: &Compilation, owner: &Declaration, v: &ResolvedValue) -> String {
    let mut s = format!("- `{}", v.field);
    if let Some(f) = &v.formula {
        s.push_str(&format!(" = {f}"));
    }
    s.push_str(&format!(
        " = {}` ({})",
        v.value,
        describe_origin(c, owner, &v.origin)
    ));
    s
}

fn decl_hover(c: &Compilation, d: &Declaration) -> String {
    let m = &c.model;
    let mut s = format!("**{}** `{}`", d.kind, d.name);
    if let Some(p) = d.parent.and_then(|p| m.decl(p)) {
        s.push_str(&format!(" of service `{}`", p.name));
    }
    if !d.detail.is_empty() {
        s.push_str(&format!(": `{}`", d.detail));
    }
    s.push_str(&format!(" — {}", file_name(c, d.span.file)));
    let doc = if d.kind == "route" {
        Some(schema::ROUTE.doc)
    } else {
        schema::decl(&d.kind).map(|b| b.doc)
    };
    if let Some(doc) = doc {
        s.push_str(&format!("\n\n{doc}"));
    }
    match m.values.get(&d.id) {
        Some(vals) if !vals.is_empty() => {
            s.push_str("\n\n");
            let lines: Vec<String> = vals.iter().map(|v| value_line(c, d, v)).collect();
            s.push_str(&lines.join("\n"));
        }
        _ => {
            // Not lowered (an error, or never used): what is written.
            let written: Vec<String> = m
                .fields
                .iter()
                .filter(|f| {
                    f.key_span.file == d.span.file
                        && d.span.start <= f.key_span.start
                        && f.key_span.end <= d.span.end
                })
                .filter_map(|f| {
                    let t = text_of(c, f.value_span)?;
                    (!t.contains('\n')).then(|| format!("- `{} = {}`", f.key, t))
                })
                .take(12)
                .collect();
            if !written.is_empty() {
                s.push_str("\n\n");
                s.push_str(&written.join("\n"));
            }
        }
    }
    let routes: Vec<String> = m
        .decls
        .iter()
        .filter(|r| r.parent == Some(d.id))
        .map(|r| format!("`{}` ({})", r.name, r.detail))
        .collect();
    if !routes.is_empty() {
        s.push_str(&format!("\n\nroutes: {}", routes.join(", ")));
    }
    s
}

/// The word (identifier) around `offset`, with its span.
fn word_at(text: &str, offset: usize) -> Option<(usize, usize)> {
    let is = |c: char| c.is_ascii_alphanumeric() || c == '_';
    if offset > text.len() || !text.is_char_boundary(offset) {
        return None;
    }
    let start = text[..offset]
        .char_indices()
        .rev()
        .take_while(|(_, c)| is(*c))
        .last()
        .map_or(offset, |(i, _)| i);
    let end = offset + text[offset..].chars().take_while(|c| is(*c)).count();
    (start < end).then_some((start, end))
}

/// Markdown about what is at `offset`: a declaration (its resolved values
/// and where each came from), a field (its doc and value), a quantity (its
/// value in the IR's unit), a keyword (its doc).
pub fn hover(c: &Compilation, file: FileId, offset: usize) -> Option<Hover> {
    let m = &c.model;
    if let Some(def) = definition_at(c, file, offset) {
        let d = m.decl(def.decl)?;
        let span = m
            .references
            .iter()
            .find(|r| contains(r.span, file, offset))
            .map(|r| r.span)
            .unwrap_or(d.name_span);
        return Some(Hover {
            span,
            markdown: decl_hover(c, d),
        });
    }
    if let Some(f) = m.fields.iter().find(|f| contains(f.key_span, file, offset)) {
        let mut s = String::new();
        if let Some(t) = text_of(c, f.value_span).filter(|t| !t.contains('\n')) {
            s.push_str(&format!("`{} = {t}", f.key));
            if let Some(v) = m.evaluated.get(&f.value_span) {
                let shown = fmt_value(*v);
                if shown != t {
                    s.push_str(&format!(" = {shown}"));
                }
            }
            s.push_str("`\n\n");
        }
        if let Some(spec) = f.block.field(&f.key) {
            s.push_str(&spec.summary());
        }
        return Some(Hover {
            span: f.key_span,
            markdown: s,
        });
    }
    if let Some((span, v)) = m
        .evaluated
        .iter()
        .filter(|(s, _)| contains(**s, file, offset))
        .min_by_key(|(s, _)| (s.end - s.start, s.start))
    {
        let t = text_of(c, *span).unwrap_or("");
        return Some(Hover {
            span: *span,
            markdown: format!("`{t} = {}`", fmt_value(*v)),
        });
    }
    // A keyword or a field name, from the schema and the text alone.
    let (_, src) = c.project.sources.files().find(|(id, _)| *id == file)?;
    let text = &src.text;
    let (ws, we) = word_at(text, offset)?;
    let word = &text[ws..we];
    let cx = context(text, ws);
    let doc = if cx.top_level() {
        schema::decl(word).map(|b| format!("**{word}**: {}", b.doc))
    } else {
        cx.block().and_then(|b| {
            b.field(word).map(|f| f.summary()).or_else(|| {
                b.stmts
                    .contains(&word)
                    .then(|| schema::statement_doc(word).map(|d| format!("**{word}**: {d}")))
                    .flatten()
            })
        })
    }?;
    Some(Hover {
        span: Span::new(file, ws, we),
        markdown: doc,
    })
}

/// What may be written at `offset`: declaration kinds at the top level, the
/// fields and statements of the enclosing block, the names in scope where a
/// reference is due, the words of a field, units after a number.
pub fn completions(c: &Compilation, file: FileId, offset: usize) -> Vec<Completion> {
    let Some((_, src)) = c.project.sources.files().find(|(id, _)| *id == file) else {
        return Vec::new();
    };
    let cx = context(&src.text, offset);
    let mut out: Vec<Completion> = Vec::new();
    let mut add = |label: &str, kind: CompletionKind, detail: &str| {
        if label.starts_with(cx.prefix.as_str()) && !out.iter().any(|c| c.label == label) {
            out.push(Completion {
                label: label.to_string(),
                kind,
                detail: detail.to_string(),
            });
        }
    };
    let names = |kind: &str| -> Vec<(String, String)> {
        c.model
            .decls
            .iter()
            .filter(|d| d.visible && d.parent.is_none() && d.kind == kind)
            .map(|d| (d.name.clone(), d.detail.clone()))
            .collect()
    };
    match &cx.position {
        Position::ItemStart if cx.top_level() => {
            for b in schema::DECLS {
                add(b.id, CompletionKind::Keyword, b.doc);
            }
            add(
                "use",
                CompletionKind::Keyword,
                "`use std.MODULE.{names}` or `use \"file.scale\"`",
            );
        }
        Position::ItemStart => {
            if let Some(b) = cx.block() {
                for f in b.fields {
                    add(f.name, CompletionKind::Field, f.doc);
                }
                for s in b.stmts {
                    let doc = schema::statement_doc(s).unwrap_or("");
                    match *s {
                        "stage" => {
                            for w in ["ramp", "burst", "soak", "hold"] {
                                add(w, CompletionKind::Keyword, doc);
                            }
                        }
                        "condition" => add("slo_burn", CompletionKind::Keyword, doc),
                        _ => add(s, CompletionKind::Keyword, doc),
                    }
                }
            }
        }
        Position::Value { key } => {
            let field = cx.block().and_then(|b| b.field(key));
            match field.map(|f| f.ty) {
                Some(Ty::Ref(kind)) | Some(Ty::RefOrBlock(kind, _)) => {
                    for (n, d) in names(kind) {
                        add(&n, CompletionKind::Name, &d);
                    }
                }
                Some(Ty::Words(ws)) => {
                    for w in ws {
                        add(w, CompletionKind::Value, "");
                    }
                }
                // `limit = per_ip`: the keys `limits` declares.
                _ if key == "limit" => {
                    for d in c
                        .model
                        .decls
                        .iter()
                        .filter(|d| d.visible && d.kind == "per")
                    {
                        add(&format!("per_{}", d.name), CompletionKind::Name, &d.detail);
                    }
                }
                Some(Ty::Switch) => {
                    add("on", CompletionKind::Value, "");
                    add("off", CompletionKind::Value, "");
                }
                _ => {}
            }
        }
        Position::Service => {
            for (n, d) in names("service") {
                add(&n, CompletionKind::Name, &d);
            }
        }
        Position::RouteOf(svc) => {
            if let Some(id) = c.model.visible("service", svc) {
                for r in c.model.decls.iter().filter(|d| d.parent == Some(id)) {
                    add(&r.name, CompletionKind::Name, &r.detail);
                }
            }
        }
        Position::StdName(module) => {
            let in_module =
                c.model.decls.iter().filter(|d| {
                    d.parent.is_none() && d.std_module.as_deref() == Some(module.as_str())
                });
            for d in in_module {
                add(&d.name, CompletionKind::Name, &d.kind);
            }
        }
        Position::Unit { key } => {
            let dim = key
                .as_deref()
                .and_then(|k| cx.block().and_then(|b| b.field(k)))
                .and_then(|f| match f.ty {
                    Ty::Quantity(d) | Ty::Range(d) => Some(d),
                    _ => None,
                });
            for (u, d) in units_of(dim) {
                add(u, CompletionKind::Unit, d.name());
            }
            if dim.is_none() || dim == Some(super::Dim::Rate) {
                add("rps", CompletionKind::Unit, "a rate (`20k rps`)");
            }
        }
        Position::Other => {}
    }
    out
}
