//! The Rust target (`rust/`): per HTTP service, a module that states the
//! service's spec as typed constants for the `scale-runtime` crate (a
//! `ServiceSpec` static) and a `layer()` that builds the tower layer from
//! it; `rust/mod.rs` declares the modules; `auth/rotation.json` is the key
//! rotation calendar the spec's `jwt.rotation` implies.
//!
//! Files, for an app with HTTP services `api` and `web`:
//!
//! ```text
//! rust/mod.rs   rust/api.rs   rust/web.rs   auth/rotation.json
//! ```
//!
//! The generated code is thin and deterministic: every string of the spec
//! enters it through [`escape::rust_string`], every number is printed by
//! the formatters below, and nothing else of the spec is written (no names
//! in comments). Module names are the service names reduced to
//! `[a-z0-9_]`, prefixed `svc_` when that is not a plain identifier, with
//! `_2`, `_3`, … when two collide.

use super::common::escape;
use super::{Artifact, ArtifactSink, Backend, EmitError, Meta};
use crate::ir::{
    AuthRule, Concurrency, Ir, LimitSource, Overflow, RequestValue, Route, Service, ServiceKind,
};
use std::collections::BTreeSet;
use std::fmt::Write;

/// `rust`: tower middleware modules for the `scale-runtime` crate.
pub struct Rust;

impl Backend for Rust {
    fn name(&self) -> &'static str {
        "rust"
    }
    fn description(&self) -> &'static str {
        "Rust tower middleware (scale-runtime): per-service spec constants and layer, JWT rotation calendar"
    }
    /// Only when asked for (`--target rust`): most services of a spec are
    /// not written in Rust, and a plain build stays what it was.
    fn in_default_set(&self) -> bool {
        false
    }
    fn emit(&self, ir: &Ir, meta: &Meta, sink: &dyn ArtifactSink) -> Result<(), EmitError> {
        let header = format!("{}// @generated\n", meta.header("//"));
        let mut taken = BTreeSet::new();
        let mut index = header.clone();
        index.push_str("//! The middleware of each service, for `scale-runtime`.\n\n");
        for svc in ir.services.iter().filter(|s| s.kind == ServiceKind::Http) {
            let module = module_name(&svc.name, &mut taken);
            let _ = writeln!(index, "pub mod {module};");
            sink.put(Artifact {
                path: format!("rust/{module}.rs"),
                contents: service_module(ir, svc, &header),
            })?;
        }
        sink.put(Artifact {
            path: "rust/mod.rs".to_string(),
            contents: index,
        })?;
        if let Some(rot) = ir
            .auth
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .and_then(|j| j.rotation.as_ref())
        {
            sink.put(Artifact {
                path: "auth/rotation.json".to_string(),
                contents: rotation_json(meta, rot),
            })?;
        }
        Ok(())
    }
}

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
    "pub", "ref", "return", "self", "static", "struct", "super", "trait", "true", "type", "union",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "try", "typeof", "unsized", "virtual", "yield", "mod_rs",
];

/// A module name for a service: `[a-z0-9_]`, not a keyword, not starting
/// with a digit or `_`, unique among `taken`.
pub fn module_name(name: &str, taken: &mut BTreeSet<String>) -> String {
    // Lowercase ASCII, digits and single underscores (rustc's snake case).
    let mut reduced = String::new();
    for c in name.chars().take(60) {
        let c = match c {
            'a'..='z' | '0'..='9' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '_',
        };
        if !(c == '_' && reduced.ends_with('_')) {
            reduced.push(c);
        }
    }
    let plain = reduced
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase())
        && !KEYWORDS.contains(&reduced.as_str())
        && !reduced.ends_with('_');
    let base = if plain {
        reduced
    } else {
        let core = reduced.trim_matches('_');
        if core.is_empty() {
            "svc".to_string()
        } else {
            format!("svc_{core}")
        }
    };
    let mut candidate = base.clone();
    let mut n = 2;
    while !taken.insert(candidate.clone()) {
        candidate = format!("{base}_{n}");
        n += 1;
    }
    candidate
}

