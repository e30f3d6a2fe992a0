//! Units as types. Every quantity has a dimension; the checker evaluates an
//! expression against the dimension a field expects, normalising to the IR's
//! units (ms, rps, fractions, bytes, millicores). Arithmetic is allowed where
//! the units agree (`1.2 * p99`, `p95 + 50ms`); mixing them is S0202.

use crate::diagnostics::{catalog, Diagnostics, Span};
use crate::syntax::ast::{BinOp, Expr, ExprKind, UnOp};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dim {
    /// milliseconds
    Duration,
    /// requests per second
    Rate,
    /// a percentage, as a fraction (99.9% → 0.999)
    Fraction,
    /// a multiplier (`14.4x`)
    Factor,
    /// bytes
    Size,
    /// millicores
    Cpu,
    /// a plain number (`3`, `20k`)
    Count,
}

impl Dim {
    pub fn name(self) -> &'static str {
        match self {
            Dim::Duration => "a duration",
            Dim::Rate => "a rate",
            Dim::Fraction => "a percentage",
            Dim::Factor => "a multiplier",
            Dim::Size => "a size",
            Dim::Cpu => "a CPU amount",
            Dim::Count => "a plain number",
        }
    }

    pub fn example(self) -> &'static str {
        match self {
            Dim::Duration => "`150ms`, `2s`, `10m`, `2h`, `30d`",
            Dim::Rate => "`100/s`, `6000/m`, `20k rps`",
            Dim::Fraction => "`99.9%`, `5%`",
            Dim::Factor => "`14.4x`",
            Dim::Size => "`2KB`, `512KiB`, `1MB`, `512Mi`",
            Dim::Cpu => "`500m` (millicores) or `2` (cores)",
            Dim::Count => "`3`, `20k`",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Value {
    pub dim: Dim,
    /// In the dimension's normal unit.
    pub v: f64,
}

/// Every unit the language knows: (suffix, dimension, factor to the normal unit).
/// `m` is listed twice (minutes and millicores): the expected type decides.
const UNITS: &[(&str, Dim, f64)] = &[
    ("ms", Dim::Duration, 1.0),
    ("s", Dim::Duration, 1000.0),
    ("m", Dim::Duration, 60_000.0),
    ("min", Dim::Duration, 60_000.0),
    ("h", Dim::Duration, 3_600_000.0),
    ("d", Dim::Duration, 86_400_000.0),
    ("w", Dim::Duration, 604_800_000.0),
    ("/s", Dim::Rate, 1.0),
    ("/m", Dim::Rate, 1.0 / 60.0),
    ("/h", Dim::Rate, 1.0 / 3600.0),
    ("/d", Dim::Rate, 1.0 / 86400.0),
    ("%", Dim::Fraction, 0.01),
    ("x", Dim::Factor, 1.0),
    ("B", Dim::Size, 1.0),
    ("KB", Dim::Size, 1e3),
    ("MB", Dim::Size, 1e6),
    ("GB", Dim::Size, 1e9),
    ("KiB", Dim::Size, 1024.0),
    ("MiB", Dim::Size, 1_048_576.0),
    ("GiB", Dim::Size, 1_073_741_824.0),
    ("Ki", Dim::Size, 1024.0),
    ("Mi", Dim::Size, 1_048_576.0),
    ("Gi", Dim::Size, 1_073_741_824.0),
    ("m", Dim::Cpu, 1.0),
    ("k", Dim::Count, 1e3),
    ("M", Dim::Count, 1e6),
];

/// The factor from `unit` to the normal unit of `dim`, if `unit` is one of
/// that dimension's units.
pub fn unit_factor(unit: &str, dim: Dim) -> Option<f64> {
    UNITS
        .iter()
        .find(|u| u.0 == unit && u.1 == dim)
        .map(|u| u.2)
}

/// Every unit suffix of a dimension (`ms s m …` for durations), for completion.
pub fn units_of(dim: Option<Dim>) -> Vec<(&'static str, Dim)> {
    UNITS
        .iter()
        .filter(|u| dim.is_none_or(|d| u.1 == d))
        .map(|u| (u.0, u.1))
        .collect()
}

/// Every unit suffix once, in table order, and `rps`.
pub fn known_units() -> String {
    let mut names: Vec<&str> = Vec::new();
    for u in UNITS.iter().map(|u| u.0).chain(["rps"]) {
        if !names.contains(&u) {
            names.push(u);
        }
    }
    names.join(" ")
}

/// Drops the noise of binary floating point (99.9% is 0.999, not
/// 0.9990000000000001): 12 significant digits are far more than any spec has.
pub fn tidy(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    format!("{v:.11e}").parse().unwrap_or(v)
}

/// The evaluator: pure, but collects diagnostics.
pub struct Eval<'e> {
    pub diags: &'e mut Diagnostics,
    /// Resolves a bare name inside an expression (`p99` in a budget).
    pub env: &'e dyn Fn(&str) -> Option<Value>,
}

