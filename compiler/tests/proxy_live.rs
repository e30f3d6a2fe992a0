#![allow(dead_code)]
//! The proxy target, proved with live traffic: Envoy, nginx and HAProxy,
//! each started on loopback from the configs `scalec build --target proxy`
//! writes for one spec, in front of the test backend, get the same bounded
//! traffic, and must behave as the spec says — and so alike:
//!
//! - one API key flooding a route past its rate: the admitted count is
//!   within 10% of `rate × seconds + burst`, the rest are 429; requests
//!   without the key are not counted against it;
//! - a backend slower than the route's hard timeout: 504 at that timeout
//!   (±10%);
//! - an `Authorization` header over the JWT cap is refused (4xx) and never
//!   reaches the backend; one under the cap passes;
//! - a non-idempotent route whose backend times out reaches the backend
//!   once (no retry);
//! - a cached route is answered from the cache for the tenant that filled
//!   it, and never for another tenant;
//! - a route with two limits (`limit = [per_ip, per_api_key(5/s)]`): one
//!   API key flooding it is held to the tighter, the route's own 5/s
//!   (within 10% or 2 requests of `5 × seconds + 5`), while requests
//!   without the key meet only the loose address limit and all pass.
//!
//! The configs are used as an operator would: only the addresses on the
//! lines marked `# scale:listen` / `# scale:upstream` (nginx, HAProxy) and
//! the listener, admin and cluster addresses (Envoy) are changed. One table
//! compares the three. Every server started here is stopped by its own pid.

// The shared test backend trips one clippy lint in code this test does not
// own (a `loop` + `match` clippy would write as `while let`).
#[path = "support/backend.rs"]
#[allow(clippy::while_let_loop)]
mod backend;
mod support;

use backend::Backend;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The spec under test: one key (10/s, burst 10) and the address key (high
/// enough not to interfere), a route per behaviour, a 2KB JWT cap.
const SPEC: &str = r#"app live {
  tenant = header("x-tenant-id")
}

service api {
  image    = "reg.example/api:1"
  port     = 8080
  replicas = 1..2
  cpu      = 500m
  route limited GET "/limited" { auth = public  budget { p99 = 2s } }
  route slow GET "/slow" { auth = public  budget { p99 = 500ms  timeout = 600ms } }
  route create POST "/create" { auth = public  budget { p99 = 500ms  timeout = 600ms } }
  route cached GET "/cached/{id}" { auth = public  cache { ttl = 30s } }
  route two GET "/two" { auth = public  limit = [per_ip, per_api_key(5/s)] }
}

limits {
  per api_key { rate = 10/s  burst = 10 }
  per ip      { rate = 1000/s  burst = 1000 }
  concurrency = 50
}

auth {
  jwt {
    issuer     = "https://id.example"
    audience   = "live"
    algorithms = [ES256]
    max_size   = 2KB
  }
}
"#;

const RATE: f64 = 10.0;
/// `/two`'s own rate per API key (burst: one second of it).
const OWN_RATE: f64 = 5.0;
const BURST: f64 = 10.0;
const FLOOD: Duration = Duration::from_secs(3);
const TIMEOUT_MS: f64 = 600.0;

