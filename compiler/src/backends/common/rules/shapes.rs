//! An SLO's texts (rule file, promtool test, PrometheusRule), rendered
//! once per shape.
//!
//! SLOs written from one policy (the same objective, window, alert
//! windows, metrics and labels) differ only in their names: the SLO's,
//! its service's, and what is made of them (the alert's CamelCase name,
//! the service's value in its series, the rule file's and the object's
//! names). Each shape is
//! rendered once, for sentinel names, and each SLO of that shape gets the
//! text with the sentinels replaced by its own names. At 1,000 SLOs the
//! three texts were half of a build's CPU.
//!
//! The shape is the SLO's whole plan made with the sentinel names (its
//! `Debug` form: every value the renderers read), so two SLOs share a
//! text only when nothing but the names differs. The text is used only
//! when every name is written as a plain scalar (the sentinels are, so
//! no quoting changes with the replacement), when no other `zq` occurs
//! in the plan (no sentinel can be confused with the spec's own text),
//! and when every `zq` in the text is a sentinel. Otherwise, and for a
//! shape the direct YAML writer cannot write, the SLO is rendered as it
//! is. Debug builds (every test) render every SLO both ways and fail on
//! a difference.

use super::slo::{camel, service_value, SloPlan};
use crate::backends::common::yaml_emit;
use crate::backends::{Artifact, ArtifactSink, EmitError};
use crate::ir::{Ir, Service, Slo};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

const SLO: &str = "zq_slo_zq";
const CAMEL: &str = "ZqSloZq";
const SERVICE: &str = "zq_svc_zq";
const VALUE: &str = "zq_val_zq";

/// The sentinels a target may put in its texts for names of its own (a
/// file stem, a Kubernetes name), beside the SLO's and its service's.
pub const FILE: &str = "zq_file_zq";
pub const OBJECT: &str = "zq-obj-zq";

/// One target's rendered texts of one build's shapes, shared by the
/// threads that render the SLOs.
#[derive(Debug, Default)]
pub struct Shapes {
    by_key: Mutex<HashMap<String, Cell, foldhash::fast::RandomState>>,
}

/// One shape's texts, or `None` when the target could not make them
/// (the direct YAML writer cannot write them).
type Cell = Arc<OnceLock<Option<Vec<String>>>>;

/// A name as the texts may hold it: written plain, and no `zq` in it.
fn usable(name: &str) -> bool {
    yaml_emit::is_plain(name)
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/'))
        && !name.to_ascii_lowercase().contains("zq")
}

/// `text` with each sentinel replaced by its name; `None` when a `zq`
/// (in any case: a sentinel a renderer changed) in it is not a sentinel.
fn replace(text: &str, names: &[(&str, &str)]) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 256);
    let mut rest = text;
    while let Some(i) = rest.find(['z', 'Z']) {
        out.push_str(&rest[..i]);
        let at = &rest[i..];
        match names.iter().find(|(s, _)| at.starts_with(s)) {
            Some((s, name)) => {
                out.push_str(name);
                rest = &at[s.len()..];
            }
            None if at[1..].starts_with(['q', 'Q']) => return None,
            None => {
                out.push_str(&at[..1]);
                rest = &at[1..];
            }
        }
    }
    out.push_str(rest);
    Some(out)
}

