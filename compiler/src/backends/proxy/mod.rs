//! The proxy target (`proxy/`): the edge of the app, the same policy for
//! three proxies, from one IR.
//!
//! - `proxy/envoy.yaml`: an Envoy v3 bootstrap ([`envoy`]),
//! - `proxy/nginx.conf`: nginx ([`nginx`]),
//! - `proxy/haproxy.cfg`: HAProxy ([`haproxy`]),
//! - `proxy/gateway/*.yaml`: Gateway API `HTTPRoute`s and the Envoy Gateway
//!   `BackendTrafficPolicy` / `SecurityPolicy` that carry the same policy
//!   into a cluster ([`gateway`]). They live under `proxy/`, not `k8s/`:
//!   they need the Gateway API and Envoy Gateway CRDs installed, and
//!   `kubectl apply -f k8s/` must keep working on a cluster without them.
//!
//! All three configs are made from one [`Plan`]: the routes with their
//! match (method and a path regex), hard timeout, retry policy, limit keys
//! and cache TTL; the limit keys as token buckets; the upstreams. The
//! semantics, and where a proxy cannot follow them, are in
//! `docs/targets/proxy.md`.
//!
//! # What an operator changes
//!
//! The configs listen on `0.0.0.0:8000` and send each service's traffic to
//! `127.0.0.1:<port>` (the edge beside the services). In `nginx.conf` and
//! `haproxy.cfg` each of those addresses is on a line ending with a marker
//! comment, `# scale:listen` or `# scale:upstream <service>`: the address
//! is the first word after the directive, so a deploy step (or a test)
//! rewrites exactly those. nginx's files (pid, temp folders, the cache) are
//! relative paths, resolved against `nginx -p PREFIX`. In `envoy.yaml` the
//! listener, the admin address and each cluster's endpoint are plain fields.

use crate::backends::{
    diagnostic_at, Artifact, ArtifactSink, Backend, EmitError, Meta, Unit, UnitKind,
};
use crate::diagnostics::{catalog, Diagnostic};
use crate::ir::{
    AuthRule, Concurrency, Entity, Ir, LimitSource, Method, Overflow, RequestValue, ServiceKind,
};

pub mod envoy;
pub mod gateway;
pub mod haproxy;
pub mod nginx;

/// `proxy`: Envoy, nginx and HAProxy configs, and Gateway API resources.
pub struct Proxy;

impl Backend for Proxy {
    fn name(&self) -> &'static str {
        "proxy"
    }
    fn description(&self) -> &'static str {
        "edge proxy configs that agree: Envoy, nginx, HAProxy, Gateway API HTTPRoute + Envoy Gateway policies"
    }
    /// The three configs, then the Gateway resources streamed into the
    /// sink one upstream at a time, in parallel (never all in memory).
    fn emit(&self, ir: &Ir, meta: &Meta, sink: &dyn ArtifactSink) -> Result<(), EmitError> {
        use rayon::prelude::*;
        let plan = Plan::new(ir).map_err(EmitError::Unsupported)?;
        // The three configs and the SecurityPolicies read the plan (and the
        // IR only for names in the build's app-wide fingerprint, and to
        // point at a route the configs cannot hold): units kept while the
        // plan is the same (a new image, replica range or SLO leaves the
        // edge alone).
        let input = crate::incremental::input_of(&plan);
        let app_unit = |name: &str,
                        render: &mut dyn FnMut(&dyn ArtifactSink) -> Result<(), EmitError>|
         -> Result<(), EmitError> {
            match input {
                Some(input) => sink.unit(
                    &Unit {
                        target: "proxy",
                        kind: UnitKind::App { input },
                        name,
                    },
                    render,
                ),
                None => render(sink),
            }
        };
        app_unit("configs", &mut |sink| {
            configs(&plan, ir, meta, &mut |a| Ok(sink.put(a)?))
        })?;
        let gw = gateway::Gateway::new(&plan, meta, ir);
        let by_upstream = plan.routes_by_upstream();
        by_upstream.par_iter().enumerate().try_for_each(
            |(u_i, routes)| -> Result<(), EmitError> {
                let service = &plan.upstreams[u_i].service;
                let unit = Unit {
                    target: "proxy",
                    kind: UnitKind::Service,
                    name: service,
                };
                sink.unit(&unit, &mut |sink| {
                    for a in gw.upstream(u_i, routes, gateway::Part::Traffic) {
                        sink.put(a)?;
                    }
                    Ok(())
                })?;
                // A service name has no `.`: no clash with `configs`.
                app_unit(&format!("security.{service}"), &mut |sink| {
                    for a in gw.upstream(u_i, routes, gateway::Part::Security) {
                        sink.put(a)?;
                    }
                    Ok(())
                })
            },
        )?;
        Ok(())
    }
}

