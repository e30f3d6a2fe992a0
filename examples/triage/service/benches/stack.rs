//! The generated stack against a bare handler and against a hand-written
//! tower stack with the same limits, on loopback.
//!
//! Three servers answer `POST /v1/session` (the flagship's public `signin`
//! route, so no signature check is timed) with the same handler:
//!
//! - **bare**: the axum router alone;
//! - **hand**: the router under `LoadShed → Buffer → ConcurrencyLimit →
//!   Timeout` and a keyed governor limiter on the client address, written
//!   by hand with the same numbers;
//! - **generated**: the router under `generated::api::layer` (route match,
//!   request id, span, budget, keyed limit, proof-of-work risk hook, the
//!   same shed/queue/limit and deadline).
//!
//! The per-ip rate is raised for both limited stacks (to 10⁹/s) so the
//! measurement is of the work, not of refusals; the limiter still checks
//! the key on every request. Concurrency cap 64 and queue 512 for both
//! (the flagship's `cores` is 1 on `cpu = 500m`).
//!
//! The load: C keep-alive connections in a client runtime of its own
//! thread, each sending requests back to back for D seconds; the server in
//! another single-thread runtime. Reported: requests per second under C
//! connections, and the p50/p99 latency on one connection (D seconds more)
//! with what each stack adds over bare, and the server thread's CPU time
//! per request under the C connections (from its `schedstat`; Linux only):
//! the client shares the machine's two cores with the server, so req/s
//! moves with whatever else runs, while the server's CPU per request is
//! what its throughput is bound by. Runs alternate (bare, hand,
//! generated) R times; each figure is the median over rounds, and each
//! difference to bare is taken within a round first (the shared machine's
//! load drifts between rounds).
//!
//! Before that, the same three services are called in process (no
//! sockets), 200 000 requests one after another per round: the
//! middleware's own cost per request, without the kernel's noise.
//!
//! `cargo bench -p triage-service --bench stack` (C = 16, D = 1.5 s, R = 7;
//! `SCALE_BENCH_SECS`, `SCALE_BENCH_ROUNDS`, `SCALE_BENCH_REQUESTS` for the
//! in-process count). For profiling: `SCALE_BENCH_ONLY=generated` (or
//! `bare`, `hand`) runs one stack, `SCALE_BENCH_IN_PROCESS_ONLY=1` skips
//! the loopback runs. Without `--bench` (as `cargo test --all-targets` runs
//! it) it is a smoke run of 0.3 s each, checking that every answer is a 200.

#[path = "../tests/support/mod.rs"]
mod support;

use axum::extract::{ConnectInfo, Request};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use http::{Response, StatusCode};
use scale_runtime::{Config, LimitSpec, ServiceSpec};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::Conn;
use tower::{Layer, ServiceBuilder, ServiceExt};
use triage_service::generated::api::SPEC;
use triage_service::{router, Downstream, PeerIp};

const CAP: usize = 64;
const QUEUE: usize = 512;

static LIMITS: [LimitSpec; 3] = {
    let mut l = [SPEC.limits[0], SPEC.limits[1], SPEC.limits[2]];
    l[1].rate_per_sec = 1e9;
    l
};
static BENCH: ServiceSpec = ServiceSpec {
    limits: &LIMITS,
    ..SPEC
};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Bare,
    Hand,
    Generated,
}

type Svc = tower::util::BoxCloneService<Request, Response<axum::body::Body>, Infallible>;

/// The service of one kind. Call inside a tokio runtime (the queue's worker
/// is spawned there).
fn build(kind: Kind) -> Svc {
    let app = router(Downstream::default());
    match kind {
        Kind::Bare => Svc::new(app),
        Kind::Generated => {
            let cfg = Config::new()
                .hooks(PeerIp)
                .concurrency(CAP)
                .queue_depth(QUEUE);
            Svc::new(scale_runtime::ScaleLayer::new(&BENCH, cfg).layer(app))
        }
        Kind::Hand => {
            let route = SPEC.route("POST", "/v1/session").unwrap();
            let quota = Quota::per_second(NonZeroU32::new(1_000_000_000).unwrap())
                .allow_burst(NonZeroU32::new(LIMITS[1].burst).unwrap());
            let limiter: Arc<DefaultKeyedRateLimiter<String>> = Arc::new(RateLimiter::keyed(quota));
            let inner = ServiceBuilder::new()
                .load_shed()
                .buffer(QUEUE - 1)
                .concurrency_limit(CAP)
                .timeout(route.timeout)
                .service(app);
            Svc::new(tower::service_fn(move |req: Request| {
                let (limiter, inner) = (limiter.clone(), inner.clone());
                async move {
                    let ip = req
                        .extensions()
                        .get::<ConnectInfo<SocketAddr>>()
                        .map(|c| c.0.ip().to_string())
                        .unwrap_or_default();
                    if limiter.check_key(&ip).is_err() {
                        let mut r = Response::new(axum::body::Body::from("rate limit"));
                        *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
                        return Ok::<_, Infallible>(r);
                    }
                    Ok(match inner.oneshot(req).await {
                        Ok(r) => r,
                        Err(e) => {
                            let status = if e.is::<tower::timeout::error::Elapsed>() {
                                StatusCode::GATEWAY_TIMEOUT
                            } else {
                                StatusCode::SERVICE_UNAVAILABLE
                            };
                            let mut r = Response::new(axum::body::Body::from("error"));
                            *r.status_mut() = status;
                            r
                        }
                    })
                }
            }))
        }
    }
}

