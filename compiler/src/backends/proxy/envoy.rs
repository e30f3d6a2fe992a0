//! `proxy/envoy.yaml`: an Envoy v3 bootstrap, built as serde values and
//! serialised by [`yaml_artifact`] (spec strings are YAML scalars, never
//! spliced into text); the routes and clusters are made one at a time as
//! they are written ([`Node`]).
//!
//! One listener, one virtual host; per route a match on `:method` and a
//! full-match RE2 regex of the path, the hard timeout, a retry policy only
//! on retry-safe routes, the remaining budget in `x-scale-budget-ms`, and
//! per-filter settings (JWT required or not, edge cache on or not). The
//! token buckets live in the listener's `local_ratelimit` filter, so one
//! key's bucket is shared by every route it limits; a route's metadata
//! (`scale.<key>`) says which keys count it (a header absent: not counted).
//! Per upstream a cluster with circuit breakers (the concurrency cap) and
//! outlier detection; ring hash on the shard header and the sticky cookie.

use super::{
    fill, header_cap_kib, ms_ceil, pb_duration, KeyPlan, Plan, RoutePlan, Upstream, BUDGET_HEADER,
    ENVOY_ADMIN, LISTEN, STICKY_COOKIE,
};
use crate::backends::common::yaml::yaml_artifact;
use crate::backends::{Artifact, Meta};
use crate::ir::LimitSource;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{json, Value};

const HCM: &str =
    "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
const LOCAL_RL: &str =
    "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit";
const JWT: &str =
    "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication";
const JWT_ROUTE: &str =
    "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.PerRouteConfig";
const CACHE: &str = "type.googleapis.com/envoy.extensions.filters.http.cache.v3.CacheConfig";
const SIMPLE_CACHE: &str =
    "type.googleapis.com/envoy.extensions.http.cache.simple_http_cache.v3.SimpleHttpCacheConfig";
const FILTER_CONFIG: &str = "type.googleapis.com/envoy.config.route.v3.FilterConfig";
const MUTATION: &str =
    "type.googleapis.com/envoy.extensions.filters.http.header_mutation.v3.HeaderMutation";
const HTTP_OPTIONS: &str = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
const HTTP_OPTIONS_TYPE: &str =
    "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
const UPSTREAM_CODEC: &str =
    "type.googleapis.com/envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec";
const ADMISSION: &str =
    "type.googleapis.com/envoy.extensions.filters.http.admission_control.v3.AdmissionControl";
const ROUTER: &str = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router";
const TLS: &str =
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext";

const RL_FILTER: &str = "envoy.filters.http.local_ratelimit";
const JWT_FILTER: &str = "envoy.filters.http.jwt_authn";
const CACHE_FILTER: &str = "envoy.filters.http.cache";
const LUA_FILTER: &str = "envoy.filters.http.lua";
const LUA: &str = "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua";
const LUA_ROUTE: &str = "type.googleapis.com/envoy.extensions.filters.http.lua.v3.LuaPerRoute";
const MUTATION_FILTER: &str = "envoy.filters.http.header_mutation";
const JWKS_CLUSTER: &str = "scale_jwks";

/// Dynamic buckets (distinct key values) one descriptor keeps, per key.
const MAX_DYNAMIC: u32 = 100_000;

fn hundred() -> Value {
    json!({"default_value": {"numerator": 100, "denominator": "HUNDRED"}})
}

fn socket(address: &str, port: u16) -> Value {
    json!({"socket_address": {"address": address, "port_value": port}})
}

/// The descriptor entry key of a limit key: `remote_address` (Envoy's
/// own, for the client address), else `scale_<key>`.
fn descriptor_key(k: &KeyPlan) -> String {
    match k.source {
        LimitSource::ClientIp => "remote_address".into(),
        _ => format!("scale_{}", k.name),
    }
}

