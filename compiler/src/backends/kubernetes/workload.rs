//! Deployment, Service, ServiceAccount, PodDisruptionBudget, NetworkPolicy
//! and ServiceMonitor of one workload service.
//!
//! - **Deployment**: one container named like the service, port `http`.
//!   Resources: requests from `cpu`/`memory`; the memory limit equals the
//!   request (a pod cannot be OOM-killed for using what it asked for); no
//!   CPU limit (CFS throttling makes a latency-critical service miss its
//!   budget while the node has idle CPU). A rolling update never takes a
//!   serving pod away before its replacement is ready (`maxUnavailable: 0`,
//!   `maxSurge: 25%`), readiness on `ready` (every 5s) and liveness on
//!   `health` (HTTP GET or TCP connect) (every 10s). `spec.replicas` is
//!   `replicas.min` only when no autoscaler owns the count.
//! - **Pod security**: the restricted Pod Security Standard: non-root (uid,
//!   gid and fsGroup 10001), `RuntimeDefault` seccomp, no privilege
//!   escalation, every capability dropped, a read-only root filesystem with
//!   a writable `emptyDir` at `/tmp`; its own ServiceAccount with the API
//!   token not mounted.
//! - **Shutdown**: a `preStop` sleep of 5s (endpoints stop sending before
//!   the process is told to stop) and a grace period of that plus the
//!   longest hard timeout of the service's routes plus 5s, so a request
//!   admitted just before the stop can finish.
//! - **Topology**: with more than one replica, pods spread across zones and
//!   hosts (`ScheduleAnyway`: a preference, never a reason not to schedule).
//! - **prewarm**: a `startupProbe` on `warmup` (every 5s, up to 5 minutes).
//! - **Service**: ClusterIP, port = the container port, to the `http` port.
//! - **PodDisruptionBudget** (`policy/v1`): `maxUnavailable: 1`,
//!   `unhealthyPodEvictionPolicy: AlwaysAllow`.
//! - **Image**: pulled `Always` when named by tag, `IfNotPresent` when
//!   pinned by digest (`@sha256:…`).
//!
//! A workload is a service with an image (`Service::is_workload`); one
//! without a port listens on 8080.

use super::objects::*;
use super::Ctx;
use crate::ir::{self, Service};
use std::collections::BTreeMap;

pub const DEFAULT_PORT: u16 = 8080;

/// The uid and gid the containers run as.
pub const RUN_AS: u32 = 10001;

/// Seconds a stopping pod keeps serving while endpoints forget it.
pub const PRE_STOP_SECONDS: u32 = 5;

pub use crate::backends::common::k8s_labels::selector;

/// The labels of every object of this workload. The `version` label is
/// only on the Deployment and its pods (what the image version describes),
/// so a new image rewrites one object, not seven.
pub fn labels(cx: &Ctx, name: &str, svc: &Service) -> Labels {
    crate::backends::common::k8s_labels::workload(
        &cx.app,
        name,
        crate::backends::common::k8s_labels::component_of(svc.kind),
        None,
    )
}

fn versioned_labels(cx: &Ctx, name: &str, svc: &Service) -> Labels {
    crate::backends::common::k8s_labels::workload(
        &cx.app,
        name,
        crate::backends::common::k8s_labels::component_of(svc.kind),
        svc.image.as_deref(),
    )
}

/// `500m`, `2`.
pub fn cpu_quantity(millicores: u32) -> String {
    if millicores.is_multiple_of(1000) {
        (millicores / 1000).to_string()
    } else {
        format!("{millicores}m")
    }
}

