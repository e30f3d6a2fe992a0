//! The proxy target, judged by the real tools: every example's (and every
//! variant spec's) `proxy/envoy.yaml` passes `envoy --mode validate`,
//! `proxy/nginx.conf` passes `nginx -t`, `proxy/haproxy.cfg` passes
//! `haproxy -c`, and the Gateway resources pass a strict schema check. The
//! three configs are read back and compared with the IR: every route's hard
//! timeout, retries only on retry-safe routes, every limit key's rate and
//! burst. (The live behaviour is `proxy_live.rs`.)

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Specs that take the paths the flagship does not: no JWT, a claim key, a
/// tenant from a cookie (the edge then caches nothing), a fractional rate,
/// overflow refused, a routed service sharded by a header, odd paths.
const VARIANTS: &[(&str, &str)] = &[
    (
        "claims_and_cookies",
        r#"app v1 { tenant = cookie("org") }
service web {
  image = "r.example/web:1"
  cpu = 250m
  replicas = 2..4
  route home GET "/" { auth = public  cache { ttl = 5s } }
  route item PUT "/items/{id}/parts/{part}" { retry { attempts = 4  backoff = 50ms..1s } }
  route odd GET "/a.b/x-y/~z_w/{p_q}" { auth = public }
}
limits {
  per identity { rate = 0.5/s  burst = 2 }
  per tenant { rate = 3/s  burst = 6  from = header("x-org") }
  overflow = reject
}
auth { jwt { issuer = "https://id.example/realms/a" audience = "v1" algorithms = [RS256] jwks = "https://keys.internal:8443/certs" } }
"#,
    ),
    (
        "sharded_no_auth",
        r#"app v2 { tenant = header("x-tenant") }
service shard {
  image = "r.example/shard:1"
  port = 9000
  cpu = 2
  replicas = 1..3
  shard_by = tenant
  route get GET "/t/{tenant}/doc" { cache { ttl = 1m } }
  route put POST "/t/{tenant}/doc" { idempotency = header("idem-key") }
}
limits { per ip { rate = 5/s  burst = 5 }  concurrency = 4  overflow = queue("spill") }
"#,
    ),
    (
        // Several limits on a route and rates of a route's own: an own rate
        // under the app-wide one of its key, own rates on two routes (which
        // share HAProxy's counters), an own rate on an undeclared key, on a
        // claim, and one alone.
        "several_limits",
        r#"app v3 {}
service api {
  image = "r.example/api:1"
  calls db { timeout = 100ms  retries = 1 }
  route search GET "/search" { limit = [per_ip, per_api_key] }
  route export GET "/export" { limit = [per_api_key, per_api_key(rate = 5/s, burst = 10), per_ip(2/s)] }
  route login POST "/login" { auth = public  limit = per_ip(1/s) }
  route me GET "/me" { limit = [per_ip, per_identity(3/s)] }
}
service db { kind = postgres  budget { p99 = 40ms } }
limits {
  per ip      { rate = 20/s  burst = 40 }
  per api_key { rate = 100/s  burst = 200 }
}
auth { jwt { issuer = "https://id.example/realms/a" audience = "v3" algorithms = [RS256] } }
"#,
    ),
];

fn examples() -> Vec<(String, PathBuf)> {
    let root = support::repo_root().join("examples");
    let mut v: Vec<(String, PathBuf)> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    v.sort();
    v
}

/// `scalec build SRC -o OUT --target proxy --emit ir`.
fn build(name: &str, src: &Path) -> PathBuf {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("target-proxy")
        .join(name);
    let _ = std::fs::remove_dir_all(&out);
    let (ok, text) = support::run(
        support::scalec()
            .arg("build")
            .arg(src)
            .arg("-o")
            .arg(&out)
            .args(["--target", "proxy", "--emit", "ir"]),
    );
    assert!(ok, "{name}: scalec build failed:\n{text}");
    out
}

/// Every example's and variant's output, built once for all the tests of
/// this file (they run in parallel and would otherwise rebuild the same
/// folders under each other).
fn all_outputs() -> Vec<(String, PathBuf)> {
    static OUTPUTS: std::sync::OnceLock<Vec<(String, PathBuf)>> = std::sync::OnceLock::new();
    OUTPUTS.get_or_init(build_all).clone()
}

fn build_all() -> Vec<(String, PathBuf)> {
    let mut v: Vec<(String, PathBuf)> = examples()
        .into_iter()
        .map(|(n, p)| {
            let out = build(&n, &p);
            (n, out)
        })
        .collect();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("target-proxy-src");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in VARIANTS {
        let f = dir.join(format!("{name}.scale"));
        std::fs::write(&f, text).unwrap();
        v.push((name.to_string(), build(name, &f)));
    }
    v
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn ir(out: &Path) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(&read(&out.join("ir.json"))).unwrap();
    v["ir"].clone()
}