fn bucket(rate_rps: f64, burst: u32) -> Value {
    let (tokens, interval_ms) = fill(rate_rps);
    json!({
        "max_tokens": burst.max(tokens as u32),
        "tokens_per_fill": tokens,
        "fill_interval": pb_duration(interval_ms),
    })
}

/// The listener-level token buckets: one descriptor per key, dynamic (one
/// bucket per distinct value). A request that matches no descriptor takes
/// from the default bucket, which is never empty: a key that is absent is
/// not counted.
fn rate_limit_filter(plan: &Plan) -> Value {
    let descriptors: Vec<Value> = plan
        .keys
        .iter()
        .map(|k| {
            json!({
                "entries": [
                    {"key": "scale_route", "value": k.name},
                    {"key": descriptor_key(k)},
                ],
                "token_bucket": bucket(k.rate_rps, k.burst),
            })
        })
        .collect();
    json!({
        "name": RL_FILTER,
        "typed_config": {
            "@type": LOCAL_RL,
            "stat_prefix": "scale_limits",
            "token_bucket": {
                "max_tokens": u32::MAX,
                "tokens_per_fill": u32::MAX,
                "fill_interval": "1s",
            },
            "filter_enabled": hundred(),
            "filter_enforced": hundred(),
            "always_consume_default_token_bucket": false,
            "max_dynamic_descriptors": MAX_DYNAMIC,
            "descriptors": descriptors,
            "rate_limits": plan.keys.iter().map(key_rate_limit).collect::<Vec<_>>(),
        },
    })
}

/// The descriptor of one key: the route says the key applies (its
/// metadata `scale.<key>`; a route without it is not counted), then the
/// key's value (an absent header: not counted).
fn key_rate_limit(k: &KeyPlan) -> Value {
    let applies = json!({"metadata": {
        "descriptor_key": "scale_route",
        "metadata_key": {"key": "scale", "path": [{"key": k.name}]},
        "source": "ROUTE_ENTRY",
        "skip_if_absent": true,
    }});
    let value = match &k.source {
        LimitSource::ClientIp => json!({"remote_address": {}}),
        _ => json!({"request_headers": {
            "header_name": k.header().unwrap_or_default(),
            "descriptor_key": descriptor_key(k),
            "skip_if_absent": true,
        }}),
    };
    json!({"actions": [applies, value]})
}

