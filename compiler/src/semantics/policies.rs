//! `limits`, `auth` and `observe`: the application-wide policies.

use super::services::auth_rule;
use super::values::fmt_ms;
use super::{schema, Checker, Dim};
use crate::diagnostics::{catalog, Span};
use crate::ir::{self, Concurrency, LimitKey, LimitSource, Overflow, Service};
use crate::syntax::ast::{Expr, ExprKind, ItemKind};

const LIMIT_KEYS: &[&str] = &["api_key", "ip", "identity", "tenant"];

pub fn lower_limits(cx: &mut Checker, services: &mut [Service]) -> Option<ir::Limits> {
    let decl = cx.singletons.get("limits").copied();
    let mut keys: Vec<LimitKey> = Vec::new();
    // Keys named by `per`, valid or not, so routes are checked against what was meant.
    let mut named: Vec<(String, crate::diagnostics::Span)> = Vec::new();
    let mut out = None;
    if let Some(decl) = decl {
        let f = cx.fields(&decl.body, &schema::LIMITS);
        for item in &f.stmts {
            let ItemKind::Per { key, block } = &item.kind else {
                continue;
            };
            if !LIMIT_KEYS.contains(&key.name.as_str()) {
                let d = catalog::unknown_limit_key(&key.name, key.span, LIMIT_KEYS);
                cx.diags.push(d);
                continue;
            }
            if let Some((_, prev)) = named.iter().find(|(n, _)| *n == key.name) {
                cx.diags
                    .push(catalog::duplicate_limit_key(&key.name, key.span, *prev));
                continue;
            }
            named.push((key.name.clone(), key.span));
            let pf = cx.fields(block, &schema::LIMIT);
            let Some(rate_e) = pf.required(cx, "rate", "100/s") else {
                continue;
            };
            let Some(rate) = cx.positive(rate_e, Dim::Rate, false) else {
                continue;
            };
            let burst = match pf.expr(cx, "burst") {
                Some(e) => {
                    let Some(b) = cx.integer(e, 1.0, 1e9) else {
                        continue;
                    };
                    if (b as f64) < rate {
                        cx.diags
                            .push(catalog::burst_below_rate(b, rate, e.span, rate_e.span));
                        continue;
                    }
                    b as u32
                }
                None => rate.ceil() as u32,
            };
            let source = match pf.expr(cx, "from") {
                Some(e) => match cx.request_value(e) {
                    Some(ir::RequestValue::Header(h)) => LimitSource::Header(h),
                    Some(ir::RequestValue::Claim(c)) => LimitSource::Claim(c),
                    Some(_) => {
                        cx.wrong(e, catalog::Expected::HeaderOrClaim);
                        continue;
                    }
                    None => continue,
                },
                None => match default_source(cx, &key.name, key.span) {
                    Some(s) => s,
                    None => continue,
                },
            };
            keys.push(LimitKey {
                key: key.name.clone(),
                source,
                rate_rps: rate,
                burst,
            });
        }
        let concurrency = match f.expr(cx, "concurrency") {
            None => Some(Concurrency::Cores),
            Some(e) if e.as_ident().is_some_and(|i| i.name == "cores") => Some(Concurrency::Cores),
            Some(e) if e.as_ident().is_some() => {
                cx.word(e, &["cores"]);
                None
            }
            Some(e) => cx
                .integer(e, 1.0, 1e6)
                .map(|n| Concurrency::Fixed(n as u32)),
        };
        let queue_timeout = f
            .expr(cx, "queue_timeout")
            .and_then(|e| cx.positive(e, Dim::Duration, false));
        let overflow = match f.expr(cx, "overflow") {
            None => Some(Overflow::Reject),
            Some(e) => match &e.kind {
                ExprKind::Call { callee, args } if callee.name == "queue" => {
                    match args.as_slice() {
                        [a] if a.name.is_none() => cx.token(&a.value).map(|name| Overflow::Queue {
                            name,
                            timeout_ms: queue_timeout.unwrap_or_else(|| {
                                schema::default_of(&schema::LIMITS, "queue_timeout", Dim::Duration)
                            }),
                        }),
                        _ => {
                            cx.wrong(e, catalog::Expected::QueueName { overflow: true });
                            None
                        }
                    }
                }
                _ => cx.word(e, &["reject"]).map(|_| Overflow::Reject),
            },
        };
        let edge_replicas = match f.expr(cx, "edge_replicas") {
            None => Some(1),
            Some(e) => cx.integer(e, 1.0, 1e4).map(|n| n as u32),
        };
        if let (Some(concurrency), Some(overflow), Some(edge_replicas)) =
            (concurrency, overflow, edge_replicas)
        {
            out = Some(ir::Limits {
                keys: keys.clone(),
                concurrency,
                overflow,
                edge_replicas,
            });
        }
    }
    route_limits(cx, services, &keys, &named, decl.is_some());
    out
}