/// A server this test started, stopped (TERM, then KILL) by its pid.
struct Server {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill")
            .args(["-TERM", &pid])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One HTTP/1.1 request on a new connection: (status, body).
fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<(u16, String), String> {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut s =
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    s.set_write_timeout(Some(Duration::from_secs(5))).ok();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: edge.test\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if method == "POST" {
        req.push_str("Content-Length: 0\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    // Read the head, then exactly the body (Content-Length or chunked):
    // waiting for the proxy to close would time its lingering, not it.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => {
                return Err(format!(
                    "no response head: {:?}",
                    String::from_utf8_lossy(&buf)
                ))
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no status line in {head:?}"))?;
    let length: Option<usize> = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok());
    let chunked = head.contains("transfer-encoding: chunked");
    loop {
        let body = &buf[head_end..];
        let done = match length {
            Some(n) => body.len() >= n,
            None if chunked => body.ends_with(b"0\r\n\r\n"),
            None => false,
        };
        if done || method == "HEAD" {
            break;
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body = String::from_utf8_lossy(&buf[head_end..]).into_owned();
    Ok((status, body))
}

/// Replaces the address (the first `host:port` word) on every line marked
/// `# scale:<what>`.
fn rebind(text: &str, what: &str, addr: &str) -> String {
    let marker = format!("# scale:{what}");
    let mut n = 0;
    let out: Vec<String> = text
        .lines()
        .map(|line| {
            if !line.contains(&marker) || line.trim_start().starts_with('#') {
                return line.to_string();
            }
            let (code, rest) = line.split_once(" # scale:").unwrap();
            let mut done = false;
            let words: Vec<String> = code
                .split(' ')
                .map(|w| {
                    let bare = w.trim_end_matches(';');
                    if !done
                        && bare.contains(':')
                        && bare
                            .rsplit(':')
                            .next()
                            .is_some_and(|p| p.parse::<u16>().is_ok())
                    {
                        done = true;
                        n += 1;
                        format!("{addr}{}", &w[bare.len()..])
                    } else {
                        w.to_string()
                    }
                })
                .collect();
            format!("{} # scale:{rest}", words.join(" "))
        })
        .collect();
    assert!(n > 0, "no line marked {marker}");
    out.join("\n") + "\n"
}

fn build(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("live.scale"), SPEC).unwrap();
    let out = dir.join("out");
    let (ok, text) = support::run(
        support::scalec()
            .current_dir(dir)
            .args(["build", "live.scale", "-o"])
            .arg(&out)
            .args(["--target", "proxy"]),
    );
    assert!(ok, "scalec build failed:\n{text}");
    out.join("proxy")
}

fn wait_ready(port: u16, server: &mut Server) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(st)) = server.child.try_wait() {
            panic!(
                "{} exited ({st}) at start:\n{}",
                server.name,
                std::fs::read_to_string(&server.log).unwrap_or_default()
            );
        }
        if let Ok((code, _)) = http(port, "GET", "/__not_a_route", &[]) {
            if code == 404 {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "{} not ready in 20 s:\n{}",
        server.name,
        std::fs::read_to_string(&server.log).unwrap_or_default()
    );
}

fn spawn(name: &'static str, cmd: &mut Command, log: PathBuf) -> Server {
    let f = std::fs::File::create(&log).unwrap();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(f.try_clone().unwrap())
        .stderr(f)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    Server { name, child, log }
}

fn start_envoy(bin: &Path, proxy: &Path, work: &Path, backend: u16) -> (Server, u16) {
    let port = free_port();
    let admin = free_port();
    let text = std::fs::read_to_string(proxy.join("envoy.yaml")).unwrap();
    let mut v: yaml_serde::Value = yaml_serde::from_str(&text).unwrap();
    v["admin"]["address"]["socket_address"]["port_value"] = admin.into();
    let l = &mut v["static_resources"]["listeners"][0]["address"]["socket_address"];
    l["address"] = "127.0.0.1".into();
    l["port_value"] = port.into();
    let clusters = v["static_resources"]["clusters"].as_sequence_mut().unwrap();
    for c in clusters.iter_mut() {
        if c["name"].as_str().is_some_and(|n| n.starts_with('u')) {
            let a = &mut c["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
                ["address"]["socket_address"];
            a["port_value"] = backend.into();
        }
    }
    let file = work.join("envoy.yaml");
    std::fs::write(&file, yaml_serde::to_string(&v).unwrap()).unwrap();
    let base_id = (std::process::id() % 60000).to_string();
    let mut s = spawn(
        "envoy",
        Command::new(bin).arg("-c").arg(&file).args([
            "--base-id",
            &base_id,
            "--concurrency",
            "2",
            "-l",
            "warning",
        ]),
        work.join("envoy.log"),
    );
    wait_ready(port, &mut s);
    (s, port)
}

fn start_nginx(bin: &Path, proxy: &Path, work: &Path, backend: u16) -> (Server, u16) {
    let port = free_port();
    let text = std::fs::read_to_string(proxy.join("nginx.conf")).unwrap();
    let text = rebind(&text, "listen", &format!("127.0.0.1:{port}"));
    let text = rebind(&text, "upstream", &format!("127.0.0.1:{backend}"));
    let prefix = work.join("nginx");
    std::fs::create_dir_all(&prefix).unwrap();
    let file = prefix.join("nginx.conf");
    std::fs::write(&file, text).unwrap();
    let mut s = spawn(
        "nginx",
        Command::new(bin)
            .arg("-p")
            .arg(&prefix)
            .arg("-c")
            .arg(&file)
            .arg("-e")
            .arg(prefix.join("error.log"))
            .args(["-g", "daemon off;"]),
        work.join("nginx.log"),
    );
    wait_ready(port, &mut s);
    (s, port)
}

fn start_haproxy(bin: &Path, proxy: &Path, work: &Path, backend: u16) -> (Server, u16) {
    let port = free_port();
    let text = std::fs::read_to_string(proxy.join("haproxy.cfg")).unwrap();
    let text = rebind(&text, "listen", &format!("127.0.0.1:{port}"));
    let text = rebind(&text, "upstream", &format!("127.0.0.1:{backend}"));
    let file = work.join("haproxy.cfg");
    std::fs::write(&file, text).unwrap();
    let mut s = spawn(
        "haproxy",
        Command::new(bin).arg("-db").arg("-f").arg(&file),
        work.join("haproxy.log"),
    );
    wait_ready(port, &mut s);
    (s, port)
}

/// What one proxy did with the traffic.
#[derive(Debug, Default)]
struct Outcome {
    flood_secs: f64,
    admitted: u64,
    limited: u64,
    other: u64,
    reached_backend: u64,
    keyless_ok: u64,
    slow: Vec<(u16, f64)>,
    slow_tries: u64,
    create: (u16, u64),
    big_header: (u16, u64),
    small_header: u16,
    cache: Vec<u64>,
    cache_same_body: bool,
    /// `/two` flooded by one key: (admitted, 429, other, seconds).
    two: (u64, u64, u64, f64),
    /// `/two` without the key: 200s of 20.
    two_keyless_ok: u64,
}

/// The same bounded traffic through one proxy.
fn drive(port: u16, b: &Backend, key: &str) -> Outcome {
    let mut o = Outcome::default();

    // 1. One key past its rate (4 clients, at most 800 requests).
    b.reset();
    let start = Instant::now();
    let results: Vec<Vec<u16>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    // 25 requests a second each: 100/s in all, 10× the rate.
                    let mut codes = Vec::new();
                    let mut next = Instant::now();
                    while start.elapsed() < FLOOD && codes.len() < 200 {
                        let c = match http(port, "GET", "/limited", &[("x-api-key", key)]) {
                            Ok((c, body)) => {
                                if c != 200 && c != 429 {
                                    eprintln!("flood: {c} {body}");
                                }
                                c
                            }
                            Err(e) => {
                                eprintln!("flood: {e}");
                                0
                            }
                        };
                        codes.push(c);
                        next += Duration::from_millis(40);
                        if let Some(wait) = next.checked_duration_since(Instant::now()) {
                            std::thread::sleep(wait);
                        }
                    }
                    codes
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    o.flood_secs = start.elapsed().as_secs_f64();
    for c in results.into_iter().flatten() {
        match c {
            200 => o.admitted += 1,
            429 => o.limited += 1,
            _ => o.other += 1,
        }
    }
    o.reached_backend = b.count("GET", "/limited");
    // Without the key: not counted against it (the address key is far off).
    o.keyless_ok = (0..40)
        .filter(|_| matches!(http(port, "GET", "/limited", &[]), Ok((200, _))))
        .count() as u64;

    // 2. A backend slower than the hard timeout.
    b.set_path_delay("/slow", Duration::from_millis(2500));
    let before = b.count("GET", "/slow");
    for _ in 0..3 {
        let t = Instant::now();
        let code = http(port, "GET", "/slow", &[]).map(|r| r.0).unwrap_or(0);
        o.slow.push((code, t.elapsed().as_secs_f64() * 1000.0));
    }
    o.slow_tries = b.count("GET", "/slow") - before;

    // 3. A non-idempotent route: one try, whatever happens.
    b.set_path_delay("/create", Duration::from_millis(2500));
    let before = b.count("POST", "/create");
    let code = http(port, "POST", "/create", &[]).map(|r| r.0).unwrap_or(0);
    std::thread::sleep(Duration::from_millis(1500));
    o.create = (code, b.count("POST", "/create") - before);

    // 4. The JWT cap: a token far over it is refused before the backend.
    let before = b.count("GET", "/limited");
    let big = format!("Bearer {}", "a".repeat(8 * 1024));
    let code = http(port, "GET", "/limited", &[("authorization", &big)])
        .map(|r| r.0)
        .unwrap_or(0);
    o.big_header = (code, b.count("GET", "/limited") - before);
    let small = format!("Bearer {}", "a".repeat(1500));
    o.small_header = http(port, "GET", "/limited", &[("authorization", &small)])
        .map(|r| r.0)
        .unwrap_or(0);

    // 5. The cache, per tenant: A fills, A hits, B misses, A still hits.
    let path = format!("/cached/{key}");
    let mut bodies = Vec::new();
    for tenant in ["tenant-a", "tenant-a", "tenant-b", "tenant-a"] {
        let (_, body) = http(port, "GET", &path, &[("x-tenant-id", tenant)]).unwrap_or_default();
        bodies.push(body);
        o.cache.push(b.count("GET", &path));
        // nginx files a response in its cache just after sending it.
        std::thread::sleep(Duration::from_millis(100));
    }
    o.cache_same_body = bodies[0] == bodies[1] && bodies[0] == bodies[3] && bodies[0] != bodies[2];

    // 6. Two limits on one route: one key at 50/s for 2 s (at most 100
    //    requests) meets its own 5/s; without the key, only the address.
    let key_two = format!("{key}-two");
    let start = Instant::now();
    let mut next = Instant::now();
    while start.elapsed() < Duration::from_secs(2) && o.two.0 + o.two.1 + o.two.2 < 100 {
        match http(port, "GET", "/two", &[("x-api-key", &key_two)]).map(|r| r.0) {
            Ok(200) => o.two.0 += 1,
            Ok(429) => o.two.1 += 1,
            _ => o.two.2 += 1,
        }
        next += Duration::from_millis(20);
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    o.two.3 = start.elapsed().as_secs_f64();
    o.two_keyless_ok = (0..20)
        .filter(|_| matches!(http(port, "GET", "/two", &[]), Ok((200, _))))
        .count() as u64;
    o
}

#[test]
fn three_proxies_agree_under_live_traffic() {
    let (Some(envoy), Some(nginx), Some(haproxy)) = (
        support::tool("envoy"),
        support::tool("nginx"),
        support::tool("haproxy"),
    ) else {
        return;
    };
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("proxy-live");
    let _ = std::fs::remove_dir_all(&work);
    let proxy = build(&work);
    let b = Backend::start();

    let mut outcomes = Vec::new();
    {
        let (_s, port) = start_envoy(&envoy, &proxy, &work, b.port());
        outcomes.push(("envoy", drive(port, &b, "key-envoy")));
    }
    {
        let (_s, port) = start_nginx(&nginx, &proxy, &work, b.port());
        outcomes.push(("nginx", drive(port, &b, "key-nginx")));
    }
    {
        let (_s, port) = start_haproxy(&haproxy, &proxy, &work, b.port());
        outcomes.push(("haproxy", drive(port, &b, "key-haproxy")));
    }

    // The comparison table.
    let mut t = String::from("\nproxy live test: the same traffic through each proxy\n");
    t.push_str(&format!(
        "{:<44} {:>14} {:>14} {:>14}\n",
        "", "envoy", "nginx", "haproxy"
    ));
    let row = |t: &mut String, name: &str, f: &dyn Fn(&Outcome) -> String| {
        t.push_str(&format!("{name:<44}"));
        for (_, o) in &outcomes {
            t.push_str(&format!(" {:>14}", f(o)));
        }
        t.push('\n');
    };
    let expected = |o: &Outcome| RATE * o.flood_secs + BURST;
    row(&mut t, "flood: admitted / expected (rate×s+burst)", &|o| {
        format!("{}/{:.0}", o.admitted, expected(o))
    });
    row(&mut t, "flood: 429 / other", &|o| {
        format!("{}/{}", o.limited, o.other)
    });
    row(&mut t, "flood: reached the backend", &|o| {
        o.reached_backend.to_string()
    });
    row(&mut t, "no key: 200 of 40", &|o| o.keyless_ok.to_string());
    row(&mut t, "slow backend: status @ ms (timeout 600)", &|o| {
        o.slow
            .iter()
            .map(|(c, ms)| format!("{c}@{ms:.0}"))
            .collect::<Vec<_>>()
            .join(" ")
    });
    row(&mut t, "GET /slow (retry-safe): backend tries of 3", &|o| {
        o.slow_tries.to_string()
    });
    row(&mut t, "POST /create: status, backend tries", &|o| {
        format!("{} {}", o.create.0, o.create.1)
    });
    row(&mut t, "8 KiB token: status, reached backend", &|o| {
        format!("{} {}", o.big_header.0, o.big_header.1)
    });
    row(&mut t, "1.5 KB token: status", &|o| {
        o.small_header.to_string()
    });
    row(&mut t, "cache A,A,B,A: backend count", &|o| {
        o.cache
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(",")
    });
    let two_expected = |o: &Outcome| OWN_RATE * o.two.3 + OWN_RATE;
    row(&mut t, "two limits, one key: admitted / expected", &|o| {
        format!("{}/{:.0}", o.two.0, two_expected(o))
    });
    row(&mut t, "two limits, one key: 429 / other", &|o| {
        format!("{}/{}", o.two.1, o.two.2)
    });
    row(&mut t, "two limits, no key: 200 of 20", &|o| {
        o.two_keyless_ok.to_string()
    });
    eprintln!("{t}");

    let mut failures = Vec::new();
    for (name, o) in &outcomes {
        let want = expected(o);
        if (o.admitted as f64 - want).abs() > 0.1 * want {
            failures.push(format!(
                "{name}: admitted {} of one key in {:.2} s, expected {want:.0} ±10%",
                o.admitted, o.flood_secs
            ));
        }
        if o.limited == 0 || o.other != 0 {
            failures.push(format!(
                "{name}: {} answered 429 and {} otherwise",
                o.limited, o.other
            ));
        }
        if o.reached_backend != o.admitted {
            failures.push(format!(
                "{name}: {} admitted but {} reached the backend",
                o.admitted, o.reached_backend
            ));
        }
        if o.keyless_ok != 40 {
            failures.push(format!(
                "{name}: requests without the key were limited ({} of 40 passed)",
                o.keyless_ok
            ));
        }
        for (code, ms) in &o.slow {
            if *code != 504 || (ms - TIMEOUT_MS).abs() > 0.1 * TIMEOUT_MS {
                failures.push(format!("{name}: slow backend gave {code} after {ms:.0} ms, expected 504 at {TIMEOUT_MS} ms ±10%"));
            }
        }
        // The retry-safe route is retried where the config can (Envoy: a
        // second try after the per-try timeout, within the hard timeout);
        // nginx has no other server to go to, HAProxy does not retry past
        // a response timeout (docs/targets/proxy.md). This shows that
        // "not retried" below is not merely retries being off everywhere.
        let want_tries = if *name == "envoy" { 6 } else { 3 };
        if o.slow_tries != want_tries {
            failures.push(format!("{name}: GET /slow reached the backend {} times for 3 requests, expected {want_tries}", o.slow_tries));
        }
        if o.create != (504, 1) {
            failures.push(format!(
                "{name}: POST /create gave {} after {} backend tries, expected 504 after exactly 1",
                o.create.0, o.create.1
            ));
        }
        if !(400..500).contains(&o.big_header.0) || o.big_header.1 != 0 {
            failures.push(format!(
                "{name}: an 8 KiB token gave {} and reached the backend {} times",
                o.big_header.0, o.big_header.1
            ));
        }
        if o.small_header != 200 {
            failures.push(format!(
                "{name}: a 1.5 KB token (under the cap) gave {}",
                o.small_header
            ));
        }
        let want = two_expected(o);
        if (o.two.0 as f64 - want).abs() > (0.1 * want).max(2.0) || o.two.1 == 0 || o.two.2 != 0 {
            failures.push(format!(
                "{name}: /two (limits per_ip 1000/s and its own per_api_key 5/s) admitted {} of one key in {:.2} s (expected {want:.0}), {} answered 429, {} otherwise",
                o.two.0, o.two.3, o.two.1, o.two.2
            ));
        }
        if o.two_keyless_ok != 20 {
            failures.push(format!(
                "{name}: /two without a key: {} of 20 passed (only the loose address limit applies)",
                o.two_keyless_ok
            ));
        }
        if o.cache != [1, 1, 2, 2] || !o.cache_same_body {
            failures.push(format!("{name}: cache per tenant: backend counts {:?} (expected [1, 1, 2, 2]), bodies right: {}", o.cache, o.cache_same_body));
        }
    }
    assert!(failures.is_empty(), "{}\n{t}", failures.join("\n"));
}
