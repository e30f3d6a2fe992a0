//! `app`, `budget`, `service` and `route`: the application's shape and the
//! latency budget of every hop.

use super::fields::FieldVal;
use super::values::{fmt_ms, round3, Value};
use super::{schema, Checker, Dim};
use crate::diagnostics::{catalog, Code, Span};
use crate::ir::{
    self, AuthRule, Autoscale, Method, Metrics, Replicas, Route, Service, ServiceKind,
};
use crate::syntax::ast::{BinOp, Block, Expr, ExprKind, ItemKind};

pub fn lower_app(cx: &mut Checker) -> Option<ir::App> {
    let Some(decl) = cx.singletons.get("app").copied() else {
        if cx.project.diags.iter().any(|d| d.code == Code::Syntax) {
            return None; // the app may be in the part that did not parse
        }
        let span = cx
            .project
            .files
            .iter()
            .find(|f| f.std_module.is_none())
            .map(|f| Span::new(f.id, 0, 0))
            .unwrap_or_default();
        cx.diags.push(catalog::no_app(span));
        return None;
    };
    let f = cx.fields(&decl.body, &schema::APP);
    // A missing name is reported when symbols are collected.
    let name = decl.name.as_ref()?;
    let text = |cx: &mut Checker, key: &str| f.expr(cx, key).and_then(|e| cx.text(e));
    let owner = text(cx, "owner");
    let region = text(cx, "region");
    let generator_e = f.expr(cx, "generator");
    let generator = generator_e.and_then(|e| cx.string(e));
    let scalec = f.expr(cx, "scalec").and_then(|e| {
        let req = cx.string(e)?;
        check_compiler_pin(cx, &req, e.span);
        Some(req)
    });
    if let (Some(g), Some(e)) = (&generator, generator_e) {
        if g.is_empty() || g.chars().any(super::unsafe_char) {
            cx.diags.push(catalog::generator_not_one_line(e.span));
        } else if !g
            .split_once('@')
            .is_some_and(|(t, v)| !t.is_empty() && !v.is_empty())
        {
            cx.diags.push(catalog::generator_incomplete(g, e.span));
        }
    }
    let tenant = f.expr(cx, "tenant").and_then(|e| cx.request_value(e));
    cx.tenant = tenant.clone();
    let prometheus_url = match f.expr(cx, "prometheus") {
        None => DEFAULT_PROMETHEUS.to_string(),
        Some(e) => {
            let url = cx.text(e)?;
            let rest = url
                .strip_prefix("http://")
                .or_else(|| url.strip_prefix("https://"));
            let bad = super::url_flaw(&url);
            if rest.is_none_or(str::is_empty) || bad.is_some() {
                cx.diags
                    .push(catalog::not_http_url(&url, bad, e.span, DEFAULT_PROMETHEUS));
                return None;
            }
            url
        }
    };
    let alert_labels = match f.block(cx, "alert_labels") {
        Some(b) => {
            super::slo::lower_text_map(cx, b, "alert_labels", super::slo::MapKeys::AlertLabels)?
        }
        None => Default::default(),
    };
    let rule_labels = match f.block(cx, "rule_labels") {
        Some(b) => {
            super::slo::lower_text_map(cx, b, "rule_labels", super::slo::MapKeys::KubernetesLabels)?
        }
        None => Default::default(),
    };
    let alert_severities = match f.block(cx, "alert_severities") {
        Some(b) => super::slo::lower_alert_severities(cx, b)?,
        None => Default::default(),
    };
    let namespace_e = f.expr(cx, "namespace");
    let namespace = match namespace_e {
        None => None,
        Some(e) => {
            let ns = cx.string(e)?;
            if !ir::k8s_names::is_dns_1123_label(&ns) {
                cx.diags.push(catalog::invalid_namespace(&ns, e.span));
                return None;
            }
            Some(ns)
        }
    };
    if let Some(env) = cx.env.clone() {
        let base = ir::k8s_names::base_namespace(&name.name, namespace.as_deref());
        let full = ir::k8s_names::namespace(&name.name, namespace.as_deref(), Some(&env));
        if full.len() > ir::k8s_names::MAX_NAMESPACE {
            let (span, written) = match namespace_e {
                Some(e) => (e.span, true),
                None => (name.span, false),
            };
            cx.diags
                .push(catalog::namespace_too_long(&base, &env, written, span));
            return None;
        }
    }
    Some(ir::App {
        alert_severities,
        namespace,
        env: cx.env.clone(),
        alert_labels,
        rule_labels,
        name: name.name.clone(),
        owner,
        region,
        generator,
        scalec,
        tenant,
        prometheus_url,
    })
}

/// The Prometheus service kube-prometheus (the prometheus-operator) creates.
pub const DEFAULT_PROMETHEUS: &str = "http://prometheus-operated.monitoring.svc:9090";

/// `scalec = "0.1"`: the running compiler must satisfy the requirement.
fn check_compiler_pin(cx: &mut Checker, req: &str, span: Span) {
    let ours = semver::Version::parse(crate::VERSION).expect("own version is semver");
    match semver::VersionReq::parse(req) {
        Err(e) => cx
            .diags
            .push(catalog::bad_version_req(req, &e.to_string(), span)),
        Ok(r) if !r.matches(&ours) => {
            cx.diags
                .push(catalog::compiler_version(req, &ours.to_string(), span))
        }
        Ok(_) => {}
    }
}

