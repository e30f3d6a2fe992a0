//! The semantic model: what the checker learnt about a project, kept after
//! it ran, errors or not.
//!
//! Between the syntax tree and the IR: every declaration has a [`DeclId`]
//! (routes too, as children of their service); every reference the checker
//! resolved (`budget = web`, `calls db`, `service = api.search`, `use
//! std.budgets.{web}`, …) is recorded with its span and its target; every
//! field the checker read is recorded with the schema block it belongs to;
//! every quantity it evaluated is kept with its value in the IR's unit; and
//! the resolved values of services, routes and budgets carry their
//! [`Origin`] (written, a default, a named budget, the service's budget).
//!
//! The checker fills it while it checks (`Checker::model`): `lookup`
//! records references, `fields` records blocks and fields, the evaluator
//! records values, and the lowering of services and budgets records the
//! resolved values it puts in the IR. [`crate::query`] answers the language
//! server's questions from it.

use super::fields::FieldVal;
use super::schema::BlockSpec;
use super::values::{Dim, Value};
use super::DeclRef;
use crate::diagnostics::Span;
use crate::project::Project;
use crate::syntax::ast::{Ident, ItemKind};
use std::collections::{BTreeMap, HashMap, HashSet};

/// A declaration of the project or of the standard library (routes included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeclId(pub u32);

#[derive(Debug, Clone)]
pub struct Declaration {
    pub id: DeclId,
    /// The declaration word as written (`service`, `budget`, …), or
    /// `route` (in a service) or `per` (a limit key in `limits`).
    pub kind: String,
    /// Its name; for `limits`, `auth` and `observe`, the kind.
    pub name: String,
    /// The name's span (the kind word's for the nameless singletons).
    pub name_span: Span,
    /// The whole declaration.
    pub span: Span,
    /// The service of a route, the `limits` of a `per` key.
    pub parent: Option<DeclId>,
    /// `budgets` for a declaration of `std/budgets.scale`.
    pub std_module: Option<String>,
    /// In scope for references: the project's own declarations (the first
    /// of duplicates) and the standard library names it imports.
    pub visible: bool,
    /// A short line for symbols and completion (`GET /v1/search`).
    pub detail: String,
}

/// A name in the text that refers to a declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reference {
    pub span: Span,
    pub target: DeclId,
}

/// A field the checker read: `key = value` or `key { … }`.
#[derive(Debug, Clone)]
pub struct FieldUse {
    /// The schema block it belongs to (`service`, `route`, `jwt`, …).
    pub block: &'static BlockSpec,
    pub key: String,
    pub key_span: Span,
    pub value_span: Span,
}

/// Where a resolved value came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// Written in the spec, at this span.
    Written(Span),
    /// The schema's default (or a default derived from other fields).
    Default,
    /// From a named budget: written there (`span`), or that budget's own
    /// default (`span` is `None`). `fallback` when no budget was named and
    /// the route fell back to `web`.
    Budget {
        decl: DeclId,
        span: Option<Span>,
        fallback: bool,
    },
    /// Inherited from the service's `budget`.
    Service { decl: DeclId, inner: Box<Origin> },
}

/// A resolved value of a declaration, as the IR holds it.
#[derive(Debug, Clone)]
pub struct ResolvedValue {
    pub field: String,
    /// How it was computed, when not a plain literal (`1.2 × p99`).
    pub formula: Option<String>,
    /// The value with its unit (`1080 ms`).
    pub value: String,
    pub origin: Origin,
}

