//! `proxy/haproxy.cfg`: a typed printer. Spec strings enter only through
//! [`haproxy_string`] (route regexes, in single quotes where nothing is
//! interpreted); header names are checked to be `[a-z0-9_-]` by the plan.
//!
//! The frontend names the route of a request (`txn.route`), refuses what no
//! route serves (404) and an over-cap `Authorization` header (400), applies
//! the token buckets and picks the service's backend; the backend holds
//! each route's hard timeout (`http-request set-timeout server`), retries,
//! budget header and cache, and the concurrency cap (`maxconn` on the
//! server, with `timeout queue` as the spill-to-queue).
//!
//! # Token buckets from stick tables
//!
//! A key's table stores `gpc0_rate(P)` (requests admitted at the key's rate
//! over the period `P`) and `gpc1` (requests admitted from the burst).
//! A request is admitted while either has room, and counts against the one
//! that admitted it; the burst is restored when the key has been idle for
//! the table's expiry (the time the bucket takes to refill). Only admitted
//! requests count (a client hammering past its limit is still served at
//! the rate, as a token bucket does). Under a flood from an idle key:
//! `rate × seconds + burst`, like Envoy's bucket and nginx's `limit_req`.

use super::{ms_ceil, KeyPlan, Plan, RoutePlan, BUDGET_HEADER, LISTEN, STICKY_COOKIE};
use crate::backends::common::escape::{haproxy_string, Unrepresentable};
use crate::backends::{diagnostic_at, Artifact, Meta};
use crate::diagnostics::{catalog, Diagnostic};
use crate::ir::{Entity, Ir, LimitSource};
use std::fmt::Write as _;

/// Sticky counters HAProxy 2.6 tracks per request.
const COUNTERS: usize = 3;

fn comment(s: &str) -> String {
    let mut c: String = s
        .chars()
        .filter(|c| !crate::ir::unsafe_char(*c))
        .take(100)
        .collect();
    if c.len() < s.len() {
        c.push('…');
    }
    c
}

/// `(period_s, limit)`: `limit` requests per `period_s` seconds is the
/// key's rate (whole requests over a whole number of seconds).
fn window(rps: f64) -> (u64, u64) {
    let rps = if rps.is_finite() && rps > 0.0 {
        rps
    } else {
        1.0
    };
    for p in 1..=60u64 {
        let n = rps * p as f64;
        if (n - n.round()).abs() < 1e-6 && n >= 1.0 {
            return (p, n.round() as u64);
        }
    }
    let p = (1.0 / rps).ceil().max(1.0) as u64;
    (p, (rps * p as f64).round().max(1.0) as u64)
}

/// `{ var(txn.route) -m str r0 r2 }`
fn routes_cond<'a>(routes: impl Iterator<Item = &'a RoutePlan>) -> Option<String> {
    let ids: Vec<&str> = routes.map(|r| r.id.as_str()).collect();
    (!ids.is_empty()).then(|| format!("{{ var(txn.route) -m str {} }}", ids.join(" ")))
}

/// ` { var(txn.route) -m str r3 }`: the routes of key `i`, for the lines of
/// a counter that other keys use on other routes (always for a route's own
/// rate); nothing for a counter of one key.
fn only(plan: &Plan, k: &KeyPlan, i: usize, shared: bool) -> String {
    let cond = match k.route {
        Some(r) => routes_cond(plan.routes.get(r).into_iter()),
        None if shared => routes_cond(plan.routes.iter().filter(|r| r.keys.contains(&i))),
        None => None,
    };
    cond.map(|c| format!(" {c}")).unwrap_or_default()
}

fn table(i: usize, k: &KeyPlan) -> String {
    let name: String = k
        .name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    format!("st_k{i}_{name}")
}

