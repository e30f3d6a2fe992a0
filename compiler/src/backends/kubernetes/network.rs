//! A NetworkPolicy per workload, from the call graph: traffic the spec does
//! not state is refused.
//!
//! - **Ingress** on the `http` port: from the pods of the services that
//!   call it (`calls`); from anywhere when it serves routes (the edge, an
//!   ingress controller in another namespace, reaches it); and from the
//!   `monitoring` namespace, so Prometheus can scrape it. A worker serves
//!   no routes: only its callers (if any) and `monitoring` reach it.
//! - **Egress**: DNS (port 53, UDP and TCP, to `kube-dns` in `kube-system`);
//!   to the pods of each deployed callee on its port; to a callee that is not
//!   deployed here (a managed database, an external API) on its port, at any
//!   address (its address is not in the spec).

use super::objects::*;
use super::workload::{labels, port, selector};
use super::Ctx;
use crate::ir::Service;

/// The namespace Prometheus runs in (kube-prometheus-stack's default).
pub const MONITORING_NAMESPACE: &str = "monitoring";

/// The port of a service: as written, else its kind's usual one.
pub fn service_port(svc: &Service) -> u16 {
    if let Some(p) = svc.port {
        return p;
    }
    svc.kind.usual_port().unwrap_or_else(|| port(svc))
}

fn namespace(name: &str) -> LabelSelector {
    let mut l = Labels::new();
    l.insert("kubernetes.io/metadata.name".into(), name.into());
    LabelSelector { match_labels: l }
}

fn pods(name: &str) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        pod_selector: Some(LabelSelector {
            match_labels: selector(name),
        }),
        namespace_selector: None,
    }
}

fn tcp(port: u16) -> Vec<NetworkPolicyPort> {
    vec![NetworkPolicyPort {
        protocol: "TCP",
        port,
    }]
}

pub fn network_policy(cx: &Ctx, name: &str, svc: &Service) -> Object<NetworkPolicySpec> {
    let own = tcp(port(svc));
    let mut ingress = Vec::new();
    if svc.kind.serves_routes() && !svc.routes.is_empty() {
        ingress.push(NetworkPolicyRule {
            from: None,
            to: None,
            ports: own.clone(),
        });
    } else {
        let callers: Vec<NetworkPolicyPeer> = cx
            .callers(&svc.name)
            .filter(|c| c.is_workload())
            .map(|c| pods(cx.names.get(&c.name)))
            .collect();
        if !callers.is_empty() {
            ingress.push(NetworkPolicyRule {
                from: Some(callers),
                to: None,
                ports: own.clone(),
            });
        }
        ingress.push(NetworkPolicyRule {
            from: Some(vec![NetworkPolicyPeer {
                pod_selector: None,
                namespace_selector: Some(namespace(MONITORING_NAMESPACE)),
            }]),
            to: None,
            ports: own,
        });
    }

    let mut dns_pods = Labels::new();
    dns_pods.insert("k8s-app".into(), "kube-dns".into());
    let mut egress = vec![NetworkPolicyRule {
        from: None,
        to: Some(vec![NetworkPolicyPeer {
            pod_selector: Some(LabelSelector {
                match_labels: dns_pods,
            }),
            namespace_selector: Some(namespace("kube-system")),
        }]),
        ports: vec![
            NetworkPolicyPort {
                protocol: "UDP",
                port: 53,
            },
            NetworkPolicyPort {
                protocol: "TCP",
                port: 53,
            },
        ],
    }];
    for callee in svc.calls.iter().filter_map(|c| cx.ir.service(c)) {
        egress.push(NetworkPolicyRule {
            from: None,
            to: callee
                .is_workload()
                .then(|| vec![pods(cx.names.get(&callee.name))]),
            ports: tcp(service_port(callee)),
        });
    }
    Object {
        api_version: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: cx.meta(name, labels(cx, name, svc)),
        spec: NetworkPolicySpec {
            pod_selector: LabelSelector {
                match_labels: selector(name),
            },
            policy_types: vec!["Ingress", "Egress"],
            ingress,
            egress,
        },
    }
}