impl Eval<'_> {
    /// Evaluates `e` where `want` is due, reporting S0201/S0202/S0203.
    pub fn expect(&mut self, e: &Expr, want: Dim) -> Option<f64> {
        let got = self.eval(e, Some(want))?;
        if got.dim == want {
            return Some(got.v);
        }
        // A bare number is fine for a count, a multiplier and CPU (cores).
        match (want, got.dim) {
            (Dim::Factor, Dim::Count) => return Some(got.v),
            (Dim::Cpu, Dim::Count) => return Some(got.v * 1000.0),
            _ => {}
        }
        let found = if got.dim == Dim::Count {
            "a bare number".to_string()
        } else {
            got.dim.name().to_string()
        };
        self.diags.push(catalog::wrong_unit(
            want.name(),
            &found,
            want.example(),
            e.span,
        ));
        None
    }

    /// Evaluates an expression; `hint` picks between units that share a
    /// suffix (`m`).
    pub fn eval(&mut self, e: &Expr, hint: Option<Dim>) -> Option<Value> {
        let v = self.eval_node(e, hint)?;
        if v.v.is_finite() {
            return Some(v);
        }
        // `1e400ms`, `BIG - BIG`: a value no target can carry.
        self.diags.push(catalog::not_finite(e.span));
        None
    }

    fn eval_node(&mut self, e: &Expr, hint: Option<Dim>) -> Option<Value> {
        match &e.kind {
            ExprKind::Quantity { value, unit, rps } => {
                self.quantity(e.span, *value, unit, *rps, hint)
            }
            ExprKind::Paren(inner) => self.eval(inner, hint),
            ExprKind::Error => None,
            ExprKind::Unary { op, expr } => {
                let v = self.eval(expr, hint)?;
                match op {
                    UnOp::Neg => Some(Value { v: -v.v, ..v }),
                    UnOp::Plus => Some(v),
                    UnOp::Not => {
                        self.not_a_number(e, hint);
                        None
                    }
                }
            }
            ExprKind::Path(p) if p.len() == 1 => match (self.env)(&p[0].name) {
                Some(v) => Some(v),
                None if ["p50", "p95", "p99"].contains(&p[0].name.as_str()) => {
                    self.diags
                        .push(catalog::percentile_has_no_value(&p[0].name, e.span));
                    None
                }
                None => {
                    self.not_a_number(e, hint);
                    None
                }
            },
            ExprKind::Binary { op, lhs, rhs } => {
                let op = *op;
                if !matches!(op, BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div) {
                    self.not_a_number(e, hint);
                    return None;
                }
                // A bare number ignores the hint, so both sides of `*` take
                // it (`2 * 250m` is CPU); a divisor is a number or the same unit.
                let l = self.eval(lhs, hint);
                let r = self.eval(rhs, hint);
                let (mut l, mut r) = (l?, r?);
                // Where CPU is due a bare number is cores, on either side of `+`/`-`.
                if hint == Some(Dim::Cpu) && matches!(op, BinOp::Add | BinOp::Sub) {
                    for side in [&mut l, &mut r] {
                        if side.dim == Dim::Count {
                            *side = Value {
                                dim: Dim::Cpu,
                                v: side.v * 1000.0,
                            };
                        }
                    }
                }
                self.arith(op, l, r, lhs.span, rhs.span)
            }
            _ => {
                self.not_a_number(e, hint);
                None
            }
        }
    }

    fn not_a_number(&mut self, e: &Expr, hint: Option<Dim>) {
        let want = hint.unwrap_or(Dim::Count);
        self.diags.push(catalog::not_a_quantity(
            want.name(),
            &e.describe(),
            want.example(),
            e.span,
        ));
    }

    fn quantity(
        &mut self,
        span: Span,
        value: f64,
        unit: &str,
        rps: bool,
        hint: Option<Dim>,
    ) -> Option<Value> {
        // `20k/s`: a count multiplier before a per-time unit.
        if let Some((mult, per)) = unit
            .strip_prefix('k')
            .map(|r| (1e3, r))
            .or_else(|| unit.strip_prefix('M').map(|r| (1e6, r)))
            .filter(|(_, r)| r.starts_with('/'))
        {
            return self.quantity(span, value, per, false, hint).map(|v| Value {
                v: tidy(v.v * mult),
                ..v
            });
        }
        // `0.5 cores`, `2 vcpu`, `500 millicores`: CPU is a bare number of
        // cores or millicores (`m`); `512 MB`: a unit goes against its number.
        let word = unit.trim_start_matches([' ', '\t']);
        if hint == Some(Dim::Cpu) || word.len() < unit.len() {
            if let Some(milli) = cpu_word(word) {
                let m = if milli { value } else { value * 1000.0 };
                self.diags
                    .push(catalog::cpu_unit(word, &cpu_millis_text(m), span));
                return None;
            }
        }
        if word.len() < unit.len() {
            self.diags.push(catalog::spaced_unit(
                &format!("{}{word}", fmt_number(value)),
                word,
                span,
            ));
            return None;
        }
        if rps {
            // `20k rps`, `500 rps`
            let mult = match unit {
                "" => 1.0,
                "k" => 1e3,
                "M" => 1e6,
                _ => {
                    self.unknown_unit(span, unit);
                    return None;
                }
            };
            return Some(Value {
                dim: Dim::Rate,
                v: value * mult,
            });
        }
        if unit.is_empty() {
            return Some(Value {
                dim: Dim::Count,
                v: value,
            });
        }
        let mut candidates = UNITS.iter().filter(|u| u.0 == unit);
        let first = candidates.next();
        let chosen = match (first, hint) {
            (None, _) => {
                self.unknown_unit(span, unit);
                return None;
            }
            (Some(f), Some(h)) => UNITS.iter().find(|u| u.0 == unit && u.1 == h).unwrap_or(f),
            (Some(f), None) => f,
        };
        Some(Value {
            dim: chosen.1,
            v: tidy(value * chosen.2),
        })
    }

    fn unknown_unit(&mut self, span: Span, unit: &str) {
        let units: Vec<&str> = UNITS.iter().map(|u| u.0).chain(["rps"]).collect();
        let same_letters = units.iter().copied().find(|u| u.eq_ignore_ascii_case(unit));
        let d = catalog::unknown_unit(unit, span, same_letters, &units, &known_units());
        self.diags.push(d);
    }

    fn arith(&mut self, op: BinOp, l: Value, r: Value, ls: Span, rs: Span) -> Option<Value> {
        let plain = |d: Dim| matches!(d, Dim::Count | Dim::Factor);
        let out = match op {
            BinOp::Add | BinOp::Sub => {
                if l.dim != r.dim {
                    return self.mixed(op, l, r, ls, rs);
                }
                let v = if op == BinOp::Add {
                    l.v + r.v
                } else {
                    l.v - r.v
                };
                Value { dim: l.dim, v }
            }
            BinOp::Mul => {
                if plain(l.dim) {
                    Value {
                        dim: r.dim,
                        v: l.v * r.v,
                    }
                } else if plain(r.dim) {
                    Value {
                        dim: l.dim,
                        v: l.v * r.v,
                    }
                } else {
                    return self.mixed(op, l, r, ls, rs);
                }
            }
            _ => {
                if r.v == 0.0 {
                    self.diags.push(catalog::division_by_zero(rs));
                    return None;
                }
                if plain(r.dim) {
                    Value {
                        dim: l.dim,
                        v: l.v / r.v,
                    }
                } else if l.dim == r.dim {
                    Value {
                        dim: Dim::Count,
                        v: l.v / r.v,
                    }
                } else {
                    return self.mixed(op, l, r, ls, rs);
                }
            }
        };
        Some(out)
    }

    fn mixed(&mut self, op: BinOp, l: Value, r: Value, ls: Span, rs: Span) -> Option<Value> {
        let verb = match op {
            BinOp::Add => "add",
            BinOp::Sub => "subtract",
            BinOp::Mul => "multiply",
            _ => "divide",
        };
        self.diags.push(catalog::mixed_units(
            verb,
            l.dim.name(),
            r.dim.name(),
            ls,
            rs,
        ));
        None
    }
}