/// A duration in milliseconds as `Duration::from_micros(N)`.
fn duration(ms: f64) -> String {
    let micros = if ms.is_finite() && ms > 0.0 {
        (ms * 1000.0).round().min(u64::MAX as f64) as u64
    } else {
        0
    };
    format!("Duration::from_micros({})", group(micros))
}

/// `1080000` → `1_080_000` (clippy's readable literals).
fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push('_');
        }
        out.push(c);
    }
    out
}

/// An `f64` literal (always with a `.` or exponent).
fn float(x: f64) -> String {
    if !x.is_finite() {
        return "f64::MAX".to_string();
    }
    let s = format!("{x:?}");
    if s.contains('.') || s.contains('e') {
        s
    } else {
        format!("{s}.0")
    }
}

fn s(v: &str) -> String {
    escape::rust_string(v)
}

fn opt(v: Option<String>) -> String {
    v.map_or_else(|| "None".to_string(), |v| format!("Some({v})"))
}

fn source(v: &RequestValue) -> String {
    match v {
        RequestValue::Header(h) => format!("Source::Header({})", s(&h.to_ascii_lowercase())),
        RequestValue::Query(q) => format!("Source::Query({})", s(q)),
        RequestValue::Cookie(c) => format!("Source::Cookie({})", s(c)),
        RequestValue::Claim(c) => format!("Source::Claim({})", s(c)),
    }
}

fn auth_rule(rule: &AuthRule) -> String {
    match rule {
        AuthRule::Public => "AuthRule::Public".to_string(),
        AuthRule::Authenticated => "AuthRule::Authenticated".to_string(),
        AuthRule::Role(r) => format!("AuthRule::Role({})", s(r)),
        AuthRule::Mfa => "AuthRule::Mfa".to_string(),
        AuthRule::DeviceBound => "AuthRule::DeviceBound".to_string(),
        AuthRule::All(rs) => format!("AuthRule::All(&[{}])", rules(rs)),
        AuthRule::Any(rs) => format!("AuthRule::Any(&[{}])", rules(rs)),
    }
}

fn rules(rs: &[AuthRule]) -> String {
    rs.iter().map(auth_rule).collect::<Vec<_>>().join(", ")
}

fn limit_source(src: &LimitSource) -> String {
    match src {
        LimitSource::ClientIp => "Source::ClientIp".to_string(),
        LimitSource::Header(h) => format!("Source::Header({})", s(&h.to_ascii_lowercase())),
        LimitSource::Claim(c) => format!("Source::Claim({})", s(c)),
    }
}

/// A `LimitSpec { … }` at `indent` spaces.
fn limit_spec(key: &str, source: &LimitSource, rate: f64, burst: u32, indent: usize) -> String {
    let p = " ".repeat(indent);
    format!(
        "{p}LimitSpec {{\n{p}    key: {},\n{p}    source: {},\n{p}    rate_per_sec: {},\n{p}    burst: {},\n{p}}},",
        s(key),
        limit_source(source),
        float(rate),
        group(u64::from(burst)),
    )
}

