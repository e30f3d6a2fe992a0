//! Recording into the semantic model what the lowering resolved: the
//! values of budgets, services and routes, exactly as they go into the IR,
//! each with where it came from (written, a default, a named budget, the
//! service's budget). Called next to the lowering, one line each.

use super::fields::FieldVal;
use super::model::{fmt_value, DeclId, Origin, ResolvedValue};
use super::values::Value;
use super::{schema, Checker, DeclRef, Dim};
use crate::diagnostics::Span;
use crate::ir;
use crate::syntax::ast::{Block, Expr, ExprKind, Ident, ItemKind};

const PERCENTILES: [&str; 4] = ["p50", "p95", "p99", "timeout"];
const TIMEOUT_DEFAULT: &str = "1.2 × p99";

/// The expression written for `field` in a block.
fn written<'b>(block: &'b Block, field: &str) -> Option<&'b Expr> {
    block
        .properties()
        .find(|(k, _, _)| k.name == field)
        .map(|(_, e, _)| e)
}

/// The `budget` field of a route or service block, as the checker reads it.
fn budget_of(block: &Block) -> Option<FieldVal<'_>> {
    block.items.iter().find_map(|i| match &i.kind {
        ItemKind::Property { key, value, block } if key.name == "budget" => {
            Some(FieldVal::Expr(value, block.as_deref()))
        }
        ItemKind::Block { name, block } if name.name == "budget" => Some(FieldVal::Block(block)),
        _ => None,
    })
}

/// A value from the IR, as serde names it (`"http"`, `"read"`).
fn serde_name<T: serde::Serialize>(v: &T) -> Option<String> {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
}

type Found = (Origin, Option<String>);

impl<'a> Checker<'a> {
    /// The source text of an expression when it is more than a literal
    /// (`1.2 * p99` is shown as `1.2 × p99`).
    fn formula(&self, e: &Expr) -> Option<String> {
        if matches!(e.kind, ExprKind::Quantity { .. }) {
            return None;
        }
        let text = &self.project.sources.get(e.span.file).text;
        let s = text.get(e.span.range())?;
        Some(s.replace(" * ", " × "))
    }

    fn value(
        &self,
        field: &str,
        formula: Option<String>,
        value: String,
        origin: Origin,
    ) -> ResolvedValue {
        ResolvedValue {
            field: field.to_string(),
            formula,
            value,
            origin,
        }
    }

    /// A named budget's declaration and body: the visible one, or for the
    /// fallback `web`, the standard library's.
    fn budget_decl(&self, name: &str) -> Option<(DeclId, &'a Block)> {
        if let Some(r) = self.symbols.get("budget").and_then(|t| t.get(name)) {
            return Some((self.model.decl_named_at(r.name.span)?, &r.decl.body));
        }
        let project = self.project;
        let file = project
            .files
            .iter()
            .find(|f| f.std_module.as_deref() == Some("budgets"))?;
        let d = file
            .ast
            .decls
            .iter()
            .find(|d| d.name.as_ref().is_some_and(|n| n.name == name))?;
        Some((self.model.decl_named_at(d.name.as_ref()?.span)?, &d.body))
    }

    /// Where `k` of a budget block comes from when it is the block itself.
    fn own_origin(&self, b: &Block, k: &str) -> Option<Found> {
        match written(b, k) {
            Some(e) => Some((Origin::Written(e.span), self.formula(e))),
            None if k == "timeout" => Some((Origin::Default, Some(TIMEOUT_DEFAULT.into()))),
            None => None,
        }
    }

    fn named_origin(&self, name: &str, k: &str, fallback: bool) -> Option<Found> {
        let (decl, body) = self.budget_decl(name)?;
        match written(body, k) {
            Some(e) => Some((
                Origin::Budget {
                    decl,
                    span: Some(e.span),
                    fallback,
                },
                self.formula(e),
            )),
            None if k == "timeout" => Some((
                Origin::Budget {
                    decl,
                    span: None,
                    fallback,
                },
                Some(TIMEOUT_DEFAULT.into()),
            )),
            None => None,
        }
    }

    /// Where `k` comes from for `budget = NAME { … }` or `budget { … }`.
    fn field_origin(&self, val: FieldVal, k: &str) -> Option<Found> {
        match val {
            FieldVal::Block(b) => self.own_origin(b, k),
            FieldVal::Expr(e, over) => {
                if let Some(o) = over {
                    if let Some(x) = written(o, k) {
                        return Some((Origin::Written(x.span), self.formula(x)));
                    }
                    if k == "timeout" && written(o, "p99").is_some() {
                        return Some((Origin::Default, Some(TIMEOUT_DEFAULT.into())));
                    }
                }
                self.named_origin(&e.as_ident()?.name, k, false)
            }
        }
    }

    /// The four budget values with their origins, searched in the route's
    /// block, then the service's, then the fallback `web`.
    fn budget_values(
        &self,
        b: &ir::Budget,
        own: Option<&Block>,
        service: Option<(DeclId, &Block)>,
    ) -> Vec<ResolvedValue> {
        let vals = [b.p50_ms, b.p95_ms, b.p99_ms, Some(b.timeout_ms)];
        let mut out = Vec::new();
        for (k, v) in PERCENTILES.iter().zip(vals) {
            let Some(v) = v else { continue };
            let own_field = own.and_then(budget_of);
            let svc_field = service.and_then(|(id, s)| budget_of(s).map(|f| (id, f)));
            let found = match (own_field, svc_field) {
                (Some(f), _) => self.field_origin(f, k),
                (None, Some((id, f))) => self.field_origin(f, k).map(|(o, f)| {
                    (
                        Origin::Service {
                            decl: id,
                            inner: Box::new(o),
                        },
                        f,
                    )
                }),
                (None, None) => self.named_origin("web", k, true),
            };
            let (origin, formula) = found.unwrap_or((Origin::Default, None));
            let value = fmt_value(Value {
                dim: Dim::Duration,
                v,
            });
            out.push(self.value(k, formula, value, origin));
        }
        out
    }

