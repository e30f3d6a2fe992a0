//! The request span: `scale.request` carries the route, its class, the
//! service and the attached tags (not the ones the spec does not attach).
//! A test binary of its own: tracing caches a callsite's interest for the
//! whole process, and another test thread reaching the callsite first with
//! no subscriber would hide the span from this one.

use http::{Request, StatusCode};
use scale_runtime::*;
use std::sync::{Arc, Mutex};
use tower::{Layer, ServiceExt};

mod fixture;
use fixture::{inner, Body, SPEC};

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
        // Interest in a callsite is cached process-wide; make sure it is
        // computed with this subscriber in place.
        tracing::callsite::rebuild_interest_cache();
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
