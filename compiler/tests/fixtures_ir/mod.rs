//! IRs for the backend tests: the flagship example as the front end lowers
//! it (`triage`), and a hand-built one (`variants`) that takes the paths the
//! example does not.
#![allow(dead_code)]

use scalec::ir::*;
use scalec::semantics::burn_factor;

pub const MINUTE: f64 = 60_000.0;
pub const HOUR: f64 = 60.0 * MINUTE;
pub const DAY: f64 = 24.0 * HOUR;

fn budget(p50: Option<f64>, p95: Option<f64>, p99: f64) -> Budget {
    Budget {
        p50_ms: p50,
        p95_ms: p95,
        p99_ms: Some(p99),
        timeout_ms: 1.2 * p99,
        timeout_defaulted: true,
    }
}

/// OpenTelemetry HTTP server metrics as Prometheus exports them.
pub fn otel_metrics(buckets_ms: Option<Vec<f64>>) -> Metrics {
    Metrics {
        requests: "http_server_request_duration_seconds_count".into(),
        latency_histogram: "http_server_request_duration_seconds".into(),
        buckets_ms,
        status_label: "http_response_status_code".into(),
        route_label: "http_route".into(),
        method_label: "http_request_method".into(),
        service_label: "job".into(),
        service_value: None,
    }
}

fn route(name: &str, method: Method, path: &str, class: &str, budget: Budget) -> Route {
    Route {
        name: name.into(),
        method,
        path: path.into(),
        class: class.into(),
        budget,
        budget_name: None,
        auth: AuthRule::Authenticated,
        limit: None,
        limits: vec![],
        cache_ttl_ms: None,
        idempotency: None,
        retry: None,
        retry_safe: method.is_idempotent(),
    }
}

/// The Google multiwindow multi-burn-rate policy, factors scaled to the
/// SLO period: 2% of the budget in 1h (5m), 5% in 6h (30m) page; 10% in 1d
/// (2h) and 10% in 3d (6h) ticket.
pub fn multiwindow(period_ms: f64) -> AlertPolicy {
    let w = |severity: &str, long_ms: f64, short_ms: f64, share: f64| BurnWindow {
        severity: severity.parse().expect("page or ticket"),
        long_ms,
        short_ms,
        factor: burn_factor(share, period_ms, long_ms),
        budget_share: share,
    };
    AlertPolicy {
        name: "multiwindow".into(),
        windows: vec![
            w("page", HOUR, 5.0 * MINUTE, 0.02),
            w("page", 6.0 * HOUR, 30.0 * MINUTE, 0.05),
            w("ticket", DAY, 2.0 * HOUR, 0.10),
            w("ticket", 3.0 * DAY, 6.0 * HOUR, 0.10),
        ],
    }
}

fn service(name: &str, kind: ServiceKind) -> Service {
    Service {
        name: name.into(),
        kind,
        image: None,
        port: None,
        replicas: Replicas { min: 1, max: 1 },
        cpu_millicores: None,
        memory_bytes: None,
        autoscale: None,
        calls: vec![],
        call_options: vec![],
        budget: None,
        routes: vec![],
        prewarm: false,
        shard_by: None,
        metrics: otel_metrics(None),
        health: Probe::Http {
            path: "/healthz".into(),
        },
        ready: Probe::Http {
            path: "/readyz".into(),
        },
        warmup: Probe::Http {
            path: "/warmup".into(),
        },
        storage: None,
    }
}

/// The flagship example, compiled by the real front end.
pub fn triage() -> Ir {
    compile_triage().ir.expect("examples/triage checks clean")
}

/// The artifact header of the flagship example, with the input hash fixed
/// so that snapshots do not change with every edit of a comment in the
/// example (the real hash is tested by the CLI tests).
pub fn meta() -> scalec::backends::Meta {
    scalec::backends::Meta {
        input_hash: format!("sha256:{}", "0".repeat(64)),
        ..compile_triage().meta()
    }
}

fn compile_triage() -> scalec::Compilation {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/triage");
    scalec::check(scalec::project::Project::load(&[dir]).expect("examples/triage loads"))
}