fn route(r: &Route) -> String {
    let b = &r.budget;
    // Every app-wide key the route lists, and its own rates.
    let shared: Vec<String> = r
        .limits
        .iter()
        .filter(|l| !l.own)
        .map(|l| s(&l.key))
        .collect();
    let own: Vec<String> = r
        .limits
        .iter()
        .filter(|l| l.own)
        .map(|l| limit_spec(&l.key, &l.source, l.rate_rps, l.burst, 16))
        .collect();
    let own = if own.is_empty() {
        "&[]".to_string()
    } else {
        format!("&[\n{}\n            ]", own.join("\n"))
    };
    format!(
        "        RouteSpec {{\n            name: {},\n            method: {},\n            path: {},\n            class: {},\n            p50: {},\n            timeout: {},\n            auth: {},\n            limit: {},\n            limits: &[{}],\n            own_limits: {own},\n            idempotency: {},\n        }},\n",
        s(&r.name),
        s(r.method.as_str()),
        s(&r.path),
        s(r.class.as_str()),
        opt(b.p50_ms.map(duration)),
        duration(b.timeout_ms),
        auth_rule(&r.auth),
        opt(r.limit.as_deref().map(s)),
        shared.join(", "),
        opt(r.idempotency.as_ref().map(source)),
    )
}

