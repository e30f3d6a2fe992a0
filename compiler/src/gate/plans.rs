//! `scalec gate plans`: `EXPLAIN (FORMAT JSON)` plans of named queries,
//! a baseline against the current build (`query_plans = cost_increase < 20%`).
//!
//! Each folder holds `<query>.json` per named query, the output of
//! `EXPLAIN (FORMAT JSON) …` (`[{"Plan": {…}}]`). A query fails when its
//! plan's `Total Cost` grows by the gate's fraction or more. Sequential
//! scans the baseline did not have are named, with an index hint built
//! from the scan's filter (`CREATE INDEX ON tickets (tenant_id)`).

use super::{jnum, read_json, Check, InputError, Report};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// A sequential scan in a plan: the relation and its filter, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct SeqScan {
    pub relation: String,
    pub filter: Option<String>,
}

struct Plan {
    cost: f64,
    scans: Vec<SeqScan>,
}

fn load_dir(dir: &Path) -> Result<BTreeMap<String, Plan>, InputError> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        InputError(format!(
            "cannot read the plan folder `{}`: {e}",
            dir.display()
        ))
    })?;
    let mut out = BTreeMap::new();
    for e in entries {
        let e = e.map_err(|e| {
            InputError(format!(
                "cannot read the plan folder `{}`: {e}",
                dir.display()
            ))
        })?;
        let path = e.path();
        if path.extension().and_then(|x| x.to_str()) != Some("json") {
            continue;
        }
        let Some(query) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let doc = read_json(&path, "query plan")?;
        let root = doc
            .get(0)
            .and_then(|p| p.get("Plan"))
            .or_else(|| doc.get("Plan"))
            .ok_or_else(|| {
                InputError(format!(
                    "the query plan `{}` is not `EXPLAIN (FORMAT JSON)` output (no `Plan`)",
                    path.display()
                ))
            })?;
        let cost = root
            .get("Total Cost")
            .and_then(Value::as_f64)
            .filter(|c| c.is_finite() && *c >= 0.0)
            .ok_or_else(|| {
                InputError(format!(
                    "the query plan `{}` has no `Total Cost`",
                    path.display()
                ))
            })?;
        let mut scans = Vec::new();
        seq_scans(root, &mut scans);
        out.insert(query.to_string(), Plan { cost, scans });
    }
    if out.is_empty() {
        return Err(InputError(format!(
            "the plan folder `{}` holds no `<query>.json` plan",
            dir.display()
        )));
    }
    Ok(out)
}

/// Every `Seq Scan` node below `node`, in plan order.
pub fn seq_scans(node: &Value, out: &mut Vec<SeqScan>) {
    if node.get("Node Type").and_then(Value::as_str) == Some("Seq Scan") {
        if let Some(rel) = node.get("Relation Name").and_then(Value::as_str) {
            out.push(SeqScan {
                relation: rel.to_string(),
                filter: node
                    .get("Filter")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            });
        }
    }
    if let Some(children) = node.get("Plans").and_then(Value::as_array) {
        for c in children {
            seq_scans(c, out);
        }
    }
}

/// The columns a filter compares: `((tenant_id = 42) AND (t.status =
/// 'open'::text))` → `tenant_id`, `status`.
pub fn filter_columns(filter: &str) -> Vec<String> {
    let mut cols: Vec<String> = Vec::new();
    let chars: Vec<char> = filter.chars().collect();
    let mut i = 0;
    let mut in_str = false;
    while i < chars.len() {
        let c = chars[i];
        if in_str {
            if c == '\'' {
                in_str = false;
            }
            i += 1;
            continue;
        }
        if c == '\'' {
            in_str = true;
            i += 1;
            continue;
        }
        // An identifier (possibly qualified `t.col`, or quoted `"Col"`) ...
        let start = i;
        let mut ident = String::new();
        if c == '"' {
            i += 1;
            while i < chars.len() {
                if chars[i] == '"' {
                    if chars.get(i + 1) == Some(&'"') {
                        ident.push('"');
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                ident.push(chars[i]);
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' {
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '.')
            {
                ident.push(chars[i]);
                i += 1;
            }
            if let Some(dot) = ident.rfind('.') {
                ident = ident[dot + 1..].to_string();
            }
        } else {
            i += 1;
            continue;
        }
        // ... directly after `(` or an operator-free start, and followed by
        // a comparison.
        let before = chars[..start].iter().rev().find(|c| !c.is_whitespace());
        let after: String = chars[i..]
            .iter()
            .skip_while(|c| c.is_whitespace())
            .take(3)
            .collect();
        let compares = ["=", "<", ">", "!=", "~~", "IS ", "IN "]
            .iter()
            .any(|op| after.starts_with(op));
        let opens = matches!(before, None | Some('('));
        let keyword = matches!(
            ident.to_ascii_uppercase().as_str(),
            "AND" | "OR" | "NOT" | "ANY" | "ALL" | "NULL" | "TRUE" | "FALSE"
        );
        if compares && opens && !keyword && !ident.is_empty() && !cols.contains(&ident) {
            cols.push(ident);
        }
    }
    cols
}

/// A SQL identifier, quoted unless plain lower-case.
fn ident(s: &str) -> String {
    let plain = s.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('"', "\"\""))
    }
}