// ------------------------------------------------------------------ budgets

/// Lowers a budget block over `base` (fields written replace the base's).
pub fn lower_budget(
    cx: &mut Checker,
    block: &Block,
    base: Option<&ir::Budget>,
) -> Option<ir::Budget> {
    let f = cx.fields(block, &schema::BUDGET);
    let mut vals: [Option<f64>; 3] = match base {
        Some(b) => [b.p50_ms, b.p95_ms, b.p99_ms],
        None => [None; 3],
    };
    let mut spans: [Option<Span>; 4] = [None; 4];
    let mut ok = true;
    // Percentiles may refer to each other (`p50 = p99 / 2`) in any order of
    // writing: evaluate each after the ones it names.
    let keys = ["p50", "p95", "p99"];
    let exprs: Vec<Option<&Expr>> = keys.iter().map(|k| f.expr(cx, k)).collect();
    // In an override block `p99 = p99 * 2` reads the base's p99: a field
    // that names itself depends on itself only when there is no base value.
    let deps: Vec<Vec<usize>> = exprs
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mut names = Vec::new();
            if let Some(e) = e {
                names_in(e, &mut names);
            }
            names
                .iter()
                .filter_map(|n| keys.iter().position(|k| k == n))
                .filter(|j| exprs[*j].is_some() && !(*j == i && vals[i].is_some()))
                .collect()
        })
        .collect();
    let mut order: Vec<usize> = Vec::new();
    let mut state = [0u8; 3]; // 0 new, 1 visiting, 2 done
    fn visit(
        i: usize,
        deps: &[Vec<usize>],
        state: &mut [u8; 3],
        order: &mut Vec<usize>,
    ) -> Option<usize> {
        match state[i] {
            2 => return None,
            1 => return Some(i),
            _ => {}
        }
        state[i] = 1;
        for &j in &deps[i] {
            if let Some(c) = visit(j, deps, state, order) {
                return Some(c);
            }
        }
        state[i] = 2;
        order.push(i);
        None
    }
    for i in 0..3 {
        if let Some(c) = visit(i, &deps, &mut state, &mut order) {
            let e = exprs[c].expect("a field in a cycle is written");
            cx.diags.push(catalog::circular_percentile(keys[c], e.span));
            return None;
        }
    }
    for i in order {
        let key = &keys[i];
        if let Some(e) = exprs[i] {
            let env_vals = vals;
            let env = move |n: &str| {
                let idx = ["p50", "p95", "p99"].iter().position(|k| *k == n)?;
                env_vals[idx].map(|v| Value {
                    dim: Dim::Duration,
                    v,
                })
            };
            match cx.eval_with(e, Dim::Duration, &env) {
                Some(v) if v > 0.0 => {
                    vals[i] = Some(v);
                    spans[i] = Some(e.span);
                }
                Some(_) => {
                    cx.diags.push(catalog::percentile_not_positive(key, e.span));
                    ok = false;
                }
                None => ok = false,
            }
        }
    }
    let env_vals = vals;
    let env = move |n: &str| {
        let idx = ["p50", "p95", "p99"].iter().position(|k| *k == n)?;
        env_vals[idx].map(|v| Value {
            dim: Dim::Duration,
            v,
        })
    };
    let written_timeout = match f.expr(cx, "timeout") {
        Some(e) => match cx.eval_with(e, Dim::Duration, &env) {
            Some(v) if v > 0.0 => {
                spans[3] = Some(e.span);
                Some(v)
            }
            Some(_) => {
                cx.diags.push(catalog::timeout_not_positive(e.span));
                return None;
            }
            None => return None,
        },
        None => None,
    };
    if !ok {
        return None;
    }
    // A timeout written in the base is kept unless the override moves p99.
    let inherited_timeout = base
        .filter(|b| !b.timeout_defaulted && spans[2].is_none())
        .map(|b| b.timeout_ms);
    let explicit_timeout = written_timeout.or(inherited_timeout);
    // Percentile order: p50 ≤ p95 ≤ p99 ≤ timeout.
    let names = ["p50", "p95", "p99", "timeout"];
    let all = [vals[0], vals[1], vals[2], explicit_timeout];
    let mut last: Option<(usize, f64)> = None;
    for i in 0..4 {
        let Some(v) = all[i] else { continue };
        if let Some((j, prev)) = last {
            if v < prev {
                let d = catalog::percentile_order(
                    names[i],
                    &fmt_ms(v),
                    spans[i],
                    names[j],
                    &fmt_ms(prev),
                    spans[j],
                    block.span,
                );
                cx.diags.push(d);
                return None;
            }
        }
        last = Some((i, v));
    }
    let (timeout_ms, defaulted) = match (explicit_timeout, vals[2]) {
        (Some(t), _) => (t, false),
        (None, Some(p99)) => (round3(1.2 * p99), true),
        (None, None) => {
            cx.diags.push(catalog::no_budget_bound(block.span));
            return None;
        }
    };
    if let (Some(t), Some(p99), Some(s)) = (written_timeout, vals[2], spans[3]) {
        if t < 1.2 * p99 - 1e-9 {
            cx.diags.push(catalog::timeout_below_p99(
                &fmt_ms(t),
                &fmt_ms(round3(1.2 * p99)),
                s,
            ));
        }
    }
    Some(ir::Budget {
        p50_ms: vals[0],
        p95_ms: vals[1],
        p99_ms: vals[2],
        timeout_ms,
        timeout_defaulted: defaulted,
    })
}