pub fn artifact(plan: &Plan, meta: &Meta, ir: &Ir) -> Result<Artifact, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let mut regexes = Vec::new();
    for r in &plan.routes {
        match haproxy_string(&format!("^{}$", r.regex)) {
            Ok(q) => regexes.push(q),
            Err(Unrepresentable { format, ch }) => {
                diags.push(diagnostic_at(
                    ir,
                    &Entity::Route {
                        service: r.service.clone(),
                        route: r.name.clone(),
                    },
                    catalog::proxy_unrepresentable(format, ch, "the route's path"),
                    "this route",
                ));
                regexes.push(String::new());
            }
        }
    }
    // The keys HAProxy can read (not a JWT claim), each on a counter; past
    // the third, none is left (the checker warns, S1202).
    let mut tracked: Vec<usize> = plan
        .keys
        .iter()
        .enumerate()
        .filter(|(_, k)| k.route.is_none() && !matches!(k.source, LimitSource::Claim(_)))
        .map(|(i, _)| i)
        .collect();
    let mut untracked = tracked.split_off(tracked.len().min(COUNTERS));
    // (counter, key): the app-wide keys on the first counters, as many as
    // fit; a route's own rate on the first counter its route leaves free
    // (not used by the app-wide keys it tracks, nor by its other own
    // rates). A counter that holds keys of different routes has each of
    // its lines conditioned on the routes of the key.
    let mut slots: Vec<(usize, usize)> = tracked.iter().copied().enumerate().collect();
    for (i, k) in plan.keys.iter().enumerate() {
        let Some(r) = k.route else { continue };
        if matches!(k.source, LimitSource::Claim(_)) {
            continue;
        }
        let route_keys = plan.routes.get(r).map(|x| x.keys.as_slice()).unwrap_or(&[]);
        let free =
            (0..COUNTERS).find(|c| !slots.iter().any(|(s, j)| s == c && route_keys.contains(j)));
        match free {
            Some(slot) => {
                slots.push((slot, i));
                tracked.push(i);
            }
            None => untracked.push(i),
        }
    }
    let shared_slot = |slot: usize| slots.iter().filter(|(s, _)| *s == slot).count() > 1;
    if !diags.is_empty() {
        return Err(diags);
    }

    let mut o = meta.header("#");
    o.push_str(
        "# HAProxy edge for the app. Run: haproxy -f haproxy.cfg (-db in the foreground).\n\
         # Addresses to change per deployment are on lines marked `# scale:listen` and `# scale:upstream <service>`.\n\n",
    );
    o.push_str("global\n    maxconn 4096\n\n");
    for k in plan
        .keys
        .iter()
        .filter(|k| matches!(k.source, LimitSource::Claim(_)))
    {
        let _ = writeln!(
            o,
            "# per {}: keyed on a verified JWT claim; enforced by Envoy only (HAProxy does not verify the token).",
            comment(&k.name)
        );
    }
    for &i in &untracked {
        let _ = writeln!(
            o,
            "# per {}: not enforced here (HAProxy tracks {COUNTERS} keys per request; see S1202).",
            comment(&plan.keys[i].name)
        );
    }
    let max_timeout = plan
        .routes
        .iter()
        .map(|r| ms_ceil(r.timeout_ms))
        .max()
        .unwrap_or(30_000);
    let _ = writeln!(
        o,
        "defaults\n    mode http\n    option http-keep-alive\n    option forwardfor\n    timeout connect 5s\n    timeout client 30s\n    timeout http-request 10s\n    timeout server {max_timeout}ms\n    timeout queue 1ms\n"
    );

    // Caches: one per TTL.
    let mut ttls: Vec<u64> = plan
        .cached()
        .filter_map(|r| r.cache_ttl_ms.map(|t| ms_ceil(t).div_ceil(1000).max(1)))
        .collect();
    ttls.sort();
    ttls.dedup();
    for t in &ttls {
        let _ = writeln!(
            o,
            "cache scale_ttl_{t}s\n    total-max-size 64\n    max-age {t}\n"
        );
    }

    // Stick tables, one per key.
    for &i in &tracked {
        let k = &plan.keys[i];
        let (p, _) = window(k.rate_rps);
        let refill = (f64::from(k.burst) / k.rate_rps.max(1e-9)).ceil() as u64;
        let expire = refill.max(p).max(1);
        let ty = match k.source {
            LimitSource::ClientIp => "ipv6",
            _ => "string len 256",
        };
        let _ = writeln!(
            o,
            "# per {}: {} r/s, burst {}\nbackend {}\n    stick-table type {ty} size 100k expire {expire}s store gpc0,gpc0_rate({p}s),gpc1\n",
            comment(&k.name),
            k.rate_rps,
            k.burst,
            table(i, k)
        );
    }

    o.push_str("frontend edge\n");
    let _ = writeln!(o, "    bind {}:{} # scale:listen", LISTEN.0, LISTEN.1);
    if let Some(j) = &plan.jwt {
        let _ = writeln!(
            o,
            "    # The JWT cap ({} bytes) on `Authorization: Bearer …`; the token itself is verified by Envoy or the app.",
            j.max_bytes
        );
        let _ = writeln!(
            o,
            "    http-request deny deny_status 400 if {{ req.fhdr(authorization),length gt {} }}",
            j.max_bytes + "Bearer ".len() as u64
        );
    }
    o.push_str("    acl routed var(txn.route) -m found\n");
    for (r, re) in plan.routes.iter().zip(&regexes) {
        let _ = writeln!(
            o,
            "    # {}.{}: {} {}\n    http-request set-var(txn.route) str({}) if !routed {{ method {} }} {{ path -m reg {re} }}",
            comment(&r.service),
            comment(&r.name),
            r.method.as_str(),
            comment(&r.path),
            r.id,
            r.method.as_str()
        );
    }
    o.push_str("    http-request deny deny_status 404 if !routed\n");

    for &(slot, i) in &slots {
        let k = &plan.keys[i];
        let Some(cond) = routes_cond(plan.routes.iter().filter(|r| r.keys.contains(&i))) else {
            continue;
        };
        let (_, limit) = window(k.rate_rps);
        let fetch = match &k.source {
            LimitSource::ClientIp => "src".to_string(),
            _ => format!("req.hdr({})", k.header().unwrap_or_default()),
        };
        let present = match &k.source {
            LimitSource::ClientIp => String::new(),
            _ => format!(" {{ {fetch} -m len gt 0 }}"),
        };
        let _ = writeln!(
            o,
            "    # per {}\n    http-request track-sc{slot} {fetch} table {} if{present} {cond}\n    http-request deny deny_status 429 if {{ sc_tracked({slot}) }} {{ sc_gpc0_rate({slot}) ge {limit} }} {{ sc_get_gpc1({slot}) ge {} }}{}",
            comment(&k.name),
            table(i, k),
            k.burst,
            only(plan, k, i, shared_slot(slot)),
        );
    }
    // Admitted: count against the rate while it has room, else the burst.
    for &(slot, i) in &slots {
        let k = &plan.keys[i];
        let (_, limit) = window(k.rate_rps);
        let own = only(plan, k, i, shared_slot(slot));
        let _ = writeln!(
            o,
            "    http-request sc-inc-gpc0({slot}) if {{ sc_tracked({slot}) }} {{ sc_gpc0_rate({slot}) lt {limit} }}{own}\n    http-request sc-inc-gpc1({slot}) if {{ sc_tracked({slot}) }} {{ sc_gpc0_rate({slot}) ge {limit} }}{own}"
        );
    }
    let by_upstream = plan.routes_by_upstream();
    for (u, routes) in plan.upstreams.iter().zip(&by_upstream) {
        if let Some(cond) = routes_cond(routes.iter().copied()) {
            let _ = writeln!(o, "    use_backend {} if {cond}", u.id);
        }
    }
    o.push('\n');

    for (u, routes) in plan.upstreams.iter().zip(&by_upstream) {
        let _ = writeln!(o, "backend {}", u.id);
        if let Some(h) = &u.hash_header {
            let _ = writeln!(o, "    balance hdr({h})\n    hash-type consistent");
        } else {
            o.push_str("    balance leastconn\n");
        }
        if plan.sticky {
            let _ = writeln!(
                o,
                "    cookie {STICKY_COOKIE} insert indirect nocache httponly"
            );
        }
        let retries = routes
            .iter()
            .filter_map(|r| r.retry.as_ref().map(|rt| rt.retries))
            .max()
            .unwrap_or(0);
        let _ = writeln!(o, "    retries {retries}");
        if retries > 0 {
            o.push_str("    retry-on conn-failure empty-response junk-response 502 503\n");
        }
        if let Some(cond) = routes_cond(routes.iter().copied().filter(|r| r.retry.is_none())) {
            let _ = writeln!(o, "    http-request disable-l7-retry if {cond}");
        }
        let max = routes
            .iter()
            .map(|r| ms_ceil(r.timeout_ms))
            .max()
            .unwrap_or(30_000);
        let _ = writeln!(o, "    timeout server {max}ms");
        let queue = u.queue_timeout_ms.map(ms_ceil).unwrap_or(1).max(1);
        let _ = writeln!(o, "    timeout queue {queue}ms");
        for r in routes {
            let t = ms_ceil(r.timeout_ms);
            let _ = writeln!(
                o,
                "    http-request set-timeout server {t}ms if {{ var(txn.route) -m str {id} }}\n    http-request set-header {BUDGET_HEADER} {t} if {{ var(txn.route) -m str {id} }}",
                id = r.id
            );
        }
        for r in routes.iter().filter(|r| r.cache_ttl_ms.is_some()) {
            let t = r
                .cache_ttl_ms
                .map(|t| ms_ceil(t).div_ceil(1000).max(1))
                .unwrap_or(1);
            let when = format!("{{ var(txn.route) -m str {} }}", r.id);
            match &plan.tenant_header {
                // The cache key is the Host header and the path: for the
                // lookup Host is `<length>:<tenant>|<host>` (one key per
                // tenant, no two pairs alike), then Host is restored.
                Some(h) => {
                    let _ = writeln!(
                        o,
                        "    http-request set-var(txn.scale_host) req.hdr(host) if {when}\n    http-request set-header host %[req.fhdr({h}),length]:%[req.fhdr({h})]|%[var(txn.scale_host)] if {when}\n    http-request cache-use scale_ttl_{t}s if {when}\n    http-request set-header host %[var(txn.scale_host)] if {when}"
                    );
                }
                None => {
                    let _ = writeln!(o, "    http-request cache-use scale_ttl_{t}s if {when}");
                }
            }
            // HAProxy stores only responses that say how long they stay
            // fresh: the route's TTL when the backend says nothing.
            let _ = writeln!(
                o,
                "    http-response set-header cache-control max-age={t} if {when} !{{ res.hdr(cache-control) -m found }}\n    http-response cache-store scale_ttl_{t}s if {when}"
            );
        }
        let maxconn = u
            .max_conns
            .map(|n| format!(" maxconn {n}"))
            .unwrap_or_default();
        let cookie = if plan.sticky { " cookie s0" } else { "" };
        let _ = writeln!(
            o,
            "    server s0 127.0.0.1:{}{maxconn}{cookie} # scale:upstream {}\n",
            u.port,
            comment(&u.service)
        );
    }
    Ok(Artifact {
        path: "proxy/haproxy.cfg".into(),
        contents: o,
    })
}

#[cfg(test)]
mod tests {
    use super::window;

    #[test]
    fn windows_are_whole() {
        assert_eq!(window(100.0), (1, 100));
        assert_eq!(window(0.5), (2, 1));
        assert_eq!(window(2.5), (2, 5));
        assert_eq!(window(1.0 / 60.0), (60, 1));
    }
}
