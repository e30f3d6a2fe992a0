//! `proxy/gateway/*.yaml`: the edge policy for a cluster running the
//! Gateway API with Envoy Gateway, as serde values (so spec strings are
//! YAML scalars).
//!
//! - `<service>.httproute.yaml`: one `HTTPRoute` per routed service, one
//!   rule per route (named like the route), matching its method and path
//!   (`Exact`, or a `RegularExpression` where the path has parameters),
//!   with the hard timeout as `timeouts.request`, to the Kubernetes
//!   `Service` the `k8s` target writes (same name, same port, same
//!   namespace: the app's, `App::namespace`). Its parent is the Gateway named like the app in
//!   that namespace, which the platform provides.
//! - `<service>.<route>.backendtrafficpolicy.yaml`: per route, Envoy
//!   Gateway's local rate limits (one rule per key, `Distinct` on the
//!   header or the client address), the timeout, retries (none where the
//!   route is not retry-safe), the circuit breaker (the concurrency cap)
//!   and consistent hashing on the shard header.
//! - `<service>.securitypolicy.yaml`: JWT (issuer, audience, JWKS) on the
//!   rules that need a token.
//!
//! Envoy Gateway's local rate limit has no burst: a rule allows `rate`
//! requests per unit. The burst is enforced by the three proxy configs, not
//! here (docs/targets/proxy.md).

use super::{ms_ceil, Plan, RoutePlan};
use crate::backends::common::k8s_names::{self, Names};
use crate::backends::common::{k8s_labels, yaml::yaml_artifact};
use crate::backends::{Artifact, Meta};
use crate::ir::{Ir, LimitSource};
use serde_json::{json, Value};

const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";

/// A Gateway API duration (`^([0-9]{1,5}(h|m|s|ms)){1,4}$`): whole ms up
/// to 99999 ms, else whole seconds (rounded up), else minutes.
pub fn duration(ms: f64) -> String {
    let ms = ms_ceil(ms).max(1);
    if ms <= 99_999 {
        format!("{ms}ms")
    } else if ms.div_ceil(1000) <= 99_999 {
        format!("{}s", ms.div_ceil(1000))
    } else {
        format!("{}m", ms.div_ceil(60_000).min(99_999))
    }
}

/// A rate as whole requests per the smallest unit that makes it whole.
fn limit(rps: f64) -> Value {
    for (unit, secs) in [("Second", 1.0), ("Minute", 60.0), ("Hour", 3600.0)] {
        let n = rps * secs;
        if (n - n.round()).abs() < 1e-6 && n >= 1.0 {
            return json!({"requests": n.round() as u64, "unit": unit});
        }
    }
    json!({"requests": (rps * 3600.0).round().max(1.0) as u64, "unit": "Hour"})
}

/// Metadata in the app's namespace (named like the app, as the `k8s`
/// target's), beside the Services the routes lead to.
fn meta(name: &str, namespace: &str, labels: &k8s_labels::Labels) -> Value {
    json!({"name": name, "namespace": namespace, "labels": labels})
}

fn route_ref(httproute: &str, rule: &str) -> Value {
    json!({"group": GATEWAY_GROUP, "kind": "HTTPRoute", "name": httproute, "sectionName": rule})
}

/// Which of an upstream's resources to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The HTTPRoute and the routes' BackendTrafficPolicies: they read
    /// only the upstream's own service and routes and app-wide settings,
    /// so the build may keep them unrendered (a unit).
    Traffic,
    /// The SecurityPolicy: its `claimToHeaders` lists every claim the
    /// app's limits read, from any service's routes, so it is rendered on
    /// every build.
    Security,
    All,
}

/// What every upstream's resources share, computed once.
pub struct Gateway<'a> {
    plan: &'a Plan,
    meta: &'a Meta,
    app: String,
    namespace: String,
    labels: k8s_labels::Labels,
    services: Names,
}

impl<'a> Gateway<'a> {
    pub fn new(plan: &'a Plan, meta: &'a Meta, ir: &Ir) -> Self {
        let app = k8s_names::single(&ir.app.name);
        Gateway {
            plan,
            meta,
            namespace: ir.app.namespace(),
            labels: k8s_labels::component(&app, "edge"),
            services: Names::new(ir.services.iter().map(|s| s.name.as_str())),
            app,
        }
    }

