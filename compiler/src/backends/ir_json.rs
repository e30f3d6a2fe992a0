//! `--emit ir`: the resolved model as JSON, for people and for tools that
//! want to read a spec without parsing `.scale`.

use super::{Artifact, ArtifactSink, Backend, EmitError, Meta};
use crate::ir::Ir;

/// `ir`: written only when asked for (`--emit ir` or `--target ir`).
pub struct IrJson;

impl Backend for IrJson {
    fn name(&self) -> &'static str {
        "ir"
    }
    fn description(&self) -> &'static str {
        "ir.json: the resolved model, for tools"
    }
    fn in_default_set(&self) -> bool {
        false
    }
    fn emit(&self, ir: &Ir, meta: &Meta, sink: &dyn ArtifactSink) -> Result<(), EmitError> {
        for a in emit(ir, meta) {
            sink.put(a)?;
        }
        Ok(())
    }
}

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
