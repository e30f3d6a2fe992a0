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
    /// Left out only for cluster-scoped objects (the Namespace).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub labels: Labels,
}

impl ObjectMeta {
    /// A namespaced object's metadata.
    pub fn new(name: &str, namespace: &str, labels: Labels) -> Self {
        ObjectMeta {
            name: name.into(),
            namespace: Some(namespace.into()),
            labels,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    pub match_labels: Labels,
}

/// An object with no `spec` (Namespace, ServiceAccount).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bare {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta,
    /// A ServiceAccount's `automountServiceAccountToken`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub automount_service_account_token: Option<bool>,
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

// --- apps/v1 StatefulSet ---------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatefulSetSpec {
    /// Left out when an autoscaler owns the count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    pub selector: LabelSelector,
    /// The headless Service that gives each pod its DNS name.
    pub service_name: String,
    pub update_strategy: StatefulSetUpdateStrategy,
    pub persistent_volume_claim_retention_policy: PvcRetention,
    pub template: PodTemplateSpec,
    pub volume_claim_templates: Vec<PvcTemplate>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatefulSetUpdateStrategy {
    #[serde(rename = "type")]
    pub type_: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PvcRetention {
    pub when_deleted: &'static str,
    pub when_scaled: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PvcTemplate {
    pub metadata: PvcMeta,
    pub spec: PvcSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PvcMeta {
    pub name: &'static str,
    pub labels: Labels,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PvcSpec {
    pub access_modes: Vec<&'static str>,
    pub resources: PvcResources,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PvcResources {
    pub requests: BTreeMap<&'static str, String>,
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
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    pub service_account_name: String,
    pub automount_service_account_token: bool,
    pub security_context: PodSecurityContext,
    pub termination_grace_period_seconds: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub topology_spread_constraints: Vec<TopologySpread>,
    pub containers: Vec<Container>,
    pub volumes: Vec<Volume>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSecurityContext {
    pub run_as_non_root: bool,
    pub run_as_user: u32,
    pub run_as_group: u32,
    pub fs_group: u32,
    pub seccomp_profile: SeccompProfile,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeccompProfile {
    #[serde(rename = "type")]
    pub type_: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityContext {
    pub allow_privilege_escalation: bool,
    pub read_only_root_filesystem: bool,
    pub run_as_non_root: bool,
    pub capabilities: Capabilities,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Capabilities {
    pub drop: Vec<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TopologySpread {
    pub max_skew: u32,
    pub topology_key: &'static str,
    pub when_unsatisfiable: &'static str,
    pub label_selector: LabelSelector,
    pub match_label_keys: Vec<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    pub name: &'static str,
    pub empty_dir: EmptyDir,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EmptyDir {
    pub size_limit: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeMount {
    pub name: &'static str,
    pub mount_path: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnvVar {
    pub name: &'static str,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Lifecycle {
    pub pre_stop: LifecycleHandler,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LifecycleHandler {
    pub sleep: SleepAction,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SleepAction {
    pub seconds: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    pub name: String,
    pub image: String,
    pub image_pull_policy: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    pub ports: Vec<ContainerPort>,
    pub security_context: SecurityContext,
    pub volume_mounts: Vec<VolumeMount>,
    pub lifecycle: Lifecycle,
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
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<&'static str, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecAction>,
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
pub struct ExecAction {
    pub command: Vec<String>,
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
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    #[serde(rename = "type")]
    pub type_: &'static str,
    /// `None` for the headless Service of a StatefulSet.
    #[serde(rename = "clusterIP", skip_serializing_if = "Option::is_none")]
    pub cluster_ip: Option<&'static str>,
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
    pub behavior: ScalingBehavior,
}

/// How fast an autoscaler may move (`autoscaling/v2` `behavior`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScalingBehavior {
    pub scale_up: ScalingRules,
    pub scale_down: ScalingRules,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScalingRules {
    pub stabilization_window_seconds: u32,
    pub select_policy: &'static str,
    pub policies: Vec<ScalingPolicy>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScalingPolicy {
    #[serde(rename = "type")]
    pub type_: &'static str,
    pub value: u32,
    pub period_seconds: u32,
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
    pub advanced: KedaAdvanced,
    pub triggers: Vec<Trigger>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KedaAdvanced {
    pub horizontal_pod_autoscaler_config: KedaHpaConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KedaHpaConfig {
    pub behavior: ScalingBehavior,
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

// --- networking.k8s.io/v1 NetworkPolicy ---------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicySpec {
    pub pod_selector: LabelSelector,
    pub policy_types: Vec<&'static str>,
    pub ingress: Vec<NetworkPolicyRule>,
    pub egress: Vec<NetworkPolicyRule>,
}

/// One ingress (`from`) or egress (`to`) rule; no peers means any peer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetworkPolicyRule {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Vec<NetworkPolicyPeer>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<Vec<NetworkPolicyPeer>>,
    pub ports: Vec<NetworkPolicyPort>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicyPeer {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_selector: Option<LabelSelector>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetworkPolicyPort {
    pub protocol: &'static str,
    pub port: u16,
}

// --- monitoring.coreos.com/v1 ServiceMonitor ---------------------------------

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceMonitorSpec {
    pub selector: LabelSelector,
    pub namespace_selector: NamespaceSelector,
    pub endpoints: Vec<Endpoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceSelector {
    pub match_names: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodMonitorSpec {
    pub selector: LabelSelector,
    pub namespace_selector: NamespaceSelector,
    pub pod_metrics_endpoints: Vec<Endpoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Endpoint {
    pub port: &'static str,
    pub path: &'static str,
    pub interval: &'static str,
}
