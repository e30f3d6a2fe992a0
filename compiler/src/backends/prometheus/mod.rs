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
//! The rule groups are typed values ([`RuleGroup`]); the Kubernetes target
//! wraps the very same groups in a `PrometheusRule`.

use super::{Artifact, Meta};
use crate::ir::Ir;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

pub mod observe;
pub mod promql;
pub mod promtool_test;
pub mod slo;

/// A Prometheus rule file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleFile {
    pub groups: Vec<RuleGroup>,
}

/// One rule group; its rules run in order, each seeing the ones before.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleGroup {
    pub name: String,
    pub rules: Vec<Rule>,
}

/// A recording rule (`record`) or an alerting rule (`alert`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    pub expr: String,
    #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Rule {
    pub fn record(
        name: impl Into<String>,
        expr: impl Into<String>,
        labels: BTreeMap<String, String>,
    ) -> Self {
        Rule {
            record: Some(name.into()),
            alert: None,
            expr: expr.into(),
            for_: None,
            labels,
            annotations: BTreeMap::new(),
        }
    }
}

/// A YAML artifact built from a typed value, headed by the build header.
pub(crate) fn yaml_artifact<T: Serialize>(path: String, meta: &Meta, value: &T) -> Artifact {
    let body = yaml_serde::to_string(value).expect("generated values serialise to YAML");
    Artifact {
        path,
        contents: format!("{}{}", meta.header("#"), body),
    }
}

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
    let mut stem = base.clone();
    let mut n = 2;
    while !taken.insert(stem.clone()) {
        stem = format!("{base}_{n}");
        n += 1;
    }
    stem
}

pub fn emit(ir: &Ir, meta: &Meta) -> Vec<Artifact> {
    let mut out = Vec::new();
    let mut taken = BTreeSet::new();
    // SLO files keep their names; `observe` is allocated last.
    for slo in &ir.slos {
        let stem = file_stem(&slo.name, &mut taken);
        let plan = slo::SloPlan::new(ir, slo);
        let rules = plan.rule_file();
        let rules_name = format!("{stem}.rules.yml");
        out.push(yaml_artifact(
            format!("prometheus/{rules_name}"),
            meta,
            &rules,
        ));
        let test = promtool_test::slo_tests(&plan, &rules_name);
        out.push(yaml_artifact(
            format!("prometheus/{stem}.rules.test.yml"),
            meta,
            &test,
        ));
    }
    if let Some(obs) = &ir.observe {
        if !obs.drift.is_empty() {
            let stem = file_stem("observe", &mut taken);
            let rules_name = format!("{stem}.rules.yml");
            let rules = observe::rule_file(ir, obs);
            out.push(yaml_artifact(
                format!("prometheus/{rules_name}"),
                meta,
                &rules,
            ));
            let test = observe::tests(ir, obs, &rules_name);
            out.push(yaml_artifact(
                format!("prometheus/{stem}.rules.test.yml"),
                meta,
                &test,
            ));
        }
    }
    out
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
}