/// Formats milliseconds the way a person writes them (`900ms`, `1.5s`, `2h`).
pub fn fmt_ms(ms: f64) -> String {
    let units = [
        (86_400_000.0, "d"),
        (3_600_000.0, "h"),
        (60_000.0, "m"),
        (1000.0, "s"),
    ];
    for (size, name) in units {
        if ms >= size && (ms / size * 1000.0).round() % 1000.0 == 0.0 {
            return format!("{}{name}", ms / size);
        }
    }
    if ms >= 1000.0 {
        return format!("{}s", round3(ms / 1000.0));
    }
    format!("{}ms", round3(ms))
}

pub fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// A word people write for CPU: `Some(true)` for millicores
/// (`millicores`), `Some(false)` for cores (`cores`, `vcpu`, …).
fn cpu_word(word: &str) -> Option<bool> {
    match word.to_ascii_lowercase().as_str() {
        "millicores" | "millicore" | "millicpu" | "mcpu" => Some(true),
        "cores" | "core" | "vcpus" | "vcpu" | "cpus" | "cpu" => Some(false),
        _ => None,
    }
}

/// A CPU amount in millicores as the language writes it: `2` for whole
/// cores, else `500m` (rounded up to a whole millicore, as the IR does).
fn cpu_millis_text(m: f64) -> String {
    let m = m.ceil().max(1.0);
    if m % 1000.0 == 0.0 {
        format!("{}", m / 1000.0)
    } else {
        format!("{m}m")
    }
}

