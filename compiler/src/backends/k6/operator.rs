//! The k6-operator objects of a load test: a ConfigMap holding the script
//! and a `TestRun` (`k6.io/v1alpha1`) that runs it. Typed serde structs,
//! only the fields set.

use super::{K6_IMAGE, RUNNER_RPS};
use crate::backends::common::k6_script::Plan;
use crate::backends::common::k8s_labels::{self, Labels};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
pub struct Meta {
    pub name: String,
    /// The app's namespace ([`crate::ir::App::namespace`]), as the `k8s` target's.
    pub namespace: String,
    pub labels: Labels,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMap {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: Meta,
    pub data: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestRun {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: Meta,
    pub spec: TestRunSpec,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestRunSpec {
    pub parallelism: u32,
    pub script: Script,
    pub runner: Runner,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Script {
    pub config_map: ScriptRef,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScriptRef {
    pub name: String,
    pub file: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Runner {
    pub image: &'static str,
    pub env: Vec<EnvVar>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EnvVar {
    pub name: &'static str,
    pub value: String,
}

fn labels(app: &str) -> Labels {
    k8s_labels::component(app, "load-test")
}

/// The ConfigMap's name: the test's object name and `-script`.
pub fn config_map_name(name: &str) -> String {
    format!("{name}-script")
}

pub fn config_map(app: &str, namespace: &str, name: &str, file: &str, script: &str) -> ConfigMap {
    ConfigMap {
        api_version: "v1",
        kind: "ConfigMap",
        metadata: Meta {
            name: config_map_name(name),
            namespace: namespace.to_string(),
            labels: labels(app),
        },
        data: BTreeMap::from([(file.to_string(), script.to_string())]),
    }
}

/// Runners: one per [`RUNNER_RPS`] of peak rate, at least one.
pub fn parallelism(peak_rps: f64) -> u32 {
    ((peak_rps / RUNNER_RPS).ceil() as u32).max(1)
}

pub fn test_run(app: &str, namespace: &str, name: &str, file: &str, plan: &Plan) -> TestRun {
    let n = parallelism(plan.peak_rps);
    TestRun {
        api_version: "k6.io/v1alpha1",
        kind: "TestRun",
        metadata: Meta {
            name: name.to_string(),
            namespace: namespace.to_string(),
            labels: labels(app),
        },
        spec: TestRunSpec {
            parallelism: n,
            script: Script {
                config_map: ScriptRef {
                    name: config_map_name(name),
                    file: file.to_string(),
                },
            },
            runner: Runner {
                image: K6_IMAGE,
                env: vec![
                    EnvVar {
                        name: "BASE_URL",
                        value: plan.base_url.clone(),
                    },
                    EnvVar {
                        name: "K6_NO_USAGE_REPORT",
                        value: "true".into(),
                    },
                ],
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallelism_follows_the_peak() {
        assert_eq!(parallelism(0.0), 1);
        assert_eq!(parallelism(5000.0), 1);
        assert_eq!(parallelism(5001.0), 2);
        assert_eq!(parallelism(30000.0), 6);
    }
}