/// Where a key is read from when `from` is not written; `None` when it
/// cannot be read (reported at `span`).
fn default_source(cx: &mut Checker, key: &str, span: Span) -> Option<LimitSource> {
    Some(match key {
        "api_key" => LimitSource::Header("x-api-key".into()),
        "ip" => LimitSource::ClientIp,
        "identity" => LimitSource::Claim("sub".into()),
        _ => match cx.singletons.get("app").and_then(|a| {
            a.body
                .properties()
                .find(|(k, _, _)| k.name == "tenant")
                .map(|(_, v, _)| v.clone())
        }) {
            // Read (and any problem reported) once, by `lower_app`.
            Some(_) => match cx.tenant.clone() {
                Some(ir::RequestValue::Header(h)) => LimitSource::Header(h),
                Some(ir::RequestValue::Claim(c)) => LimitSource::Claim(c),
                Some(_) => {
                    cx.diags.push(catalog::tenant_not_proxy_readable(span));
                    return None;
                }
                None => return None,
            },
            None => {
                cx.diags.push(catalog::per_tenant_needs_tenant(span));
                return None;
            }
        },
    })
}

/// Every route's `limit`: `per_KEY` (an app-wide key, which must be
/// declared, S0402), `per_KEY(RATE)` / `per_KEY(rate = R, burst = N)` (a
/// bucket of the route's own, read as `limits` reads the key, else from
/// the key's default source), or a list of them. One key twice is S0404;
/// an own rate not below the app-wide rate it sits under is S0405.
/// Fills each IR route's `limits`.
fn route_limits(
    cx: &mut Checker,
    services: &mut [Service],
    keys: &[LimitKey],
    named: &[(String, Span)],
    has_limits: bool,
) {
    let declared: Vec<&str> = named.iter().map(|k| k.0.as_str()).collect();
    for r in cx.decls("service") {
        // By the index built after lowering (a scan per service was
        // quadratic: 16% of the check at 10k services).
        let svc = cx
            .service_index
            .get(r.name.name.as_str())
            .copied()
            .filter(|i| services.get(*i).is_some_and(|s| s.name == r.name.name));
        for item in &r.decl.body.items {
            let ItemKind::Route {
                name: rname,
                block: Some(b),
                ..
            } = &item.kind
            else {
                continue;
            };
            // The first `limit` only (a second is S0109, reported already).
            let Some((_, v, _)) = b.properties().find(|(k, _, _)| k.name == "limit") else {
                continue;
            };
            let written: Vec<&Expr> = match &v.kind {
                ExprKind::List(items) => items.iter().collect(),
                _ => vec![v],
            };
            if written.is_empty() {
                cx.wrong(v, catalog::Expected::LimitKey);
                continue;
            }
            let mut out: Vec<(ir::RouteLimit, Span)> = Vec::new();
            for e in written {
                let (id, args) = match &e.kind {
                    ExprKind::Call { callee, args } => (&**callee, Some(args)),
                    _ => match e.as_ident() {
                        Some(id) => (id, None),
                        None => {
                            cx.wrong(e, catalog::Expected::LimitKey);
                            continue;
                        }
                    },
                };
                let key = id.name.strip_prefix("per_").unwrap_or(&id.name);
                let Some(args) = args else {
                    if let Some((_, at)) = named.iter().find(|(n, _)| n == key) {
                        cx.model.refer(id, *at);
                    }
                    if !declared.contains(&key) {
                        let cands: Vec<String> =
                            declared.iter().map(|d| format!("per_{d}")).collect();
                        let d = catalog::undeclared_route_limit(
                            &id.name, key, id.span, &cands, has_limits,
                        );
                        cx.diags.push(d);
                        continue;
                    }
                    let Some(k) = keys.iter().find(|k| k.key == key) else {
                        continue;
                    };
                    out.push((
                        ir::RouteLimit {
                            key: k.key.clone(),
                            source: k.source.clone(),
                            rate_rps: k.rate_rps,
                            burst: k.burst,
                            own: false,
                        },
                        id.span,
                    ));
                    continue;
                };
                if !LIMIT_KEYS.contains(&key) {
                    let d = catalog::unknown_limit_key(key, id.span, LIMIT_KEYS);
                    cx.diags.push(d);
                    continue;
                }
                let mut rate = None;
                let mut burst_e = None;
                let mut ok = true;
                for (i, a) in args.iter().enumerate() {
                    match a.name.as_ref().map(|n| n.name.as_str()) {
                        None if i == 0 => rate = Some(&a.value),
                        Some("rate") if rate.is_none() => rate = Some(&a.value),
                        Some("burst") if burst_e.is_none() => burst_e = Some(&a.value),
                        _ => {
                            cx.wrong(&a.value, catalog::Expected::OwnRate);
                            ok = false;
                        }
                    }
                }
                let Some(rate_e) = rate else {
                    if ok {
                        cx.wrong(e, catalog::Expected::OwnRate);
                    }
                    continue;
                };
                let Some(rate) = cx.positive(rate_e, Dim::Rate, false) else {
                    continue;
                };
                let burst = match burst_e {
                    Some(be) => {
                        let Some(b) = cx.integer(be, 1.0, 1e9) else {
                            continue;
                        };
                        if (b as f64) < rate {
                            cx.diags
                                .push(catalog::burst_below_rate(b, rate, be.span, rate_e.span));
                            continue;
                        }
                        b as u32
                    }
                    None => rate.ceil() as u32,
                };
                if !ok {
                    continue;
                }
                let source = match keys.iter().find(|k| k.key == key) {
                    Some(k) => k.source.clone(),
                    None => match default_source(cx, key, id.span) {
                        Some(s) => s,
                        None => continue,
                    },
                };
                out.push((
                    ir::RouteLimit {
                        key: key.to_string(),
                        source,
                        rate_rps: rate,
                        burst,
                        own: true,
                    },
                    e.span,
                ));
            }
            // One key twice, the same kind of bucket: S0404. An own rate
            // under the app-wide one of its key must be the lower: S0405.
            let mut kept: Vec<(ir::RouteLimit, Span)> = Vec::new();
            for (l, at) in out {
                if let Some((_, first)) =
                    kept.iter().find(|(k, _)| k.key == l.key && k.own == l.own)
                {
                    cx.diags
                        .push(catalog::route_limit_twice(&l.key, at, *first));
                    continue;
                }
                kept.push((l, at));
            }
            for (l, at) in &kept {
                if !l.own {
                    continue;
                }
                if let Some((s, _)) = kept.iter().find(|(k, _)| k.key == l.key && !k.own) {
                    if l.rate_rps + 1e-9 >= s.rate_rps {
                        cx.diags.push(catalog::own_rate_never_binds(
                            &l.key, l.rate_rps, s.rate_rps, *at,
                        ));
                    }
                }
            }
            // HAProxy tracks three keys per request (S1202, as for `limits`).
            let read: Vec<&(ir::RouteLimit, Span)> = kept
                .iter()
                .filter(|(l, _)| !matches!(l.source, LimitSource::Claim(_)))
                .collect();
            if let Some((l, at)) = read.get(super::edge::HAPROXY_COUNTERS) {
                cx.diags.push(catalog::limit_keys_over_haproxy(
                    read.len(),
                    super::edge::HAPROXY_COUNTERS,
                    *at,
                    &l.key,
                ));
            }
            let Some(route) =
                svc.and_then(|i| services[i].routes.iter_mut().find(|x| x.name == rname.name))
            else {
                continue;
            };
            route.limit = kept
                .iter()
                .find(|(l, _)| !l.own)
                .map(|(l, _)| l.key.clone());
            let all: Vec<ir::RouteLimit> = kept.into_iter().map(|(l, _)| l).collect();
            // One app-wide key is `limit` alone, in memory as in `ir.json`.
            route.limits = if ir::RouteLimit::only_limit(&all) {
                Vec::new()
            } else {
                all
            };
        }
    }
}

