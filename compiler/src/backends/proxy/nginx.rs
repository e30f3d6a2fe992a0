//! `proxy/nginx.conf`: a typed printer. Spec strings enter only through
//! [`nginx_string`] (route regexes); header names are checked to be
//! `[a-z0-9_-]` by the plan and become variable names (`$http_x_api_key`).
//!
//! Routing: a `map` of `"$request_method:$uri"` against each route's
//! regex names the route; `location /` rewrites the request to an internal
//! location per route (`/__scale/r0/…`), which holds the route's timeouts,
//! limits, retries and cache, strips the prefix and proxies. A request no
//! route matches gets 404.
//!
//! Paths (pid, temp folders, the cache) are relative: nginx resolves them
//! against its prefix (`nginx -p DIR`).

use super::{header_cap_kib, ms_ceil, Plan, RoutePlan, BUDGET_HEADER, LISTEN, STICKY_COOKIE};
use crate::backends::common::escape::{nginx_string, Unrepresentable};
use crate::backends::{diagnostic_at, Artifact, Meta};
use crate::diagnostics::{catalog, Diagnostic};
use crate::ir::{Entity, Ir, LimitSource, Method};
use std::fmt::Write as _;

/// `$http_x_api_key` for `x-api-key`.
pub fn header_var(h: &str) -> String {
    format!("$http_{}", h.to_ascii_lowercase().replace('-', "_"))
}

/// A rate as nginx writes it: whole requests per second, else per minute.
fn rate(rps: f64) -> String {
    if rps >= 1.0 && (rps - rps.round()).abs() < 1e-9 {
        format!("{}r/s", rps.round() as u64)
    } else {
        format!("{}r/m", (rps * 60.0).round().max(1.0) as u64)
    }
}

fn zone(i: usize, key: &str) -> String {
    let k: String = key
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    format!("k{i}_{k}")
}

/// `/__scale/r0`: the internal prefix of a route.
fn internal(r: &RoutePlan) -> String {
    format!("/__scale/{}", r.id)
}

/// Text for a comment: names are identifiers, but keep any character that
/// could end a comment line out anyway, and at most 100 characters (nginx
/// reads no word over 4 KiB, comments included).
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

pub fn artifact(plan: &Plan, meta: &Meta, ir: &Ir) -> Result<Artifact, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let mut regexes = Vec::new();
    for r in &plan.routes {
        let re = format!("~^{}:{}\\z", r.method.as_str(), r.regex);
        match nginx_string(&re) {
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
    if !diags.is_empty() {
        return Err(diags);
    }
    let mut o = meta.header("#");
    o.push_str(
        "# nginx edge for the app. Run: nginx -p PREFIX -c nginx.conf (paths below are relative to PREFIX).\n\
         # Addresses to change per deployment are on lines marked `# scale:listen` and `# scale:upstream <service>`.\n\n",
    );
    o.push_str("worker_processes auto;\npid nginx.pid;\nerror_log error.log warn;\n\n");
    o.push_str("events {\n    worker_connections 4096;\n}\n\nhttp {\n");
    o.push_str("    access_log off;\n    server_tokens off;\n    underscores_in_headers on;\n");
    for t in ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"] {
        let _ = writeln!(o, "    {t}_temp_path {t}_temp;");
    }
    o.push_str("    client_header_buffer_size 1k;\n");
    if let Some(j) = &plan.jwt {
        let _ = writeln!(
            o,
            "    # One header line may hold the JWT cap ({} bytes) with `Authorization: Bearer `; a longer one is refused (400).",
            j.max_bytes
        );
        let _ = writeln!(
            o,
            "    large_client_header_buffers 4 {}k;",
            header_cap_kib(j.max_bytes)
        );
        o.push_str("    # The JWT itself is not verified here (nginx has no JWT module): Envoy verifies it, or the app.\n");
    }
    o.push('\n');

    // Limits: one zone per key; an empty key (header absent) is not counted.
    if !plan.keys.is_empty() {
        o.push_str("    limit_req_status 429;\n");
    }
    let mut zones: Vec<Option<String>> = Vec::new();
    for (i, k) in plan.keys.iter().enumerate() {
        let var = match &k.source {
            LimitSource::ClientIp => Some("$binary_remote_addr".to_string()),
            LimitSource::Header(h) => Some(header_var(h)),
            LimitSource::Claim(_) => None,
        };
        match var {
            Some(var) => {
                let z = zone(i, &k.name);
                let _ = writeln!(
                    o,
                    "    # per {}: {} r/s, burst {}",
                    comment(&k.name),
                    k.rate_rps,
                    k.burst
                );
                let _ = writeln!(
                    o,
                    "    limit_req_zone {var} zone={z}:10m rate={};",
                    rate(k.rate_rps)
                );
                zones.push(Some(z));
            }
            None => {
                let _ = writeln!(
                    o,
                    "    # per {}: keyed on a verified JWT claim; enforced by Envoy only (nginx cannot verify the token).",
                    comment(&k.name)
                );
                zones.push(None);
            }
        }
    }
    if plan.cached().next().is_some() {
        o.push_str("\n    proxy_cache_path cache levels=1:2 keys_zone=scale_cache:10m max_size=256m inactive=10m use_temp_path=off;\n");
    }
    if plan.sticky {
        let _ = writeln!(
            o,
            "\n    # Sticky sessions: hash on the `{STICKY_COOKIE}` cookie, set on the first response."
        );
        let _ = writeln!(
            o,
            "    map $cookie_{STICKY_COOKIE} $scale_sticky {{\n        \"\" $request_id;\n        default $cookie_{STICKY_COOKIE};\n    }}"
        );
        let _ = writeln!(
            o,
            "    map $cookie_{STICKY_COOKIE} $scale_sticky_set {{\n        \"\" \"{STICKY_COOKIE}=$request_id; Path=/; HttpOnly\";\n        default \"\";\n    }}"
        );
    }

    for u in &plan.upstreams {
        let _ = writeln!(o, "\n    upstream {} {{", u.id);
        if let Some(h) = &u.hash_header {
            let _ = writeln!(o, "        hash {} consistent;", header_var(h));
        } else if plan.sticky {
            o.push_str("        hash $scale_sticky consistent;\n");
        }
        let max = u
            .max_conns
            .map(|n| format!(" max_conns={n}"))
            .unwrap_or_default();
        let _ = writeln!(
            o,
            "        server 127.0.0.1:{}{max}; # scale:upstream {}",
            u.port,
            comment(&u.service)
        );
        o.push_str("        keepalive 32;\n    }\n");
    }

    o.push_str("\n    map \"$request_method:$uri\" $scale_route {\n        default \"\";\n");
    for (r, re) in plan.routes.iter().zip(&regexes) {
        let _ = writeln!(o, "        {re} {};", r.id);
    }
    o.push_str("    }\n\n    server {\n");
    let _ = writeln!(
        o,
        "        listen {}:{}; # scale:listen",
        LISTEN.0, LISTEN.1
    );
    o.push_str(
        "\n        location / {\n            if ($scale_route = \"\") {\n                return 404;\n            }\n            rewrite ^ /__scale/$scale_route$uri last;\n        }\n",
    );
    for r in &plan.routes {
        route(&mut o, plan, r, &zones);
    }
    o.push_str("    }\n}\n");
    Ok(Artifact {
        path: "proxy/nginx.conf".into(),
        contents: o,
    })
}

