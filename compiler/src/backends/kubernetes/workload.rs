//! Deployment, Service and PodDisruptionBudget of one workload service.
//!
//! - **Deployment**: one container named like the service, port `http`,
//!   requests = limits from `cpu`/`memory` (Guaranteed QoS when both are
//!   set), a rolling update that never takes a serving pod away before its
//!   replacement is ready (`maxUnavailable: 0`, `maxSurge: 25%`),
//!   readiness on `ready` (every 5s) and liveness on `health` (HTTP GET or TCP connect)
//!   (every 10s). `spec.replicas` is `replicas.min` only when no autoscaler
//!   owns the count; with an HPA or a ScaledObject it is left out, as the
//!   Kubernetes docs advise, so that re-applying the manifest does not
//!   reset a scaled-out Deployment to its minimum.
//! - **prewarm**: a `startupProbe` on `warmup` (every 5s, up to 5
//!   minutes). Kubernetes runs neither readiness nor liveness until it
//!   succeeds, so the pod takes traffic only once warm and is not killed
//!   while warming. Without prewarm, liveness waits 10s instead.
//! - **Service**: ClusterIP, port = the container port, to the `http` port.
//! - **PodDisruptionBudget** (`policy/v1`): `maxUnavailable: 1`. It bounds a
//!   voluntary disruption (drain, upgrade) to one pod at a time whatever
//!   the autoscaler has scaled to, never blocks a drain forever (as
//!   `minAvailable: replicas.min` would on a single-replica service), and
//!   `unhealthyPodEvictionPolicy: AlwaysAllow` lets a drain evict pods that
//!   are not ready anyway.
//!
//! A workload is a service with an image (`Service::is_workload`); one
//! without a port listens on 8080.

use super::objects::*;
use crate::ir::{self, Service};
use std::collections::BTreeMap;

pub const DEFAULT_PORT: u16 = 8080;

pub use crate::backends::common::k8s_labels::{selector, workload as labels};

/// `500m`, `2`.
pub fn cpu_quantity(millicores: u32) -> String {
    if millicores.is_multiple_of(1000) {
        (millicores / 1000).to_string()
    } else {
        format!("{millicores}m")
    }
}

/// `512Mi`, `4Gi`, `1500` (bytes) — the largest binary suffix that divides.
pub fn memory_quantity(bytes: u64) -> String {
    for (suffix, size) in [
        ("Ti", 1u64 << 40),
        ("Gi", 1 << 30),
        ("Mi", 1 << 20),
        ("Ki", 1 << 10),
    ] {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{}{suffix}", bytes / size);
        }
    }
    bytes.to_string()
}

fn resources(svc: &Service) -> Option<Resources> {
    let mut r = BTreeMap::new();
    if let Some(m) = svc.cpu_millicores {
        r.insert("cpu", cpu_quantity(m));
    }
    if let Some(b) = svc.memory_bytes {
        r.insert("memory", memory_quantity(b));
    }
    (!r.is_empty()).then(|| Resources {
        requests: r.clone(),
        limits: r,
    })
}

fn probe(how: &ir::Probe, initial_delay: Option<u32>, period: u32, failures: u32) -> Probe {
    let port = IntOrString::Str("http".into());
    Probe {
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

pub fn deployment(
    app: &str,
    name: &str,
    svc: &Service,
    autoscaled: bool,
) -> Object<DeploymentSpec> {
    let container = Container {
        name: name.into(),
        image: svc.image.clone().unwrap_or_default(),
        ports: vec![ContainerPort {
            name: "http",
            container_port: port(svc),
            protocol: "TCP",
        }],
        resources: resources(svc),
        startup_probe: svc.prewarm.then(|| probe(&svc.warmup, None, 5, 60)),
        readiness_probe: probe(&svc.ready, None, 5, 3),
        liveness_probe: probe(&svc.health, (!svc.prewarm).then_some(10), 10, 3),
    };
    Object {
        api_version: "apps/v1",
        kind: "Deployment",
        metadata: ObjectMeta {
            name: name.into(),
            labels: labels(app, name),
        },
        spec: DeploymentSpec {
            replicas: (!autoscaled).then_some(svc.replicas.min),
            selector: LabelSelector {
                match_labels: selector(app, name),
            },
            strategy: DeploymentStrategy {
                type_: "RollingUpdate",
                rolling_update: RollingUpdate {
                    max_surge: IntOrString::Str("25%".into()),
                    max_unavailable: IntOrString::Int(0),
                },
            },
            template: PodTemplateSpec {
                metadata: PodTemplateMeta {
                    labels: labels(app, name),
                },
                spec: PodSpec {
                    containers: vec![container],
                },
            },
        },
    }
}

pub fn service(app: &str, name: &str, svc: &Service) -> Object<ServiceSpec> {
    Object {
        api_version: "v1",
        kind: "Service",
        metadata: ObjectMeta {
            name: name.into(),
            labels: labels(app, name),
        },
        spec: ServiceSpec {
            type_: "ClusterIP",
            selector: selector(app, name),
            ports: vec![ServicePort {
                name: "http",
                port: port(svc),
                target_port: IntOrString::Str("http".into()),
                protocol: "TCP",
            }],
        },
    }
}

pub fn pdb(app: &str, name: &str) -> Object<PdbSpec> {
    Object {
        api_version: "policy/v1",
        kind: "PodDisruptionBudget",
        metadata: ObjectMeta {
            name: name.into(),
            labels: labels(app, name),
        },
        spec: PdbSpec {
            max_unavailable: IntOrString::Int(1),
            selector: LabelSelector {
                match_labels: selector(app, name),
            },
            unhealthy_pod_eviction_policy: "AlwaysAllow",
        },
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
        assert_eq!(memory_quantity(1000), "1000");
    }
}