const ALGORITHMS: &[&str] = schema::JWT_ALGORITHMS;

pub fn lower_auth(cx: &mut Checker) -> Option<ir::Auth> {
    let decl = cx.singletons.get("auth").copied()?;
    let f = cx.fields(&decl.body, &schema::AUTH);
    let jwt = f.block(cx, "jwt").and_then(|b| lower_jwt(cx, b));
    let session = f.block(cx, "session").map(|b| {
        let sf = cx.fields(b, &schema::SESSION);
        let pin = sf
            .expr(cx, "pin")
            .and_then(|e| cx.word(e, schema::words(&schema::SESSION, "pin")));
        let fallback = sf
            .expr(cx, "fallback")
            .and_then(|e| cx.word(e, schema::words(&schema::SESSION, "fallback")));
        let refresh_cap_ms = sf.expr(cx, "refresh_cap").and_then(|e| {
            let v = cx.positive(e, Dim::Duration, false)?;
            if v > 30.0 * 86_400_000.0 {
                cx.diags.push(catalog::refresh_cap_long(&fmt_ms(v), e.span));
            }
            Some(v)
        });
        ir::Session {
            pin,
            fallback,
            refresh_cap_ms,
        }
    });
    let mfa_required_for = f.expr(cx, "mfa").and_then(|e| match &e.kind {
        ExprKind::For { value, cond } => {
            cx.word(value, &["required"])?;
            auth_rule(cx, cond)
        }
        _ => match cx.switch(e)? {
            true => Some(ir::AuthRule::Authenticated),
            false => None,
        },
    });
    let device_binding = f
        .expr(cx, "device_binding")
        .and_then(|e| cx.switch(e))
        .unwrap_or(false);
    let risk_scoring = f.expr(cx, "risk_scoring").and_then(|e| hook(cx, e));
    let proof_of_work = f.get("proof_of_work").and_then(|fl| {
        let super::fields::FieldVal::Expr(e, block) = fl.val else {
            cx.wrong(
                &Expr {
                    kind: ExprKind::List(vec![]),
                    span: fl.span,
                },
                catalog::Expected::OnOff,
            );
            return None;
        };
        let when = match &e.kind {
            ExprKind::On(cond) => cond.as_ref().map(|c| c.name.clone()),
            _ => {
                if !cx.switch(e)? {
                    return None;
                }
                None
            }
        };
        let difficulty = match block {
            Some(b) => {
                let pf = cx.fields(b, &schema::PROOF_OF_WORK);
                match pf.expr(cx, "difficulty") {
                    Some(d) => cx.integer(d, 1.0, 32.0)? as u32,
                    None => {
                        schema::default_of(&schema::PROOF_OF_WORK, "difficulty", Dim::Count) as u32
                    }
                }
            }
            None => schema::default_of(&schema::PROOF_OF_WORK, "difficulty", Dim::Count) as u32,
        };
        Some(ir::ProofOfWork { when, difficulty })
    });
    Some(ir::Auth {
        jwt,
        session,
        mfa_required_for,
        device_binding,
        risk_scoring,
        proof_of_work,
    })
}