/// The CPU time the thread `tid` of this process has used, in ns (Linux:
/// the first field of its `schedstat`); `None` elsewhere.
fn thread_cpu_ns(tid: Option<u32>) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/self/task/{}/schedstat", tid?)).ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// This thread's id (Linux), for [`thread_cpu_ns`].
fn this_tid() -> Option<u32> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    link.file_name()?.to_str()?.parse().ok()
}

/// The server of one kind on its own thread: its address, its thread's id
/// (for its CPU time), the thread and the sender that stops it.
fn serve(
    kind: Kind,
) -> (
    SocketAddr,
    Option<u32>,
    std::thread::JoinHandle<()>,
    tokio::sync::oneshot::Sender<()>,
) {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let (atx, arx) = std::sync::mpsc::channel();
    let h = std::thread::Builder::new()
        .name(format!("server-{kind:?}").to_lowercase())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                atx.send((l.local_addr().unwrap(), this_tid())).unwrap();
                let make = axum::ServiceExt::<Request>::into_make_service_with_connect_info::<
                    SocketAddr,
                >(build(kind));
                let _ = axum::serve(l, make)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await;
            });
        })
        .unwrap();
    let (addr, tid) = arx.recv().unwrap();
    (addr, tid, h, tx)
}

/// `n` requests one after another through the service, in process (no
/// sockets): the middleware's own cost.
fn in_process(kind: Kind, n: usize) -> Run {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let svc = build(kind);
        let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let one = |svc: Svc| async move {
            let req = Request::post("/v1/session")
                .extension(ConnectInfo(peer))
                .body(axum::body::Body::empty())
                .unwrap();
            svc.oneshot(req).await.unwrap().status()
        };
        for _ in 0..n / 10 {
            one(svc.clone()).await;
        }
        let mut lat = Vec::with_capacity(n);
        let mut non_200 = 0;
        let start = Instant::now();
        for _ in 0..n {
            let t = Instant::now();
            non_200 += usize::from(one(svc.clone()).await != StatusCode::OK);
            lat.push(t.elapsed().as_nanos() as u64);
        }
        let took = start.elapsed().as_secs_f64();
        lat.sort_unstable();
        let q = |p: f64| lat[((lat.len() as f64 - 1.0) * p) as usize] as f64 / 1000.0;
        Run {
            rps: n as f64 / took,
            p50_us: q(0.5),
            p99_us: q(0.99),
            non_200,
            requests: n,
            cpu_us: f64::NAN,
        }
    })
}

struct Run {
    rps: f64,
    p50_us: f64,
    p99_us: f64,
    non_200: usize,
    requests: usize,
    /// On loopback: the server thread's CPU time per request under the C
    /// connections' load (NaN in process, or where it cannot be read).
    cpu_us: f64,
}