    /// The resources of upstream `u_i`, whose routes are `routes`
    /// ([`Plan::routes_by_upstream`]).
    pub fn upstream(&self, u_i: usize, routes: &[&RoutePlan], part: Part) -> Vec<Artifact> {
        let (plan, meta_, app, namespace, labels) = (
            self.plan,
            self.meta,
            &self.app,
            &self.namespace,
            &self.labels,
        );
        let mut out = Vec::new();
        let Some(u) = plan.upstreams.get(u_i) else {
            return out;
        };
        let svc = self.services.get(&u.service);
        let rule_names = Names::new(routes.iter().map(|r| r.name.as_str()));
        if part != Part::Security {
            let rules: Vec<Value> = routes
                .iter()
                .map(|r| {
                    let path = if r.has_params {
                        json!({"type": "RegularExpression", "value": r.regex})
                    } else {
                        json!({"type": "Exact", "value": r.path})
                    };
                    json!({
                        "name": rule_names.get(&r.name),
                        "matches": [{"path": path, "method": r.method.as_str()}],
                        "backendRefs": [{"name": svc, "port": u.port}],
                        "timeouts": {"request": duration(r.timeout_ms)},
                    })
                })
                .collect();
            out.push(yaml_artifact(
                format!("proxy/gateway/{svc}.httproute.yaml"),
                meta_,
                &json!({
                    "apiVersion": "gateway.networking.k8s.io/v1",
                    "kind": "HTTPRoute",
                    "metadata": meta(svc, namespace, labels),
                    "spec": {
                        "parentRefs": [{"name": app}],
                        "rules": rules,
                    },
                }),
            ));

            for r in routes {
                let rule = rule_names.get(&r.name);
                let mut spec = json!({
                    "targetRefs": [route_ref(svc, rule)],
                    "timeout": {"http": {"requestTimeout": duration(r.timeout_ms)}},
                    "retry": match &r.retry {
                        Some(rt) => json!({
                            "numRetries": rt.retries,
                            "perRetry": {
                                "timeout": duration(rt.per_try_ms),
                                "backOff": {
                                    "baseInterval": duration(rt.backoff_min_ms),
                                    "maxInterval": duration(rt.backoff_max_ms.max(rt.backoff_min_ms)),
                                },
                            },
                            "retryOn": {
                                "triggers": ["connect-failure", "reset", "refused-stream"],
                                "httpStatusCodes": [502, 503, 504],
                            },
                        }),
                        None => json!({"numRetries": 0}),
                    },
                });
                let rules: Vec<Value> = r
                    .keys
                    .iter()
                    .filter_map(|&k| {
                        let k = &plan.keys[k];
                        let selector = match &k.source {
                            LimitSource::ClientIp => {
                                json!({"sourceCIDR": {"type": "Distinct", "value": "0.0.0.0/0"}})
                            }
                            LimitSource::Header(h) => {
                                json!({"headers": [{"name": h, "type": "Distinct"}]})
                            }
                            // A claim: the header Envoy Gateway copies it into
                            // (`claimToHeaders` in the SecurityPolicy).
                            LimitSource::Claim(_) if r.authenticated && plan.jwt.is_some() => {
                                json!({"headers": [{"name": k.header().unwrap_or_default(), "type": "Distinct"}]})
                            }
                            LimitSource::Claim(_) => return None,
                        };
                        Some(json!({"clientSelectors": [selector], "limit": limit(k.rate_rps)}))
                    })
                    .collect();
                if !rules.is_empty() {
                    spec["rateLimit"] = json!({"type": "Local", "local": {"rules": rules}});
                }
                if let Some(n) = u.max_conns {
                    spec["circuitBreaker"] = json!({
                        "maxConnections": n,
                        "maxParallelRequests": n,
                        "maxPendingRequests": n,
                    });
                }
                if let Some(h) = &u.hash_header {
                    spec["loadBalancer"] = json!({
                        "type": "ConsistentHash",
                        "consistentHash": {"type": "Header", "header": {"name": h}},
                    });
                }
                let name = format!("{svc}.{rule}");
                out.push(yaml_artifact(
                    format!("proxy/gateway/{name}.backendtrafficpolicy.yaml"),
                    meta_,
                    &json!({
                        "apiVersion": "gateway.envoyproxy.io/v1alpha1",
                        "kind": "BackendTrafficPolicy",
                        "metadata": meta(&name, namespace, labels),
                        "spec": spec,
                    }),
                ));
            }
        }

        if let (Some(j), true) = (&plan.jwt, part != Part::Traffic) {
            let targets: Vec<Value> = routes
                .iter()
                .filter(|r| r.authenticated)
                .map(|r| route_ref(svc, rule_names.get(&r.name)))
                .collect();
            if targets.is_empty() {
                return out;
            }
            let claims: Vec<Value> = plan
                .claims()
                .into_iter()
                .map(|(c, h)| json!({"claim": c, "header": h}))
                .collect();
            let mut provider = json!({
                "name": "scale",
                "issuer": j.issuer,
                "audiences": [j.audience],
                "remoteJWKS": {"uri": j.jwks_uri},
            });
            if !claims.is_empty() {
                provider["claimToHeaders"] = Value::Array(claims);
            }
            out.push(yaml_artifact(
                format!("proxy/gateway/{svc}.securitypolicy.yaml"),
                meta_,
                &json!({
                    "apiVersion": "gateway.envoyproxy.io/v1alpha1",
                    "kind": "SecurityPolicy",
                    "metadata": meta(svc, namespace, labels),
                    "spec": {
                        "targetRefs": targets,
                        "jwt": {"providers": [provider]},
                    },
                }),
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::duration;

    #[test]
    fn durations_fit_the_gateway_pattern() {
        assert_eq!(duration(720.0), "720ms");
        assert_eq!(duration(1079.2), "1080ms");
        assert_eq!(duration(100_000.0), "100s");
        assert_eq!(duration(1e12), "99999m");
    }
}
