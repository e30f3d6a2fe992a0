//! The k6 script both the `k6` and the `chaos` targets write: the fixed
//! runtime (`k6_runtime.js`, the same text for every spec) after one line
//! `const SPEC = …;` holding everything the spec says as JSON (through
//! [`escape::js_json`]). The only generated code is a line per request
//! class, `export function class_N() { return run(N); }`, made from an
//! index: no spec text is ever code, whatever a name holds.
//!
//! [`plan`] says what the runtime reads: per request class its share, its
//! routes (method, path split into text and parameters, hard timeout,
//! idempotency key), the stages, the thresholds (p95/p99 of every route's
//! budget on the `route` tag's sub-metric of `http_req_duration`,
//! `http_req_failed` below the target's tightest availability SLO, 1%
//! without one), the API-key pool and the tenant header. With a
//! [`ChaosPlan`] the runtime runs a steady load for the experiment and
//! checks the expectations instead of the stages.

use super::escape;
use crate::backends::Meta;
use crate::ir::{Ir, LoadTest, Method, RequestValue, Service, Sli, Stage};
use serde::Serialize;
use std::collections::BTreeMap;

/// The runtime every script shares.
pub const RUNTIME: &str = include_str!("k6_runtime.js");

pub use crate::ir::DEFAULT_API_KEYS;

/// How many tenants a test spreads its requests over.
const TENANTS: u32 = 100;

/// What the runtime reads: `const SPEC = …`.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub test: String,
    pub target: String,
    /// The target's in-cluster address (`http://api:8080`).
    pub base_url: String,
    pub classes: Vec<Class>,
    pub stages: Vec<StagePlan>,
    /// Metric selector → threshold expressions.
    pub thresholds: BTreeMap<String, Vec<String>>,
    pub api_keys: Option<KeyPool>,
    pub tenant: Option<KeyPool>,
    /// The largest stage rate, requests per second.
    pub peak_rps: f64,
    /// Set for a chaos experiment's script.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chaos: Option<ChaosPlan>,
    /// Set when the test replays a masked trace instead of its stages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay: Option<ReplayPlan>,
}

/// A trace to replay: its path relative to the project root (the script
/// reads `REPLAY_FILE` when set, else this path relative to itself).
#[derive(Debug, Clone, Serialize)]
pub struct ReplayPlan {
    pub file: String,
}