/// The three app-wide configs, each handed over as soon as it is made
/// (at 10,000 services they are 28 MB of text together). nginx and HAProxy
/// go first: they are the ones that can refuse a spec.
fn configs(
    plan: &Plan,
    ir: &Ir,
    meta: &Meta,
    put: &mut dyn FnMut(Artifact) -> Result<(), EmitError>,
) -> Result<(), EmitError> {
    put(nginx::artifact(plan, meta, ir).map_err(EmitError::Unsupported)?)?;
    put(haproxy::artifact(plan, meta, ir).map_err(EmitError::Unsupported)?)?;
    put(envoy::artifact(plan, meta))
}

/// Every artifact of the target, sorted by path, or the diagnostics of what
/// it cannot express.
pub fn emit(ir: &Ir, meta: &Meta) -> Result<Vec<Artifact>, EmitError> {
    let plan = Plan::new(ir).map_err(EmitError::Unsupported)?;
    let mut out = Vec::new();
    configs(&plan, ir, meta, &mut |a| {
        out.push(a);
        Ok(())
    })?;
    let gw = gateway::Gateway::new(&plan, meta, ir);
    for (u_i, routes) in plan.routes_by_upstream().iter().enumerate() {
        out.extend(gw.upstream(u_i, routes, gateway::Part::All));
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// The default listen address and port of every config.
pub const LISTEN: (&str, u16) = ("0.0.0.0", 8000);
/// Envoy's admin listener (loopback).
pub const ENVOY_ADMIN: (&str, u16) = ("127.0.0.1", 9901);
/// The header that carries the route's hard timeout downstream, in ms.
pub const BUDGET_HEADER: &str = "x-scale-budget-ms";
/// The cookie sessions stick on, when `session { fallback = sticky }`.
pub const STICKY_COOKIE: &str = "scale_sticky";
/// The header Envoy writes a verified JWT claim into for limits keyed on
/// a claim (`x-scale-claim-<n>`).
pub const CLAIM_HEADER_PREFIX: &str = "x-scale-claim-";

/// The edge's view of the IR: what all three proxies implement.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Plan {
    pub app: String,
    pub upstreams: Vec<Upstream>,
    pub routes: Vec<RoutePlan>,
    pub keys: Vec<KeyPlan>,
    /// The tenant header (`app { tenant = header(…) }`), lowercased.
    pub tenant_header: Option<String>,
    /// True when the app has a tenant that is not a header: the edge then
    /// caches nothing (it could not keep tenants apart).
    pub tenant_unreadable: bool,
    pub jwt: Option<JwtPlan>,
    /// `session { fallback = sticky }`: cookie stickiness on every upstream.
    pub sticky: bool,
}

impl Plan {
    /// The routes of each upstream, in plan order: one pass over the
    /// routes (filtering them once per upstream is quadratic in services).
    pub fn routes_by_upstream(&self) -> Vec<Vec<&RoutePlan>> {
        let mut out = vec![Vec::new(); self.upstreams.len()];
        for r in &self.routes {
            if let Some(v) = out.get_mut(r.upstream) {
                v.push(r);
            }
        }
        out
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Upstream {
    /// A config identifier: `u0_api` (letters, digits, `_`).
    pub id: String,
    pub service: String,
    pub port: u16,
    /// In-flight requests the edge sends this upstream at once
    /// (`concurrency` per replica × the most replicas), if limited.
    pub max_conns: Option<u32>,
    /// How long a request may wait for a slot (`overflow = queue(…)`);
    /// `None`: beyond the cap, refuse at once (503).
    pub queue_timeout_ms: Option<f64>,
    /// `shard_by = tenant` (or a header): consistent hashing on this header.
    pub hash_header: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct RoutePlan {
    /// `r0`, `r1`, … in IR order.
    pub id: String,
    pub service: String,
    pub name: String,
    /// Index into [`Plan::upstreams`].
    pub upstream: usize,
    pub method: Method,
    /// As written: `/v1/reports/{id}`.
    pub path: String,
    /// The path as a regex body (no anchors) that PCRE (nginx, HAProxy) and
    /// RE2 (Envoy) read alike: see [`path_regex`].
    pub regex: String,
    /// Whether the path has a `{param}` (else it is matched exactly).
    pub has_params: bool,
    pub timeout_ms: f64,
    pub retry: Option<RetryPlan>,
    /// Indices into [`Plan::keys`] of the buckets this route is limited by.
    pub keys: Vec<usize>,
    pub cache_ttl_ms: Option<f64>,
    /// Whether the route needs a verified JWT (anything but `public`).
    pub authenticated: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct RetryPlan {
    /// Retries after the first try.
    pub retries: u32,
    pub backoff_min_ms: f64,
    pub backoff_max_ms: f64,
    /// The hard timeout shared by the tries.
    pub per_try_ms: f64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct KeyPlan {
    /// `api_key`, `ip`, `identity`, `tenant`.
    pub key: String,
    /// The bucket's name in the configs, unique in the plan: the key for an
    /// app-wide bucket, `<key>_<route id>` for a route's own rate.
    pub name: String,
    /// For a route's own rate (`limit = per_api_key(50/s)`): the index of
    /// that route in [`Plan::routes`], the only one it counts.
    pub route: Option<usize>,
    pub source: LimitSource,
    pub rate_rps: f64,
    pub burst: u32,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct JwtPlan {
    pub issuer: String,
    pub audience: String,
    pub jwks_uri: String,
    /// The JWT size cap, bytes.
    pub max_bytes: u64,
}

impl KeyPlan {
    /// The header the key is read from at the edge (a claim: the header
    /// Envoy copies the verified claim into).
    pub fn header(&self) -> Option<String> {
        match &self.source {
            LimitSource::ClientIp => None,
            LimitSource::Header(h) => Some(h.clone()),
            LimitSource::Claim(c) => Some(claim_header(c)),
        }
    }
}

/// `x-scale-claim-<n>`: the header a claim is copied into, by the claim's
/// position-free name (only letters, digits and `-` survive; others `-`).
pub fn claim_header(claim: &str) -> String {
    let mut s = String::from(CLAIM_HEADER_PREFIX);
    for c in claim.chars() {
        s.push(if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else {
            '-'
        });
    }
    // Two claims differing only in the replaced characters would share a
    // header: a short hash keeps them apart.
    if claim
        .chars()
        .any(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit()))
        || claim.len() > 64
    {
        s.truncate(CLAIM_HEADER_PREFIX.len() + 48);
        s.push('-');
        s.push_str(&short_hash(claim));
    }
    s
}

fn short_hash(s: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(s.as_bytes())
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A config identifier for a name: `prefix` plus the letters, digits and
/// `_` of `name` (others dropped), cut to 40 characters. Unique because the
/// prefix carries the index.
fn ident(prefix: &str, name: &str) -> String {
    let tail: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(40)
        .collect();
    if tail.is_empty() {
        prefix.to_string()
    } else {
        format!("{prefix}_{tail}")
    }
}

/// A header name nginx can read as `$http_…`: letters, digits, `-`, `_`.
pub fn nginx_readable_header(h: &str) -> bool {
    !h.is_empty()
        && h.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The route path as a regex body, the same language for PCRE and RE2:
/// ASCII letters, digits and `/-_~` (never metacharacters outside a class)
/// as themselves, every other ASCII character as `\xHH` (so no character
/// of the path is ever a metacharacter, and none is `$`, which nginx would
/// interpolate), other characters as themselves (a literal in both), and
/// each `{param}` as one segment `[^/]+`.
pub fn path_regex(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('{') {
            if let Some(end) = after.find('}') {
                out.push_str("[^/]+");
                rest = &after[end + 1..];
                continue;
            }
        }
        let c = rest.chars().next().unwrap_or_default();
        if c.is_ascii_alphanumeric() || "/-_~".contains(c) {
            out.push(c);
        } else if c.is_ascii() {
            out.push_str(&format!("\\x{:02X}", c as u32));
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Milliseconds as a whole number of ms, rounded up (never a shorter
/// timeout than the spec's).
pub fn ms_ceil(ms: f64) -> u64 {
    if ms.is_finite() && ms > 0.0 {
        ms.ceil() as u64
    } else {
        0
    }
}

/// A protobuf `Duration` in its JSON form (`"0.72s"`), to the nanosecond.
pub fn pb_duration(ms: f64) -> String {
    let nanos = if ms.is_finite() && ms > 0.0 {
        (ms * 1e6).round() as u128
    } else {
        0
    };
    let secs = nanos / 1_000_000_000;
    let frac = nanos % 1_000_000_000;
    if frac == 0 {
        format!("{secs}s")
    } else {
        let f = format!("{frac:09}");
        format!("{secs}.{}s", f.trim_end_matches('0'))
    }
}

/// The cap on one request header at the edge: the JWT cap plus
/// `Bearer ` — in whole KiB where a proxy counts in KiB.
pub fn header_cap_kib(max_bytes: u64) -> u64 {
    (max_bytes + "authorization: Bearer ".len() as u64).div_ceil(1024)
}

impl Plan {
    pub fn new(ir: &Ir) -> Result<Plan, Vec<Diagnostic>> {
        let mut diags = Vec::new();
        let keys: Vec<KeyPlan> = ir
            .limits
            .iter()
            .flat_map(|l| &l.keys)
            .map(|k| KeyPlan {
                key: k.key.clone(),
                name: k.key.clone(),
                route: None,
                source: k.source.clone(),
                rate_rps: k.rate_rps,
                burst: k.burst,
            })
            .collect();
        for k in &keys {
            if let LimitSource::Header(h) = &k.source {
                if !nginx_readable_header(h) {
                    diags.push(diagnostic_at(
                        ir,
                        &Entity::Limits,
                        catalog::proxy_header_unreadable(h, &format!("per {}", k.key)),
                        "limited here",
                    ));
                }
            }
        }
        let (tenant_header, tenant_unreadable) = match &ir.app.tenant {
            Some(RequestValue::Header(h)) if nginx_readable_header(h) => (Some(h.clone()), false),
            Some(RequestValue::Header(h)) => {
                diags.push(diagnostic_at(
                    ir,
                    &Entity::App,
                    catalog::proxy_header_unreadable(h, "the app's tenant"),
                    "the tenant is read here",
                ));
                (None, true)
            }
            Some(_) => (None, true),
            None => (None, false),
        };

        let limits = ir.limits.as_ref();
        // The routes' own rates, appended to `keys` after the app-wide ones.
        let mut own: Vec<KeyPlan> = Vec::new();
        let mut upstreams = Vec::new();
        let mut routes = Vec::new();
        for svc in ir
            .services
            .iter()
            .filter(|s| s.kind == ServiceKind::Http && !s.routes.is_empty())
        {
            let per_replica = limits.map(|l| match l.concurrency {
                Concurrency::Cores => svc.cpu_millicores.unwrap_or(1000).div_ceil(1000).max(1),
                Concurrency::Fixed(n) => n.max(1),
            });
            let queue_timeout_ms = limits.and_then(|l| match &l.overflow {
                Overflow::Queue { timeout_ms, .. } => Some(*timeout_ms),
                Overflow::Reject => None,
            });
            let hash_header = match &svc.shard_by {
                Some(RequestValue::Header(h)) if nginx_readable_header(h) => Some(h.clone()),
                _ => None,
            };
            let u = upstreams.len();
            upstreams.push(Upstream {
                id: ident(&format!("u{u}"), &svc.name),
                service: svc.name.clone(),
                port: svc.port.unwrap_or(8080),
                max_conns: per_replica.map(|n| n.saturating_mul(svc.replicas.max.max(1))),
                queue_timeout_ms,
                hash_header,
            });
            for r in &svc.routes {
                let i = routes.len();
                // Every limit the route lists (its own rates as buckets of
                // their own); without `limit`, every app-wide key.
                let route_keys: Vec<usize> = if !r.limits.is_empty() {
                    let mut v = Vec::new();
                    for l in &r.limits {
                        if !l.own {
                            v.extend(keys.iter().position(|x| x.key == l.key));
                            continue;
                        }
                        if let LimitSource::Header(h) = &l.source {
                            if !nginx_readable_header(h) {
                                diags.push(diagnostic_at(
                                    ir,
                                    &Entity::Route {
                                        service: svc.name.clone(),
                                        route: r.name.clone(),
                                    },
                                    catalog::proxy_header_unreadable(
                                        h,
                                        &format!("the route's own per_{}", l.key),
                                    ),
                                    "limited here",
                                ));
                            }
                        }
                        v.push(keys.len() + own.len());
                        own.push(KeyPlan {
                            key: l.key.clone(),
                            name: format!("{}_r{i}", l.key),
                            route: Some(i),
                            source: l.source.clone(),
                            rate_rps: l.rate_rps,
                            burst: l.burst,
                        });
                    }
                    v
                } else {
                    match &r.limit {
                        Some(k) => keys.iter().position(|x| &x.key == k).into_iter().collect(),
                        None => (0..keys.len()).collect(),
                    }
                };
                let retry = r.retry_safe.then(|| {
                    let (retries, lo, hi) = match &r.retry {
                        Some(rt) => (
                            rt.attempts.saturating_sub(1),
                            rt.backoff_min_ms,
                            rt.backoff_max_ms,
                        ),
                        None => (1, 25.0, 250.0),
                    };
                    RetryPlan {
                        retries,
                        backoff_min_ms: lo,
                        backoff_max_ms: hi,
                        per_try_ms: r.budget.timeout_ms / f64::from(retries + 1),
                    }
                });
                routes.push(RoutePlan {
                    id: format!("r{i}"),
                    service: svc.name.clone(),
                    name: r.name.clone(),
                    upstream: u,
                    method: r.method,
                    path: r.path.clone(),
                    regex: path_regex(&r.path),
                    has_params: r.path.contains('{'),
                    timeout_ms: r.budget.timeout_ms,
                    retry: retry.filter(|p| p.retries > 0),
                    keys: route_keys,
                    cache_ttl_ms: r.cache_ttl_ms.filter(|_| !tenant_unreadable),
                    authenticated: !matches!(r.auth, AuthRule::Public),
                });
            }
        }
        let jwt = ir
            .auth
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .map(|j| JwtPlan {
                issuer: j.issuer.clone(),
                audience: j.audience.clone(),
                jwks_uri: j.jwks_uri.clone().unwrap_or_else(|| {
                    format!("{}/.well-known/jwks.json", j.issuer.trim_end_matches('/'))
                }),
                max_bytes: j.max_size_bytes,
            });
        let sticky = ir
            .auth
            .as_ref()
            .and_then(|a| a.session.as_ref())
            .and_then(|s| s.fallback.as_deref())
            == Some("sticky");
        if !diags.is_empty() {
            return Err(diags);
        }
        let mut keys = keys;
        keys.extend(own);
        Ok(Plan {
            app: ir.app.name.clone(),
            upstreams,
            routes,
            keys,
            tenant_header,
            tenant_unreadable,
            jwt,
            sticky,
        })
    }

    /// The JWT claims the limits are keyed on, each once: (claim, header).
    pub fn claims(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for k in &self.keys {
            if let LimitSource::Claim(c) = &k.source {
                if !out.iter().any(|(x, _)| x == c) {
                    out.push((c.clone(), k.header().unwrap_or_default()));
                }
            }
        }
        out
    }

    /// The routes whose edge cache is on.
    pub fn cached(&self) -> impl Iterator<Item = &RoutePlan> {
        self.routes.iter().filter(|r| r.cache_ttl_ms.is_some())
    }
}

/// A token bucket as Envoy fills it: `tokens` every `interval_ms`, the
/// smallest whole number of tokens whose interval is at least 50 ms (Envoy's
/// floor), so the rate is exact.
pub fn fill(rate_rps: f64) -> (u64, f64) {
    let rate = if rate_rps.is_finite() && rate_rps > 0.0 {
        rate_rps
    } else {
        1.0
    };
    let tokens = (rate * 0.05).ceil().max(1.0);
    (tokens as u64, tokens * 1000.0 / rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_regex_is_literal_but_for_params() {
        assert_eq!(path_regex("/v1/search"), "/v1/search");
        assert_eq!(path_regex("/v1/reports/{id}"), "/v1/reports/[^/]+");
        assert_eq!(path_regex("/a$b\"é.~_-"), "/a\\x24b\\x22é\\x2E~_-");
        assert!(!path_regex("/$x/{y}").contains('$'));
    }

    #[test]
    fn durations() {
        assert_eq!(pb_duration(720.0), "0.72s");
        assert_eq!(pb_duration(3600.0), "3.6s");
        assert_eq!(pb_duration(1000.0), "1s");
        assert_eq!(pb_duration(0.5), "0.0005s");
        assert_eq!(ms_ceil(1079.2), 1080);
    }

    #[test]
    fn fills_are_exact_and_not_faster_than_50ms() {
        for rate in [0.5, 1.0, 3.0, 20.0, 100.0, 333.0, 5000.0] {
            let (t, ms) = fill(rate);
            assert!(ms >= 50.0 - 1e-9, "{rate}: {ms}");
            assert!((t as f64 * 1000.0 / ms - rate).abs() < 1e-9);
        }
    }

    #[test]
    fn claim_headers_are_header_names() {
        assert_eq!(claim_header("sub"), "x-scale-claim-sub");
        let h = claim_header("https://example.com/tenant");
        assert!(nginx_readable_header(&h), "{h}");
        assert_ne!(h, claim_header("https://example.com/tenanT"));
    }
}
