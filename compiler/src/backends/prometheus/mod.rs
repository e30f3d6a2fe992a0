//! The Prometheus target (`prometheus/`): multiwindow, multi-burn-rate SLO
//! rules with Sloth's semantics, a `promtool test rules` file beside each
//! rule file that proves the alerts fire at their burn rate and not below
//! it, and week-over-week drift alerts from `observe`.
//!
//! Files, for an app with SLOs `a` and `b` and an `observe` block:
//!
//! ```text
//! prometheus/a.rules.yml         prometheus/a.rules.test.yml
//! prometheus/b.rules.yml         prometheus/b.rules.test.yml
//! prometheus/observe.rules.yml   prometheus/observe.rules.test.yml
//! ```
//!
//! The rule groups are typed values
//! ([`crate::backends::common::rules::RuleGroup`]); the Kubernetes target
//! wraps the very same groups in a `PrometheusRule`.

use super::common::rules::shapes::{self, Shapes};
use super::common::rules::slo::SloPlan;
use super::common::yaml::yaml_artifact;
use super::common::yaml_emit;
use super::{Artifact, ArtifactSink, Backend, Collect, EmitError, Meta, Unit, UnitKind};
use crate::ir::Ir;
use rayon::prelude::*;
use std::collections::BTreeSet;

pub mod observe;
pub mod promtool_test;

/// `prometheus`: SLO rule files with their promtool tests, drift alerts.
pub struct Prometheus;

impl Backend for Prometheus {
    fn name(&self) -> &'static str {
        "prometheus"
    }
    fn description(&self) -> &'static str {
        "Prometheus multiwindow burn-rate SLO rules and drift alerts, each with a promtool test file"
    }
    fn emit(&self, ir: &Ir, meta: &Meta, sink: &dyn ArtifactSink) -> Result<(), EmitError> {
        super::check_slos(ir)?;
        write(ir, meta, sink)
    }
}

/// `prometheus/<stem>.rules.yml` and, beside it, the promtool test that
/// `test` makes for that rules file name.
fn put_rules<R: serde::Serialize, T: serde::Serialize>(
    sink: &dyn ArtifactSink,
    meta: &Meta,
    stem: &str,
    rules: &R,
    test: impl FnOnce(&str) -> T,
) -> std::io::Result<()> {
    let rules_name = format!("{stem}.rules.yml");
    sink.put(yaml_artifact(
        format!("prometheus/{rules_name}"),
        meta,
        rules,
    ))?;
    sink.put(yaml_artifact(
        format!("prometheus/{stem}.rules.test.yml"),
        meta,
        &test(&rules_name),
    ))
}

/// The longest file stem written (the stem is ASCII), leaving room for
/// `.rules.test.yml` and a `_N` suffix well inside 255 bytes.
const MAX_STEM: usize = 100;

/// The file stem for a name: itself when it is a plain identifier, else a
/// sanitised form; a stem already taken gets `_2`, `_3`, … so no two files
/// (and no SLO named `observe`) overwrite each other.
fn file_stem(name: &str, taken: &mut BTreeSet<String>) -> String {
    let plain = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with('_');
    let base: String = if plain {
        name.to_string()
    } else {
        let s: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let s = s.trim_matches('_').to_string();
        if s.is_empty() {
            "slo".into()
        } else {
            s
        }
    };
    // File names have a length limit (255 bytes on most file systems): a
    // long name is cut and told apart by a hash of the whole name.
    let base = if base.len() > MAX_STEM {
        use sha2::{Digest, Sha256};
        let hash: String = Sha256::digest(name.as_bytes())[..5]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("{}_{hash}", &base[..MAX_STEM - hash.len() - 1])
    } else {
        base
    };
    let mut stem = base.clone();
    let mut n = 2;
    while !taken.insert(stem.clone()) {
        stem = format!("{base}_{n}");
        n += 1;
    }
    stem
}