/// A named budget, resolved once and cached.
fn named_budget(cx: &mut Checker, name: &crate::syntax::ast::Ident) -> Option<ir::Budget> {
    let r = cx.lookup("budget", name)?;
    cx.used_budgets.insert(name.name.clone());
    if let Some(b) = cx.resolved_budgets.get(&name.name) {
        return Some(b.clone());
    }
    if cx.failed_budgets.contains(&name.name) {
        return None;
    }
    let Some(b) = lower_budget(cx, &r.decl.body, None) else {
        cx.failed_budgets.insert(name.name.clone());
        return None;
    };
    cx.record_budget(r.name.span, &r.decl.body, &b);
    cx.resolved_budgets.insert(name.name.clone(), b.clone());
    Some(b)
}

/// `budget = name`, `budget = name { overrides }` or `budget { … }`.
fn budget_field(cx: &mut Checker, val: FieldVal) -> Option<(ir::Budget, Option<String>)> {
    match val {
        FieldVal::Block(b) => lower_budget(cx, b, None).map(|b| (b, None)),
        FieldVal::Expr(e, over) => {
            let Some(id) = e.as_ident() else {
                cx.wrong(e, catalog::Expected::BudgetName);
                return None;
            };
            let base = named_budget(cx, id)?;
            match over {
                None => Some((base, Some(id.name.clone()))),
                Some(ob) => lower_budget(cx, ob, Some(&base)).map(|b| (b, Some(id.name.clone()))),
            }
        }
    }
}

pub fn check_unused_budgets(cx: &mut Checker) {
    for r in cx.decls("budget") {
        if r.std.is_none() && !cx.used_budgets.contains(&r.name.name) {
            cx.diags
                .push(catalog::unused_budget(&r.name.name, r.name.span));
        }
    }
    // Named budgets are checked even when unused.
    for r in cx.decls("budget") {
        if !cx.resolved_budgets.contains_key(&r.name.name)
            && !cx.failed_budgets.contains(&r.name.name)
            && r.std.is_none()
        {
            if let Some(b) = lower_budget(cx, &r.decl.body, None) {
                cx.record_budget(r.name.span, &r.decl.body, &b);
                cx.resolved_budgets.insert(r.name.name.clone(), b);
            }
        }
    }
}

// ------------------------------------------------------------------ services

const KINDS: &[(&str, ServiceKind)] = &[
    ("http", ServiceKind::Http),
    ("postgres", ServiceKind::Postgres),
    ("mysql", ServiceKind::Mysql),
    ("redis", ServiceKind::Redis),
    ("vector", ServiceKind::Vector),
    ("queue", ServiceKind::Queue),
    ("external", ServiceKind::External),
    ("worker", ServiceKind::Worker),
];

pub fn lower_services(cx: &mut Checker) -> Vec<Service> {
    let decls = cx.decls("service");
    let mut out = Vec::with_capacity(decls.len());
    for r in decls {
        if let Some(s) = lower_service(cx, r.name.name.as_str(), r.name.span, &r.decl.body) {
            cx.record_service(r, &s);
            out.push(s);
        }
    }
    out
}