/// `512Mi`, `4Gi`, `1G`, `1500` (bytes): the largest binary suffix that
/// divides, else the largest decimal one, else bytes.
pub fn memory_quantity(bytes: u64) -> String {
    for (suffix, size) in [
        ("Ti", 1u64 << 40),
        ("Gi", 1 << 30),
        ("Mi", 1 << 20),
        ("Ki", 1 << 10),
        ("T", 1_000_000_000_000),
        ("G", 1_000_000_000),
        ("M", 1_000_000),
        ("k", 1_000),
    ] {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{}{suffix}", bytes / size);
        }
    }
    bytes.to_string()
}

fn resources(svc: &Service) -> Option<Resources> {
    let mut requests = BTreeMap::new();
    let mut limits = BTreeMap::new();
    if let Some(m) = svc.cpu_millicores {
        requests.insert("cpu", cpu_quantity(m));
    }
    if let Some(b) = svc.memory_bytes {
        requests.insert("memory", memory_quantity(b));
        limits.insert("memory", memory_quantity(b));
    }
    (!requests.is_empty()).then_some(Resources { requests, limits })
}

fn probe(
    how: &ir::Probe,
    svc: &Service,
    initial_delay: Option<u32>,
    period: u32,
    failures: u32,
) -> Probe {
    let port = IntOrString::Str(port_name(svc).into());
    Probe {
        exec: None,
        http_get: match how {
            ir::Probe::Http { path } => Some(HttpGet {
                path: path.clone(),
                port: port.clone(),
            }),
            ir::Probe::Tcp => None,
        },
        tcp_socket: match how {
            ir::Probe::Http { .. } => None,
            ir::Probe::Tcp => Some(TcpSocket { port }),
        },
        initial_delay_seconds: initial_delay,
        period_seconds: period,
        timeout_seconds: 2,
        failure_threshold: failures,
    }
}

pub fn port(svc: &Service) -> u16 {
    svc.port.unwrap_or(DEFAULT_PORT)
}

/// The name of the container's port, after what it speaks: `http` for an
/// HTTP service (and a vector index, which answers HTTP), `metrics` for a
/// worker (it serves nothing else), the protocol for a data store.
pub fn port_name(svc: &Service) -> &'static str {
    use ir::ServiceKind::*;
    match svc.kind {
        Http | Vector | External => "http",
        Worker => "metrics",
        Postgres => "postgres",
        Mysql => "mysql",
        Redis => "redis",
        Queue => "amqp",
    }
}

/// The longest hard timeout of the service's routes (or its own budget's),
/// in whole seconds, rounded up.
pub fn longest_timeout_s(svc: &Service) -> u32 {
    let ms = svc
        .routes
        .iter()
        .map(|r| r.budget.timeout_ms)
        .chain(svc.budget.as_ref().map(|b| b.timeout_ms))
        .fold(0.0f64, f64::max);
    (ms / 1000.0).ceil().clamp(0.0, 3600.0) as u32
}

/// Whether the image is pinned by digest.
pub fn pinned(image: &str) -> bool {
    image.contains("@sha256:")
}

/// `revision_label`: what tells one rollout's pods from the next
/// (`pod-template-hash` for a Deployment, `controller-revision-hash` for a
/// StatefulSet), so each rollout spreads on its own.
fn spread(name: &str, revision_label: &'static str) -> Vec<TopologySpread> {
    ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
        .into_iter()
        .map(|key| TopologySpread {
            max_skew: 1,
            topology_key: key,
            when_unsatisfiable: "ScheduleAnyway",
            label_selector: LabelSelector {
                match_labels: selector(name),
            },
            match_label_keys: vec![revision_label],
        })
        .collect()
}