/// A second IR that takes the other paths of the backends: no image or
/// port, a fixed replica count, an rps autoscaler, custom metric bindings
/// (nginx counter, `status` label, a 1s bucket that needs the `le`
/// regex), a route with a path parameter, a 99.99% objective with errors
/// from 429 up, a 7-day SLO with its own two-pair policy, an SLO without
/// alerts, and a drift signal of another kind with no `attach` labels,
/// compared daily.
pub fn variants() -> Ir {
    let mut ir = triage();
    ir.app.name = "shop".into();
    ir.app.generator = None;
    let web = Service {
        image: Some("shop/web:1".into()),
        replicas: Replicas { min: 2, max: 2 },
        routes: vec![route(
            "checkout",
            Method::Post,
            "/v1/checkout/{id}",
            "write",
            budget(None, None, 800.0),
        )],
        ..service("web", ServiceKind::Http)
    };
    let worker = Service {
        image: Some("ghcr.io/acme/worker:0.3.0".into()),
        port: Some(9000),
        replicas: Replicas { min: 1, max: 5 },
        cpu_millicores: Some(1500),
        autoscale: Some(Autoscale::Rps {
            target_per_replica: 12.5,
        }),
        ..service("worker", ServiceKind::Http)
    };
    let legacy = Service {
        image: Some("nginx:1.27".into()),
        port: Some(80),
        replicas: Replicas { min: 1, max: 1 },
        metrics: Metrics {
            requests: "nginx_http_requests_total".into(),
            latency_histogram: "request_latency_seconds".into(),
            buckets_ms: Some(vec![50.0, 100.0, 250.0, 400.0, 1000.0]),
            status_label: "status".into(),
            route_label: "path".into(),
            method_label: "method".into(),
            service_label: "job".into(),
            service_value: Some("legacy-nginx".into()),
        },
        ..service("legacy", ServiceKind::Http)
    };
    ir.services = vec![web, worker, legacy, service("cache", ServiceKind::Redis)];
    let week = 7.0 * DAY;
    let w = |severity: &str, long_ms: f64, short_ms: f64, share: f64| BurnWindow {
        severity: severity.parse().expect("page or ticket"),
        long_ms,
        short_ms,
        factor: burn_factor(share, week, long_ms),
        budget_share: share,
    };
    ir.slos = vec![
        Slo {
            for_ms: None,
            runbook: None,
            labels: Default::default(),
            annotations: Default::default(),
            name: "checkout_errors".into(),
            service: "web".into(),
            route: Some("checkout".into()),
            objective: 0.9999,
            window_ms: 30.0 * DAY,
            sli: Sli::Availability {
                error_status_min: Some(429),
                error_codes: vec![],
            },
            alerts: multiwindow(30.0 * DAY),
        },
        Slo {
            for_ms: None,
            runbook: None,
            labels: Default::default(),
            annotations: Default::default(),
            name: "legacy_latency".into(),
            service: "legacy".into(),
            route: None,
            objective: 0.95,
            window_ms: week,
            sli: Sli::Latency {
                threshold_ms: 1000.0,
            },
            alerts: AlertPolicy {
                name: "weekly".into(),
                windows: vec![
                    w("page", 2.0 * HOUR, 10.0 * MINUTE, 0.05),
                    w("ticket", DAY, 2.0 * HOUR, 0.2),
                ],
            },
        },
        Slo {
            for_ms: None,
            runbook: None,
            labels: Default::default(),
            annotations: Default::default(),
            name: "no_alerts".into(),
            service: "worker".into(),
            route: None,
            objective: 0.99,
            window_ms: 30.0 * DAY,
            sli: Sli::Availability {
                error_status_min: Some(500),
                error_codes: vec![],
            },
            alerts: AlertPolicy {
                name: "none".into(),
                windows: vec![],
            },
        },
    ];
    ir.observe = Some(Observe {
        attach: vec![],
        drift: vec![Drift {
            signal: "retries".into(),
            max_change: 0.2,
            compare_ms: DAY,
        }],
    });
    ir
}
