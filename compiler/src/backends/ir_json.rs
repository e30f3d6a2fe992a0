//! `--emit ir`: the resolved model as JSON, for people and for tools that
//! want to read a spec without parsing `.scale`.

use super::{Artifact, Meta};
use crate::ir::Ir;

pub fn emit(ir: &Ir, meta: &Meta) -> Vec<Artifact> {
    let doc = serde_json::json!({
        "generated": meta.json(),
        "ir": ir,
    });
    let mut contents = serde_json::to_string_pretty(&doc).expect("IR serialises");
    contents.push('\n');
    vec![Artifact {
        path: "ir.json".into(),
        contents,
    }]
}