#[derive(Debug, Default)]
pub struct Model {
    pub decls: Vec<Declaration>,
    pub references: Vec<Reference>,
    pub fields: Vec<FieldUse>,
    /// Blocks the checker read, with their schema.
    pub blocks: Vec<(Span, &'static BlockSpec)>,
    /// Every quantity evaluated, by the span of its expression.
    pub evaluated: HashMap<Span, Value>,
    /// Resolved values of services, routes and budgets.
    pub values: BTreeMap<DeclId, Vec<ResolvedValue>>,
    by_name_span: HashMap<Span, DeclId>,
    /// kind → name → the first visible top-level declaration (filled by
    /// `mark_visible`), and each declaration's children in order: lookups
    /// by name were a scan of every declaration, per reference.
    visible_by_name: HashMap<String, HashMap<String, DeclId>>,
    children: HashMap<DeclId, Vec<DeclId>>,
    /// What is recorded already (a name may be looked up several times, a
    /// block read twice).
    seen_refs: HashSet<(Span, DeclId)>,
    seen_spans: HashSet<Span>,
    /// False for [`Model::unrecorded`]: nothing is declared or recorded.
    recording: bool,
}

impl Model {
    /// Every declaration of the project's files and the standard library,
    /// before any check (so a file with errors still has them all).
    pub fn declare(project: &Project) -> Model {
        let mut m = Model {
            recording: true,
            ..Model::default()
        };
        for file in &project.files {
            for d in &file.ast.decls {
                let name = d.name.as_ref().unwrap_or(&d.kind);
                let id = m.push(Declaration {
                    id: DeclId(0),
                    kind: d.kind.name.clone(),
                    name: name.name.clone(),
                    name_span: name.span,
                    span: d.span,
                    parent: None,
                    std_module: file.std_module.clone(),
                    visible: false,
                    detail: String::new(),
                });
                if d.kind.name == "limits" {
                    for item in &d.body.items {
                        if let ItemKind::Per { key, .. } = &item.kind {
                            m.push(Declaration {
                                id: DeclId(0),
                                kind: "per".into(),
                                name: key.name.clone(),
                                name_span: key.span,
                                span: item.span,
                                parent: Some(id),
                                std_module: file.std_module.clone(),
                                visible: false,
                                detail: format!("per {}", key.name),
                            });
                        }
                    }
                }
                if d.kind.name != "service" {
                    continue;
                }
                for item in &d.body.items {
                    if let ItemKind::Route {
                        name,
                        method,
                        path,
                        class,
                        ..
                    } = &item.kind
                    {
                        let mut detail = format!("{} {}", method.name, path.value);
                        if let Some(c) = class {
                            detail.push_str(&format!(" class {}", c.name));
                        }
                        m.push(Declaration {
                            id: DeclId(0),
                            kind: "route".into(),
                            name: name.name.clone(),
                            name_span: name.span,
                            span: item.span,
                            parent: Some(id),
                            std_module: file.std_module.clone(),
                            visible: false,
                            detail,
                        });
                    }
                }
            }
        }
        m
    }

    /// A model that records nothing, for a check whose caller reads only
    /// the diagnostics and the IR (the command line): what the language
    /// server queries costs about a third of the check's memory and time
    /// on large specs. The checker's diagnostics and IR are the same.
    pub fn unrecorded() -> Model {
        Model::default()
    }

    /// Whether this model records what the checker resolves.
    pub fn recording(&self) -> bool {
        self.recording
    }

    fn push(&mut self, mut d: Declaration) -> DeclId {
        let id = DeclId(self.decls.len() as u32);
        d.id = id;
        self.by_name_span.entry(d.name_span).or_insert(id);
        if let Some(p) = d.parent {
            self.children.entry(p).or_default().push(id);
        }
        self.decls.push(d);
        id
    }

    pub fn decl(&self, id: DeclId) -> Option<&Declaration> {
        self.decls.get(id.0 as usize)
    }

    /// The declaration whose name is at this span.
    pub fn decl_named_at(&self, name_span: Span) -> Option<DeclId> {
        self.by_name_span.get(&name_span).copied()
    }

    /// Marks what is in scope: the symbol table the checker built, the
    /// project's singletons, and the routes of visible services.
    pub(super) fn mark_visible<'r, 'a: 'r>(
        &mut self,
        symbols: impl Iterator<Item = &'r DeclRef<'a>>,
        singletons: impl Iterator<Item = Span>,
    ) {
        for r in symbols {
            if let Some(id) = self.decl_named_at(r.name.span) {
                self.decls[id.0 as usize].visible = true;
            }
        }
        for kind_span in singletons {
            if let Some(id) = self.decl_named_at(kind_span) {
                self.decls[id.0 as usize].visible = true;
            }
        }
        for i in 0..self.decls.len() {
            if let Some(p) = self.decls[i].parent {
                self.decls[i].visible = self.decls[p.0 as usize].visible;
            }
        }
        self.visible_by_name.clear();
        for d in self
            .decls
            .iter()
            .filter(|d| d.visible && d.parent.is_none())
        {
            self.visible_by_name
                .entry(d.kind.clone())
                .or_default()
                .entry(d.name.clone())
                .or_insert(d.id);
        }
    }