fn service_module(ir: &Ir, svc: &Service, header: &str) -> String {
    let mut o = header.to_string();
    o.push_str("//! One service's spec as typed constants, and its tower layer.\n\n");
    o.push_str("use scale_runtime::{\n    AuthRule, Concurrency, Config, DownstreamSpec, JwtSpec, LimitSpec, Overflow, PowSpec,\n    RotationSpec, RouteSpec, ScaleLayer, ServiceSpec, SessionSpec, Source,\n};\nuse std::time::Duration;\n\n");
    o.push_str("/// The service's routes, limits and auth posture.\npub static SPEC: ServiceSpec = ServiceSpec {\n");
    let _ = writeln!(o, "    app: {},", s(&ir.app.name));
    let _ = writeln!(o, "    service: {},", s(&svc.name));
    let _ = writeln!(o, "    region: {},", opt(ir.app.region.as_deref().map(s)));
    let _ = writeln!(
        o,
        "    cpu_millicores: {},",
        opt(svc.cpu_millicores.map(|m| group(u64::from(m))))
    );
    o.push_str("    routes: &[\n");
    for r in &svc.routes {
        o.push_str(&route(r));
    }
    o.push_str("    ],\n    limits: &[\n");
    let (conc, overflow) = match &ir.limits {
        Some(l) => {
            for k in &l.keys {
                let _ = writeln!(
                    o,
                    "{}",
                    limit_spec(&k.key, &k.source, k.rate_rps, k.burst, 8)
                );
            }
            let conc = match l.concurrency {
                Concurrency::Cores => "Concurrency::Cores".to_string(),
                Concurrency::Fixed(n) => format!("Concurrency::Fixed({})", group(u64::from(n))),
            };
            let overflow = match &l.overflow {
                Overflow::Reject => "Overflow::Reject".to_string(),
                Overflow::Queue { name, timeout_ms } => format!(
                    "Overflow::Queue {{\n        name: {},\n        timeout: {},\n    }}",
                    s(name),
                    duration(*timeout_ms)
                ),
            };
            (conc, overflow)
        }
        None => (
            "Concurrency::Cores".to_string(),
            "Overflow::Reject".to_string(),
        ),
    };
    o.push_str("    ],\n");
    // The call edges: each callee with its timeout and retries.
    o.push_str("    downstreams: &[");
    for c in &svc.calls {
        let opts = svc.call_options.iter().find(|x| &x.to == c);
        let _ = write!(
            o,
            "\n        DownstreamSpec {{\n            service: {},\n            timeout: {},\n            retries: {},\n        }},",
            s(c),
            opt(opts.and_then(|x| x.timeout_ms).map(duration)),
            group(u64::from(opts.map_or(0, |x| x.retries))),
        );
    }
    o.push_str(if svc.calls.is_empty() {
        "],\n"
    } else {
        "\n    ],\n"
    });
    let _ = writeln!(o, "    concurrency: {conc},");
    let _ = writeln!(o, "    overflow: {overflow},");
    let auth = ir.auth.as_ref();
    match auth.and_then(|a| a.jwt.as_ref()) {
        None => o.push_str("    jwt: None,\n"),
        Some(j) => {
            let algs: Vec<String> = j.algorithms.iter().map(|a| s(a)).collect();
            let rotation = opt(j.rotation.as_ref().map(|r| {
                format!(
                    "RotationSpec {{\n            every: {},\n            overlap: {},\n            anchor_unix_secs: {},\n        }}",
                    duration(r.every_ms),
                    duration(r.overlap_ms),
                    r.starts_unix_secs.unwrap_or(0)
                )
            }));
            let _ = writeln!(
                o,
                "    jwt: Some(JwtSpec {{\n        issuer: {},\n        audience: {},\n        algorithms: &[{}],\n        max_size_bytes: {},\n        rotation: {rotation},\n        jwks_uri: {},\n    }}),",
                s(&j.issuer),
                s(&j.audience),
                algs.join(", "),
                group(j.max_size_bytes),
                opt(j.jwks_uri.as_deref().map(s)),
            );
        }
    }
    match auth.and_then(|a| a.session.as_ref()) {
        None => o.push_str("    session: None,\n"),
        Some(se) => {
            let _ = writeln!(
                o,
                "    session: Some(SessionSpec {{\n        pin: {},\n        fallback: {},\n        refresh_cap: {},\n    }}),",
                opt(se.pin.as_deref().map(s)),
                opt(se.fallback.as_deref().map(s)),
                opt(se.refresh_cap_ms.map(duration)),
            );
        }
    }
    let _ = writeln!(
        o,
        "    mfa_required_for: {},",
        opt(auth
            .and_then(|a| a.mfa_required_for.as_ref())
            .map(auth_rule))
    );
    let _ = writeln!(
        o,
        "    device_binding: {},",
        auth.is_some_and(|a| a.device_binding)
    );
    let _ = writeln!(
        o,
        "    risk_scoring: {},",
        opt(auth.and_then(|a| a.risk_scoring.as_deref()).map(s))
    );
    let pow = auth.and_then(|a| a.proof_of_work.as_ref()).map(|p| {
        format!(
            "PowSpec {{\n        when: {},\n        difficulty: {},\n    }}",
            opt(p.when.as_deref().map(s)),
            group(u64::from(p.difficulty))
        )
    });
    let _ = writeln!(o, "    proof_of_work: {},", opt(pow));
    let attach: Vec<String> = ir
        .observe
        .as_ref()
        .map(|ob| ob.attach.iter().map(|a| s(a)).collect())
        .unwrap_or_default();
    let _ = writeln!(o, "    attach: &[{}],", attach.join(", "));
    o.push_str("};\n\n");
    o.push_str("/// The tower layer for this service: wrap the whole application with it\n/// (`ServiceBuilder::new().layer(layer(config)).service(router)`).\npub fn layer<B>(config: Config) -> ScaleLayer<B> {\n    ScaleLayer::new(&SPEC, config)\n}\n");
    // Names the runtime imports but this spec does not use would warn.
    for (name, used) in [
        ("DownstreamSpec", o.contains("DownstreamSpec {")),
        ("JwtSpec", o.contains("JwtSpec {")),
        ("PowSpec", o.contains("PowSpec {")),
        ("RotationSpec", o.contains("RotationSpec {")),
        ("SessionSpec", o.contains("SessionSpec {")),
        ("LimitSpec", o.contains("LimitSpec {")),
        ("RouteSpec", o.contains("RouteSpec {")),
        ("Source", o.contains("Source::")),
        ("AuthRule", o.contains("AuthRule::")),
        ("Overflow", o.contains("Overflow::")),
        ("Concurrency", o.contains("Concurrency::")),
        ("Duration", o.contains("Duration::")),
    ] {
        if !used {
            o = o.replacen(&format!(" {name},"), "", 1);
            if name == "Duration" {
                o = o.replacen("use std::time::Duration;\n", "", 1);
            }
        }
    }
    o
}