fn lower_service(cx: &mut Checker, name: &str, name_span: Span, body: &Block) -> Option<Service> {
    let f = cx.fields(body, &schema::SERVICE);
    // An unknown kind is reported, and the rest of the service still checked.
    let kind = match f.expr(cx, "kind") {
        None => Some(ServiceKind::Http),
        Some(e) => cx
            .word(e, schema::SERVICE_KINDS)
            .and_then(|w| KINDS.iter().find(|k| k.0 == w).map(|k| k.1)),
    };
    let workload = kind.is_some_and(ServiceKind::needs_image);
    let image = match f.expr(cx, "image") {
        Some(e) => cx.string(e).and_then(|s| checked_image(cx, &s, e.span)),
        // (Written in the wrong form, it is reported already.)
        None if workload && f.get("image").is_none() => {
            f.required(cx, "image", "\"registry/name:tag\"");
            None
        }
        None => None,
    };
    let port = match f.expr(cx, "port") {
        Some(e) => cx.integer(e, 1.0, 65535.0).map(|p| p as u16),
        None if workload => Some(schema::default_port()),
        None => None,
    };
    let replicas = match f.expr(cx, "replicas") {
        Some(e) => replicas(cx, e).unwrap_or(Replicas { min: 1, max: 1 }),
        None => Replicas { min: 1, max: 1 },
    };
    let cpu_millicores = f
        .expr(cx, "cpu")
        .and_then(|e| cx.bounded(e, Dim::Cpu, 1.0, 256_000.0, "1m..256 (cores)"))
        .map(|v| v.ceil() as u32);
    let memory_bytes = f
        .expr(cx, "memory")
        .and_then(|e| cx.bounded(e, Dim::Size, 1_048_576.0, 4_398_046_511_104.0, "1Mi..4Ti"))
        .map(|v| v as u64);
    let storage_bytes = f
        .expr(cx, "storage")
        .and_then(|e| cx.bounded(e, Dim::Size, 1_048_576.0, 70_368_744_177_664.0, "1Mi..64Ti"))
        .map(|v| v as u64);
    let data_path = f.expr(cx, "data_path").and_then(|e| {
        let p = cx.string(e)?;
        if super::safe_data_path(&p) {
            Some(p)
        } else {
            cx.diags.push(catalog::bad_data_path(&p, e.span));
            None
        }
    });
    let budget = f.get("budget").and_then(|fl| budget_field(cx, fl.val));
    let prewarm = f
        .expr(cx, "prewarm")
        .and_then(|e| cx.switch(e))
        .unwrap_or(false);
    let shard_by = f.expr(cx, "shard_by").and_then(|e| shard_by(cx, e));
    let metrics_block = f.block(cx, "metrics");
    let metrics = lower_metrics(cx, metrics_block);
    // An HTTP service answers its probes over HTTP; another kind (a vector
    // index, a cache) is probed by a TCP connect unless a path is named.
    let probe = |cx: &mut Checker, key: &str, default: &str| match f.expr(cx, key) {
        Some(e) => cx
            .string(e)
            .and_then(|s| checked_path(cx, &s, e.span))
            .map(|path| ir::Probe::Http { path })
            .unwrap_or(ir::Probe::Tcp),
        None if kind.is_none_or(ServiceKind::serves_routes) => ir::Probe::Http {
            path: default.to_string(),
        },
        None => ir::Probe::Tcp,
    };
    let health = probe(cx, "health", "/healthz");
    let ready = probe(cx, "ready", "/readyz");
    let warmup = probe(cx, "warmup", "/warmup");
    if image.is_some() && !workload && kind.is_some() {
        if port.is_none() && f.get("port").is_none() {
            // The kind's usual port as the example (Postgres 5432, …).
            let usual = kind
                .and_then(ServiceKind::usual_port)
                .map_or_else(|| "8080".to_string(), |p| p.to_string());
            f.required(cx, "port", &usual);
        }
        if prewarm && warmup == ir::Probe::Tcp && f.get("warmup").is_none() {
            let at = f.get("prewarm").map(|p| p.key.span).unwrap_or(body.span);
            cx.diags.push(catalog::prewarm_needs_warmup(at));
        }
    }

    let mut calls = Vec::new();
    let mut call_options: Vec<ir::CallOptions> = Vec::new();
    let mut option_spans: Vec<(String, Span)> = Vec::new();
    let mut autoscale = None;
    let mut autoscale_span = None;
    let first_route = f
        .stmts
        .iter()
        .find(|i| matches!(i.kind, ItemKind::Route { .. }))
        .map(|i| Span {
            end: i.span.start + 5,
            ..i.span
        });
    let mut routes: Vec<Route> = Vec::new();
    let mut route_spans: Vec<(String, Span, String)> = Vec::new();
    for item in &f.stmts {
        match &item.kind {
            ItemKind::Calls { targets, options } => {
                for (i, t) in targets.iter().enumerate() {
                    if let Some(b) = options.get(i).and_then(Option::as_ref) {
                        let opts = lower_call_options(cx, &t.name, b);
                        // Options for one callee are written once (S0309).
                        if let Some((_, prev)) = option_spans.iter().find(|(n, _)| *n == t.name) {
                            cx.diags
                                .push(catalog::call_options_twice(&t.name, t.span, *prev));
                        } else {
                            option_spans.push((t.name.clone(), t.span));
                            if let Some(o) = opts {
                                call_options.push(o);
                            }
                        }
                    }
                    if calls.contains(&t.name) {
                        continue;
                    }
                    calls.push(t.name.clone());
                }
            }
            ItemKind::Autoscale { metric, target } => {
                if autoscale.is_some() {
                    cx.diags.push(catalog::autoscale_twice(item.span));
                    continue;
                }
                autoscale_span = Some(item.span);
                autoscale = lower_autoscale(cx, metric, target);
            }
            ItemKind::Route {
                name: rname,
                method,
                path,
                class,
                block,
            } => {
                if let Some((_, prev, _)) = route_spans.iter().find(|(n, _, _)| *n == rname.name) {
                    cx.diags
                        .push(catalog::duplicate_route(&rname.name, rname.span, *prev));
                    continue;
                }
                let key = format!("{} {}", method.name, path.value);
                if let Some((other, prev, _)) = route_spans.iter().find(|(_, _, k)| *k == key) {
                    cx.diags
                        .push(catalog::duplicate_endpoint(&key, other, path.span, *prev));
                    continue;
                }
                route_spans.push((rname.name.clone(), rname.span, key));
                let meth = match method.name.as_str() {
                    "GET" => Method::Get,
                    "POST" => Method::Post,
                    "PUT" => Method::Put,
                    "PATCH" => Method::Patch,
                    "DELETE" => Method::Delete,
                    "HEAD" => Method::Head,
                    _ => Method::Options,
                };
                let Some(checked) = checked_path(cx, &path.value, path.span) else {
                    continue;
                };
                if let Some(r) = lower_route(
                    cx,
                    &rname.name,
                    meth,
                    checked,
                    class.as_deref(),
                    block.as_deref(),
                    budget.as_ref(),
                ) {
                    cx.record_route(rname, class.as_deref(), block.as_deref(), body, &r);
                    routes.push(r);
                }
            }
            _ => {}
        }
    }
    if let (Some(k), Some(first)) = (kind.filter(|k| !k.serves_routes()), first_route) {
        cx.diags
            .push(catalog::routes_on_dependency(kind_name(k), first));
    }
    if let (Some(span), true) = (autoscale_span, replicas.min == replicas.max) {
        let at = written_span(&f, "replicas").unwrap_or(span);
        cx.diags
            .push(catalog::autoscale_fixed_replicas(replicas.min, at));
    }
    let kind = kind?;
    // Only KEDA (`autoscale on queue_depth`) scales a workload to zero and
    // back: an HPA needs at least one pod to measure.
    if replicas.min == 0 && !matches!(autoscale, Some(Autoscale::QueueDepth { .. })) {
        let at = written_span(&f, "replicas").unwrap_or(body.span);
        cx.diags.push(catalog::zero_replicas_without_keda(at));
    }
    // A replica range without a rule scales on CPU at 70%.
    if autoscale.is_none() && replicas.min < replicas.max {
        autoscale = Some(Autoscale::Cpu {
            target_utilization: 0.7,
        });
    }
    // A deployed data store keeps its data on a volume per replica; a
    // database runs one replica (more would be separate databases).
    let storage = if image.is_some() && kind.holds_data() {
        if kind.single_primary() && replicas.max > 1 {
            let at = written_span(&f, "replicas").unwrap_or(name_span);
            cx.diags.push(catalog::store_replicas(
                name,
                kind_name(kind),
                replicas.max,
                at,
            ));
        }
        Some(ir::Storage {
            bytes: storage_bytes.unwrap_or_else(schema::default_storage_bytes),
            path: data_path
                .or_else(|| schema::default_data_path(kind).map(str::to_string))
                .unwrap_or_default(),
        })
    } else {
        for field in ["storage", "data_path"] {
            if let Some(at) = written_span(&f, field) {
                cx.diags.push(catalog::storage_without_volume(
                    field,
                    kind_name(kind),
                    image.is_some(),
                    at,
                ));
            }
        }
        None
    };
    // CPU utilisation is measured against the CPU request: without one the
    // HorizontalPodAutoscaler cannot compute it and never scales.
    // (A `cpu` that was written but wrong is reported already.)
    let mut cpu_reported = false;
    if let (Some(Autoscale::Cpu { .. }), None, true) = (&autoscale, f.get("cpu"), image.is_some()) {
        let at = autoscale_span
            .or_else(|| written_span(&f, "replicas"))
            .unwrap_or(body.span);
        cx.diags.push(catalog::cpu_autoscale_needs_cpu(at));
        cpu_reported = true;
    }
    // A deployed service says what one replica needs (S0215); a request
    // written wrong, or a CPU request already asked for, is reported once.
    if image.is_some() {
        let no_cpu = f.get("cpu").is_none() && !cpu_reported;
        let no_memory = f.get("memory").is_none();
        if no_cpu || no_memory {
            cx.diags.push(catalog::no_resource_requests(
                name, no_cpu, no_memory, name_span,
            ));
        }
    }
    // Most services have a route or two: no spare capacity (the IR of a
    // large spec is held through the whole build).
    routes.shrink_to_fit();
    Some(Service {
        name: name.to_string(),
        kind,
        image,
        port,
        replicas,
        cpu_millicores,
        memory_bytes,
        autoscale,
        call_options: {
            // In the order of `calls`.
            call_options.sort_by_key(|o| calls.iter().position(|c| *c == o.to));
            call_options
        },
        calls,
        budget: budget.map(|b| b.0),
        routes,
        prewarm,
        shard_by,
        metrics,
        health,
        ready,
        warmup,
        storage,
    })
}