fn load(addr: SocketAddr, conns: usize, secs: f64) -> Run {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let stop = Instant::now() + Duration::from_secs_f64(secs);
        let mut tasks = Vec::new();
        for _ in 0..conns {
            tasks.push(tokio::spawn(async move {
                let mut c = Conn::open(addr, 0).await.unwrap();
                let mut lat = Vec::new();
                let mut bad = 0;
                // Bounded: at most 2M requests per connection.
                while Instant::now() < stop && lat.len() < 2_000_000 {
                    let t = Instant::now();
                    let r = c.call("POST", "/v1/session", &[]).await.unwrap();
                    lat.push(t.elapsed().as_nanos() as u64);
                    bad += usize::from(r.status != 200);
                }
                (lat, bad)
            }));
        }
        let start = Instant::now();
        let mut all = Vec::new();
        let mut non_200 = 0;
        for t in tasks {
            let (l, b) = t.await.unwrap();
            all.extend(l);
            non_200 += b;
        }
        let took = start.elapsed().as_secs_f64();
        all.sort_unstable();
        let q = |p: f64| all[((all.len() as f64 - 1.0) * p) as usize] as f64 / 1000.0;
        Run {
            rps: all.len() as f64 / took,
            p50_us: q(0.5),
            p99_us: q(0.99),
            non_200,
            requests: all.len(),
            cpu_us: f64::NAN,
        }
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let env = |k: &str, d: f64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let (secs, rounds, conns) = if bench {
        (
            env("SCALE_BENCH_SECS", 1.5),
            env("SCALE_BENCH_ROUNDS", 7.0) as usize,
            16,
        )
    } else {
        (0.3, 1, 4)
    };
    // `SCALE_BENCH_IN_PROCESS_ONLY=1`: skip the loopback runs (profiling).
    let loopback = std::env::var("SCALE_BENCH_IN_PROCESS_ONLY").is_err();
    let kinds = [Kind::Bare, Kind::Hand, Kind::Generated];
    // `SCALE_BENCH_ONLY=generated` (or `bare`, `hand`): run that stack
    // alone (profiling; the tables then show only its rows).
    let only = std::env::var("SCALE_BENCH_ONLY").ok();
    let skip = |k: &Kind| {
        only.as_ref()
            .is_some_and(|o| *o != format!("{k:?}").to_lowercase())
    };
    let mut results: Vec<Vec<Run>> = kinds.iter().map(|_| Vec::new()).collect();
    for _ in 0..if loopback { rounds } else { 0 } {
        for (i, k) in kinds.iter().enumerate() {
            if skip(k) {
                continue;
            }
            let (addr, tid, h, stop) = serve(*k);
            // Warm-up, not measured.
            let _ = load(addr, conns, secs.min(0.5) / 2.0);
            // Throughput under C connections; latency on one connection
            // (with C in flight, queueing in the single-thread server
            // would be most of what is measured).
            let cpu0 = thread_cpu_ns(tid);
            let t = load(addr, conns, secs);
            let cpu = thread_cpu_ns(tid).zip(cpu0).map_or(f64::NAN, |(b, a)| {
                (b - a) as f64 / 1000.0 / t.requests as f64
            });
            let l = load(addr, 1, secs);
            assert_eq!(t.non_200 + l.non_200, 0, "{k:?}: answers that were not 200");
            results[i].push(Run {
                rps: t.rps,
                cpu_us: cpu,
                ..l
            });
            let _ = stop.send(());
            h.join().unwrap();
        }
    }
    let n = env(
        "SCALE_BENCH_REQUESTS",
        if bench { 200_000.0 } else { 2_000.0 },
    ) as usize;
    let mut local: Vec<Vec<Run>> = kinds.iter().map(|_| Vec::new()).collect();
    for _ in 0..rounds {
        for (i, k) in kinds.iter().enumerate() {
            if skip(k) {
                continue;
            }
            let r = in_process(*k, n);
            assert_eq!(r.non_200, 0, "{k:?} in process: answers that were not 200");
            local[i].push(r);
        }
    }
    table(
        &format!("in process, {n} requests one after another, {rounds} rounds (medians)"),
        &kinds,
        &local,
    );
    if !loopback {
        return;
    }
    table(
        &format!("loopback: req/s on {conns} connections, latency on 1; {secs} s each, {rounds} rounds (medians)"),
        &kinds,
        &results,
    );
}

fn table(title: &str, kinds: &[Kind], results: &[Vec<Run>]) {
    let fig = |i: usize, f: fn(&Run) -> f64| median(results[i].iter().map(f).collect());
    // Differences to bare are taken within each round (the machine's load
    // drifts between rounds), then the median over rounds.
    let vs = |i: usize, f: fn(&Run, &Run) -> f64| {
        median(
            results[i]
                .iter()
                .zip(&results[0])
                .map(|(r, b)| f(r, b))
                .collect(),
        )
    };
    println!("\nPOST /v1/session, {title}");
    // The server thread's CPU per request, where measured (loopback).
    let cpu = results.iter().flatten().any(|r| r.cpu_us.is_finite());
    println!(
        "{:<10} {:>10} {:>9} {:>9} {:>11} {:>11} {:>11}{}",
        "stack",
        "req/s",
        "p50 µs",
        "p99 µs",
        "vs bare",
        "+p50 µs",
        "+p99 µs",
        if cpu { "   cpu µs/req   +cpu µs" } else { "" }
    );
    for (i, k) in kinds.iter().enumerate() {
        if results[i].is_empty() {
            continue;
        }
        let cpu_cols = if cpu {
            format!(
                " {:>13.2} {:>9.2}",
                fig(i, |r| r.cpu_us),
                vs(i, |r, b| r.cpu_us - b.cpu_us)
            )
        } else {
            String::new()
        };
        println!(
            "{:<10} {:>10.0} {:>9.2} {:>9.2} {:>10.1}% {:>11.2} {:>11.2}{cpu_cols}",
            format!("{k:?}").to_lowercase(),
            fig(i, |r| r.rps),
            fig(i, |r| r.p50_us),
            fig(i, |r| r.p99_us),
            vs(i, |r, b| (r.rps / b.rps - 1.0) * 100.0),
            vs(i, |r, b| r.p50_us - b.p50_us),
            vs(i, |r, b| r.p99_us - b.p99_us),
        );
    }
}
