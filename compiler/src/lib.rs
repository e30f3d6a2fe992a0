//! `scalec`: the compiler for `.scale`, a declarative language that says how
//! a web application must behave under load.
//!
//! The pipeline: [`syntax`] parses text into a tree, [`semantics`] resolves
//! names and checks units, ranges, references and graphs while lowering into
//! the [`ir`], and [`backends`] read only the IR. [`output`] is the one place
//! that writes files.

pub mod backends;
pub mod diagnostics;
pub mod gate;
pub mod incremental;
pub mod ir;
pub mod mask;
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
/// [`query`]; empty after [`check_without_model`]), and the IR when there
/// was no error.
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
            env: self.ir.as_ref().and_then(|i| i.app.env.clone()),
        }
    }
}

/// Parses, resolves and checks a loaded project.
pub fn check(project: Project) -> Compilation {
    check_in(project, None)
}

/// [`check`] for a build in an environment (`--env NAME`, a DNS-1123 label:
/// see [`ir::k8s_names::is_dns_1123_label`]); the IR records it, and every
/// namespaced object and query of the build is in `<namespace>-NAME`.
pub fn check_in(project: Project, env: Option<&str>) -> Compilation {
    let analysis = semantics::analyze_in(&project, env);
    compilation(project, analysis)
}

/// [`check_in`] for a caller that reads only the diagnostics and the IR
/// (`scalec check` and `scalec build`): the same diagnostics and IR, and
/// an empty semantic model (only the language server queries it; recording
/// it costs about a third of the check's memory and time on large specs).
pub fn check_without_model(project: Project, env: Option<&str>) -> Compilation {
    let analysis = semantics::analyze_without_model(&project, env);
    compilation(project, analysis)
}

fn compilation(project: Project, analysis: semantics::Analysis) -> Compilation {
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

/// The backends for target names, in the order given; an unknown name is
/// an error naming every target.
pub fn backends_for(targets: &[&str]) -> Result<Vec<&'static dyn backends::Backend>, String> {
    targets
        .iter()
        .map(|t| {
            backends::find(t).ok_or_else(|| {
                format!(
                    "unknown target `{t}`; the targets are: {}",
                    backends::names().join(", ")
                )
            })
        })
        .collect()
}

/// Runs the named backends over the IR, in parallel, into `sink`. A
/// backend that cannot express something returns its diagnostics.
pub fn emit_into(
    ir: &ir::Ir,
    meta: &Meta,
    targets: &[&str],
    sink: &dyn backends::ArtifactSink,
) -> Result<(), backends::EmitError> {
    let chosen = backends_for(targets).map_err(|e| {
        backends::EmitError::Sink(std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
    })?;
    use rayon::prelude::*;
    // `SCALEC_TIMINGS=1`: each target's time on stderr.
    let timings = std::env::var_os("SCALEC_TIMINGS").is_some();
    let results: Vec<Result<(), backends::EmitError>> = chosen
        .par_iter()
        .map(|b| {
            let started = std::time::Instant::now();
            let r = b.emit(ir, meta, sink);
            if timings {
                eprintln!(
                    "timing: target {} {:.3}s",
                    b.name(),
                    started.elapsed().as_secs_f64()
                );
            }
            r
        })
        .collect();
    let mut diags = Vec::new();
    for r in results {
        match r {
            Ok(()) => {}
            Err(backends::EmitError::Unsupported(d)) => diags.extend(d),
            Err(e) => return Err(e),
        }
    }
    if diags.is_empty() {
        Ok(())
    } else {
        diagnostics::sort(&mut diags);
        // An IR problem every target needs solved (an SLO without its
        // service) is reported by each of them: say it once.
        diags.dedup();
        Err(backends::EmitError::Unsupported(diags))
    }
}

/// Runs the named backends over the IR and adds `manifest.json`: every
/// artifact in memory, sorted by path (tests and tools; `scalec build`
/// streams them to disk instead, through [`output`]).
pub fn emit(ir: &ir::Ir, meta: &Meta, targets: &[&str]) -> Result<Vec<Artifact>, String> {
    backends_for(targets)?;
    let fingerprints = incremental::Fingerprints::of(&mut ir.clone(), meta, targets);
    let sink = output::CollectUnits::new(fingerprints);
    emit_into(ir, meta, targets, &sink).map_err(|e| e.to_string())?;
    sink.finish(meta)
}