#[derive(serde::Serialize)]
struct RotationFile {
    generated: serde_json::Value,
    /// Key `n` signs from `anchor + n × every` (the spec's `starts`, or the
    /// Unix epoch).
    anchor: String,
    kid_format: &'static str,
    every_ms: f64,
    overlap_ms: f64,
    /// Each phase of key `n`, as an offset from its `sign_from`.
    phases_ms: Phases,
    rule: &'static str,
    /// With `starts`: each kid's dates for the first year (at least two
    /// kids); later kids follow the same rule.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    keys: Vec<DatedKey>,
}

#[derive(serde::Serialize)]
struct DatedKey {
    kid: String,
    publish: String,
    sign_from: String,
    sign_until: String,
    retire: String,
}

/// How many kids `rotation.json` dates: enough to cover a year from the
/// first, at least two, at most 400 (a rotation every day).
fn dated_kids(every_ms: f64) -> u64 {
    let year_ms = 365.0 * 86_400_000.0;
    ((year_ms / every_ms).ceil() + 1.0).clamp(2.0, 400.0) as u64
}

#[derive(serde::Serialize)]
struct Phases {
    publish: f64,
    sign_from: f64,
    sign_until: f64,
    retire: f64,
}

fn rotation_json(meta: &Meta, rot: &crate::ir::Rotation) -> String {
    use crate::ir::time::format_utc_ms;
    let (every_ms, overlap_ms) = (rot.every_ms, rot.overlap_ms);
    let anchor_ms = rot.starts_unix_secs.unwrap_or(0).saturating_mul(1000);
    // Milliseconds since the epoch of `anchor + x` (never before 1970).
    let at = |x: f64| format_utc_ms((anchor_ms as f64 + x).max(0.0).round() as u64);
    let keys = match rot.starts_unix_secs {
        None => Vec::new(),
        Some(_) => (0..dated_kids(every_ms))
            .map(|n| {
                let from = n as f64 * every_ms;
                DatedKey {
                    kid: format!("k{n}"),
                    publish: at(from - overlap_ms),
                    sign_from: at(from),
                    sign_until: at(from + every_ms),
                    retire: at(from + every_ms + overlap_ms),
                }
            })
            .collect(),
    };
    let f = RotationFile {
        // No input hash: the calendar changes only when the rotation does.
        generated: serde_json::json!({
            "compiler": meta.compiler,
            "generator": meta.generator,
            "requires": meta.requires,
        }),
        anchor: at(0.0),
        kid_format: "k{n}",
        every_ms,
        overlap_ms,
        phases_ms: Phases {
            publish: -overlap_ms,
            sign_from: 0.0,
            sign_until: every_ms,
            retire: every_ms + overlap_ms,
        },
        rule: "key n signs from anchor + n*every until anchor + (n+1)*every; it is published overlap before it signs and retired overlap after it stops, so two kids verify inside every overlap; scale_runtime::rotation::Calendar computes the dates",
        keys,
    };
    let mut out = serde_json::to_string_pretty(&f).unwrap_or_default();
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_are_identifiers_and_unique() {
        let mut t = BTreeSet::new();
        assert_eq!(module_name("api", &mut t), "api");
        assert_eq!(module_name("api", &mut t), "api_2");
        assert_eq!(module_name("type", &mut t), "svc_type");
        assert_eq!(module_name("Web_UI", &mut t), "web_ui");
        assert_eq!(module_name("a-b", &mut t), "a_b");
        assert_eq!(module_name("a__b", &mut t), "a_b_2");
        assert_eq!(module_name("\u{e9}", &mut t), "svc");
        assert_eq!(module_name("9lives", &mut t), "svc_9lives");
        assert_eq!(module_name("_x", &mut t), "svc_x");
        assert_eq!(group(1_080_000), "1_080_000");
        assert_eq!(float(100.0), "100.0");
        assert_eq!(duration(0.5), "Duration::from_micros(500)");
    }
}
