//! The triage API as a small axum service, wired with the middleware that
//! `scalec build examples/triage --target rust` generates (committed under
//! `src/generated/`; a test in the compiler checks it is what scalec writes
//! today). The handlers are stand-ins: what matters is the layer around them.
//!
//! The generated layer wraps the whole router (not `Router::layer`, which
//! would give each route its own concurrency cap):
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! let config = scale_runtime::Config::new().hooks(triage_service::PeerIp);
//! triage_service::serve(listener, config, triage_service::Downstream::default()).await
//! # }
//! ```

#[path = "generated/rust/mod.rs"]
pub mod generated;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Router};
use scale_runtime::tower_layer::Layer as _;
use scale_runtime::{Claims, Deadline, Hooks, BUDGET_HEADER};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Reads the client address from axum's `ConnectInfo` (the peer of the TCP
/// connection, never a forwarded header).
#[derive(Debug, Clone, Copy, Default)]
pub struct PeerIp;

impl Hooks for PeerIp {
    fn client_ip(&self, req: &http::request::Parts) -> Option<IpAddr> {
        req.extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
    }
}

/// Where the search handler sends its downstream call (the vector index),
/// and how slow the handlers are (tests turn these up).
#[derive(Debug, Clone, Default)]
pub struct Downstream {
    /// `host:port` of the search index; `None`: no call.
    pub search_index: Option<SocketAddr>,
    /// Extra time every handler takes.
    pub delay: Duration,
    /// How many tickets were created (idempotent replays do not count).
    pub tickets: Arc<AtomicU64>,
}

/// Sleeps `d` (a zero sleep still waits for the timer's next millisecond tick,
/// so it is skipped).
async fn pause(d: Duration) {
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
}

async fn signin(State(d): State<Downstream>) -> &'static str {
    pause(d.delay).await;
    "session"
}

/// Calls the search index with what is left of the budget.
async fn search(State(d): State<Downstream>, Extension(deadline): Extension<Deadline>) -> String {
    pause(d.delay).await;
    let Some(addr) = d.search_index else {
        return "[]".to_string();
    };
    let budget = deadline.header_value();
    match get_once(
        addr,
        "/search",
        &[(BUDGET_HEADER, budget.to_str().unwrap_or("0"))],
    )
    .await
    {
        Ok(body) => body,
        Err(e) => format!("downstream error: {e}"),
    }
}

async fn ticket(
    State(d): State<Downstream>,
    claims: Option<Extension<Claims>>,
) -> (StatusCode, String) {
    pause(d.delay).await;
    let n = d.tickets.fetch_add(1, Ordering::SeqCst) + 1;
    let who = claims
        .as_ref()
        .and_then(|c| c.0.str("sub").map(str::to_string))
        .unwrap_or_default();
    (StatusCode::CREATED, format!("ticket {n} for {who}"))
}

async fn report(State(d): State<Downstream>, Path(id): Path<String>) -> String {
    pause(d.delay).await;
    format!("report {id}")
}

async fn healthz() -> &'static str {
    "ok"
}

/// The application's router, without the middleware.
pub fn router(downstream: Downstream) -> Router {
    Router::new()
        .route("/v1/session", post(signin))
        .route("/v1/search", get(search))
        .route("/v1/tickets", post(ticket))
        .route("/v1/reports/{id}", get(report))
        .route("/healthz", get(healthz))
        .with_state(downstream)
}

/// Serves the router wrapped in the generated stack until the listener fails.
/// Must run inside a tokio runtime (the queue's worker is spawned there).
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: scale_runtime::Config,
    downstream: Downstream,
) -> std::io::Result<()> {
    let app = generated::api::layer(config).layer(router(downstream));
    let make = axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<
        SocketAddr,
    >(app);
    axum::serve(listener, make).await
}

/// One HTTP/1.1 GET on a new connection; the body of a 200, else an error.
pub async fn get_once(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    let mut req = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    if head.starts_with("HTTP/1.1 200") {
        Ok(body.to_string())
    } else {
        Err(std::io::Error::other(
            head.lines().next().unwrap_or("").to_string(),
        ))
    }
}
