//! The Kubernetes objects the target writes, as typed serde structs: only
//! the fields we set, named as the API names them. Optional fields are left
//! out when unset, maps are ordered, so the YAML is deterministic.

pub use crate::backends::common::k8s_labels::Labels;
use crate::backends::common::rules::RuleGroup;
use serde::Serialize;
use std::collections::BTreeMap;

/// An integer or a string (`maxUnavailable: 1`, `port: http`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum IntOrString {
    Int(i64),
    Str(String),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObjectMeta {
    pub name: String,
    pub labels: Labels,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    pub match_labels: Labels,
}

/// `apiVersion`, `kind`, `metadata`, `spec`, in that order.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Object<S> {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta,
    pub spec: S,
}

// --- apps/v1 Deployment ----------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentSpec {
    /// Left out when an autoscaler owns the count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    pub selector: LabelSelector,
    pub strategy: DeploymentStrategy,
    pub template: PodTemplateSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentStrategy {
    #[serde(rename = "type")]
    pub type_: &'static str,
    pub rolling_update: RollingUpdate,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RollingUpdate {
    pub max_surge: IntOrString,
    pub max_unavailable: IntOrString,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PodTemplateMeta {
    pub labels: Labels,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PodTemplateSpec {
    pub metadata: PodTemplateMeta,
    pub spec: PodSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PodSpec {
    pub containers: Vec<Container>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    pub name: String,
    pub image: String,
    pub ports: Vec<ContainerPort>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub startup_probe: Option<Probe>,
    pub readiness_probe: Probe,
    pub liveness_probe: Probe,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    pub name: &'static str,
    pub container_port: u16,
    pub protocol: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resources {
    pub requests: BTreeMap<&'static str, String>,
    pub limits: BTreeMap<&'static str, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_get: Option<HttpGet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_socket: Option<TcpSocket>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_delay_seconds: Option<u32>,
    pub period_seconds: u32,
    pub timeout_seconds: u32,
    pub failure_threshold: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TcpSocket {
    pub port: IntOrString,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HttpGet {
    pub path: String,
    pub port: IntOrString,
}

// --- v1 Service --------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceSpec {
    #[serde(rename = "type")]
    pub type_: &'static str,
    pub selector: Labels,
    pub ports: Vec<ServicePort>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    pub name: &'static str,
    pub port: u16,
    pub target_port: IntOrString,
    pub protocol: &'static str,
}

// --- policy/v1 PodDisruptionBudget ------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PdbSpec {
    pub max_unavailable: IntOrString,
    pub selector: LabelSelector,
    pub unhealthy_pod_eviction_policy: &'static str,
}

// --- autoscaling/v2 HorizontalPodAutoscaler ---------------------------------

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleTargetRef {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HpaSpec {
    pub scale_target_ref: ScaleTargetRef,
    pub min_replicas: u32,
    pub max_replicas: u32,
    pub metrics: Vec<MetricSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricSpec {
    #[serde(rename = "type")]
    pub type_: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<ResourceMetric>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pods: Option<PodsMetric>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceMetric {
    pub name: &'static str,
    pub target: MetricTarget,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PodsMetric {
    pub metric: MetricIdentifier,
    pub target: MetricTarget,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricIdentifier {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricTarget {
    #[serde(rename = "type")]
    pub type_: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub average_utilization: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub average_value: Option<String>,
}

// --- keda.sh/v1alpha1 ScaledObject ------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaledObjectSpec {
    pub scale_target_ref: ScaleTargetRef,
    pub min_replica_count: u32,
    pub max_replica_count: u32,
    pub triggers: Vec<Trigger>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Trigger {
    #[serde(rename = "type")]
    pub type_: &'static str,
    pub metric_type: &'static str,
    pub metadata: BTreeMap<&'static str, String>,
}

// --- monitoring.coreos.com/v1 PrometheusRule --------------------------------

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrometheusRuleSpec {
    pub groups: Vec<RuleGroup>,
}
