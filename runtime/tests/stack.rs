//! The layer around a plain tower service (no network): budgets rewritten
//! and shed, the deadline's 504, `overflow = reject`, pass-through of
//! unmatched requests, a token route without a JWT spec, and the span tags.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use scale_runtime::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower::{Layer, Service, ServiceExt};

static ROUTES: &[RouteSpec] = &[
    RouteSpec {
        name: "fast",
        method: "GET",
        path: "/fast/{id}",
        class: "read",
        p50: Some(Duration::from_millis(20)),
        timeout: Duration::from_millis(300),
        auth: AuthRule::Public,
        limit: None,
        idempotency: None,
    },
    RouteSpec {
        name: "locked",
        method: "GET",
        path: "/locked",
        class: "read",
        p50: None,
        timeout: Duration::from_millis(300),
        auth: AuthRule::Authenticated,
        limit: None,
        idempotency: None,
    },
];

static SPEC: ServiceSpec = ServiceSpec {
    app: "t",
    service: "s",
    region: None,
    cpu_millicores: Some(1_500),
    routes: ROUTES,
    limits: &[],
    concurrency: Concurrency::Fixed(1),
    overflow: Overflow::Reject,
    jwt: None,
    session: None,
    mfa_required_for: None,
    device_binding: false,
    risk_scoring: None,
    proof_of_work: None,
    attach: &["model", "dataset"],
};

type Body = Full<Bytes>;

/// An inner service that sleeps `?ms` and answers with the budget header it saw.
fn inner() -> impl Service<
    Request<Body>,
    Response = Response<Body>,
    Error = std::convert::Infallible,
    Future = impl Send,
> + Clone
       + Send
       + 'static {
    tower::service_fn(|req: Request<Body>| async move {
        let ms: u64 = req.uri().query().and_then(|q| q.parse().ok()).unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        let seen = req
            .headers()
            .get(BUDGET_HEADER)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_else(|| "none".into());
        Ok(Response::new(Body::from(Bytes::from(seen))))
    })
}

fn get(path: &str, budget: Option<&str>) -> Request<Body> {
    let mut b = Request::get(path);
    if let Some(v) = budget {
        b = b.header(BUDGET_HEADER, v);
    }
    b.body(Body::default()).unwrap()
}

async fn text(r: Response<Body>) -> (StatusCode, String) {
    use http_body_util::BodyExt;
    let s = r.status();
    let b = r.into_body().collect().await.unwrap().to_bytes();
    (s, String::from_utf8(b.to_vec()).unwrap())
}

#[tokio::test]
async fn budgets_deadlines_rejects_and_pass_through() {
    let layer: ScaleLayer<Body> = ScaleLayer::new(&SPEC, Config::new());
    assert_eq!(layer.concurrency(), 1, "Fixed(1) wins over the CPU request");
    let svc = layer.layer(inner());
    // The handler sees the smaller of the incoming budget and the timeout.
    assert_eq!(
        text(
            svc.clone()
                .oneshot(get("/fast/1", Some("120")))
                .await
                .unwrap()
        )
        .await,
        (StatusCode::OK, "120".into())
    );
    assert_eq!(
        text(svc.clone().oneshot(get("/fast/1", None)).await.unwrap()).await,
        (StatusCode::OK, "300".into())
    );
    assert_eq!(
        text(
            svc.clone()
                .oneshot(get("/fast/1", Some("9000")))
                .await
                .unwrap()
        )
        .await,
        (StatusCode::OK, "300".into())
    );
    // Under the p50: shed; unparsable: the timeout applies.
    let r = svc
        .clone()
        .oneshot(get("/fast/1", Some("19")))
        .await
        .unwrap();
    assert_eq!(
        (r.status(), r.headers()[SHED_HEADER].to_str().unwrap()),
        (StatusCode::SERVICE_UNAVAILABLE, "budget")
    );
    assert_eq!(
        text(
            svc.clone()
                .oneshot(get("/fast/1", Some("soon")))
                .await
                .unwrap()
        )
        .await
        .1,
        "300"
    );
    // Past the deadline: 504.
    let t = std::time::Instant::now();
    let r = svc
        .clone()
        .oneshot(get("/fast/1?1000", Some("100")))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::GATEWAY_TIMEOUT);
    assert!(
        t.elapsed() < Duration::from_millis(600),
        "{:?}",
        t.elapsed()
    );
    // Not a spec route: untouched.
    assert_eq!(
        text(svc.clone().oneshot(get("/other", Some("5"))).await.unwrap()).await,
        (StatusCode::OK, "5".into())
    );
    // A token route in a spec without `auth.jwt`: nothing can verify, 401.
    assert_eq!(
        svc.clone()
            .oneshot(get("/locked", None))
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    // overflow = reject: with one in flight, the next is shed at once.
    let slow = tokio::spawn(svc.clone().oneshot(get("/fast/1?200", None)));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let r = svc.clone().oneshot(get("/fast/2", None)).await.unwrap();
    assert_eq!(
        (r.status(), r.headers()[SHED_HEADER].to_str().unwrap()),
        (StatusCode::SERVICE_UNAVAILABLE, "overload")
    );
    assert_eq!(slow.await.unwrap().unwrap().status(), StatusCode::OK);
}

#[test]
fn cores_is_the_cpu_request_rounded_up() {
    static CORES: ServiceSpec = ServiceSpec {
        concurrency: Concurrency::Cores,
        ..SPEC
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let layer: ScaleLayer<Body> = ScaleLayer::new(&CORES, Config::new());
        assert_eq!(layer.concurrency(), 2, "1500m → 2");
    });
}

/// Records the fields of `scale.request` spans.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<(String, String)>>>);

struct Visit<'a>(&'a mut Vec<(String, String)>);

impl tracing::field::Visit for Visit<'_> {
    fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
        self.0.push((f.name().to_string(), format!("{v:?}")));
    }
    fn record_str(&mut self, f: &tracing::field::Field, v: &str) {
        self.0.push((f.name().to_string(), v.to_string()));
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, a: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut v = self.0.lock().unwrap();
        v.push(("span".into(), a.metadata().name().to_string()));
        a.record(&mut Visit(&mut v));
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, r: &tracing::span::Record<'_>) {
        r.record(&mut Visit(&mut self.0.lock().unwrap()));
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn spans_carry_the_route_and_the_attached_tags() {
    let cap = Capture::default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tracing::subscriber::with_default(cap.clone(), || {
        rt.block_on(async {
            let svc = ScaleLayer::<Body>::new(&SPEC, Config::new()).layer(inner());
            let req = Request::get("/fast/1")
                .header("x-model", "gpt-x")
                .header("x-prompt-hash", "not-attached")
                .header("x-dataset", "tickets-v3")
                .body(Body::default())
                .unwrap();
            assert_eq!(svc.oneshot(req).await.unwrap().status(), StatusCode::OK);
        })
    });
    let got = cap.0.lock().unwrap().clone();
    let has = |k: &str, v: &str| got.iter().any(|(a, b)| a == k && b == v);
    assert!(has("span", "scale.request"), "{got:?}");
    assert!(
        has("route", "fast") && has("class", "read") && has("service", "s"),
        "{got:?}"
    );
    assert!(
        has("model", "gpt-x") && has("dataset", "tickets-v3"),
        "{got:?}"
    );
    assert!(
        !got.iter().any(|(k, _)| k == "prompt_hash"),
        "prompt_hash is not in `attach`: {got:?}"
    );
}
