//! `scalec`: the compiler for `.scale`, a declarative language that says how
//! a web application must behave under load.
//!
//! The pipeline: [`syntax`] parses text into a tree, [`semantics`] resolves
//! names and checks units, ranges, references and graphs while lowering into
//! the [`ir`], and [`backends`] read only the IR. [`output`] is the one place
//! that writes files.

pub mod backends;
pub mod diagnostics;
pub mod ir;
pub mod output;
pub mod project;
pub mod semantics;
pub mod syntax;

pub use semantics::query;

use backends::{Artifact, Meta};
use diagnostics::Diagnostic;
use project::Project;

/// This compiler's version, as pinned by `app { scalec = "…" }`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The result of checking a project: every diagnostic, the semantic model
/// (kept even when there are errors: the language server queries it through
/// [`query`]), and the IR when there was no error.
pub struct Compilation {
    pub project: Project,
    pub diagnostics: Vec<Diagnostic>,
    pub model: semantics::model::Model,
    pub ir: Option<ir::Ir>,
}

impl Compilation {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// What every artifact header names.
    pub fn meta(&self) -> Meta {
        Meta {
            compiler: format!("scalec {VERSION}"),
            generator: self.ir.as_ref().and_then(|i| i.app.generator.clone()),
            requires: self.ir.as_ref().and_then(|i| i.app.scalec.clone()),
            input_hash: self.project.input_hash(),
        }
    }
}

/// Parses, resolves and checks a loaded project.
pub fn check(project: Project) -> Compilation {
    let analysis = semantics::analyze(&project);
    let mut all = project.diags.clone();
    all.extend(analysis.diagnostics);
    let mut diagnostics = all.into_vec();
    diagnostics::sort(&mut diagnostics);
    let has_errors = diagnostics.iter().any(Diagnostic::is_error);
    Compilation {
        project,
        diagnostics,
        model: analysis.model,
        ir: if has_errors { None } else { analysis.ir },
    }
}

/// Runs the named backends over the IR and adds `manifest.json`.
pub fn emit(ir: &ir::Ir, meta: &Meta, targets: &[&str]) -> Result<Vec<Artifact>, String> {
    let mut artifacts = Vec::new();
    for t in targets {
        let f = backends::find(t).ok_or_else(|| {
            format!(
                "unknown target `{t}`; the targets are: {}",
                backends::names().join(", ")
            )
        })?;
        artifacts.extend(f(ir, meta));
    }
    artifacts.sort_by(|a, b| a.path.cmp(&b.path));
    if let Some(w) = artifacts.windows(2).find(|w| w[0].path == w[1].path) {
        return Err(format!(
            "the artifact `{}` was generated twice; this is a scalec bug, please report it",
            w[0].path
        ));
    }
    artifacts.push(output::manifest(meta, &artifacts));
    Ok(artifacts)
}