/// The pod of a workload, as a Deployment or a StatefulSet runs it.
fn pod_template(cx: &Ctx, name: &str, svc: &Service) -> PodTemplateSpec {
    let image = svc.image.clone().unwrap_or_default();
    let mut volume_mounts = vec![VolumeMount {
        name: "tmp",
        mount_path: "/tmp".into(),
    }];
    let mut volumes = vec![Volume {
        name: "tmp",
        empty_dir: EmptyDir {
            size_limit: "256Mi".into(),
        },
    }];
    let mut env = Vec::new();
    if let Some(st) = &svc.storage {
        volume_mounts.push(VolumeMount {
            name: DATA_VOLUME,
            mount_path: st.path.clone(),
        });
        // The database's socket folder, writable on a read-only root.
        if let Some(run) = run_dir(svc.kind) {
            volume_mounts.push(VolumeMount {
                name: "run",
                mount_path: run.into(),
            });
            volumes.push(Volume {
                name: "run",
                empty_dir: EmptyDir {
                    size_limit: "16Mi".into(),
                },
            });
        }
        // A fresh volume's root holds `lost+found`, where initdb refuses
        // to start: Postgres keeps its cluster one folder down.
        if svc.kind == ir::ServiceKind::Postgres {
            env.push(EnvVar {
                name: "PGDATA",
                value: format!("{}/pgdata", st.path.trim_end_matches('/')),
            });
        }
    }
    let container = Container {
        name: name.into(),
        image_pull_policy: if pinned(&image) {
            "IfNotPresent"
        } else {
            "Always"
        },
        image,
        env,
        ports: vec![ContainerPort {
            name: port_name(svc),
            container_port: port(svc),
            protocol: "TCP",
        }],
        security_context: SecurityContext {
            allow_privilege_escalation: false,
            read_only_root_filesystem: true,
            run_as_non_root: true,
            capabilities: Capabilities { drop: vec!["ALL"] },
        },
        volume_mounts,
        lifecycle: Lifecycle {
            pre_stop: LifecycleHandler {
                sleep: SleepAction {
                    seconds: PRE_STOP_SECONDS,
                },
            },
        },
        resources: resources(svc),
        startup_probe: svc.prewarm.then(|| probe(&svc.warmup, svc, None, 5, 60)),
        readiness_probe: ready_probe(svc),
        liveness_probe: probe(&svc.health, svc, (!svc.prewarm).then_some(10), 10, 3),
    };
    PodTemplateSpec {
        metadata: PodTemplateMeta {
            labels: versioned_labels(cx, name, svc),
        },
        spec: PodSpec {
            service_account_name: name.into(),
            automount_service_account_token: false,
            security_context: PodSecurityContext {
                run_as_non_root: true,
                run_as_user: RUN_AS,
                run_as_group: RUN_AS,
                fs_group: RUN_AS,
                seccomp_profile: SeccompProfile {
                    type_: "RuntimeDefault",
                },
            },
            termination_grace_period_seconds: PRE_STOP_SECONDS + longest_timeout_s(svc) + 5,
            topology_spread_constraints: if svc.replicas.max > 1 {
                spread(
                    name,
                    if svc.keeps_data() {
                        "controller-revision-hash"
                    } else {
                        "pod-template-hash"
                    },
                )
            } else {
                Vec::new()
            },
            containers: vec![container],
            volumes,
        },
    }
}

/// The name of a data store's volume (claim template and mount).
pub const DATA_VOLUME: &str = "data";

/// A database's socket folder, which its image writes at start.
fn run_dir(kind: ir::ServiceKind) -> Option<&'static str> {
    match kind {
        ir::ServiceKind::Postgres => Some("/var/run/postgresql"),
        ir::ServiceKind::Mysql => Some("/var/run/mysqld"),
        _ => None,
    }
}

/// Readiness: as the spec says; a Postgres left to a TCP connect asks
/// `pg_isready` instead (the port opens before the database accepts
/// queries, during recovery too).
fn ready_probe(svc: &Service) -> Probe {
    if svc.kind == ir::ServiceKind::Postgres && svc.ready == ir::Probe::Tcp {
        return Probe {
            exec: Some(ExecAction {
                command: vec![
                    "pg_isready".into(),
                    "--host=127.0.0.1".into(),
                    format!("--port={}", port(svc)),
                ],
            }),
            http_get: None,
            tcp_socket: None,
            initial_delay_seconds: None,
            period_seconds: 5,
            timeout_seconds: 2,
            failure_threshold: 3,
        };
    }
    probe(&svc.ready, svc, None, 5, 3)
}