    /// Records that `at` names the declaration whose name is at `target`.
    pub fn refer(&mut self, at: &Ident, target: Span) {
        if !self.recording {
            return;
        }
        if let Some(id) = self.decl_named_at(target) {
            self.add_ref(at.span, id);
        }
    }

    fn add_ref(&mut self, span: Span, target: DeclId) {
        if !self.recording {
            return;
        }
        if self.seen_refs.insert((span, target)) {
            self.references.push(Reference { span, target });
        }
    }

    /// Records a reference by kind and name, among the visible declarations.
    pub fn refer_named(&mut self, at: &Ident, kind: &str, name: &str) {
        if !self.recording {
            return;
        }
        if let Some(id) = self.visible(kind, name) {
            self.add_ref(at.span, id);
        }
    }

    /// `api.search`: the route `at` of the visible service `service`.
    pub fn refer_route(&mut self, at: &Ident, service: &str) {
        if !self.recording {
            return;
        }
        let Some(svc) = self.visible("service", service) else {
            return;
        };
        let found = self
            .children
            .get(&svc)
            .into_iter()
            .flatten()
            .find(|c| self.decls[c.0 as usize].name == at.name)
            .copied();
        if let Some(id) = found {
            self.add_ref(at.span, id);
        }
    }

    /// `use std.budgets.{web}`: the name in the standard library module.
    pub fn refer_std(&mut self, at: &Ident, module: &str) {
        if !self.recording {
            return;
        }
        let found = self
            .decls
            .iter()
            .find(|d| {
                d.std_module.as_deref() == Some(module) && d.parent.is_none() && d.name == at.name
            })
            .map(|d| d.id);
        if let Some(id) = found {
            self.add_ref(at.span, id);
        }
    }

    /// The visible declaration of that kind and name.
    pub fn visible(&self, kind: &str, name: &str) -> Option<DeclId> {
        self.visible_by_name.get(kind)?.get(name).copied()
    }

    pub(super) fn block(&mut self, spec: &'static BlockSpec, span: Span) {
        if !self.recording {
            return;
        }
        // A route without a block is read as an empty one, spanning nothing.
        if span.start == span.end {
            return;
        }
        if self.seen_spans.insert(span) {
            self.blocks.push((span, spec));
        }
    }

    pub(super) fn field(&mut self, spec: &'static BlockSpec, key: &Ident, val: &FieldVal) {
        if !self.recording {
            return;
        }
        let value_span = match val {
            FieldVal::Expr(e, _) => e.span,
            FieldVal::Block(b) => b.span,
        };
        if !self.seen_spans.insert(key.span) {
            return;
        }
        self.fields.push(FieldUse {
            block: spec,
            key: key.name.clone(),
            key_span: key.span,
            value_span,
        });
    }

    pub(super) fn evaluated(&mut self, span: Span, dim: Dim, v: f64) {
        if !self.recording {
            return;
        }
        self.evaluated.insert(span, Value { dim, v });
    }

    pub(super) fn set_values(&mut self, id: DeclId, values: Vec<ResolvedValue>) {
        if !self.recording {
            return;
        }
        self.values.insert(id, values);
    }
}

/// A quantity in the IR's unit, for people: `1080 ms`, `99.9 %`, `20000 /s`.
pub fn fmt_value(v: Value) -> String {
    let n = |x: f64| {
        let r = (x * 1000.0).round() / 1000.0;
        if r.fract() == 0.0 && r.abs() < 1e15 {
            format!("{}", r as i64)
        } else {
            format!("{r}")
        }
    };
    match v.dim {
        Dim::Duration if v.v >= 60_000.0 => {
            format!("{} ({} ms)", super::values::fmt_ms(v.v), n(v.v))
        }
        Dim::Duration => format!("{} ms", n(v.v)),
        Dim::Rate => format!("{} /s", n(v.v)),
        Dim::Fraction => format!("{} %", n(v.v * 100.0)),
        Dim::Factor => format!("{}x", n(v.v)),
        Dim::Size => format!("{} bytes", n(v.v)),
        Dim::Cpu => format!("{} millicores", n(v.v)),
        Dim::Count => n(v.v),
    }
}