/// `CREATE INDEX ON tickets (tenant_id)` for a scan with a filter on columns.
pub fn index_hint(scan: &SeqScan) -> Option<String> {
    let cols = filter_columns(scan.filter.as_deref()?);
    if cols.is_empty() {
        return None;
    }
    let cols: Vec<String> = cols.iter().map(|c| ident(c)).collect();
    Some(format!(
        "CREATE INDEX ON {} ({})",
        ident(&scan.relation),
        cols.join(", ")
    ))
}

/// Compares every query of `baseline` with `current`; `max_increase` is
/// the gate's fraction (0.2 for `cost_increase < 20%`).
pub fn evaluate(baseline: &Path, current: &Path, max_increase: f64) -> Result<Report, InputError> {
    let base = load_dir(baseline)?;
    let cur = load_dir(current)?;
    let mut checks = Vec::new();
    for (query, b) in &base {
        let Some(c) = cur.get(query) else {
            return Err(InputError(format!(
                "the query `{query}` has a baseline plan but no plan in `{}`",
                current.display()
            )));
        };
        let ratio = if b.cost > 0.0 {
            c.cost / b.cost
        } else if c.cost > 0.0 {
            f64::INFINITY
        } else {
            1.0
        };
        let limit = 1.0 + max_increase;
        let pass = ratio < limit;
        let mut notes = Vec::new();
        if !pass {
            notes.push(format!(
                "total cost {} → {} (×{})",
                super::num(b.cost),
                super::num(c.cost),
                super::num(ratio)
            ));
        }
        for scan in &c.scans {
            if b.scans.iter().any(|s| s.relation == scan.relation) {
                continue;
            }
            let mut n = format!("new Seq Scan on {}", scan.relation);
            if let Some(f) = &scan.filter {
                n.push_str(&format!(" (Filter: {f})"));
            }
            notes.push(n);
            if let Some(h) = index_hint(scan) {
                notes.push(format!("hint: {h}"));
            }
        }
        checks.push(Check {
            item: query.clone(),
            metric: "cost_ratio".into(),
            op: "<",
            budget: jnum(limit),
            measured: jnum(ratio),
            unit: "",
            pass,
            notes,
        });
    }
    for query in cur.keys() {
        if !base.contains_key(query) {
            checks.push(Check {
                item: query.clone(),
                metric: "cost_ratio".into(),
                op: "<",
                budget: jnum(1.0 + max_increase),
                measured: Value::Null,
                unit: "",
                pass: true,
                notes: vec!["new query: no baseline plan to compare".into()],
            });
        }
    }
    Ok(Report::new(
        "plans",
        format!("{} against {}", current.display(), baseline.display()),
        checks,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_columns_takes_compared_columns_only() {
        assert_eq!(filter_columns("(tenant_id = 42)"), ["tenant_id"]);
        assert_eq!(
            filter_columns("((t.tenant_id = $1) AND (status = 'a = b'::text))"),
            ["tenant_id", "status"]
        );
        assert_eq!(filter_columns("(\"Owner\" IS NULL)"), ["Owner"]);
        assert_eq!(
            filter_columns("(lower(email) = 'x'::text)"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn hint_quotes_identifiers_that_are_not_plain() {
        let scan = SeqScan {
            relation: "Tick\"ets".into(),
            filter: Some("((\"Tenant\" = 1) OR (x > 2))".into()),
        };
        assert_eq!(
            index_hint(&scan).as_deref(),
            Some("CREATE INDEX ON \"Tick\"\"ets\" (\"Tenant\", x)")
        );
        let none = SeqScan {
            relation: "t".into(),
            filter: None,
        };
        assert_eq!(index_hint(&none), None);
    }
}