/// The workload's controller: a Deployment, or a StatefulSet for a data
/// store that keeps data ([`Service::keeps_data`]).
pub enum Workload {
    Deployment(Object<DeploymentSpec>),
    StatefulSet(Object<StatefulSetSpec>),
}

/// The controller kind the autoscalers target.
pub fn controller_kind(svc: &Service) -> &'static str {
    if svc.keeps_data() {
        "StatefulSet"
    } else {
        "Deployment"
    }
}

pub fn workload(cx: &Ctx, name: &str, svc: &Service, autoscaled: bool) -> Workload {
    if svc.keeps_data() {
        Workload::StatefulSet(stateful_set(cx, name, svc, autoscaled))
    } else {
        Workload::Deployment(deployment(cx, name, svc, autoscaled))
    }
}

pub fn deployment(cx: &Ctx, name: &str, svc: &Service, autoscaled: bool) -> Object<DeploymentSpec> {
    Object {
        api_version: "apps/v1",
        kind: "Deployment",
        metadata: cx.meta(name, versioned_labels(cx, name, svc)),
        spec: DeploymentSpec {
            replicas: (!autoscaled).then_some(svc.replicas.min),
            selector: LabelSelector {
                match_labels: selector(name),
            },
            strategy: DeploymentStrategy {
                type_: "RollingUpdate",
                rolling_update: RollingUpdate {
                    max_surge: IntOrString::Str("25%".into()),
                    max_unavailable: IntOrString::Int(0),
                },
            },
            template: pod_template(cx, name, svc),
        },
    }
}

/// A data store: pods with stable names (`<name>-0`, …) through the
/// headless Service of the same name, each with its own volume claim of
/// `storage`, mounted at `data_path`. Claims are kept when the set is
/// deleted or scaled down: data is never removed by an `apply`.
pub fn stateful_set(
    cx: &Ctx,
    name: &str,
    svc: &Service,
    autoscaled: bool,
) -> Object<StatefulSetSpec> {
    let bytes = svc.storage.as_ref().map_or(0, |s| s.bytes);
    Object {
        api_version: "apps/v1",
        kind: "StatefulSet",
        metadata: cx.meta(name, versioned_labels(cx, name, svc)),
        spec: StatefulSetSpec {
            replicas: (!autoscaled).then_some(svc.replicas.min),
            selector: LabelSelector {
                match_labels: selector(name),
            },
            service_name: name.into(),
            update_strategy: StatefulSetUpdateStrategy {
                type_: "RollingUpdate",
            },
            persistent_volume_claim_retention_policy: PvcRetention {
                when_deleted: "Retain",
                when_scaled: "Retain",
            },
            template: pod_template(cx, name, svc),
            volume_claim_templates: vec![PvcTemplate {
                metadata: PvcMeta {
                    name: DATA_VOLUME,
                    labels: labels(cx, name, svc),
                },
                spec: PvcSpec {
                    access_modes: vec!["ReadWriteOnce"],
                    resources: PvcResources {
                        requests: BTreeMap::from([("storage", memory_quantity(bytes))]),
                    },
                },
            }],
        },
    }
}

/// The workload's Service; headless (`clusterIP: None`) for a data store,
/// where it is the StatefulSet's `serviceName`: `<name>` resolves to the
/// ready pods and `<name>-0.<name>` to one of them.
pub fn service(cx: &Ctx, name: &str, svc: &Service) -> Object<ServiceSpec> {
    Object {
        api_version: "v1",
        kind: "Service",
        metadata: cx.meta(name, labels(cx, name, svc)),
        spec: ServiceSpec {
            type_: "ClusterIP",
            cluster_ip: svc.keeps_data().then_some("None"),
            selector: selector(name),
            ports: vec![ServicePort {
                name: port_name(svc),
                port: port(svc),
                target_port: IntOrString::Str(port_name(svc).into()),
                protocol: "TCP",
            }],
        },
    }
}