/// One route of the bootstrap; `any_cached`: whether any route of the
/// plan is cached (asked once, not per route: that scan made the
/// bootstrap quadratic in routes).
fn route(plan: &Plan, r: &RoutePlan, any_cached: bool) -> Value {
    let up = &plan.upstreams[r.upstream];
    let cluster_name = match r.cache_ttl_ms {
        Some(ttl) => cache_cluster_name(&up.id, ttl_secs(ttl)),
        None => up.id.clone(),
    };
    let mut action = json!({
        "cluster": cluster_name,
        "timeout": pb_duration(r.timeout_ms),
    });
    if let Some(rt) = &r.retry {
        action["retry_policy"] = json!({
            "retry_on": "5xx,reset,connect-failure,refused-stream",
            "num_retries": rt.retries,
            "per_try_timeout": pb_duration(rt.per_try_ms),
            "retry_back_off": {
                "base_interval": pb_duration(rt.backoff_min_ms),
                "max_interval": pb_duration(rt.backoff_max_ms.max(rt.backoff_min_ms)),
            },
        });
    }
    let mut hash = Vec::new();
    if let Some(h) = &up.hash_header {
        hash.push(json!({"header": {"header_name": h}}));
    }
    if plan.sticky {
        hash.push(json!({"cookie": {"name": STICKY_COOKIE, "ttl": "0s", "path": "/"}}));
    }
    if !hash.is_empty() {
        action["hash_policy"] = Value::Array(hash);
    }
    let mut per_filter = serde_json::Map::new();
    if plan.jwt.is_some() {
        per_filter.insert(
            JWT_FILTER.into(),
            if r.authenticated {
                json!({"@type": JWT_ROUTE, "requirement_name": "jwt"})
            } else {
                json!({"@type": JWT_ROUTE, "disabled": true})
            },
        );
    }
    let mut v = json!({
        "name": format!("{}.{}", r.service, r.name),
        "match": if r.has_params {
            json!({
                "safe_regex": {"regex": r.regex},
                "headers": [{"name": ":method", "string_match": {"exact": r.method.as_str()}}],
            })
        } else {
            json!({
                "path": r.path,
                "headers": [{"name": ":method", "string_match": {"exact": r.method.as_str()}}],
            })
        },
        "route": action,
        "request_headers_to_add": [{
            "header": {"key": BUDGET_HEADER, "value": ms_ceil(r.timeout_ms).to_string()},
            "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
        }],
    });
    if r.cache_ttl_ms.is_none() && any_cached {
        // The cache filter takes no per-route settings: it is on for the
        // listener and off on every route without `cache`.
        per_filter.insert(
            CACHE_FILTER.into(),
            json!({"@type": FILTER_CONFIG, "disabled": true}),
        );
        if plan.tenant_header.is_some() {
            per_filter.insert(
                LUA_FILTER.into(),
                json!({"@type": LUA_ROUTE, "disabled": true}),
            );
        }
    }
    if !r.keys.is_empty() {
        // Which keys' buckets count this route (see `key_rate_limit`).
        let keys: serde_json::Map<String, Value> = r
            .keys
            .iter()
            .map(|&k| (plan.keys[k].name.clone(), json!(plan.keys[k].name)))
            .collect();
        v["metadata"] = json!({"filter_metadata": {"scale": keys}});
    }
    if !per_filter.is_empty() {
        v["typed_per_filter_config"] = Value::Object(per_filter);
    }
    v
}

fn cache_config() -> Value {
    json!({"@type": CACHE, "typed_config": {"@type": SIMPLE_CACHE}})
}

