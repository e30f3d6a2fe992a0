//! The field tables of docs/language.md are the schema table's
//! (`semantics/schema.rs`), generated between `<!-- schema:ID -->` and
//! `<!-- /schema -->` markers. This test fails when they disagree; run it
//! with `UPDATE_DOCS=1` to rewrite the tables from the schema.

use scalec::semantics::schema;
use std::path::Path;

const OPEN: &str = "<!-- schema:";
const CLOSE: &str = "<!-- /schema -->";

/// The doc with every marked table regenerated, and the ids found.
fn regenerate(doc: &str) -> Result<(String, Vec<String>), String> {
    let mut out = String::new();
    let mut ids = Vec::new();
    let mut rest = doc;
    while let Some(i) = rest.find(OPEN) {
        let after = &rest[i + OPEN.len()..];
        let id_end = after.find(" -->").ok_or("unclosed schema marker")?;
        let id = &after[..id_end];
        let body_start = i + OPEN.len() + id_end + " -->".len();
        let close = rest[body_start..]
            .find(CLOSE)
            .ok_or(format!("`{OPEN}{id} -->` has no `{CLOSE}`"))?;
        let block = schema::BLOCKS
            .iter()
            .find(|b| b.id == id)
            .ok_or(format!("the schema has no block `{id}`"))?;
        out.push_str(&rest[..body_start]);
        out.push('\n');
        out.push_str(&block.markdown_table());
        rest = &rest[body_start + close..];
        ids.push(id.to_string());
    }
    out.push_str(rest);
    Ok((out, ids))
}

#[test]
fn language_reference_tables_match_the_schema() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/language.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let (fresh, ids) = regenerate(&doc).unwrap();
    for b in schema::BLOCKS.iter().filter(|b| !b.fields.is_empty()) {
        assert!(
            ids.iter().any(|i| i == b.id),
            "docs/language.md has no `{OPEN}{} -->` table",
            b.id
        );
    }
    for (i, id) in ids.iter().enumerate() {
        assert!(!ids[..i].contains(id), "the table `{id}` appears twice");
    }
    if fresh == doc {
        return;
    }
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, fresh).unwrap();
        return;
    }
    let diff = similar::TextDiff::from_lines(&doc, &fresh);
    panic!(
        "docs/language.md's field tables differ from the schema (semantics/schema.rs); \
         rerun with UPDATE_DOCS=1 to regenerate them:\n{}",
        diff.unified_diff()
            .header("docs/language.md", "from the schema")
    );
}