/// A number as the spec wrote it (`0.5`, `512`).
fn fmt_number(v: f64) -> String {
    format!("{v}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::{Code, Diagnostic, FileId};
    use crate::syntax::parse;

    fn eval_src(src: &str, want: Dim) -> (Option<f64>, Vec<Diagnostic>) {
        let text = format!("x {{ v = {src} }}");
        let (f, d) = parse(FileId(0), &text);
        assert!(d.is_empty(), "{d:?}");
        let (_, e, _) = f.decls[0].body.properties().next().unwrap();
        let mut diags = Diagnostics::default();
        let p99 = |n: &str| {
            (n == "p99").then_some(Value {
                dim: Dim::Duration,
                v: 900.0,
            })
        };
        let v = Eval {
            diags: &mut diags,
            env: &p99,
        }
        .expect(e, want);
        (v, diags.into_vec())
    }

    #[test]
    fn normalises_units() {
        assert_eq!(eval_src("150ms", Dim::Duration).0, Some(150.0));
        assert_eq!(eval_src("10m", Dim::Duration).0, Some(600_000.0));
        assert_eq!(eval_src("500m", Dim::Cpu).0, Some(500.0));
        assert_eq!(eval_src("2", Dim::Cpu).0, Some(2000.0));
        assert_eq!(eval_src("20k rps", Dim::Rate).0, Some(20_000.0));
        assert_eq!(eval_src("6000/m", Dim::Rate).0, Some(100.0));
        assert_eq!(eval_src("20k/s", Dim::Rate).0, Some(20_000.0));
        assert_eq!(eval_src("2 * 250m", Dim::Cpu).0, Some(500.0));
        assert_eq!(eval_src("1 + 500m", Dim::Cpu).0, Some(1500.0));
        assert_eq!(
            eval_src("99.9%", Dim::Fraction).0,
            Some(0.999),
            "no float noise"
        );
        assert_eq!(eval_src("512Mi", Dim::Size).0, Some(536_870_912.0));
        assert_eq!(eval_src("2KB", Dim::Size).0, Some(2000.0));
        assert!((eval_src("99.9%", Dim::Fraction).0.unwrap() - 0.999).abs() < 1e-12);
        assert!((eval_src("1.2 * p99", Dim::Duration).0.unwrap() - 1080.0).abs() < 1e-9);
        assert_eq!(eval_src("p99 + 100ms", Dim::Duration).0, Some(1000.0));
    }

    #[test]
    fn rejects_mixed_and_bare() {
        let (v, d) = eval_src("150ms + 3%", Dim::Duration);
        assert_eq!(v, None);
        assert_eq!(d[0].code, Code::MixedUnits);
        assert_eq!(d[0].labels.len(), 2, "both operands are labelled");
        let (_, d) = eval_src("150", Dim::Duration);
        assert_eq!(d[0].code, Code::UnitMismatch);
        let (_, d) = eval_src("150mss", Dim::Duration);
        assert_eq!(d[0].code, Code::UnknownUnit);
    }

    #[test]
    fn formats_durations() {
        assert_eq!(fmt_ms(900.0), "900ms");
        assert_eq!(fmt_ms(1080.0), "1.08s");
        assert_eq!(fmt_ms(7_200_000.0), "2h");
        assert_eq!(fmt_ms(2_592_000_000.0), "30d");
    }
}
