//! The flagship's generated stack (`src/generated/rust/api.rs`) around the
//! example axum service, on 127.0.0.1, under bounded load from the test.
//! Every request loop is bounded in count and time; each server is a task
//! of the test's runtime, aborted when its guard drops.

mod support;

use scale_runtime::{Config, Hooks, BUDGET_HEADER, LIMIT_KEY_HEADER, SHED_HEADER};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::*;
use triage_service::generated::api::SPEC;
use triage_service::{Downstream, PeerIp};

fn config() -> Config {
    Config::new().hooks(PeerIp).keys(keys())
}

fn bearer(t: &str) -> String {
    format!("Bearer {t}")
}

/// Drives `conns` keep-alive connections (from `ips` addresses
/// 127.0.0.`src0`, `src0 + 1`, …), each at most `CONN_RPS` requests a
/// second (well above the spec's rates, well below what saturates the
/// machine the other tests share), for `secs`, at most `max` requests in
/// all; returns, per
/// request, (status, the limit key that refused it).
#[allow(clippy::too_many_arguments)]
async fn hammer(
    addr: std::net::SocketAddr,
    conns: u8,
    ips: u8,
    src0: u8,
    method: &'static str,
    path: &'static str,
    headers: Vec<(&'static str, String)>,
    secs: f64,
    max: u64,
) -> (Vec<(u16, Option<String>)>, f64) {
    const CONN_RPS: u64 = 100;
    let sent = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let stop = start + Duration::from_secs_f64(secs);
    let mut tasks = Vec::new();
    for i in 0..conns {
        let (sent, headers) = (sent.clone(), headers.clone());
        tasks.push(tokio::spawn(async move {
            let mut c = Conn::open(addr, src0 + i % ips).await.unwrap();
            let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let mut out = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / CONN_RPS));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while tick.tick().await < stop.into() && sent.fetch_add(1, Ordering::Relaxed) < max {
                let r = c.call(method, path, &h).await.unwrap();
                out.push((r.status, r.header(LIMIT_KEY_HEADER).map(str::to_string)));
            }
            out
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    (all, start.elapsed().as_secs_f64())
}

/// The admitted rate past the burst, per second: (admitted − burst) / time.
fn rate(admitted: usize, burst: u32, secs: f64) -> f64 {
    (admitted as f64 - f64::from(burst)) / secs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_key_admitted_rate_is_the_spec_rate() {
    let spec_of = |k: &str| *SPEC.limits.iter().find(|l| l.key == k).unwrap();
    // per ip on `signin` (limit = per_ip): one client address.
    let ip = spec_of("ip");
    let s = start(config(), Downstream::default()).await;
    // 4 connections from one address: up to 400 requests a second, 20 admitted.
    let (res, secs) = hammer(s.addr, 4, 1, 2, "POST", "/v1/session", vec![], 4.0, 40_000).await;
    let admitted = res.iter().filter(|r| r.0 == 200).count();
    let refused = res.iter().filter(|r| r.0 == 429).count();
    assert_eq!(admitted + refused, res.len(), "only 200 and 429: {res:?}");
    assert!(
        refused > admitted,
        "the load must exceed the rate: {admitted} admitted, {refused} refused"
    );
    let got = rate(admitted, ip.burst, secs);
    eprintln!(
        "per ip: {admitted} admitted of {} in {secs:.2} s: {got:.2}/s (spec {})",
        res.len(),
        ip.rate_per_sec
    );
    assert!(
        (got - ip.rate_per_sec).abs() <= 0.05 * ip.rate_per_sec,
        "per ip {got}/s"
    );

    // per api_key on `search` (no `limit`: every key): the key is checked
    // first, and 16 client addresses keep the per-ip limit out of the way
    // of most requests; what the api_key limiter refused is told by
    // x-rate-limit-key. Admitted by the key = everything else (a 401 or a
    // per-ip 429 after the key admitted it).
    let key = spec_of("api_key");
    let s = start(config(), Downstream::default()).await;
    let (res, secs) = hammer(
        s.addr,
        16,
        16,
        10,
        "GET",
        "/v1/search",
        vec![("x-api-key", "key-1".to_string())],
        4.0,
        60_000,
    )
    .await;
    let by_key = |k: &str| {
        res.iter()
            .filter(|r| r.0 == 429 && r.1.as_deref() == Some(k))
            .count()
    };
    let refused = by_key("api_key");
    let admitted = res.len() - refused;
    assert!(
        refused > admitted,
        "the load must exceed the rate: {admitted} admitted, {refused} refused"
    );
    let got = rate(admitted, key.burst, secs);
    eprintln!(
        "per api_key: {admitted} admitted of {} in {secs:.2} s: {got:.2}/s (spec {})",
        res.len(),
        key.rate_per_sec
    );
    assert!(
        (got - key.rate_per_sec).abs() <= 0.05 * key.rate_per_sec,
        "per api_key {got}/s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_handler_gets_504_at_the_hard_timeout() {
    let route = SPEC.route("POST", "/v1/session").unwrap();
    let p99 = Duration::from_millis(900);
    assert_eq!(
        route.timeout,
        p99.mul_f64(1.2),
        "signin's timeout is 1.2 × its p99"
    );
    let d = Downstream {
        delay: Duration::from_secs(10),
        ..Downstream::default()
    };
    let s = start(config(), d).await;
    for _ in 0..2 {
        let t = Instant::now();
        let r = once(s.addr, "POST", "/v1/session", &[]).await;
        let took = t.elapsed();
        eprintln!("504 after {took:?} (timeout {:?})", route.timeout);
        assert_eq!(
            (r.status, r.header(SHED_HEADER)),
            (504, Some("budget")),
            "{r:?}"
        );
        let ratio = took.as_secs_f64() / route.timeout.as_secs_f64();
        assert!((0.9..=1.1).contains(&ratio), "504 after {took:?}");
    }
}

/// A downstream that records the budget header it was sent.
async fn downstream() -> (
    std::net::SocketAddr,
    Arc<Mutex<Vec<String>>>,
    tokio::task::JoinHandle<()>,
) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let task = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = l.accept().await {
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).await.unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
            let v = head
                .lines()
                .find_map(|l| {
                    l.strip_prefix(&format!("{BUDGET_HEADER}:"))
                        .map(|v| v.trim().to_string())
                })
                .unwrap_or_default();
            seen2.lock().unwrap().push(v);
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n[]")
                .await;
        }
    });
    (addr, seen, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budgets_propagate_downstream_and_spent_budgets_shed() {
    let (ds, seen, task) = downstream().await;
    let d = Downstream {
        search_index: Some(ds),
        ..Downstream::default()
    };
    let s = start(config(), d).await;
    let tok = token("k1", "k1", &good_claims());
    let auth = bearer(&tok);
    let base = [("authorization", auth.as_str()), ("x-device-id", "dev-1")];
    // An incoming budget of 500 ms, under search's 720 ms timeout.
    let mut h = base.to_vec();
    h.push((BUDGET_HEADER, "500"));
    let r = once(s.addr, "GET", "/v1/search", &h).await;
    assert_eq!(r.status, 200, "{r:?}");
    // No incoming budget: the route's timeout.
    let r = once(s.addr, "GET", "/v1/search", &base).await;
    assert_eq!(r.status, 200, "{r:?}");
    // A larger incoming budget is cut to the timeout.
    let mut h = base.to_vec();
    h.push((BUDGET_HEADER, "99999"));
    assert_eq!(once(s.addr, "GET", "/v1/search", &h).await.status, 200);
    let seen: Vec<u64> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|v| v.parse().unwrap())
        .collect();
    eprintln!("downstream saw budgets {seen:?}");
    assert_eq!(seen.len(), 3);
    assert!(seen[0] < 500 && seen[0] > 300, "{seen:?}");
    assert!(seen[1] < 720 && seen[1] > 500, "{seen:?}");
    assert!(seen[2] < 720 && seen[2] > 500, "{seen:?}");
    task.abort();

    // signin's p50 is 150 ms: 100 ms left cannot cover it, shed at once.
    let t = Instant::now();
    for budget in ["100", "0", "149"] {
        let r = once(s.addr, "POST", "/v1/session", &[(BUDGET_HEADER, budget)]).await;
        assert_eq!(
            (r.status, r.header(SHED_HEADER)),
            (503, Some("budget")),
            "{budget}: {r:?}"
        );
    }
    assert!(
        t.elapsed() < Duration::from_millis(300),
        "shed at once: {:?}",
        t.elapsed()
    );
    let r = once(s.addr, "POST", "/v1/session", &[(BUDGET_HEADER, "400")]).await;
    assert_eq!(r.status, 200, "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_rejections_and_both_kids_in_the_overlap() {
    let s = start(config(), Downstream::default()).await;
    let call = |tok: String| {
        let addr = s.addr;
        async move {
            let auth = bearer(&tok);
            once(
                addr,
                "GET",
                "/v1/search",
                &[("authorization", auth.as_str()), ("x-device-id", "dev-1")],
            )
            .await
        }
    };
    // Both kids verify inside the overlap.
    for kid in ["k0", "k1"] {
        let r = call(token(kid, kid, &good_claims())).await;
        assert_eq!(r.status, 200, "{kid}: {r:?}");
    }
    let mut big = good_claims();
    big["pad"] = serde_json::Value::String("x".repeat(2_100));
    let mut expired = good_claims();
    expired["exp"] = (now_secs() - 120).into();
    let mut wrong_aud = good_claims();
    wrong_aud["aud"] = "other".into();
    let mut wrong_iss = good_claims();
    wrong_iss["iss"] = "https://evil.example".into();
    use base64_url as b64;
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT","kid":"k1"}"#),
        b64(good_claims().to_string().as_bytes())
    );
    let hs256 = {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        h.kid = Some("k1".into());
        jsonwebtoken::encode(
            &h,
            &good_claims(),
            &jsonwebtoken::EncodingKey::from_secret(b"k1"),
        )
        .unwrap()
    };
    let cases = [
        (
            "oversize",
            token("k1", "k1", &big),
            "token larger than the cap",
        ),
        (
            "unknown kid",
            token("k9", "k9", &good_claims()),
            "unknown kid",
        ),
        (
            "kid outside its window",
            token("k5", "k1", &good_claims()),
            "kid outside its rotation window",
        ),
        ("expired", token("k1", "k1", &expired), "token expired"),
        (
            "wrong audience",
            token("k1", "k1", &wrong_aud),
            "wrong audience",
        ),
        (
            "wrong issuer",
            token("k1", "k1", &wrong_iss),
            "wrong issuer",
        ),
        ("alg none", none, "algorithm not allowed"),
        ("HS256", hs256, "algorithm not allowed"),
        (
            "signed by another key",
            token("k1", "k0", &good_claims()),
            "invalid signature or claims",
        ),
    ];
    for (what, tok, why) in cases {
        let r = call(tok).await;
        assert_eq!((r.status, r.body.as_str()), (401, why), "{what}");
    }
    let r = once(s.addr, "GET", "/v1/search", &[]).await;
    assert_eq!((r.status, r.body.as_str()), (401, "missing bearer token"));
}

/// Unpadded base64url, for the hand-made `alg: none` token.
fn base64_url(b: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..=c.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_cap_queues_and_beyond_the_queue_sheds() {
    // The flagship's `concurrency = cores` on `cpu = 500m`: one in flight.
    let flagship = scale_runtime::ScaleLayer::<axum::body::Body>::new(&SPEC, Config::new());
    assert_eq!((flagship.concurrency(), flagship.queue_depth()), (1, 8));
    // cap 2, queue 2: of 8 requests at once, 2 run, 2 wait, 4 are shed.
    let d = Downstream {
        delay: Duration::from_millis(400),
        ..Downstream::default()
    };
    let s = start(config().concurrency(2).queue_depth(2), d).await;
    let tok = token("k1", "k1", &good_claims());
    let auth = bearer(&tok);
    let mut conns = Vec::new();
    for i in 0..8u8 {
        conns.push(Conn::open(s.addr, 20 + i).await.unwrap());
    }
    let t = Instant::now();
    let h = [("authorization", auth.as_str()), ("x-device-id", "dev-1")];
    for c in &mut conns {
        c.send("GET", "/v1/reports/7", &h).await.unwrap();
    }
    let mut tasks = Vec::new();
    for mut c in conns {
        tasks.push(tokio::spawn(async move {
            let r = c.recv().await.unwrap();
            (
                r.status,
                r.header(SHED_HEADER).map(str::to_string),
                t.elapsed(),
            )
        }));
    }
    let mut res = Vec::new();
    for task in tasks {
        res.push(task.await.unwrap());
    }
    eprintln!("{res:?}");
    let ok: Vec<_> = res.iter().filter(|r| r.0 == 200).collect();
    let shed: Vec<_> = res
        .iter()
        .filter(|r| r.0 == 503 && r.1.as_deref() == Some("overload"))
        .collect();
    assert_eq!((ok.len(), shed.len()), (4, 4), "{res:?}");
    // The queued two ran after the first two: one delay later.
    let mut done: Vec<Duration> = ok.iter().map(|r| r.2).collect();
    done.sort();
    assert!(done[3] >= Duration::from_millis(790), "{done:?}");
    assert!(
        shed.iter().all(|r| r.2 < Duration::from_millis(390)),
        "shed at once: {res:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_sessions_mfa_and_proof_of_work() {
    let d = Downstream::default();
    let tickets = d.tickets.clone();
    let s = start(config(), d).await;
    let tok = token("k1", "k1", &good_claims());
    let auth = bearer(&tok);
    let h = |extra: &[(&'static str, &'static str)]| {
        let mut v = vec![
            ("authorization", auth.clone()),
            ("x-device-id", "dev-1".to_string()),
        ];
        v.extend(extra.iter().map(|(k, x)| (*k, x.to_string())));
        v
    };
    let call = |method: &'static str, path: &'static str, hs: Vec<(&'static str, String)>| {
        let addr = s.addr;
        async move {
            let hs: Vec<(&str, &str)> = hs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            once(addr, method, path, &hs).await
        }
    };
    // Idempotency: required, then replayed.
    let r = call("POST", "/v1/tickets", h(&[])).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (400, "idempotency key required")
    );
    let first = call("POST", "/v1/tickets", h(&[("idempotency-key", "abc")])).await;
    let again = call("POST", "/v1/tickets", h(&[("idempotency-key", "abc")])).await;
    let other = call("POST", "/v1/tickets", h(&[("idempotency-key", "abd")])).await;
    assert_eq!(
        (first.status, first.body.as_str()),
        (201, "ticket 1 for user-1")
    );
    assert_eq!(
        (
            again.status,
            again.body.as_str(),
            again.header("idempotent-replayed")
        ),
        (201, "ticket 1 for user-1", Some("true"))
    );
    assert_eq!(other.body, "ticket 2 for user-1");
    assert_eq!(tickets.load(Ordering::SeqCst), 2);

    // MFA: an admin without it is refused the admin route.
    let mut no_mfa = good_claims();
    no_mfa["amr"] = serde_json::json!(["pwd"]);
    let t2 = bearer(&token("k1", "k1", &no_mfa));
    let r = call(
        "GET",
        "/v1/reports/1",
        vec![("authorization", t2), ("x-device-id", "dev-1".into())],
    )
    .await;
    assert_eq!(r.status, 403, "{r:?}");
    assert_eq!(call("GET", "/v1/reports/1", h(&[])).await.status, 200);
    // Device binding: another device is refused.
    let r = call(
        "GET",
        "/v1/search",
        vec![
            ("authorization", auth.clone()),
            ("x-device-id", "dev-2".into()),
        ],
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (403, "device not bound"));

    // Sessions: another region's session gets the sticky hint; one past the
    // refresh cap is refused.
    let mut away = good_claims();
    away["region"] = "us-east-1".into();
    let r = call(
        "GET",
        "/v1/search",
        vec![
            ("authorization", bearer(&token("k1", "k1", &away))),
            ("x-device-id", "dev-1".into()),
        ],
    )
    .await;
    assert_eq!(
        (r.status, r.header("x-session-region")),
        (421, Some("us-east-1")),
        "{r:?}"
    );
    let mut old = good_claims();
    old["session_start"] = (now_secs() - 31 * 86_400).into();
    let r = call(
        "GET",
        "/v1/search",
        vec![
            ("authorization", bearer(&token("k1", "k1", &old))),
            ("x-device-id", "dev-1".into()),
        ],
    )
    .await;
    assert_eq!(r.status, 401, "{r:?}");

    // Proof of work, asked of requests the risk hook finds suspicious.
    struct Risky;
    impl Hooks for Risky {
        fn risk(&self, _: Option<&scale_runtime::Claims>, req: &http::request::Parts) -> f64 {
            if req.headers.contains_key("x-risky") {
                0.9
            } else {
                0.0
            }
        }
    }
    let s2 = start(
        Config::new().hooks(Risky).keys(keys()),
        Downstream::default(),
    )
    .await;
    let r = once(s2.addr, "POST", "/v1/session", &[("x-risky", "1")]).await;
    assert_eq!(r.status, 428, "{r:?}");
    let challenge = r
        .header(scale_runtime::pow::CHALLENGE_HEADER)
        .unwrap()
        .to_string();
    let difficulty = SPEC.proof_of_work.unwrap().difficulty;
    assert!(
        challenge.starts_with(&format!("1:{difficulty}:")),
        "{challenge}"
    );
    let stamp = scale_runtime::pow::solve(&challenge, difficulty);
    let r = once(
        s2.addr,
        "POST",
        "/v1/session",
        &[("x-risky", "1"), (scale_runtime::pow::HEADER, &stamp)],
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = once(
        s2.addr,
        "POST",
        "/v1/session",
        &[("x-risky", "1"), (scale_runtime::pow::HEADER, &stamp)],
    )
    .await;
    assert_eq!(r.status, 428, "a stamp is good once: {r:?}");
    assert_eq!(
        once(s2.addr, "POST", "/v1/session", &[]).await.status,
        200,
        "not suspicious: no stamp needed"
    );
}