fn route(o: &mut String, plan: &Plan, r: &RoutePlan, zones: &[Option<String>]) {
    let up = &plan.upstreams[r.upstream];
    let _ = writeln!(
        o,
        "\n        # {}.{}: {} {}",
        comment(&r.service),
        comment(&r.name),
        r.method.as_str(),
        comment(&r.path)
    );
    let _ = writeln!(
        o,
        "        location ^~ {}/ {{\n            internal;",
        internal(r)
    );
    for &k in &r.keys {
        if let Some(z) = &zones[k] {
            // nginx admits the first request and then `burst` more at once:
            // burst − 1 here is the spec's bucket of `burst`.
            // A bucket of one is nginx's default (`burst=0` is refused).
            let b = plan.keys[k].burst.saturating_sub(1);
            if b == 0 {
                let _ = writeln!(o, "            limit_req zone={z} nodelay;");
            } else {
                let _ = writeln!(o, "            limit_req zone={z} burst={b} nodelay;");
            }
        }
    }
    let t = ms_ceil(r.timeout_ms);
    let _ = writeln!(
        o,
        "            proxy_connect_timeout {}ms;\n            proxy_send_timeout {t}ms;\n            proxy_read_timeout {t}ms;",
        t.min(5000)
    );
    match &r.retry {
        Some(rt) => {
            let non_idem = if matches!(r.method, Method::Post | Method::Patch) {
                " non_idempotent"
            } else {
                ""
            };
            let _ = writeln!(
                o,
                "            proxy_next_upstream error timeout http_502 http_503 http_504{non_idem};\n            proxy_next_upstream_tries {};\n            proxy_next_upstream_timeout {t}ms;",
                rt.retries + 1
            );
        }
        None => o.push_str("            proxy_next_upstream off;\n"),
    }
    if let Some(ttl) = r.cache_ttl_ms {
        let tenant = plan
            .tenant_header
            .as_deref()
            .map(|h| format!(" {}", header_var(h)))
            .unwrap_or_default();
        let _ = writeln!(
            o,
            "            proxy_cache scale_cache;\n            proxy_cache_methods GET HEAD;\n            proxy_cache_lock on;\n            proxy_cache_key \"$request_method $host $request_uri{tenant}\";\n            proxy_cache_valid 200 {}s;",
            ms_ceil(ttl).div_ceil(1000)
        );
    }
    if plan.sticky && up.hash_header.is_none() {
        o.push_str("            add_header Set-Cookie $scale_sticky_set;\n");
    }
    let _ = writeln!(
        o,
        "            proxy_http_version 1.1;\n            proxy_set_header Connection \"\";\n            proxy_set_header Host $host;\n            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n            proxy_set_header {} {t};",
        BUDGET_HEADER
    );
    let _ = writeln!(
        o,
        "            rewrite (?s)^{}(/.*)\\z $1 break;\n            proxy_pass http://{};\n        }}",
        internal(r),
        up.id
    );
}
