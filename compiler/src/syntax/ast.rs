//! The syntax tree: what the file says, with a span on every node. Nothing
//! here is checked; the semantics stage reads it and builds the IR.

use crate::diagnostics::Span;

#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone, Default)]
pub struct File {
    pub uses: Vec<Use>,
    pub decls: Vec<Decl>,
}

#[derive(Debug, Clone)]
pub enum UseTarget {
    /// `use std.budgets.{web, batch}`: a module path and the names taken.
    Module { path: Vec<Ident>, names: Vec<Ident> },
    /// `use "common.scale"`: another file of this project.
    File { path: String, span: Span },
}

#[derive(Debug, Clone)]
pub struct Use {
    pub target: UseTarget,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Decl {
    /// The declaration word as written (`service`, `budget`, …).
    pub kind: Ident,
    pub name: Option<Ident>,
    pub body: Block,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Block {
    pub items: Vec<Item>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Item {
    pub kind: ItemKind,
    pub span: Span,
}

/// An item of a block. Kept small (large or rare parts are boxed): a
/// block's items are most of a syntax tree, and a large spec has hundreds
/// of thousands of them.
#[derive(Debug, Clone)]
pub enum ItemKind {
    /// `name = value` and, for a few fields, `name = value { … }`.
    Property {
        key: Ident,
        value: Expr,
        block: Option<Box<Block>>,
    },
    /// `name { … }`
    Block { name: Ident, block: Block },
    /// `route NAME METHOD "path" class CLASS { … }`
    Route {
        name: Ident,
        method: Box<Ident>,
        path: StrLit,
        class: Option<Box<Ident>>,
        block: Option<Box<Block>>,
    },
    /// `calls a, b { timeout = 2s  retries = 1 }`: `options[i]` is the
    /// block written after `targets[i]`, if any (same length as `targets`).
    Calls {
        targets: Vec<Ident>,
        options: Vec<Option<Block>>,
    },
    /// `autoscale on METRIC target VALUE`
    Autoscale {
        metric: Box<Expr>,
        target: Box<Expr>,
    },
    /// `per KEY { … }`
    Per { key: Ident, block: Block },
    /// `ramp A -> B over D`, `burst R for D`, `soak R for D`, `hold R for D`
    Stage {
        kind: Ident,
        from: Box<Expr>,
        to: Option<Box<Expr>>,
        duration: Box<Expr>,
    },
    /// `kill pod every 1m`
    Kill { what: Ident, every: Box<Expr> },
    /// `latency db +5%`
    Latency { target: Ident, amount: Box<Expr> },
    /// `expect breaker(db) opens and closes within 2m`
    Expect {
        subject: Box<Expr>,
        events: Vec<Ident>,
        within: Box<Expr>,
    },
    /// `slo_burn < 1x over 1h`
    Condition {
        subject: Ident,
        op: CmpOp,
        value: Box<Expr>,
        over: Option<Box<Expr>>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct StrLit {
    pub value: String,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CmpOp {
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "==")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
}

impl CmpOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    And,
    Or,
    Cmp(CmpOp),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    Neg,
    Plus,
    Not,
}

#[derive(Debug, Clone)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum ExprKind {
    /// A number with the unit written against it (`150ms`, `99.9%`, `20k rps`).
    /// `unit` is the raw suffix (`ms`, `%`, `k`, `/s`, …); `rps` is set when
    /// the word `rps` followed.
    Quantity {
        value: f64,
        unit: String,
        rps: bool,
    },
    Str(String),
    /// `web_default`, `api.search`
    Path(Vec<Ident>),
    Call {
        /// Boxed, as `On`'s name: the common variants set the size of
        /// every expression.
        callee: Box<Ident>,
        args: Vec<Arg>,
    },
    List(Vec<Expr>),
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    Unary {
        op: UnOp,
        expr: Box<Expr>,
    },
    Range {
        lo: Box<Expr>,
        hi: Box<Expr>,
    },
    /// `on`, or `on suspicious` before a block.
    On(Option<Box<Ident>>),
    /// `required for role("admin")`
    For {
        value: Box<Expr>,
        cond: Box<Expr>,
    },
    Paren(Box<Expr>),
    /// What the parser put in place of an expression it refused (already
    /// reported); checks skip it silently.
    Error,
}

#[derive(Debug, Clone)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Expr,
}

impl Expr {
    /// The single identifier this expression is, if it is one (`web`, not `a.b`).
    pub fn as_ident(&self) -> Option<&Ident> {
        match &self.kind {
            ExprKind::Path(p) if p.len() == 1 => Some(&p[0]),
            ExprKind::Paren(e) => e.as_ident(),
            _ => None,
        }
    }

    /// The string literal this expression is, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            ExprKind::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A short description for messages: "a string", "a list", "`foo`".
    pub fn describe(&self) -> String {
        match &self.kind {
            ExprKind::Quantity { unit, .. } if unit.is_empty() => "a bare number".into(),
            ExprKind::Quantity {
                unit, rps: true, ..
            } => format!("a quantity in `{unit} rps`"),
            ExprKind::Quantity { unit, .. } => format!("a quantity in `{unit}`"),
            ExprKind::Str(_) => "a string".into(),
            ExprKind::Path(p) => format!(
                "`{}`",
                p.iter()
                    .map(|i| i.name.as_str())
                    .collect::<Vec<_>>()
                    .join(".")
            ),
            ExprKind::Call { callee, .. } => format!("a call to `{}`", callee.name),
            ExprKind::List(_) => "a list".into(),
            ExprKind::Binary { .. } => "an expression".into(),
            ExprKind::Unary { .. } => "an expression".into(),
            ExprKind::Range { .. } => "a range".into(),
            ExprKind::On(_) => "`on`".into(),
            ExprKind::For { .. } => "a `… for …` condition".into(),
            ExprKind::Paren(e) => e.describe(),
            ExprKind::Error => "an invalid expression".into(),
        }
    }
}

impl Block {
    pub fn properties(&self) -> impl Iterator<Item = (&Ident, &Expr, Option<&Block>)> {
        self.items.iter().filter_map(|i| match &i.kind {
            ItemKind::Property { key, value, block } => Some((key, value, block.as_deref())),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block's items are most of a tree: keep them small.
    #[test]
    fn items_stay_small() {
        assert!(
            std::mem::size_of::<Expr>() <= 56,
            "{}",
            std::mem::size_of::<Expr>()
        );
        assert!(
            std::mem::size_of::<Item>() <= 128,
            "{}",
            std::mem::size_of::<Item>()
        );
    }
}
