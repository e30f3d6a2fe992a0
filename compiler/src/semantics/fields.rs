//! Reading a block against what it may hold: unknown fields get a "did you
//! mean" (S0105), repeated fields are reported (S0109), statements that
//! belong elsewhere are named, and missing required fields are S0106.

use super::schema::BlockSpec;
use super::Checker;
use crate::diagnostics::{catalog, Span};
use crate::syntax::ast::{Block, Expr, Ident, Item, ItemKind};

#[derive(Debug, Clone, Copy)]
pub enum FieldVal<'a> {
    /// `name = value`, maybe with a trailing block (`budget = web { p99 = 1s }`).
    Expr(&'a Expr, Option<&'a Block>),
    /// `name { … }`
    Block(&'a Block),
}

#[derive(Debug, Clone, Copy)]
pub struct Field<'a> {
    pub key: &'a Ident,
    pub val: FieldVal<'a>,
    pub span: Span,
}

pub struct Fields<'a> {
    what: String,
    owner: Span,
    pub list: Vec<Field<'a>>,
    pub stmts: Vec<&'a Item>,
}

pub fn stmt_name(kind: &ItemKind) -> Option<&'static str> {
    Some(match kind {
        ItemKind::Route { .. } => "route",
        ItemKind::Calls { .. } => "calls",
        ItemKind::Autoscale { .. } => "autoscale",
        ItemKind::Per { .. } => "per",
        ItemKind::Stage { .. } => "stage",
        ItemKind::Kill { .. } => "kill",
        ItemKind::Latency { .. } => "latency",
        ItemKind::Expect { .. } => "expect",
        ItemKind::Condition { .. } => "condition",
        ItemKind::Property { .. } | ItemKind::Block { .. } => return None,
    })
}

fn stmt_home(stmt: &str) -> &'static str {
    match stmt {
        "route" | "calls" | "autoscale" => "a `service`",
        "per" => "`limits`",
        "stage" => "the `stages` block of a `load_test` or `shape`",
        "kill" | "latency" | "expect" => "a `chaos` block",
        _ => "a `gate`",
    }
}

impl<'a> Checker<'a> {
    /// Reads `block` as the schema's `spec` says: the fields and the
    /// statements it may hold.
    pub fn fields<'b>(&mut self, block: &'b Block, spec: &'static BlockSpec) -> Fields<'b> {
        let (what, stmts, allowed) = (spec.what, spec.stmts, spec.field_names());
        self.model.block(spec, block.span);
        let mut out = Fields {
            what: what.to_string(),
            owner: block.span,
            list: Vec::new(),
            stmts: Vec::new(),
        };
        for item in &block.items {
            let (key, val) = match &item.kind {
                ItemKind::Property { key, value, block } => {
                    (key, FieldVal::Expr(value, block.as_deref()))
                }
                ItemKind::Block { name, block } => (name, FieldVal::Block(block)),
                other => {
                    let name = stmt_name(other).unwrap_or("statement");
                    if stmts.contains(&name) {
                        out.stmts.push(item);
                    } else {
                        let first_word = Span {
                            end: item.span.start
                                + name.len().min((item.span.end - item.span.start) as usize) as u32,
                            ..item.span
                        };
                        let span = if name == "condition" || name == "stage" {
                            item.span
                        } else {
                            first_word
                        };
                        self.diags.push(catalog::statement_misplaced(
                            name,
                            span,
                            what,
                            stmt_home(name),
                        ));
                    }
                    continue;
                }
            };
            if !allowed.contains(&key.name.as_str()) {
                let d = catalog::unknown_field(what, &key.name, key.span, &allowed);
                self.diags.push(d);
                continue;
            }
            if let Some(prev) = out.list.iter().find(|f| f.key.name == key.name) {
                self.diags
                    .push(catalog::duplicate_field(&key.name, key.span, prev.key.span));
                continue;
            }
            self.model.field(spec, key, &val);
            out.list.push(Field {
                key,
                val,
                span: item.span,
            });
        }
        out
    }
}

impl<'b> Fields<'b> {
    pub fn get(&self, name: &str) -> Option<Field<'b>> {
        self.list.iter().copied().find(|f| f.key.name == name)
    }

    /// The value of `name = value`; a block there is an error.
    pub fn expr(&self, cx: &mut Checker, name: &str) -> Option<&'b Expr> {
        let f = self.get(name)?;
        match f.val {
            FieldVal::Expr(e, None) => Some(e),
            FieldVal::Expr(e, Some(b)) => {
                cx.diags.push(catalog::block_for_value(name, b.span));
                Some(e)
            }
            FieldVal::Block(b) => {
                cx.diags.push(catalog::block_for_value(name, b.span));
                None
            }
        }
    }

    /// The block of `name { … }`; a plain value there is an error.
    pub fn block(&self, cx: &mut Checker, name: &str) -> Option<&'b Block> {
        let f = self.get(name)?;
        match f.val {
            FieldVal::Block(b) => Some(b),
            FieldVal::Expr(e, _) => {
                cx.diags.push(catalog::value_for_block(name, e.span));
                None
            }
        }
    }

    /// Like [`Fields::expr`], reporting S0106 when the field is absent.
    pub fn required(&self, cx: &mut Checker, name: &str, example: &str) -> Option<&'b Expr> {
        if self.get(name).is_none() {
            cx.diags.push(catalog::missing_field(
                &self.what, name, self.owner, example,
            ));
            return None;
        }
        self.expr(cx, name)
    }
}