/// Every artifact of the target, sorted by path.
pub fn emit(ir: &Ir, meta: &Meta) -> Vec<Artifact> {
    let sink = Collect::default();
    // A `Collect` sink cannot fail; an SLO the target cannot plan is left
    // out (`Backend::emit` reports it).
    let _ = write(ir, meta, &sink);
    sink.into_sorted()
}

/// Writes the target's artifacts into `sink`, SLOs in parallel. The
/// promtool test search runs once per SLO shape ([`promtool_test::Searches`]).
pub fn write(ir: &Ir, meta: &Meta, sink: &dyn ArtifactSink) -> Result<(), EmitError> {
    let mut taken = BTreeSet::new();
    // SLO files keep their names; `observe` is allocated last.
    let stems: Vec<String> = ir
        .slos
        .iter()
        .map(|slo| file_stem(&slo.name, &mut taken))
        .collect();
    let searches = promtool_test::Searches::default();
    let shapes = Shapes::default();
    ir.slos.par_iter().zip(stems.par_iter()).try_for_each(
        |(slo, stem)| -> Result<(), EmitError> {
            let unit = Unit {
                target: "prometheus",
                kind: UnitKind::Slo,
                name: &slo.name,
            };
            sink.unit(&unit, &mut |sink| {
                let service =
                    SloPlan::service_of(ir, slo).map_err(|d| EmitError::Unsupported(vec![*d]))?;
                let direct = || {
                    let plan =
                        SloPlan::new(ir, slo).map_err(|d| EmitError::Unsupported(vec![*d]))?;
                    let sink = Collect::default();
                    put_rules(&sink, meta, stem, &plan.rule_file(), |rules_name| {
                        searches.slo_tests(&plan, rules_name)
                    })?;
                    Ok::<_, EmitError>(sink.into_sorted())
                };
                let texts = shapes.texts(ir, slo, service, &[(shapes::FILE, stem)], |plan| {
                    let rules = yaml_emit::to_string(&plan.rule_file()).ok()?;
                    let test = searches.slo_tests(plan, &format!("{}.rules.yml", shapes::FILE));
                    Some(vec![rules, yaml_emit::to_string(&test).ok()?])
                });
                let header = meta.header("#");
                let made =
                    texts
                        .and_then(|t| <[String; 2]>::try_from(t).ok())
                        .map(|[rules, test]| {
                            vec![
                                Artifact {
                                    path: format!("prometheus/{stem}.rules.test.yml"),
                                    contents: format!("{header}{test}"),
                                },
                                Artifact {
                                    path: format!("prometheus/{stem}.rules.yml"),
                                    contents: format!("{header}{rules}"),
                                },
                            ]
                        });
                shapes::put(sink, made, direct)
            })
        },
    )?;
    if let Some(obs) = &ir.observe {
        if !obs.drift.is_empty() {
            let stem = file_stem("observe", &mut taken);
            let rules = super::common::rules::drift::rule_file(ir, obs);
            put_rules(sink, meta, &stem, &rules, |rules_name| {
                observe::tests(ir, obs, rules_name)
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_never_collide() {
        let mut taken = BTreeSet::new();
        assert_eq!(
            file_stem("api_availability", &mut taken),
            "api_availability"
        );
        assert_eq!(file_stem("observe", &mut taken), "observe");
        assert_eq!(file_stem("observe", &mut taken), "observe_2");
        assert_eq!(file_stem("../x", &mut taken), "x");
        assert_eq!(file_stem("", &mut taken), "slo");
    }

    /// Hostile corpus: an SLO named with 300 `a`s stopped the build with
    /// "File name too long".
    #[test]
    fn long_names_are_cut_and_told_apart() {
        let mut taken = BTreeSet::new();
        let a = file_stem(&"a".repeat(300), &mut taken);
        let b = file_stem(&format!("{}b", "a".repeat(299)), &mut taken);
        assert_eq!(a.len(), MAX_STEM);
        assert_eq!(b.len(), MAX_STEM);
        assert_ne!(a, b);
        assert!(a.starts_with("aaaa"));
        assert_eq!(
            file_stem(&"a".repeat(MAX_STEM), &mut taken),
            "a".repeat(MAX_STEM)
        );
    }
}