/// A chaos experiment's steady load and what it checks.
#[derive(Debug, Clone, Serialize)]
pub struct ChaosPlan {
    pub experiment: String,
    /// The steady load during the experiment.
    pub rate_rps: f64,
    pub duration_ms: f64,
    /// The longest a failing stretch may last before requests succeed
    /// again (`expect breaker(db) … within 2m`); none without expectations.
    pub recover_within_ms: Option<f64>,
    /// The expectations as written, for the check names.
    pub expectations: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Class {
    /// As in the spec (a tag value in the summary).
    pub class: String,
    /// The class as a tag and scenario name: itself when it is a plain
    /// identifier, else `class-N` (never a plain identifier, so no clash).
    pub class_tag: String,
    pub scenario: String,
    pub share: f64,
    /// The largest p95 (else p99, else timeout) of the class's routes.
    pub p95_ms: f64,
    /// The largest hard timeout of the class's routes.
    pub timeout_ms: f64,
    pub routes: Vec<RoutePlan>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RoutePlan {
    /// The `route` tag: the route's name when plain, else `route-N`.
    pub tag: String,
    /// The `name` tag: the path as written, so `/v1/reports/{id}` is one
    /// series whatever the id.
    pub name_tag: String,
    pub method: &'static str,
    pub path: Vec<PathPart>,
    pub timeout_ms: f64,
    /// The route's p95 (else p99, else timeout): a failure must be faster.
    pub p95_ms: f64,
    /// Writes send a JSON body.
    pub body: bool,
    pub idempotency: Option<RequestValue>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum PathPart {
    Text { text: String },
    Param { param: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct StagePlan {
    pub kind: &'static str,
    pub from_rps: f64,
    pub to_rps: f64,
    pub duration_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct KeyPool {
    pub header: String,
    pub pool: u32,
}

/// A tag value k6's threshold syntax reads back as written: a plain
/// identifier, else `PREFIX-N` (a `-` no identifier has).
fn tag(name: &str, prefix: &str, i: usize) -> String {
    let plain = name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 63;
    if plain {
        name.to_string()
    } else {
        format!("{prefix}-{i}")
    }
}

/// `/v1/reports/{id}` → text `/v1/reports/`, param `id`.
pub fn path_parts(path: &str) -> Vec<PathPart> {
    let mut out = Vec::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}').map(|c| open + c) else {
            break;
        };
        if open > 0 {
            out.push(PathPart::Text {
                text: rest[..open].to_string(),
            });
        }
        out.push(PathPart::Param {
            param: rest[open + 1..close].to_string(),
        });
        rest = &rest[close + 1..];
    }
    if !rest.is_empty() {
        out.push(PathPart::Text {
            text: rest.to_string(),
        });
    }
    out
}

/// A millisecond value in a threshold: whole when whole, else to 0.001.
fn ms_num(x: f64) -> String {
    let r = (x * 1000.0).round() / 1000.0;
    if r.fract() == 0.0 {
        format!("{}", r as i64)
    } else {
        format!("{r}")
    }
}

pub fn plan(ir: &Ir, test: &LoadTest, target: &Service, service_name: &str) -> Plan {
    plan_for(ir, test, target, service_name, None)
}

/// The plan of a test, with a chaos experiment's steady load when `chaos`
/// is set (the test then only lends its mix and name).
pub fn plan_for(
    ir: &Ir,
    test: &LoadTest,
    target: &Service,
    service_name: &str,
    chaos: Option<ChaosPlan>,
) -> Plan {
    let mut classes = Vec::new();
    let mut thresholds: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let route_index: BTreeMap<&str, usize> = target
        .routes
        .iter()
        .enumerate()
        .map(|(i, r)| (r.name.as_str(), i))
        .collect();
    for (ci, (class, share)) in test.mix.iter().enumerate() {
        if *share <= 0.0 {
            continue;
        }
        let routes: Vec<_> = target
            .routes
            .iter()
            .filter(|r| r.class.as_str() == class)
            .collect();
        if routes.is_empty() {
            continue;
        }
        let class_tag = tag(class, "class", ci);
        let mut plans = Vec::new();
        let (mut p95, mut timeout) = (0.0f64, 0.0f64);
        for r in &routes {
            let rtag = tag(&r.name, "route", route_index[r.name.as_str()]);
            let b = &r.budget;
            p95 = p95.max(b.p95_ms.or(b.p99_ms).unwrap_or(b.timeout_ms));
            timeout = timeout.max(b.timeout_ms);
            if test.thresholds_from_budgets {
                let mut t = Vec::new();
                if let Some(v) = b.p95_ms {
                    t.push(format!("p(95)<{}", ms_num(v)));
                }
                if let Some(v) = b.p99_ms {
                    t.push(format!("p(99)<{}", ms_num(v)));
                }
                if !t.is_empty() {
                    thresholds.insert(format!("http_req_duration{{route:{rtag}}}"), t);
                }
            }
            plans.push(RoutePlan {
                tag: rtag,
                name_tag: r.path.clone(),
                method: r.method.as_str(),
                path: path_parts(&r.path),
                timeout_ms: b.timeout_ms,
                p95_ms: b.p95_ms.or(b.p99_ms).unwrap_or(b.timeout_ms),
                body: matches!(r.method, Method::Post | Method::Put | Method::Patch),
                idempotency: r
                    .idempotency
                    .clone()
                    .filter(|v| !matches!(v, RequestValue::Claim(_))),
            });
        }
        classes.push(Class {
            class: class.clone(),
            scenario: class_tag.clone(),
            class_tag,
            share: *share,
            p95_ms: p95,
            timeout_ms: timeout,
            routes: plans,
        });
    }
    // Errors: below the target's tightest availability SLO, else 1%.
    let allowed = ir
        .slos
        .iter()
        .filter(|s| s.service == target.name && matches!(s.sli, Sli::Availability { .. }))
        .map(|s| 1.0 - s.objective)
        .reduce(f64::min)
        .unwrap_or(0.01);
    let allowed = (allowed * 1e6).round() / 1e6;
    thresholds.insert("http_req_failed".into(), vec![format!("rate<{allowed}")]);

    // The API keys the test sends: the header of `per api_key`, else of a
    // target route's own `per_api_key(RATE)`.
    let api_key_header = |key: &str, source: &crate::ir::LimitSource| match (key, source) {
        ("api_key", crate::ir::LimitSource::Header(h)) => Some(KeyPool {
            header: h.clone(),
            pool: test.api_keys.unwrap_or(DEFAULT_API_KEYS),
        }),
        _ => None,
    };
    let api_keys = ir
        .limits
        .as_ref()
        .and_then(|l| {
            l.keys
                .iter()
                .find_map(|k| api_key_header(&k.key, &k.source))
        })
        .or_else(|| {
            target
                .routes
                .iter()
                .flat_map(|r| &r.limits)
                .find_map(|l| api_key_header(&l.key, &l.source))
        });
    let tenant = match &ir.app.tenant {
        Some(RequestValue::Header(h)) => Some(KeyPool {
            header: h.clone(),
            pool: TENANTS,
        }),
        _ => None,
    };
    let port = target.port.unwrap_or(80);
    let peak_rps = test
        .stages
        .iter()
        .map(|s| s.from_rps.max(s.to_rps))
        .fold(0.0, f64::max);
    Plan {
        test: test.name.clone(),
        target: target.name.clone(),
        base_url: format!("http://{service_name}:{port}"),
        classes,
        stages: test
            .stages
            .iter()
            .map(|s| StagePlan {
                kind: s.kind.as_str(),
                from_rps: s.from_rps,
                to_rps: s.to_rps,
                duration_ms: s.duration_ms,
            })
            .collect(),
        thresholds,
        api_keys,
        tenant,
        peak_rps,
        replay: test
            .replay
            .clone()
            .filter(|_| chaos.is_none())
            .map(|file| ReplayPlan { file }),
        chaos,
    }
}

/// A steady stage (for a chaos experiment's load test).
pub fn steady(rps: f64, duration_ms: f64) -> Stage {
    Stage {
        kind: crate::ir::StageKind::Soak,
        from_rps: rps,
        to_rps: rps,
        duration_ms,
    }
}

/// The script: header, the data, the runtime, the options, one exec
/// function per class (made from its index).
pub fn script(meta: &Meta, plan: &Plan) -> String {
    let data = escape::js_json(plan).expect("a plan serialises to JSON");
    let mut s = meta.header("//");
    s.push_str("\n// Everything the spec says, as JSON.\n");
    s.push_str("const SPEC = ");
    s.push_str(&data);
    s.push_str(";\n\n");
    s.push_str(RUNTIME);
    s.push_str("\nexport const options = buildOptions(SPEC);\n\n");
    s.push_str("// One exec function per request class, in the order of SPEC.classes.\n");
    for i in 0..plan.classes.len() {
        s.push_str(&format!(
            "export function class_{i}() {{\n  return run({i});\n}}\n"
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_text_and_params() {
        let p = path_parts("/v1/reports/{id}/x/{y}");
        let j = serde_json::to_string(&p).unwrap();
        assert_eq!(
            j,
            r#"[{"text":"/v1/reports/"},{"param":"id"},{"text":"/x/"},{"param":"y"}]"#
        );
        assert_eq!(
            serde_json::to_string(&path_parts("/a")).unwrap(),
            r#"[{"text":"/a"}]"#
        );
    }

    #[test]
    fn tags_are_plain_or_numbered() {
        assert_eq!(tag("search", "route", 3), "search");
        assert_eq!(tag("se}arch", "route", 3), "route-3");
        assert_eq!(tag("_x", "class", 0), "class-0");
        assert_eq!(ms_num(250.0), "250");
        assert_eq!(ms_num(0.5), "0.5");
    }
}