fn kind_name(k: ServiceKind) -> &'static str {
    KINDS
        .iter()
        .find(|x| x.1 == k)
        .map(|x| x.0)
        .unwrap_or("http")
}

/// Where a field's value is written, without reading (and reporting) it
/// again.
fn written_span(f: &super::fields::Fields, name: &str) -> Option<Span> {
    match f.get(name)?.val {
        FieldVal::Expr(e, _) => Some(e.span),
        FieldVal::Block(_) => None,
    }
}

fn replicas(cx: &mut Checker, e: &Expr) -> Option<Replicas> {
    let (lo, hi) = match &e.kind {
        ExprKind::Range { lo, hi } => (lo.as_ref(), hi.as_ref()),
        // `replicas = 2-10`: a range written with a minus.
        ExprKind::Binary {
            op: BinOp::Sub,
            lhs,
            rhs,
        } => match (&lhs.kind, &rhs.kind) {
            (
                ExprKind::Quantity {
                    value: a, unit: ua, ..
                },
                ExprKind::Quantity {
                    value: b, unit: ub, ..
                },
            ) if ua.is_empty() && ub.is_empty() && a < b => {
                cx.diags
                    .push(catalog::range_with_minus("replicas", *a, *b, e.span));
                return None;
            }
            _ => (e, e),
        },
        _ => (e, e),
    };
    // A range may start at 0 (KEDA scales to zero; checked with the
    // autoscaler); a fixed count may not.
    let floor = if std::ptr::eq(lo, hi) { 1.0 } else { 0.0 };
    let min = cx.integer(lo, floor, 10_000.0)?;
    let max = cx.integer(hi, 1.0, 10_000.0)?;
    if min > max {
        cx.diags.push(catalog::replicas_backwards(min, max, e.span));
        return None;
    }
    Some(Replicas {
        min: min as u32,
        max: max as u32,
    })
}