/// The workload's own identity; the API token is not mounted.
pub fn service_account(cx: &Ctx, name: &str, svc: &Service) -> Bare {
    Bare {
        api_version: "v1",
        kind: "ServiceAccount",
        metadata: cx.meta(name, labels(cx, name, svc)),
        automount_service_account_token: Some(false),
    }
}

pub fn pdb(cx: &Ctx, name: &str, svc: &Service) -> Object<PdbSpec> {
    Object {
        api_version: "policy/v1",
        kind: "PodDisruptionBudget",
        metadata: cx.meta(name, labels(cx, name, svc)),
        spec: PdbSpec {
            max_unavailable: IntOrString::Int(1),
            selector: LabelSelector {
                match_labels: selector(name),
            },
            unhealthy_pod_eviction_policy: "AlwaysAllow",
        },
    }
}

/// The path the metrics are scraped from.
pub const METRICS_PATH: &str = "/metrics";

/// Scrapes the workload's Service: Prometheus names the series' `job`
/// after the Service and adds `namespace`, the labels the rules select on.
pub fn service_monitor(cx: &Ctx, name: &str, svc: &Service) -> Object<ServiceMonitorSpec> {
    Object {
        api_version: "monitoring.coreos.com/v1",
        kind: "ServiceMonitor",
        metadata: cx.meta(name, labels(cx, name, svc)),
        spec: ServiceMonitorSpec {
            selector: LabelSelector {
                match_labels: selector(name),
            },
            namespace_selector: NamespaceSelector {
                match_names: vec![cx.namespace.clone()],
            },
            endpoints: vec![Endpoint {
                port: port_name(svc),
                path: METRICS_PATH,
                interval: "30s",
            }],
        },
    }
}

/// How Prometheus finds a workload's metrics: a ServiceMonitor on its
/// Service for what serves HTTP, a PodMonitor on its pods for a worker
/// (which has no Service), nothing for a data store (its metrics come from
/// an exporter the spec does not name).
pub enum Monitor {
    Service(Object<ServiceMonitorSpec>),
    Pod(Object<PodMonitorSpec>),
}

pub fn monitor(cx: &Ctx, name: &str, svc: &Service) -> Option<Monitor> {
    use ir::ServiceKind::*;
    match svc.kind {
        Http | Vector => Some(Monitor::Service(service_monitor(cx, name, svc))),
        Worker => Some(Monitor::Pod(Object {
            api_version: "monitoring.coreos.com/v1",
            kind: "PodMonitor",
            metadata: cx.meta(name, labels(cx, name, svc)),
            spec: PodMonitorSpec {
                selector: LabelSelector {
                    match_labels: selector(name),
                },
                namespace_selector: NamespaceSelector {
                    match_names: vec![cx.namespace.clone()],
                },
                pod_metrics_endpoints: vec![Endpoint {
                    port: port_name(svc),
                    path: METRICS_PATH,
                    interval: "30s",
                }],
            },
        })),
        Postgres | Mysql | Redis | Queue | External => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(cpu_quantity(500), "500m");
        assert_eq!(cpu_quantity(2000), "2");
        assert_eq!(cpu_quantity(1500), "1500m");
        assert_eq!(memory_quantity(512 * 1024 * 1024), "512Mi");
        assert_eq!(memory_quantity(4 << 30), "4Gi");
        assert_eq!(memory_quantity(1536 * 1024 * 1024), "1536Mi");
        assert_eq!(memory_quantity(1000), "1k");
        assert_eq!(memory_quantity(1_000_000_000), "1G");
        assert_eq!(memory_quantity(1500), "1500");
    }
}