fn hook(cx: &mut Checker, e: &Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Call { callee, args }
            if callee.name == "hook" && args.len() == 1 && args[0].name.is_none() =>
        {
            let name = cx.string(&args[0].value)?;
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
            {
                cx.diags
                    .push(catalog::invalid_hook(&name, args[0].value.span));
                return None;
            }
            Some(name)
        }
        _ => match cx.switch(e) {
            Some(false) => None,
            _ => {
                cx.wrong(e, catalog::Expected::Hook);
                None
            }
        },
    }
}

fn https_url(cx: &mut Checker, e: &Expr, what: &str, why: &str) -> Option<String> {
    let s = cx.string(e)?;
    let host = s.strip_prefix("https://").unwrap_or("");
    let bad = super::url_flaw(&s);
    if host.is_empty() || bad.is_some() {
        cx.diags
            .push(catalog::not_https_url(what, &s, bad, e.span, why));
        return None;
    }
    if let Some(d) = super::edge::url_too_long(what, &s, e.span) {
        cx.diags.push(d);
        return None;
    }
    Some(s)
}

fn lower_jwt(cx: &mut Checker, b: &crate::syntax::ast::Block) -> Option<ir::Jwt> {
    let f = cx.fields(b, &schema::JWT);
    let issuer = f
        .required(cx, "issuer", "\"https://id.example.com\"")
        .and_then(|e| {
            https_url(
                cx,
                e,
                "issuer",
                "JWT issuers are https URLs, compared byte for byte with the token's `iss`",
            )
        });
    let audience = f
        .required(cx, "audience", "\"my-app\"")
        .and_then(|e| cx.text(e));
    let jwks_uri = f.expr(cx, "jwks").and_then(|e| {
        https_url(
            cx,
            e,
            "JWKS address",
            "the signing keys are fetched from an https URL",
        )
    });
    let mut algorithms = Vec::new();
    if let Some(e) = f.required(cx, "algorithms", "[ES256]") {
        let items: Vec<&Expr> = match &e.kind {
            ExprKind::List(items) => items.iter().collect(),
            _ => vec![e],
        };
        for it in items {
            let Some(id) = it.as_ident() else {
                cx.wrong(it, catalog::Expected::AlgorithmName);
                continue;
            };
            if !ALGORITHMS.contains(&id.name.as_str()) {
                let d = catalog::unknown_algorithm(&id.name, id.span, ALGORITHMS);
                cx.diags.push(d);
                continue;
            }
            if !algorithms.contains(&id.name) {
                algorithms.push(id.name.clone());
            }
        }
    }
    let max_size_bytes = match f.expr(cx, "max_size") {
        Some(e) => match cx.positive(e, Dim::Size, false) {
            Some(v) if v > 8192.0 => {
                cx.diags.push(catalog::jwt_size_too_large(v, e.span));
                None
            }
            Some(v) => {
                if v > 2048.0 {
                    cx.diags.push(catalog::jwt_size_large(v, e.span));
                }
                Some(v as u64)
            }
            None => None,
        },
        None => Some(schema::default_of(&schema::JWT, "max_size", Dim::Size) as u64),
    };
    let rotation = f.block(cx, "rotation").and_then(|rb| {
        let rf = cx.fields(rb, &schema::ROTATION);
        let every_e = rf.required(cx, "every", "30d")?;
        let every = cx.positive(every_e, Dim::Duration, false)?;
        let overlap_e = rf.required(cx, "overlap", "7d")?;
        let overlap = cx.positive(overlap_e, Dim::Duration, true)?;
        if overlap >= every {
            cx.diags.push(catalog::rotation_overlap(
                &fmt_ms(overlap),
                &fmt_ms(every),
                overlap_e.span,
                every_e.span,
            ));
            return None;
        }
        let starts_unix_secs = match rf.expr(cx, "starts") {
            Some(e) => {
                let s = cx.string(e)?;
                match crate::ir::time::parse_utc(&s) {
                    Some(t) => Some(t),
                    None => {
                        cx.diags.push(catalog::rotation_start(&s, e.span));
                        return None;
                    }
                }
            }
            None => None,
        };
        Some(ir::Rotation {
            every_ms: every,
            overlap_ms: overlap,
            starts_unix_secs,
        })
    });
    if algorithms.is_empty() {
        return None;
    }
    Some(ir::Jwt {
        issuer: issuer?,
        audience: audience?,
        algorithms,
        max_size_bytes: max_size_bytes?,
        rotation,
        jwks_uri,
    })
}

