//! The layer around a plain tower service (no network): budgets rewritten
//! and shed, the deadline's 504, `overflow = reject`, pass-through of
//! unmatched requests, a token route without a JWT spec.

use http::{Request, Response, StatusCode};
use scale_runtime::*;
use std::time::Duration;
use tower::{Layer, ServiceExt};

mod fixture;
use fixture::{inner, Body, SPEC};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_request_waits_at_most_the_queue_timeout() {
    // overflow = queue("q") with a 100 ms timeout, one slot, one place.
    static QUEUED: ServiceSpec = ServiceSpec {
        overflow: Overflow::Queue {
            name: "q",
            timeout: Duration::from_millis(100),
        },
        ..SPEC
    };
    let layer: ScaleLayer<Body> = ScaleLayer::new(&QUEUED, Config::new().queue_depth(1));
    assert_eq!((layer.concurrency(), layer.queue_depth()), (1, 1));
    let svc = layer.layer(inner());
    let t0 = std::time::Instant::now();
    // Holds the one slot for 250 ms (inside the route's 300 ms deadline).
    let running = tokio::spawn(svc.clone().oneshot(get("/fast/1?250", None)));
    tokio::time::sleep(Duration::from_millis(20)).await;
    // Takes the one place in the queue and gives up after 100 ms.
    let queued = {
        let svc = svc.clone();
        tokio::spawn(async move {
            let t = std::time::Instant::now();
            let r = svc.oneshot(get("/fast/2", None)).await.unwrap();
            (r, t.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    // The queue is full: shed at once.
    let t = std::time::Instant::now();
    let r = svc.clone().oneshot(get("/fast/3", None)).await.unwrap();
    assert_eq!(
        (r.status(), r.headers()[SHED_HEADER].to_str().unwrap()),
        (StatusCode::SERVICE_UNAVAILABLE, "overload")
    );
    assert!(t.elapsed() < Duration::from_millis(50), "{:?}", t.elapsed());
    let (r, waited) = queued.await.unwrap();
    assert_eq!(
        (r.status(), r.headers()[SHED_HEADER].to_str().unwrap()),
        (StatusCode::SERVICE_UNAVAILABLE, "queue-timeout")
    );
    assert!(
        waited >= Duration::from_millis(95) && waited < Duration::from_millis(225),
        "gave up after {waited:?}, not at the queue's 100 ms (nor when the slot freed at 230 ms)"
    );
    assert_eq!(running.await.unwrap().unwrap().status(), StatusCode::OK);
    assert!(t0.elapsed() >= Duration::from_millis(250));
    // A wait shorter than the timeout is served: the slot is free again,
    // so hold it for 50 ms and queue one behind it.
    let running = tokio::spawn(svc.clone().oneshot(get("/fast/1?50", None)));
    tokio::time::sleep(Duration::from_millis(10)).await;
    let t = std::time::Instant::now();
    let r = svc.clone().oneshot(get("/fast/2", None)).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        t.elapsed() >= Duration::from_millis(30),
        "it waited for the slot"
    );
    assert_eq!(running.await.unwrap().unwrap().status(), StatusCode::OK);
}

/// `limit = [per_api_key, per_api_key(2/s)]` under `per api_key { rate =
/// 1000/s }`: the route's own bucket is the tighter and refuses the third
/// request of one key; another key, a request without the key and a route
/// without `limit` are not held by it.
#[tokio::test]
async fn several_limits_on_a_route_the_tighter_refuses() {
    const KEY: Source = Source::Header("x-api-key");
    static APP_WIDE: &[LimitSpec] = &[LimitSpec {
        key: "api_key",
        source: KEY,
        rate_per_sec: 1000.0,
        burst: 1000,
    }];
    static OWN: &[LimitSpec] = &[LimitSpec {
        key: "api_key",
        source: KEY,
        rate_per_sec: 2.0,
        burst: 2,
    }];
    static ROUTES: &[RouteSpec] = &[
        RouteSpec {
            name: "two",
            path: "/two",
            p50: None,
            limit: Some("api_key"),
            limits: &["api_key"],
            own_limits: OWN,
            ..fixture::ROUTES[0]
        },
        RouteSpec {
            name: "open",
            path: "/open",
            p50: None,
            ..fixture::ROUTES[0]
        },
    ];
    static LIMITED: ServiceSpec = ServiceSpec {
        routes: ROUTES,
        limits: APP_WIDE,
        concurrency: Concurrency::Fixed(8),
        ..SPEC
    };
    let svc = ScaleLayer::<Body>::new(&LIMITED, Config::new()).layer(inner());
    let call = |path: &'static str, key: Option<&'static str>| {
        let svc = svc.clone();
        async move {
            let mut b = Request::get(path);
            if let Some(k) = key {
                b = b.header("x-api-key", k);
            }
            let r = svc.oneshot(b.body(Body::default()).unwrap()).await.unwrap();
            let by = r
                .headers()
                .get(LIMIT_KEY_HEADER)
                .map(|v| v.to_str().unwrap().to_string());
            (r.status(), by)
        }
    };
    let mut codes = Vec::new();
    for _ in 0..4 {
        codes.push(call("/two", Some("k1")).await.0);
    }
    assert_eq!(
        codes,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::TOO_MANY_REQUESTS
        ],
        "burst 2 of the route's own 2/s, far under the app-wide 1000/s"
    );
    assert_eq!(
        call("/two", Some("k1")).await,
        (StatusCode::TOO_MANY_REQUESTS, Some("api_key".into()))
    );
    assert_eq!(
        call("/two", Some("k2")).await.0,
        StatusCode::OK,
        "another key"
    );
    for _ in 0..4 {
        assert_eq!(call("/two", None).await.0, StatusCode::OK, "no key");
        assert_eq!(
            call("/open", Some("k1")).await.0,
            StatusCode::OK,
            "not /two's bucket"
        );
    }
    assert!(ROUTES[0].limited_by("api_key") && !ROUTES[0].limited_by("ip"));
    assert!(ROUTES[1].limited_by("ip"), "no limit written: every key");
    let own_only = RouteSpec {
        limit: None,
        limits: &[],
        ..ROUTES[0]
    };
    assert!(!own_only.limited_by("api_key"), "only its own rate");
    let edge = DownstreamSpec {
        service: "psp",
        timeout: Some(Duration::from_secs(2)),
        retries: 1,
    };
    assert_eq!(
        edge.per_try(Duration::from_millis(500)),
        Duration::from_millis(500)
    );
    assert_eq!(edge.per_try(Duration::from_secs(9)), Duration::from_secs(2));
    assert_eq!(edge.worst_case(), Some(Duration::from_secs(4)));
}

/// What the handler sees of the budget header (every value) and of the
/// request id, and the deadline in its extensions.
#[tokio::test]
async fn budget_header_forms_and_request_ids() {
    let echo = tower::service_fn(|req: Request<Body>| async move {
        let budgets: Vec<&str> = req
            .headers()
            .get_all(BUDGET_HEADER)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        let id = req.headers()[REQUEST_ID_HEADER].to_str().unwrap();
        let deadline = req.extensions().get::<Deadline>().is_some();
        let seen = format!("{} {id} {deadline}", budgets.join(","));
        Ok::<_, std::convert::Infallible>(Response::new(Body::from(seen)))
    });
    let svc = ScaleLayer::<Body>::new(&SPEC, Config::new()).layer(echo);
    let call = |headers: &[(&str, &str)]| {
        let mut b = Request::get("/fast/1");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let svc = svc.clone();
        let req = b.body(Body::default()).unwrap();
        async move {
            let r = svc.oneshot(req).await.unwrap();
            let id = r.headers()[REQUEST_ID_HEADER].to_str().unwrap().to_string();
            let (_, body) = text(r).await;
            (body, id)
        }
    };
    // Whole milliseconds within the timeout: kept as they are; any other
    // form rewritten to whole milliseconds; more than one value: one left.
    for (sent, seen) in [
        (&["120"][..], "120"),
        (&["0120"], "120"),
        (&["120.9"], "120"),
        (&[" 120"], "120"),
        (&["301"], "300"),
        (&["150", "250"], "150"),
    ] {
        let headers: Vec<_> = sent.iter().map(|v| (BUDGET_HEADER, *v)).collect();
        let (body, _) = call(&headers).await;
        assert_eq!(body.split(' ').next(), Some(seen), "{sent:?}: {body}");
    }
    // Request ids: made up when the caller sends none (`PID-N` in hex,
    // a new one each time), the caller's kept; the handler and the
    // response see the same one, with the deadline in the extensions.
    let (a, a_id) = call(&[]).await;
    let (b, b_id) = call(&[]).await;
    let pid = format!("{:x}-", std::process::id());
    assert!(
        a_id.starts_with(&pid) && b_id.starts_with(&pid),
        "{a_id} {b_id}"
    );
    assert_ne!(a_id, b_id);
    assert_eq!(a, format!("300 {a_id} true"));
    assert_eq!(b, format!("300 {b_id} true"));
    // Across the runtime's chunks of ids (1 KiB each): each one whole.
    let mut ids = std::collections::HashSet::new();
    for _ in 0..300 {
        let (body, id) = call(&[]).await;
        assert_eq!(body, format!("300 {id} true"));
        assert!(id.starts_with(&pid) && id.len() > pid.len(), "{id}");
        assert!(ids.insert(id));
    }
    let (c, c_id) = call(&[(REQUEST_ID_HEADER, "abc-1")]).await;
    assert_eq!((c.as_str(), c_id.as_str()), ("300 abc-1 true", "abc-1"));
}