/// The cache filter keys on the authority and the path. Before it, on
/// cached routes, the tenant is put into the authority as
/// `<length>:<tenant>|<host>` (one key per tenant, and no two (tenant,
/// host) pairs share one); the host is kept in `x-scale-cache-host` for the
/// upstream side to put back. (`Vary` would be the standard way; Envoy
/// 1.40's cache filter crashes on a stored response with `Vary`.)
const LUA_CACHE_KEY: &str = r#"function envoy_on_request(h)
  local host = h:headers():get(":authority") or ""
  local tenant = h:headers():get(TENANT) or ""
  h:headers():replace("x-scale-cache-host", host)
  h:headers():replace(":authority", string.format("%d:%s|%s", #tenant, tenant, host))
end
"#;

/// On the cached routes' cluster: the original Host back, the helper
/// header gone.
const LUA_RESTORE_HOST: &str = r#"function envoy_on_request(h)
  local host = h:headers():get("x-scale-cache-host")
  if host then
    h:headers():replace(":authority", host)
    h:headers():remove("x-scale-cache-host")
  end
end
"#;

/// Lua source with the tenant header name as a Lua string literal (the
/// name is `[a-z0-9_-]`, checked by the plan; quoted all the same).
fn lua_cache_key(tenant: &str) -> String {
    let lit: String = tenant
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    LUA_CACHE_KEY.replace("TENANT", &format!("\"{lit}\""))
}

fn ttl_secs(ttl_ms: f64) -> u64 {
    ms_ceil(ttl_ms).div_ceil(1000).max(1)
}

/// The cluster cached routes of an upstream use: the same endpoints, with
/// upstream filters that put back the Host the cache key replaced (see
/// [`LUA_CACHE_KEY`]) and give responses the route's TTL when the backend
/// says nothing. (Envoy's cache filter fetches from the cluster itself, so
/// this is where what it stores is decided.)
fn cache_cluster_name(upstream: &str, ttl_s: u64) -> String {
    format!("{upstream}_ttl{ttl_s}s")
}

fn cache_cluster(plan: &Plan, u: &Upstream, ttl_s: u64) -> Value {
    let mut c = cluster(plan, u);
    let name = cache_cluster_name(&u.id, ttl_s);
    c["name"] = json!(name);
    c["load_assignment"]["cluster_name"] = json!(name);
    // Freshness needs a `Date`; an origin without a clock gets the edge's.
    let mutations = vec![
        json!({"append": {
            "header": {"key": "cache-control", "value": format!("max-age={ttl_s}")},
            "append_action": "ADD_IF_ABSENT",
        }}),
        json!({"append": {
            "header": {"key": "date", "value": "%START_TIME(%a, %d %b %Y %H:%M:%S GMT)%"},
            "append_action": "ADD_IF_ABSENT",
        }}),
    ];
    c["typed_extension_protocol_options"] = json!({
        HTTP_OPTIONS: {
            "@type": HTTP_OPTIONS_TYPE,
            "explicit_http_config": {"http_protocol_options": {}},
            "http_filters": [
                {"name": LUA_FILTER, "typed_config": {
                    "@type": LUA,
                    "default_source_code": {"inline_string": LUA_RESTORE_HOST},
                }},
                {"name": MUTATION_FILTER, "typed_config": {
                    "@type": MUTATION,
                    "mutations": {"response_mutations": mutations},
                }},
                {"name": "envoy.filters.http.upstream_codec", "typed_config": {"@type": UPSTREAM_CODEC}},
            ],
        },
    });
    c
}

fn cluster(plan: &Plan, u: &Upstream) -> Value {
    let ring = u.hash_header.is_some() || plan.sticky;
    let mut c = json!({
        "name": u.id,
        "type": "STRICT_DNS",
        "connect_timeout": "1s",
        "lb_policy": if ring { "RING_HASH" } else { "LEAST_REQUEST" },
        "load_assignment": {
            "cluster_name": u.id,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": socket("127.0.0.1", u.port)}}]}],
        },
        "outlier_detection": {
            "consecutive_5xx": 5,
            "interval": "10s",
            "base_ejection_time": "30s",
            "max_ejection_percent": 50,
        },
    });
    if let Some(n) = u.max_conns {
        // Beyond the cap: queue (`overflow = queue`, bounded by the route's
        // timeout) or refuse at once with 503.
        // (Pending also covers waiting for a new connection, so it is
        // never below the cap.)
        let pending = n;
        c["circuit_breakers"] = json!({"thresholds": [{
            "priority": "DEFAULT",
            "max_connections": n,
            "max_requests": n,
            "max_pending_requests": pending,
            "max_retries": n.div_ceil(5).max(1),
        }]});
    }
    c
}

/// `https://host:port/path` → (host, port, tls).
fn uri_host(uri: &str) -> (String, u16, bool) {
    let (tls, rest) = match uri.split_once("://") {
        Some((scheme, rest)) => (scheme.eq_ignore_ascii_case("https"), rest),
        None => (true, uri),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let default = if tls { 443 } else { 80 };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        match v6.split_once(']') {
            Some((h, p)) => (h, p.strip_prefix(':').and_then(|p| p.parse().ok())),
            None => (v6, None),
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().ok()),
            None => (hostport, None),
        }
    };
    let host = if host.is_empty() { "localhost" } else { host };
    (host.to_string(), port.unwrap_or(default), tls)
}

fn jwks_cluster(uri: &str) -> Value {
    let (host, port, tls) = uri_host(uri);
    let mut c = json!({
        "name": JWKS_CLUSTER,
        "type": "STRICT_DNS",
        "connect_timeout": "5s",
        "load_assignment": {
            "cluster_name": JWKS_CLUSTER,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": socket(&host, port)}}]}],
        },
    });
    if tls {
        c["transport_socket"] = json!({
            "name": "envoy.transport_sockets.tls",
            "typed_config": {"@type": TLS, "sni": host},
        });
    }
    c
}

/// The bootstrap as a serde value.
/// The bootstrap's skeleton: everything but the two lists that grow with
/// the app, which hold placeholders ([`ROUTES`], [`CLUSTERS`]) that
/// [`Node`] replaces item by item as the document is written.
fn skeleton(plan: &Plan) -> Value {
    let mut filters = Vec::new();
    if let Some(j) = &plan.jwt {
        let claims: Vec<Value> = plan
            .claims()
            .into_iter()
            .map(|(c, h)| json!({"header_name": h, "claim_name": c}))
            .collect();
        let mut provider = json!({
            "issuer": j.issuer,
            "audiences": [j.audience],
            "remote_jwks": {
                "http_uri": {"uri": j.jwks_uri, "cluster": JWKS_CLUSTER, "timeout": "5s"},
                "cache_duration": "300s",
            },
            "forward": true,
        });
        if !claims.is_empty() {
            provider["claim_to_headers"] = Value::Array(claims);
        }
        filters.push(json!({
            "name": JWT_FILTER,
            "typed_config": {
                "@type": JWT,
                "providers": {"scale": provider},
                "requirement_map": {"jwt": {"provider_name": "scale"}},
            },
        }));
    }
    if !plan.keys.is_empty() {
        filters.push(rate_limit_filter(plan));
    }
    // Shedding: when the upstream's success rate falls, refuse a share of
    // new requests at once rather than queue them into timeouts.
    filters.push(json!({
        "name": "envoy.filters.http.admission_control",
        "typed_config": {
            "@type": ADMISSION,
            "enabled": {"default_value": true, "runtime_key": "scale.admission_control.enabled"},
            "sampling_window": "30s",
            "sr_threshold": {"default_value": {"value": 95.0}, "runtime_key": "scale.admission_control.sr_threshold"},
            "rps_threshold": {"default_value": 20, "runtime_key": "scale.admission_control.rps_threshold"},
            "max_rejection_probability": {"default_value": {"value": 80.0}, "runtime_key": "scale.admission_control.max_rejection"},
            "success_criteria": {"http_criteria": {"http_success_status": [{"start": 100, "end": 500}]}},
        },
    }));
    if plan.cached().next().is_some() {
        if let Some(t) = &plan.tenant_header {
            filters.push(json!({"name": LUA_FILTER, "typed_config": {
                "@type": LUA,
                "default_source_code": {"inline_string": lua_cache_key(t)},
            }}));
        }
        filters.push(json!({"name": CACHE_FILTER, "typed_config": cache_config()}));
    }
    filters.push(json!({"name": "envoy.filters.http.router", "typed_config": {"@type": ROUTER}}));

    // Every route (then the fallback below) in place of this.
    let mut routes: Vec<Value> = vec![json!(ROUTES)];
    // What no route serves: 404 here, with no filter of a route on it.
    let mut none = serde_json::Map::new();
    if plan.jwt.is_some() {
        none.insert(
            JWT_FILTER.into(),
            json!({"@type": JWT_ROUTE, "disabled": true}),
        );
    }
    if plan.cached().next().is_some() {
        none.insert(
            CACHE_FILTER.into(),
            json!({"@type": FILTER_CONFIG, "disabled": true}),
        );
        if plan.tenant_header.is_some() {
            none.insert(
                LUA_FILTER.into(),
                json!({"@type": LUA_ROUTE, "disabled": true}),
            );
        }
    }
    let mut fallback = json!({
        "name": "scale.no_route",
        "match": {"prefix": "/"},
        "direct_response": {"status": 404},
    });
    if !none.is_empty() {
        fallback["typed_per_filter_config"] = Value::Object(none);
    }
    routes.push(fallback);
    let mut hcm = json!({
        "@type": HCM,
        "stat_prefix": "edge",
        "use_remote_address": true,
        "route_config": {
            "name": "edge",
            "virtual_hosts": [{"name": plan.app, "domains": ["*"], "routes": routes}],
        },
        "http_filters": filters,
    });
    if let Some(j) = &plan.jwt {
        // The JWT cap (as a header line), plus room for the rest of the head.
        hcm["max_request_headers_kb"] = json!(header_cap_kib(j.max_bytes) + 4);
    }
    // Every upstream's cluster in place of this, then the others.
    let mut clusters: Vec<Value> = vec![json!(CLUSTERS)];
    let mut cached: Vec<(usize, u64)> = plan
        .cached()
        .filter_map(|r| r.cache_ttl_ms.map(|t| (r.upstream, ttl_secs(t))))
        .collect();
    cached.sort();
    cached.dedup();
    for (u, t) in cached {
        clusters.push(cache_cluster(plan, &plan.upstreams[u], t));
    }
    if let Some(j) = &plan.jwt {
        clusters.push(jwks_cluster(&j.jwks_uri));
    }
    json!({
        "admin": {"address": socket(ENVOY_ADMIN.0, ENVOY_ADMIN.1)},
        // A route regex is as long as its path (up to 1000 characters):
        // above RE2's default program-size limit of 100.
        "layered_runtime": {"layers": [{"name": "scale", "static_layer": {
            "re2.max_program_size.error_level": 20000,
            "re2.max_program_size.warn_level": 20000,
        }}]},
        "static_resources": {
            "listeners": [{
                "name": "edge",
                "address": socket(LISTEN.0, LISTEN.1),
                "filter_chains": [{"filters": [{
                    "name": "envoy.filters.network.http_connection_manager",
                    "typed_config": hcm,
                }]}],
            }],
            "clusters": clusters,
        },
    })
}

/// Placeholders of [`skeleton`] (a NUL cannot come from a spec).
const ROUTES: &str = "\u{0}scale:routes";
const CLUSTERS: &str = "\u{0}scale:clusters";

/// A node of the skeleton, serialised with the placeholders replaced by
/// the routes and clusters, each built as a JSON value only when it is
/// written: at 10,000 services the whole bootstrap as values took about
/// 170 MB, one route or cluster at a time takes a few kB. The events are
/// the ones `Value` itself would produce (a map of its sorted entries, a
/// sequence), so the YAML is byte for byte the same.
struct Node<'a> {
    plan: &'a Plan,
    v: &'a Value,
}