fn shard_by(cx: &mut Checker, e: &Expr) -> Option<ir::RequestValue> {
    if let Some(id) = e.as_ident() {
        if id.name == "tenant" {
            let t = cx.singletons.get("app").and_then(|a| {
                a.body
                    .properties()
                    .find(|(k, _, _)| k.name == "tenant")
                    .map(|(_, v, _)| v.clone())
            });
            return match t {
                // Read (and any problem reported) once, by `lower_app`.
                Some(_) => cx.tenant.clone(),
                None => {
                    cx.diags.push(catalog::shard_needs_tenant(id.span));
                    None
                }
            };
        }
    }
    cx.request_value(e)
}

fn lower_autoscale(cx: &mut Checker, metric: &Expr, target: &Expr) -> Option<Autoscale> {
    match &metric.kind {
        ExprKind::Call { callee, args } if callee.name == "queue_depth" => {
            let queue = match args.as_slice() {
                [a] if a.name.is_none() => cx.token(&a.value)?,
                _ => {
                    cx.wrong(metric, catalog::Expected::QueueName { overflow: false });
                    return None;
                }
            };
            let t = cx.bounded(
                target,
                Dim::Count,
                1.0,
                1e9,
                "1..1000000000 items per replica",
            )?;
            Some(Autoscale::QueueDepth { queue, target: t })
        }
        ExprKind::Path(p) if p.len() == 1 && p[0].name == "cpu" => {
            // Limits equal requests, so utilisation cannot pass 100%.
            let t = cx.bounded(
                target,
                Dim::Fraction,
                0.01,
                1.0,
                "1%..100% of the CPU request",
            )?;
            Some(Autoscale::Cpu {
                target_utilization: t,
            })
        }
        ExprKind::Path(p) if p.len() == 1 && p[0].name == "rps" => {
            let t = cx.bounded(target, Dim::Rate, 0.001, 1e6, "0.001/s..1M rps per replica")?;
            Some(Autoscale::Rps {
                target_per_replica: t,
            })
        }
        _ => {
            let word = metric.as_ident().map(|id| id.name.as_str());
            cx.diags.push(catalog::unknown_scaling_signal(
                &metric.describe(),
                metric.span,
                word,
            ));
            None
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn lower_route(
    cx: &mut Checker,
    name: &str,
    method: Method,
    path: String,
    class: Option<&crate::syntax::ast::Ident>,
    block: Option<&Block>,
    service_budget: Option<&(ir::Budget, Option<String>)>,
) -> Option<Route> {
    let empty = Block {
        items: vec![],
        span: Span::default(),
    };
    let f = cx.fields(block.unwrap_or(&empty), &schema::ROUTE);
    // Every field is checked even when an earlier one failed.
    let budget = match f.get("budget") {
        Some(fl) => budget_field(cx, fl.val),
        None => match service_budget {
            Some((b, n)) => Some((b.clone(), n.clone())),
            None => default_budget(cx),
        },
    };
    let auth = match f.expr(cx, "auth") {
        Some(e) => auth_rule(cx, e),
        None => Some(AuthRule::Authenticated),
    };
    // The first app-wide key; the whole list (and any shape error) is
    // read by `policies::route_limits`, once the `limits` block is known.
    let limit = f.expr(cx, "limit").and_then(|e| {
        let first = match &e.kind {
            ExprKind::List(items) => items.iter().find_map(|i| i.as_ident()),
            _ => e.as_ident(),
        }?;
        Some(
            first
                .name
                .strip_prefix("per_")
                .unwrap_or(&first.name)
                .to_string(),
        )
    });
    let cache_ttl_ms = f.block(cx, "cache").and_then(|b| {
        let cf = cx.fields(b, &schema::CACHE);
        let e = cf.required(cx, "ttl", "30s")?;
        cx.positive(e, Dim::Duration, false)
    });
    let idempotency = f.expr(cx, "idempotency").and_then(|e| cx.request_value(e));
    let retry = f.block(cx, "retry").and_then(|b| lower_retry(cx, b));
    // The body schema's path (its file is read by `contract::check`).
    if let Some(e) = f.expr(cx, "body") {
        if let Some(s) = cx.string(e) {
            cx.project_path(&s, e.span);
        }
    }
    // A key that was written but refused is reported already: not S0306 too.
    let retry_safe =
        method.is_idempotent() || idempotency.is_some() || f.get("idempotency").is_some();
    if let (false, Some(fl)) = (retry_safe, f.get("retry")) {
        cx.diags
            .push(catalog::unsafe_retry(name, method.as_str(), fl.key.span));
    }
    let class = class.map(|c| c.name.clone()).unwrap_or_else(|| {
        match method {
            Method::Get | Method::Head | Method::Options => "read",
            _ => "write",
        }
        .to_string()
    });
    let ((budget, budget_name), auth) = (budget?, auth?);
    Some(Route {
        name: name.to_string(),
        method,
        path,
        class: class.into(),
        budget,
        budget_name,
        auth,
        limit,
        limits: Vec::new(),
        cache_ttl_ms,
        idempotency,
        retry,
        retry_safe,
    })
}

/// Routes without a budget get the budget named `web`: the project's own
/// (or the imported `std.budgets.web`) when there is one, else the stdlib's.
fn default_budget(cx: &mut Checker) -> Option<(ir::Budget, Option<String>)> {
    if let Some(r) = cx.symbols.get("budget").and_then(|t| t.get("web")).copied() {
        return named_budget(cx, r.name).map(|b| (b, Some("web".into())));
    }
    if let Some(b) = cx.resolved_budgets.get("web") {
        return Some((b.clone(), Some("web".into())));
    }
    let project = cx.project;
    let file = project
        .files
        .iter()
        .find(|f| f.std_module.as_deref() == Some("budgets"))?;
    let decl = file
        .ast
        .decls
        .iter()
        .find(|d| d.name.as_ref().is_some_and(|n| n.name == "web"))?;
    let b = lower_budget(cx, &decl.body, None)?;
    if let Some(n) = &decl.name {
        cx.record_budget(n.span, &decl.body, &b);
    }
    cx.resolved_budgets.insert("web".into(), b.clone());
    cx.used_budgets.insert("web".into());
    Some((b, Some("web".into())))
}

/// `calls psp { timeout = 2s  retries = 1 }`: the options of one edge.
fn lower_call_options(cx: &mut Checker, to: &str, b: &Block) -> Option<ir::CallOptions> {
    let f = cx.fields(b, &schema::CALL);
    let timeout = f.expr(cx, "timeout");
    let timeout_ms = match timeout {
        Some(e) => Some(cx.positive(e, Dim::Duration, false)?),
        None => None,
    };
    let retries = match f.expr(cx, "retries") {
        Some(e) => cx.integer(e, 0.0, 10.0)? as u32,
        None => 0,
    };
    Some(ir::CallOptions {
        to: to.to_string(),
        timeout_ms,
        retries,
    })
}

fn lower_retry(cx: &mut Checker, b: &Block) -> Option<ir::Retry> {
    let f = cx.fields(b, &schema::RETRY);
    let attempts = f
        .required(cx, "attempts", "3")
        .and_then(|e| cx.integer(e, 1.0, 10.0))? as u32;
    let (lo, hi) = match f.expr(cx, "backoff") {
        None => (25.0, 250.0),
        Some(e) => match &e.kind {
            ExprKind::Range { lo, hi } => {
                let l = cx.positive(lo, Dim::Duration, false)?;
                let h = cx.positive(hi, Dim::Duration, false)?;
                if l > h {
                    cx.diags.push(catalog::backoff_backwards(e.span));
                    return None;
                }
                (l, h)
            }
            _ => {
                let v = cx.positive(e, Dim::Duration, false)?;
                (v, v)
            }
        },
    };
    Some(ir::Retry {
        attempts,
        backoff_min_ms: lo,
        backoff_max_ms: hi,
    })
}

/// `public`, `authenticated`, `role("admin")`, `mfa`, `device`, combined with `&` and `|`.
pub fn auth_rule(cx: &mut Checker, e: &Expr) -> Option<AuthRule> {
    match &e.kind {
        ExprKind::Paren(inner) => auth_rule(cx, inner),
        ExprKind::Binary {
            op: op @ (BinOp::And | BinOp::Or),
            lhs,
            rhs,
        } => {
            let l = auth_rule(cx, lhs);
            let r = auth_rule(cx, rhs);
            let (l, r) = (l?, r?);
            let mut parts = Vec::new();
            for side in [l, r] {
                match (op, side) {
                    (BinOp::And, AuthRule::All(v)) | (BinOp::Or, AuthRule::Any(v)) => {
                        parts.extend(v)
                    }
                    (_, s) => parts.push(s),
                }
            }
            Some(if *op == BinOp::And {
                AuthRule::All(parts)
            } else {
                AuthRule::Any(parts)
            })
        }
        ExprKind::Call { callee, args } if callee.name == "role" => match args.as_slice() {
            [a] if a.name.is_none() => {
                let role = cx.string(&a.value)?;
                if role.is_empty()
                    || !role
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
                {
                    cx.diags.push(catalog::invalid_role(&role, a.value.span));
                    return None;
                }
                Some(AuthRule::Role(role))
            }
            _ => {
                cx.wrong(e, catalog::Expected::RoleName);
                None
            }
        },
        _ => {
            let words = ["public", "authenticated", "mfa", "device"];
            let w = match e.as_ident() {
                Some(_) => cx.word(e, &words)?,
                None => {
                    cx.wrong(e, catalog::Expected::AuthRule);
                    return None;
                }
            };
            Some(match w.as_str() {
                "public" => AuthRule::Public,
                "authenticated" => AuthRule::Authenticated,
                "mfa" => AuthRule::Mfa,
                _ => AuthRule::DeviceBound,
            })
        }
    }
}

fn lower_metrics(cx: &mut Checker, block: Option<&Block>) -> Metrics {
    let mut m = Metrics {
        requests: "http_server_request_duration_seconds_count".into(),
        latency_histogram: super::slo::DEFAULT_LATENCY_HISTOGRAM.into(),
        buckets_ms: None,
        status_label: "http_response_status_code".into(),
        route_label: "http_route".into(),
        method_label: "http_request_method".into(),
        service_label: "job".into(),
        service_value: None,
    };
    let Some(b) = block else { return m };
    let f = cx.fields(b, &schema::METRICS);
    let call = |cx: &mut Checker,
                key: &str,
                fun: &str|
     -> Option<(String, &[crate::syntax::ast::Arg], Span)> {
        let e = f.expr(cx, key)?;
        match &e.kind {
            ExprKind::Call { callee, args }
                if callee.name == fun && !args.is_empty() && args[0].name.is_none() =>
            {
                let name = cx.string(&args[0].value)?;
                Some((name, &args[1..], args[0].value.span))
            }
            _ => {
                cx.wrong(e, catalog::Expected::NamedCall { field: key, fun });
                None
            }
        }
    };
    if let Some((name, _, span)) = call(cx, "requests", "counter") {
        if metric_name_ok(cx, &name, span, false) {
            m.requests = name;
        }
    }
    if let Some((name, rest, span)) = call(cx, "latency", "histogram") {
        if metric_name_ok(cx, &name, span, false) {
            m.latency_histogram = name.strip_suffix("_bucket").unwrap_or(&name).to_string();
            if f.get("requests").is_none() {
                m.requests = format!("{}_count", m.latency_histogram);
            }
        }
        for a in rest {
            match a.name.as_ref().map(|n| n.name.as_str()) {
                Some("buckets") => {
                    let ExprKind::List(items) = &a.value.kind else {
                        cx.wrong(&a.value, catalog::Expected::DurationList);
                        continue;
                    };
                    let mut bs = Vec::new();
                    for it in items {
                        if let Some(v) = cx.positive(it, Dim::Duration, false) {
                            bs.push(v);
                        }
                    }
                    if bs.windows(2).any(|w| w[0] >= w[1]) {
                        cx.diags.push(catalog::buckets_not_increasing(a.value.span));
                    }
                    m.buckets_ms = Some(bs);
                }
                _ => cx.diags.push(catalog::histogram_argument(a.value.span)),
            }
        }
    }
    for (key, slot) in [("status", 0), ("route", 1), ("method", 2), ("service", 3)] {
        if let Some((name, _, span)) = call(cx, key, "label") {
            if metric_name_ok(cx, &name, span, true) {
                match slot {
                    0 => m.status_label = name,
                    1 => m.route_label = name,
                    2 => m.method_label = name,
                    _ => m.service_label = name,
                }
            }
        }
    }
    m
}

/// Prometheus metric and label names: `[a-zA-Z_:][a-zA-Z0-9_:]*` (no `:` in labels).
fn metric_name_ok(cx: &mut Checker, name: &str, span: Span, label: bool) -> bool {
    let ok_first = |c: char| c.is_ascii_alphabetic() || c == '_' || (!label && c == ':');
    let ok_rest = |c: char| c.is_ascii_alphanumeric() || c == '_' || (!label && c == ':');
    let ok = name.chars().next().is_some_and(ok_first) && name.chars().all(ok_rest);
    if !ok {
        cx.diags
            .push(catalog::invalid_prometheus_name(name, label, span));
    }
    ok
}

/// A URL path every target can carry: `/`, letters, digits, `-._~/` and `{param}`.
pub fn checked_path(cx: &mut Checker, path: &str, span: Span) -> Option<String> {
    let bad = path
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "/-._~{}".contains(*c)));
    let braces_ok = {
        let mut depth = 0i32;
        path.chars().all(|c| {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
            (0..=1).contains(&depth)
        }) && depth == 0
    };
    if !path.starts_with('/')
        || bad.is_some()
        || !braces_ok
        || path.contains("//")
        || path.split('/').any(|s| s == "..")
    {
        cx.diags.push(catalog::invalid_route_path(
            path,
            bad,
            !path.starts_with('/'),
            span,
        ));
        return None;
    }
    if let Some(d) = super::edge::path_too_long(path, span) {
        cx.diags.push(d);
        return None;
    }
    // Each `{…}` names a parameter: an identifier, not `{}` or `{1x}`.
    let param_ok = |p: &str| {
        p.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if let Some(bad) = path
        .split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(p, _)| p))
        .find(|p| !param_ok(p))
    {
        cx.diags.push(catalog::invalid_route_param(path, bad, span));
        return None;
    }
    Some(path.to_string())
}

/// A container image reference, by the OCI distribution grammar:
/// `[HOST[:PORT]/]path/component[:TAG][@sha256:DIGEST]`, lower-case path
/// components, a name of at most 255 characters.
fn checked_image(cx: &mut Checker, image: &str, span: Span) -> Option<String> {
    if let Some(flaw) = super::image_flaw(image) {
        cx.diags.push(catalog::invalid_image(image, flaw, span));
        return None;
    }
    Some(image.to_string())
}

/// The bare names an expression refers to.
fn names_in<'e>(e: &'e Expr, out: &mut Vec<&'e str>) {
    match &e.kind {
        ExprKind::Path(p) if p.len() == 1 => out.push(p[0].name.as_str()),
        ExprKind::Binary { lhs, rhs, .. } => {
            names_in(lhs, out);
            names_in(rhs, out);
        }
        ExprKind::Unary { expr, .. } | ExprKind::Paren(expr) => names_in(expr, out),
        _ => {}
    }
}