#[test]
fn every_output_passes_the_real_tools() {
    let outs = all_outputs();
    assert!(outs.len() >= 3);
    if let Some(envoy) = support::tool("envoy") {
        for (name, out) in &outs {
            let (ok, text) = support::run(
                Command::new(&envoy)
                    .args(["--mode", "validate", "-l", "error", "-c"])
                    .arg(out.join("proxy/envoy.yaml")),
            );
            assert!(
                ok && text.contains("OK"),
                "{name}: envoy --mode validate:\n{text}"
            );
        }
    }
    if let Some(nginx) = support::tool("nginx") {
        for (name, out) in &outs {
            let prefix = out.join("nginx-prefix");
            std::fs::create_dir_all(&prefix).unwrap();
            let conf = out.join("proxy/nginx.conf");
            let (ok, text) = support::run(
                Command::new(&nginx)
                    .arg("-t")
                    .arg("-p")
                    .arg(&prefix)
                    .arg("-c")
                    .arg(&conf)
                    .arg("-e")
                    .arg(prefix.join("error.log")),
            );
            assert!(
                ok && text.contains("test is successful"),
                "{name}: nginx -t:\n{text}"
            );
            assert!(!text.contains("[warn]"), "{name}: nginx -t warns:\n{text}");
        }
    }
    if let Some(haproxy) = support::tool("haproxy") {
        for (name, out) in &outs {
            let (ok, text) = support::run(
                Command::new(&haproxy)
                    .arg("-c")
                    .arg("-f")
                    .arg(out.join("proxy/haproxy.cfg")),
            );
            assert!(ok, "{name}: haproxy -c:\n{text}");
            assert!(
                !text.contains("[WARNING]"),
                "{name}: haproxy -c warns:\n{text}"
            );
        }
    }
}

/// The IR's routes: (method, path) → (timeout ms, retry-safe).
fn ir_routes(ir: &serde_json::Value) -> BTreeMap<(String, String), (f64, bool)> {
    let mut m = BTreeMap::new();
    for s in ir["services"].as_array().unwrap() {
        if s["kind"] != "http" {
            continue;
        }
        for r in s["routes"].as_array().unwrap() {
            m.insert(
                (
                    r["method"].as_str().unwrap().to_string(),
                    r["path"].as_str().unwrap().to_string(),
                ),
                (
                    r["budget"]["timeout_ms"].as_f64().unwrap(),
                    r["retry_safe"].as_bool().unwrap(),
                ),
            );
        }
    }
    m
}

