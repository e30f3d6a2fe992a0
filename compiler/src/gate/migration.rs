//! `scalec gate migration`: table digests before and after a migration
//! (a shadow-write comparison) must be equal (`migrations = drift == 0`).
//!
//! Each file is `{"tables": {"<table>": {"rows": N, "hash": "<digest>"}}}`:
//! a row count and a content hash per table, as the CI job's digest query
//! writes them (`docs/targets/ci.md`). Any changed count or hash, a table
//! gone or a table new fails, and is named.

use super::{read_json, Check, InputError, Report};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, PartialEq)]
struct Digest {
    rows: u64,
    hash: String,
}

fn load(path: &Path) -> Result<BTreeMap<String, Digest>, InputError> {
    let doc = read_json(path, "table digest")?;
    let bad = |why: String| InputError(format!("the table digest `{}` {why}", path.display()));
    let tables = doc
        .get("tables")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("has no `tables` object".into()))?;
    let mut out = BTreeMap::new();
    for (name, t) in tables {
        let rows = t
            .get("rows")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad(format!("has no whole `rows` count for table `{name}`")))?;
        let hash = t
            .get("hash")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("has no `hash` string for table `{name}`")))?;
        out.insert(
            name.clone(),
            Digest {
                rows,
                hash: hash.to_string(),
            },
        );
    }
    Ok(out)
}

pub fn evaluate(before: &Path, after: &Path) -> Result<Report, InputError> {
    let a = load(before)?;
    let b = load(after)?;
    if a.is_empty() {
        return Err(InputError(format!(
            "the table digest `{}` lists no table: nothing to compare",
            before.display()
        )));
    }
    let mut checks = Vec::new();
    for (name, da) in &a {
        match b.get(name) {
            Some(db) => {
                checks.push(Check {
                    item: name.clone(),
                    metric: "rows".into(),
                    op: "=",
                    budget: Value::from(da.rows),
                    measured: Value::from(db.rows),
                    unit: "",
                    pass: da.rows == db.rows,
                    notes: vec![],
                });
                checks.push(Check {
                    item: name.clone(),
                    metric: "hash".into(),
                    op: "=",
                    budget: Value::from(da.hash.clone()),
                    measured: Value::from(db.hash.clone()),
                    unit: "",
                    pass: da.hash == db.hash,
                    notes: vec![],
                });
            }
            None => checks.push(Check {
                item: name.clone(),
                metric: "rows".into(),
                op: "=",
                budget: Value::from(da.rows),
                measured: Value::Null,
                unit: "",
                pass: false,
                notes: vec![format!("table `{name}` is missing after the migration")],
            }),
        }
    }
    for (name, db) in &b {
        if !a.contains_key(name) {
            checks.push(Check {
                item: name.clone(),
                metric: "rows".into(),
                op: "=",
                budget: Value::Null,
                measured: Value::from(db.rows),
                unit: "",
                pass: false,
                notes: vec![format!("table `{name}` is new after the migration")],
            });
        }
    }
    Ok(Report::new(
        "migration",
        format!("{} against {}", after.display(), before.display()),
        checks,
    ))
}