pub fn lower_observe(cx: &mut Checker) -> Option<ir::Observe> {
    let decl = cx.singletons.get("observe").copied()?;
    let f = cx.fields(&decl.body, &schema::OBSERVE);
    let mut attach = Vec::new();
    if let Some(e) = f.expr(cx, "attach") {
        match &e.kind {
            ExprKind::List(items) => {
                for it in items {
                    match it.as_ident() {
                        Some(id) => {
                            if !attach.contains(&id.name) {
                                attach.push(id.name.clone());
                            }
                        }
                        None => cx.wrong(it, catalog::Expected::AttributeName),
                    }
                }
            }
            _ => cx.wrong(e, catalog::Expected::AttributeList),
        }
    }
    let mut drift = Vec::new();
    if let Some(b) = f.block(cx, "drift") {
        // A name that is not a signal is S0609, with the signals as fixes;
        // the rest of the block is read as usual.
        let fields = schema::DRIFT.field_names();
        let signals: Vec<&str> = fields.iter().copied().filter(|n| *n != "compare").collect();
        let mut known = b.clone();
        known.items.retain(|it| match &it.kind {
            ItemKind::Property { key, .. } if !fields.contains(&key.name.as_str()) => {
                cx.diags
                    .push(catalog::unknown_drift_signal(&key.name, key.span, &signals));
                false
            }
            _ => true,
        });
        let df = cx.fields(&known, &schema::DRIFT);
        let compare_ms = match df.expr(cx, "compare") {
            None => 7.0 * 86_400_000.0,
            Some(e) => match &e.kind {
                ExprKind::Path(_) => match cx.word(e, &["daily", "weekly"]) {
                    Some(w) if w == "daily" => 86_400_000.0,
                    _ => 7.0 * 86_400_000.0,
                },
                _ => cx
                    .positive(e, Dim::Duration, false)
                    .unwrap_or(7.0 * 86_400_000.0),
            },
        };
        for field in &df.list {
            if field.key.name == "compare" {
                continue;
            }
            if let Some(e) = df.expr(cx, &field.key.name) {
                if let Some(v) = cx.positive(e, Dim::Fraction, false) {
                    drift.push(ir::Drift {
                        signal: field.key.name.as_str().into(),
                        max_change: v,
                        compare_ms,
                    });
                }
            }
        }
    }
    Some(ir::Observe { attach, drift })
}
