//! `scalec gate`: turn measurements into a verdict with an exit code.
//!
//! Each evaluator reads the files a CI job produced (a k6 summary, query
//! plans, table digests) and returns a [`Report`]: one [`Check`] per
//! budgeted quantity, each with its budget, what was measured and whether
//! it passed. An input that cannot be read, parsed or matched to the spec
//! is an [`InputError`], never a pass: the command exits 2 on it.
//!
//! Exit codes (see `docs/targets/ci.md`): 0 every check passed, 1 a check
//! failed, 2 a usage or input error.

use serde::Serialize;
use serde_json::Value;

pub mod burn;
pub mod k6;
pub mod migration;
pub mod plans;

/// A file that cannot be used: missing, unreadable, malformed, or not
/// about this spec. The message names the file and what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct InputError(pub String);

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One budgeted quantity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// What is measured: a route, a query, a table, `*` for all requests.
    pub item: String,
    /// `p95`, `p99`, `error_rate`, `total_cost`, `rows`, `hash`.
    pub metric: String,
    /// How the measured value must relate to the budget: `<` or `=`.
    pub op: &'static str,
    /// The limit (a number, or the expected value for equality checks).
    pub budget: Value,
    pub measured: Value,
    /// `ms`, `ratio`, `` (none).
    pub unit: &'static str,
    pub pass: bool,
    /// Why it failed, or a hint (`CREATE INDEX …`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The verdict of one gate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// `k6`, `plans`, `migration`.
    pub gate: &'static str,
    /// What was judged: `test peak on api`, the folders compared.
    pub subject: String,
    pub pass: bool,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn new(gate: &'static str, subject: String, checks: Vec<Check>) -> Report {
        let pass = checks.iter().all(|c| c.pass);
        Report {
            gate,
            subject,
            pass,
            checks,
        }
    }

    /// `{"gate":…,"pass":…,"checks":[…]}` on one line.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    /// A table: item, metric, budget, measured, verdict; notes below the
    /// row they belong to; a closing line. Spec and file text is escaped
    /// for the terminal.
    pub fn to_table(&self) -> String {
        let esc = |s: &str| crate::diagnostics::escape_text(s).into_owned();
        let mut rows: Vec<[String; 5]> = vec![[
            "item".into(),
            "metric".into(),
            "budget".into(),
            "measured".into(),
            "verdict".into(),
        ]];
        for c in &self.checks {
            rows.push([
                esc(&c.item),
                esc(&c.metric),
                esc(&format!("{} {}", c.op, show(&c.budget, c.unit))),
                esc(&show(&c.measured, c.unit)),
                if c.pass { "pass" } else { "FAIL" }.into(),
            ]);
        }
        let mut width = [0usize; 5];
        for r in &rows {
            for (w, cell) in width.iter_mut().zip(r) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = format!("gate {}: {}\n", self.gate, esc(&self.subject));
        for (i, r) in rows.iter().enumerate() {
            let mut line = String::new();
            for (j, cell) in r.iter().enumerate() {
                if j > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                if j < 4 {
                    line.push_str(&" ".repeat(width[j] - cell.chars().count()));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
            if i > 0 {
                for n in &self.checks[i - 1].notes {
                    out.push_str(&format!("    {}\n", esc(n)));
                }
            }
        }
        let failed: Vec<String> = self
            .checks
            .iter()
            .filter(|c| !c.pass)
            .map(|c| format!("{} {}", esc(&c.item), esc(&c.metric)))
            .collect();
        if failed.is_empty() {
            out.push_str(&format!(
                "gate {}: pass ({} check{})\n",
                self.gate,
                self.checks.len(),
                if self.checks.len() == 1 { "" } else { "s" }
            ));
        } else {
            out.push_str(&format!(
                "gate {}: FAILED ({} of {}): {}\n",
                self.gate,
                failed.len(),
                self.checks.len(),
                failed.join(", ")
            ));
        }
        out
    }
}

/// A number to 3 decimals (trailing zeros dropped) with its unit.
fn show(v: &Value, unit: &str) -> String {
    let text = match v {
        Value::Number(n) => match n.as_f64() {
            Some(x) => num(x),
            None => n.to_string(),
        },
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    };
    if unit.is_empty() || matches!(v, Value::Null) {
        text
    } else {
        format!("{text} {unit}")
    }
}

/// `250`, `405.445`, `0.001`.
pub fn num(x: f64) -> String {
    let r = (x * 1000.0).round() / 1000.0;
    if r.fract() == 0.0 && r.abs() < 1e15 {
        format!("{}", r as i64)
    } else {
        format!("{r}")
    }
}

/// A JSON number (non-finite values, which JSON lacks, become null).
pub fn jnum(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

/// Reads and parses a JSON file; every failure names the file.
pub fn read_json(path: &std::path::Path, what: &str) -> Result<Value, InputError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| InputError(format!("cannot read the {what} `{}`: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| {
        InputError(format!(
            "the {what} `{}` is not valid JSON: {e}",
            path.display()
        ))
    })
}