/// Envoy's routes read back: timeouts at the hard timeout, retry policies
/// exactly on the retry-safe routes, the budget header, and one
/// descriptor per limit key with its rate and burst.
#[test]
fn envoy_routes_carry_the_spec() {
    for (name, out) in all_outputs() {
        let ir = ir(&out);
        let want = ir_routes(&ir);
        let v: yaml_serde::Value =
            yaml_serde::from_str(&read(&out.join("proxy/envoy.yaml"))).unwrap();
        let hcm = &v["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
            ["typed_config"];
        let routes = hcm["route_config"]["virtual_hosts"][0]["routes"]
            .as_sequence()
            .unwrap();
        let real: Vec<_> = routes.iter().filter(|r| r["route"].is_mapping()).collect();
        assert_eq!(
            real.len(),
            want.len(),
            "{name}: one Envoy route per IR route"
        );
        let mut seen = 0;
        for r in &real {
            let method = r["match"]["headers"][0]["string_match"]["exact"]
                .as_str()
                .unwrap();
            // The IR route of this exact path, or whose path this regex
            // matches (full match).
            let found = match r["match"]["path"].as_str() {
                Some(path) => want
                    .iter()
                    .find(|((m, p), _)| m == method && p == path && !p.contains('{')),
                None => {
                    let re = r["match"]["safe_regex"]["regex"].as_str().unwrap();
                    want.iter()
                        .find(|((m, p), _)| m == method && regex_literal(re) == literal_path(p))
                }
            };
            let (key, (timeout, safe)) = found
                .unwrap_or_else(|| panic!("{name}: no IR route for {method} {:?}", r["match"]));
            seen += 1;
            let t = r["route"]["timeout"].as_str().unwrap();
            let secs: f64 = t.trim_end_matches('s').parse().unwrap();
            assert!(
                (secs * 1000.0 - timeout).abs() < 1e-6,
                "{name} {key:?}: timeout {t}, IR {timeout} ms"
            );
            let retry = r["route"]["retry_policy"].is_mapping();
            assert!(
                !retry || *safe,
                "{name} {key:?}: a retry policy on a route that is not retry-safe"
            );
            if !safe {
                assert!(!retry, "{name} {key:?}");
            }
            let budget = r["request_headers_to_add"][0]["header"]["value"]
                .as_str()
                .unwrap();
            assert_eq!(
                budget,
                format!("{}", timeout.ceil() as u64),
                "{name} {key:?}"
            );
        }
        assert_eq!(seen, want.len());
        // The app-wide keys, then every route's own rates, in IR order.
        let mut keys = ir["limits"]["keys"].as_array().cloned().unwrap_or_default();
        for svc in ir["services"].as_array().unwrap() {
            for r in svc["routes"].as_array().unwrap() {
                for l in r["limits"].as_array().into_iter().flatten() {
                    if l["own"] == true {
                        keys.push(l.clone());
                    }
                }
            }
        }
        let filters = hcm["http_filters"].as_sequence().unwrap();
        let rl = filters
            .iter()
            .find(|f| f["name"] == "envoy.filters.http.local_ratelimit");
        assert_eq!(rl.is_some(), !keys.is_empty(), "{name}");
        if let Some(rl) = rl {
            let ds = rl["typed_config"]["descriptors"].as_sequence().unwrap();
            assert_eq!(ds.len(), keys.len(), "{name}");
            for (d, k) in ds.iter().zip(&keys) {
                let b = &d["token_bucket"];
                let tokens = b["tokens_per_fill"].as_f64().unwrap();
                let every: f64 = b["fill_interval"]
                    .as_str()
                    .unwrap()
                    .trim_end_matches('s')
                    .parse()
                    .unwrap();
                let rate = k["rate_rps"].as_f64().unwrap();
                assert!(
                    (tokens / every - rate).abs() < 1e-6 * rate,
                    "{name}: {d:?} vs {k}"
                );
                assert_eq!(b["max_tokens"].as_u64(), k["burst"].as_u64(), "{name}");
            }
        }
    }
}

/// The literal characters of a route regex as the backend writes it
/// (`\xHH` decoded; a segment `[^/]+` as `{}`).
fn regex_literal(re: &str) -> String {
    let mut out = String::new();
    let mut rest = re;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("[^/]+") {
            out.push_str("{}");
            rest = r;
        } else if let Some(r) = rest.strip_prefix("\\x") {
            let c = u8::from_str_radix(&r[..2], 16).unwrap() as char;
            out.push(c);
            rest = &r[2..];
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// A route path with each `{param}` as `{}`.
fn literal_path(p: &str) -> String {
    let mut out = String::new();
    let mut depth = false;
    for c in p.chars() {
        match c {
            '{' => {
                depth = true;
                out.push_str("{}");
            }
            '}' if depth => depth = false,
            _ if depth => {}
            c => out.push(c),
        }
    }
    out
}

/// nginx and HAProxy read back: each route's internal location / rule has
/// the hard timeout (rounded up to the ms); retries off exactly where the
/// route is not retry-safe.
#[test]
fn nginx_and_haproxy_carry_the_timeouts() {
    for (name, out) in all_outputs() {
        let ir = ir(&out);
        let mut timeouts: Vec<(f64, bool)> = Vec::new();
        for s in ir["services"].as_array().unwrap() {
            if s["kind"] != "http" {
                continue;
            }
            for r in s["routes"].as_array().unwrap() {
                timeouts.push((
                    r["budget"]["timeout_ms"].as_f64().unwrap(),
                    r["retry_safe"].as_bool().unwrap(),
                ));
            }
        }
        let nginx = read(&out.join("proxy/nginx.conf"));
        let haproxy = read(&out.join("proxy/haproxy.cfg"));
        for (i, (t, safe)) in timeouts.iter().enumerate() {
            let ms = t.ceil() as u64;
            let loc = nginx
                .split(&format!("location ^~ /__scale/r{i}/ {{"))
                .nth(1)
                .and_then(|s| s.split("\n        }").next())
                .unwrap_or_else(|| panic!("{name}: no nginx location for route r{i}"));
            assert!(
                loc.contains(&format!("proxy_read_timeout {ms}ms;")),
                "{name} r{i}:\n{loc}"
            );
            assert_eq!(
                loc.contains("proxy_next_upstream off;"),
                !safe,
                "{name} r{i}:\n{loc}"
            );
            assert!(
                haproxy.contains(&format!(
                    "http-request set-timeout server {ms}ms if {{ var(txn.route) -m str r{i} }}"
                )),
                "{name} r{i}"
            );
            let no_retry = haproxy
                .lines()
                .find(|l| l.contains("disable-l7-retry"))
                .is_some_and(|l| l.split_whitespace().any(|w| w == format!("r{i}")));
            assert_eq!(no_retry, !safe, "{name} r{i}");
        }
    }
}

#[test]
fn output_is_deterministic_and_headed() {
    let (_, triage) = examples().into_iter().find(|(n, _)| n == "triage").unwrap();
    let a = build("det-a", &triage);
    let b = build("det-b", &triage);
    for f in ["envoy.yaml", "nginx.conf", "haproxy.cfg"] {
        let x = read(&a.join("proxy").join(f));
        assert_eq!(
            x,
            read(&b.join("proxy").join(f)),
            "{f} differs between two builds"
        );
        assert!(x.starts_with("# Generated by scalec "), "{f}");
    }
}

/// The checker refuses a header name nginx cannot read (S0210), so the
/// proxy target never meets one.
#[test]
fn a_header_nginx_cannot_read_is_refused() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("target-proxy-refused");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("s.scale"),
        "app a {}\nservice api {\n  image = \"r/a:1\"\n  cpu = 1\n  route r GET \"/r\" {}\n}\nlimits { per api_key { rate = 1/s  from = header(\"x.key\") } }\n",
    )
    .unwrap();
    let (ok, text) = support::run(support::scalec().current_dir(&dir).args([
        "build", "s.scale", "-o", "out", "--target", "proxy", "--color", "never",
    ]));
    assert!(!ok, "{text}");
    assert!(
        text.contains("S0210") && text.contains("nginx reads no other"),
        "{text}"
    );
    assert!(
        text.contains("header(\"x.key\")"),
        "the diagnostic points at the header:\n{text}"
    );
}

/// The project's strict check of custom resources (`scripts/validate_crd.py`:
/// the CRD schema with unknown fields rejected).
fn check_crds(files: &[PathBuf]) -> Option<(bool, String)> {
    let python = support::tool("python")?;
    let schemas = support::schemas_dir()?;
    let script = support::repo_root().join("scripts/validate_crd.py");
    Some(support::run(
        Command::new(&python).arg(&script).arg(&schemas).args(files),
    ))
}

/// Every HTTPRoute, BackendTrafficPolicy and SecurityPolicy passes the
/// strict schema check, and the check can fail: the same files with an
/// unknown field are refused.
#[test]
fn gateway_resources_pass_the_strict_schema_check() {
    let mut files = Vec::new();
    let mut kinds = std::collections::BTreeSet::new();
    for (name, out) in all_outputs() {
        let dir = out.join("proxy/gateway");
        let mut here: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .map(|e| e.unwrap().path())
            .collect();
        here.sort();
        for f in &here {
            let v: yaml_serde::Value = yaml_serde::from_str(&read(f)).unwrap();
            kinds.insert(v["kind"].as_str().unwrap().to_string());
            if v["kind"] == "BackendTrafficPolicy" || v["kind"] == "SecurityPolicy" {
                for t in v["spec"]["targetRefs"].as_sequence().unwrap() {
                    assert_eq!(t["kind"], "HTTPRoute", "{}", f.display());
                    let route = dir.join(format!("{}.httproute.yaml", t["name"].as_str().unwrap()));
                    let r: yaml_serde::Value = yaml_serde::from_str(&read(&route)).unwrap();
                    let rules = r["spec"]["rules"].as_sequence().unwrap();
                    assert!(
                        rules.iter().any(|x| x["name"] == t["sectionName"]),
                        "{}: targets a rule its HTTPRoute does not have",
                        f.display()
                    );
                }
            }
        }
        files.extend(here);
    }
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        ["BackendTrafficPolicy", "HTTPRoute", "SecurityPolicy"]
    );
    let Some((ok, text)) = check_crds(&files) else {
        return;
    };
    assert!(ok, "validate_crd.py:\n{text}");
    // The same objects with an unknown field: refused.
    let bad_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("target-proxy-bad-crds");
    let _ = std::fs::remove_dir_all(&bad_dir);
    std::fs::create_dir_all(&bad_dir).unwrap();
    let mut bad = Vec::new();
    for (i, f) in files.iter().enumerate().take(6) {
        let mut v: yaml_serde::Value = yaml_serde::from_str(&read(f)).unwrap();
        v["spec"]["notAField"] = 1.into();
        let p = bad_dir.join(format!("{i}.yaml"));
        std::fs::write(&p, yaml_serde::to_string(&v).unwrap()).unwrap();
        bad.push(p);
    }
    let (ok, text) = check_crds(&bad).unwrap();
    assert!(!ok, "an unknown field passed the check:\n{text}");
    assert_eq!(text.matches("ERROR").count(), bad.len(), "{text}");
}