    /// A named budget's own values.
    pub(super) fn record_budget(&mut self, name_span: Span, body: &Block, b: &ir::Budget) {
        if !self.model.recording() {
            return;
        }
        let Some(id) = self.model.decl_named_at(name_span) else {
            return;
        };
        let vals = [b.p50_ms, b.p95_ms, b.p99_ms, Some(b.timeout_ms)];
        let mut out = Vec::new();
        for (k, v) in PERCENTILES.iter().zip(vals) {
            let Some(v) = v else { continue };
            let (origin, formula) = self.own_origin(body, k).unwrap_or((Origin::Default, None));
            let value = fmt_value(Value {
                dim: Dim::Duration,
                v,
            });
            out.push(self.value(k, formula, value, origin));
        }
        self.model.set_values(id, out);
    }

    fn simple(&self, body: &Block, field: &str, value: String) -> ResolvedValue {
        match written(body, field) {
            Some(e) => self.value(field, None, value, Origin::Written(e.span)),
            None => self.value(field, None, value, Origin::Default),
        }
    }

    /// A lowered service's values, as the IR holds them.
    pub(super) fn record_service(&mut self, r: DeclRef, s: &ir::Service) {
        if !self.model.recording() {
            return;
        }
        let Some(id) = self.model.decl_named_at(r.name.span) else {
            return;
        };
        let body = &r.decl.body;
        let mut out = Vec::new();
        if let Some(k) = serde_name(&s.kind) {
            out.push(self.simple(body, "kind", k));
        }
        if let Some(img) = &s.image {
            out.push(self.simple(body, "image", format!("\"{img}\"")));
        }
        if let Some(p) = s.port {
            out.push(self.simple(body, "port", p.to_string()));
        }
        let rep = if s.replicas.min == s.replicas.max {
            s.replicas.min.to_string()
        } else {
            format!("{}..{}", s.replicas.min, s.replicas.max)
        };
        out.push(self.simple(body, "replicas", rep));
        if let Some(c) = s.cpu_millicores {
            let v = fmt_value(Value {
                dim: Dim::Cpu,
                v: c as f64,
            });
            out.push(self.simple(body, "cpu", v));
        }
        if let Some(m) = s.memory_bytes {
            let v = fmt_value(Value {
                dim: Dim::Size,
                v: m as f64,
            });
            out.push(self.simple(body, "memory", v));
        }
        if let Some(st) = &s.storage {
            let v = fmt_value(Value {
                dim: Dim::Size,
                v: st.bytes as f64,
            });
            out.push(self.simple(body, "storage", v));
            out.push(self.simple(body, "data_path", format!("\"{}\"", st.path)));
        }
        if let Some(b) = &s.budget {
            for mut v in self.budget_values(b, Some(body), None) {
                v.field = format!("budget.{}", v.field);
                out.push(v);
            }
        }
        self.model.set_values(id, out);
    }

    /// A lowered SLO's values.
    pub(super) fn record_slo(&mut self, r: DeclRef, s: &ir::Slo) {
        if !self.model.recording() {
            return;
        }
        let Some(id) = self.model.decl_named_at(r.name.span) else {
            return;
        };
        let body = &r.decl.body;
        let target = match &s.route {
            Some(route) => format!("{}.{route}", s.service),
            None => s.service.clone(),
        };
        let objective = fmt_value(Value {
            dim: Dim::Fraction,
            v: s.objective,
        });
        let window = fmt_value(Value {
            dim: Dim::Duration,
            v: s.window_ms,
        });
        let mut out = vec![
            self.simple(body, "service", target),
            self.simple(body, "objective", objective),
            self.simple(body, "window", window),
        ];
        if let Some(e) = written(body, "sli") {
            let text = self.formula(e).unwrap_or_default();
            out.push(self.value("sli", None, text, Origin::Written(e.span)));
        }
        out.push(self.simple(body, "alerts", format!("`{}`", s.alerts.name)));
        self.model.set_values(id, out);
    }

    /// A lowered route's values, its effective budget first.
    pub(super) fn record_route(
        &mut self,
        name: &Ident,
        class: Option<&Ident>,
        block: Option<&Block>,
        service: &Block,
        route: &ir::Route,
    ) {
        if !self.model.recording() {
            return;
        }
        let Some(id) = self.model.decl_named_at(name.span) else {
            return;
        };
        let svc = self
            .model
            .decl(id)
            .and_then(|d| d.parent)
            .map(|p| (p, service));
        let mut out = self.budget_values(&route.budget, block, svc);
        if let Some(n) = &route.budget_name {
            out.insert(
                0,
                self.value("budget", None, format!("`{n}`"), Origin::Default),
            );
            if let Some(e) = block.and_then(|b| written(b, "budget")) {
                out[0].origin = Origin::Written(e.span);
            }
        }
        if let Some(c) = serde_name(&route.class) {
            let origin = class.map_or(Origin::Default, |c| Origin::Written(c.span));
            out.push(self.value("class", None, c, origin));
        }
        let auth = match block.and_then(|b| written(b, "auth")) {
            Some(e) => {
                let text = self.formula(e).unwrap_or_default();
                self.value("auth", None, text, Origin::Written(e.span))
            }
            None => {
                let d = schema::ROUTE
                    .field("auth")
                    .and_then(|f| f.default.written())
                    .unwrap_or("authenticated");
                self.value("auth", None, d.to_string(), Origin::Default)
            }
        };
        out.push(auth);
        self.model.set_values(id, out);
    }
}