impl Shapes {
    /// The texts `render` makes of `slo`'s plan (measuring `service`),
    /// made once per shape from the plan with sentinel names and given
    /// `slo`'s own; `own` pairs the target's sentinels ([`FILE`],
    /// [`OBJECT`]) with its names for this SLO. `None` when the SLO must
    /// be rendered as it is.
    pub fn texts(
        &self,
        ir: &Ir,
        slo: &Slo,
        service: &Service,
        own: &[(&'static str, &str)],
        render: impl FnOnce(&SloPlan) -> Option<Vec<String>>,
    ) -> Option<Vec<String>> {
        let value = service_value(ir, service);
        // A value the metrics state outright is the same for any name:
        // part of the shape, not replaced.
        let stated = service.metrics.service_value.is_some();
        let alert = camel(&slo.name);
        let mut names: Vec<(&str, &str)> = vec![
            (SLO, &slo.name),
            (CAMEL, &alert),
            (SERVICE, &slo.service),
            (VALUE, &value),
        ];
        names.extend_from_slice(own);
        if !names.iter().all(|(_, n)| usable(n)) {
            return None;
        }
        let sentinel = Slo {
            name: SLO.into(),
            service: SERVICE.into(),
            ..slo.clone()
        };
        let plan = SloPlan::with_service(
            ir,
            &sentinel,
            service,
            if stated { value.clone() } else { VALUE.into() },
        );
        let key = format!("{plan:?}");
        // The plan holds no `zq` beyond the sentinels.
        let mut bare = key.clone();
        for (s, _) in &names {
            bare = bare.replace(s, "");
        }
        if bare.to_ascii_lowercase().contains("zq") {
            return None;
        }
        let cell = {
            let mut map = self.by_key.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(map.entry(key).or_default())
        };
        let texts = cell.get_or_init(|| render(&plan));
        texts.as_ref()?.iter().map(|t| replace(t, &names)).collect()
    }
}

/// Puts an SLO's files into `sink`: `made` from its shape's texts, or,
/// when there are none, what rendering the SLO as it is makes (`direct`,
/// sorted by path). Debug builds (every test) render it anyway and fail
/// when the two differ.
pub fn put(
    sink: &dyn ArtifactSink,
    made: Option<Vec<Artifact>>,
    direct: impl FnOnce() -> Result<Vec<Artifact>, EmitError>,
) -> Result<(), EmitError> {
    let Some(made) = made else {
        for a in direct()? {
            sink.put(a)?;
        }
        return Ok(());
    };
    if cfg!(debug_assertions) {
        let direct = direct()?;
        assert_eq!(made.len(), direct.len(), "the SLO shape's files");
        for (a, d) in made.iter().zip(&direct) {
            assert!(
                a.path == d.path && a.contents == d.contents,
                "the SLO shape's text disagrees with rendering {}:\n--- shape\n{}\n--- direct\n{}",
                d.path,
                a.contents,
                d.contents
            );
        }
    }
    for a in made {
        sink.put(a)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinels_are_replaced_and_a_stray_zq_refuses() {
        let names = [
            (SLO, "api_availability"),
            (CAMEL, "ApiAvailability"),
            (SERVICE, "api"),
            (VALUE, "api-svc"),
            (FILE, "api_availability"),
        ];
        assert_eq!(
            replace(
                "slo=\"zq_slo_zq\" ZqSloZqErrorBudgetBurn zq_svc_zq/zq_val_zq zq_file_zq.rules.yml zebra Zulu",
                &names
            )
            .as_deref(),
            Some("slo=\"api_availability\" ApiAvailabilityErrorBudgetBurn api/api-svc api_availability.rules.yml zebra Zulu")
        );
        assert_eq!(replace("zq-slo-zq", &names), None);
        assert_eq!(replace("ZQ_SLO_ZQ", &names), None);
        assert_eq!(replace("ZqSlo", &names), None);
        assert_eq!(
            replace("ends with z", &names).as_deref(),
            Some("ends with z")
        );
    }

    /// SLOs of one shape share its texts; an SLO whose name would be
    /// quoted, or whose spec holds a `zq`, is rendered as it is; either
    /// way the files are what rendering each SLO makes (the check every
    /// debug build runs, see [`check_against`]).
    #[test]
    fn slos_of_one_shape_share_their_texts() {
        let mut spec = String::from(
            "use std.budgets.{web}\nuse std.slo.{multiwindow}\n\napp shop {\n  owner = \"platform\"\n}\n",
        );
        for (svc, slo) in [
            ("api", "api_availability"),
            ("web_front", "front_ok"),
            ("yes", "yes"),
            ("zq_app", "zq_avail"),
        ] {
            spec.push_str(&format!(
                "\nservice {svc} {{\n  image = \"ghcr.io/acme/{svc}:1.0.0\"\n  replicas = 2..4\n  cpu = 250m\n  memory = 256Mi\n  route list GET \"/v1/{svc}\" class read {{ budget = web }}\n}}\n\nslo {slo} {{\n  service = {svc}\n  objective = 99.9%\n  window = 30d\n  sli = errors(status >= 500) / requests\n  alerts = multiwindow\n}}\n"
            ));
        }
        let c = crate::check(crate::project::Project::from_memory(&[(
            "app.scale",
            &spec,
        )]));
        assert!(!c.has_errors(), "{:?}", c.diagnostics);
        let ir = c.ir.expect("an IR");
        let shapes = Shapes::default();
        let mut renders = 0;
        let mut texts = |slo: &Slo| {
            let service = ir.service(&slo.service).expect("its service");
            shapes.texts(&ir, slo, service, &[(FILE, "stem")], |plan| {
                renders += 1;
                Some(vec![yaml_emit::to_string(&plan.rule_file()).ok()?])
            })
        };
        let [a, b, quoted, zq] = [0, 1, 2, 3].map(|i| texts(&ir.slos[i]));
        assert_eq!(renders, 1, "one shape, rendered once");
        for (text, slo) in [(&a, &ir.slos[0]), (&b, &ir.slos[1])] {
            let direct =
                yaml_emit::to_string(&SloPlan::new(&ir, slo).unwrap().rule_file()).unwrap();
            assert_eq!(text.as_deref(), Some(&[direct][..]));
        }
        assert!(a.unwrap()[0].contains("slo: api_availability"));
        assert_eq!(quoted, None, "`yes` is quoted where it stands alone");
        assert_eq!(zq, None, "a name with zq");
    }

    #[test]
    fn names_that_read_otherwise_are_not_used() {
        assert!(usable("api_availability"));
        assert!(usable("ns/api-svc"));
        for bad in ["yes", "null", "1e5", "a b", "a: b", "", "lazq", "ZQ1", "é"] {
            assert!(!usable(bad), "{bad}");
        }
    }
}