impl Serialize for Node<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let plan = self.plan;
        let node = |v| Node { plan, v };
        match self.v {
            Value::Object(m) => {
                let mut map = s.serialize_map(Some(m.len()))?;
                for (k, v) in m {
                    map.serialize_entry(k, &node(v))?;
                }
                map.end()
            }
            Value::Array(items) => {
                let mut seq = s.serialize_seq(None)?;
                for v in items {
                    match v.as_str() {
                        Some(ROUTES) => {
                            let any_cached = plan.cached().next().is_some();
                            for r in &plan.routes {
                                seq.serialize_element(&route(plan, r, any_cached))?;
                            }
                        }
                        Some(CLUSTERS) => {
                            for u in &plan.upstreams {
                                seq.serialize_element(&cluster(plan, u))?;
                            }
                        }
                        _ => seq.serialize_element(&node(v))?,
                    }
                }
                seq.end()
            }
            v => v.serialize(s),
        }
    }
}

pub fn artifact(plan: &Plan, meta: &Meta) -> Artifact {
    let skeleton = skeleton(plan);
    yaml_artifact(
        "proxy/envoy.yaml".into(),
        meta,
        &Node { plan, v: &skeleton },
    )
}

#[cfg(test)]
mod tests {
    use super::uri_host;

    #[test]
    fn hosts() {
        assert_eq!(
            uri_host("https://id.acme.dev/.well-known/jwks.json"),
            ("id.acme.dev".into(), 443, true)
        );
        assert_eq!(
            uri_host("http://u:p@[::1]:8080/x"),
            ("::1".into(), 8080, false)
        );
        assert_eq!(uri_host("https://h:99"), ("h".into(), 99, true));
    }
}
