//! The app, services, routes, budgets and the call graph.

use super::*;

pub fn generator_not_one_line(span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::BadVersion,
        "the generator pin must be one printable line",
    )
    .primary(span, "invalid generator")
    .help("write it as \"tool@1.2.3\"")
}

/// `@1.2` names no tool; `tool` or `tool@` names no version.
pub fn generator_incomplete(pin: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::BadVersion,
        if pin.starts_with('@') {
            format!("the generator pin \"{pin}\" names no tool")
        } else {
            format!("the generator pin \"{pin}\" names no version")
        },
    )
    .primary(span, "expected \"tool@version\"")
    .help("pin the generator that produced the app, for example \"appforge@3.2.1\"")
}

/// `error`: why the requirement does not parse.
pub fn bad_version_req(req: &str, error: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::BadVersion,
        // Quoted on one line: a tab is shown as `\t` (the renderer escapes
        // every other control character).
        format!(
            "\"{}\" is not a version requirement: {}",
            req.replace('\t', "\\t"),
            error.replace('\t', "\\t")
        ),
    )
    .primary(span, "malformed version")
    .help("write a requirement such as \"0.1\", \">=0.1, <0.3\" or \"=0.1.0\"")
}

pub fn compiler_version(req: &str, ours: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::CompilerVersion,
        format!("this spec needs scalec {req}, but this is scalec {ours}"),
    )
    .primary(span, format!("scalec {ours} does not satisfy this"))
    .help("install a scalec that matches the pin, or update the pin after reading the changelog")
}

pub fn circular_percentile(key: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::CircularPercentile,
        format!("`{key}` is defined in terms of itself"),
    )
    .primary(span, "a circular definition")
    .help("write at least one of the percentiles as a plain duration")
}

pub fn percentile_not_positive(key: &str, span: Span) -> Diagnostic {
    Diagnostic::error(Code::OutOfRange, format!("`{key}` must be more than zero"))
        .primary(span, "not a positive duration")
        .help("a latency budget is a positive duration such as `150ms`")
}

pub fn timeout_not_positive(span: Span) -> Diagnostic {
    Diagnostic::error(Code::OutOfRange, "`timeout` must be more than zero")
        .primary(span, "not a positive duration")
        .help("write a positive duration such as `1s`")
}

/// `lower` (value `lower_ms`) is below `upper`; a `None` span means the
/// value is inherited, and `block` is the budget then pointed at.
pub fn percentile_order(
    lower: &str,
    lower_ms: &str,
    lower_span: Option<Span>,
    upper: &str,
    upper_ms: &str,
    upper_span: Option<Span>,
    block: Span,
) -> Diagnostic {
    let mut d = Diagnostic::error(
        Code::PercentileOrder,
        format!("`{lower}` ({lower_ms}) is below `{upper}` ({upper_ms})"),
    )
    .help("a budget must satisfy p50 ≤ p95 ≤ p99 ≤ timeout");
    d = match lower_span {
        Some(s) => d.primary(s, format!("{lower} is smaller")),
        None => d.primary(block, format!("inherited {lower} is smaller")),
    };
    match upper_span {
        Some(s) => d.secondary(s, format!("than this {upper}")),
        None if lower_span.is_some() => {
            d.secondary(block, format!("the inherited {upper} is {upper_ms}"))
        }
        None => d,
    }
}

pub fn no_budget_bound(span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::NoBudgetBound,
        "this budget has neither `p99` nor `timeout`",
    )
    .primary(span, "no upper bound")
    .help("add `p99 = …` (the timeout then defaults to 1.2 × p99) or `timeout = …`")
}

pub fn timeout_below_p99(timeout: &str, floor: &str, span: Span) -> Diagnostic {
    Diagnostic::warning(
        Code::TimeoutBelowP99,
        format!("timeout {timeout} is below 1.2 × p99 ({floor})"),
    )
    .primary(span, "a tight timeout")
    .help("requests near p99 will be cut off and retried; 1.2 × p99 leaves room, and is the default when `timeout` is omitted")
}

pub fn unused_budget(name: &str, span: Span) -> Diagnostic {
    Diagnostic::warning(
        Code::UnusedBudget,
        format!("the budget `{name}` is never used"),
    )
    .primary(span, "declared here, used nowhere")
    .help("reference it with `budget = NAME` in a route or service, or remove it")
}

pub fn prewarm_needs_warmup(span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::MissingField,
        "`prewarm` needs the endpoint that says the service is warm",
    )
    .primary(span, "warm according to what?")
    .help("add `warmup = \"/path\"`: the startup probe waits for it before the pod takes traffic")
}

pub fn autoscale_twice(span: Span) -> Diagnostic {
    Diagnostic::error(Code::DuplicateField, "`autoscale` is given twice")
        .primary(span, "a second autoscale rule")
        .help("a Deployment scales on one signal: keep one `autoscale` line")
}

pub fn duplicate_route(name: &str, span: Span, first: Span) -> Diagnostic {
    Diagnostic::error(
        Code::DuplicateName,
        format!("the route `{name}` is declared twice"),
    )
    .primary(span, "declared again here")
    .secondary(first, "first declared here")
    .help("give each route of a service its own name")
}

/// `key` is "METHOD /path", `other` the route that already serves it.
pub fn duplicate_endpoint(key: &str, other: &str, span: Span, first: Span) -> Diagnostic {
    Diagnostic::error(
        Code::DuplicateEndpoint,
        format!("`{key}` is already the route `{other}`"),
    )
    .primary(span, "same method and path")
    .secondary(first, "first declared here")
    .help("each method and path is served by one route")
}

pub fn routes_on_dependency(kind: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::RoutesOnDependency,
        format!("a `{kind}` service cannot have routes"),
    )
    .primary(span, "a route on a dependency")
    .help("routes belong to HTTP services (the default kind); declare the HTTP service in front of it and `calls` it")
}

pub fn autoscale_fixed_replicas(replicas: u32, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::AutoscaleFixedReplicas,
        "autoscaling needs a replica range",
    )
    .primary(span, format!("replicas fixed at {replicas}"))
    .help("write `replicas = MIN..MAX` so the autoscaler has room to move")
}

pub fn cpu_autoscale_needs_cpu(span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::MissingField,
        "scaling on CPU needs the service's `cpu`",
    )
    .primary(span, "CPU utilisation is relative to the CPU request")
    .help("add `cpu = 500m` (the request per replica), or scale on `rps` or `queue_depth(…)`")
}

/// `replicas = 5..2`: the fix swaps the bounds.
pub fn replicas_backwards(min: u64, max: u64, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::RangeOrder,
        format!("the replica range {min}..{max} runs backwards"),
    )
    .primary(span, "minimum above maximum")
    .help(format!("write `replicas = {max}..{min}`"))
    .fix(Fix::replace(
        format!("replace `{min}..{max}` with `{max}..{min}`"),
        span,
        format!("{max}..{min}"),
    ))
}

/// `replicas = 2-10`: a subtraction where a range was meant; the fix
/// writes the range.
pub fn range_with_minus(field: &str, lo: f64, hi: f64, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::OutOfRange,
        format!("`{lo}-{hi}` subtracts: it is {}, not a range", lo - hi),
    )
    .primary(span, "a subtraction")
    .help(format!(
        "a range is written with `..`: `{field} = {lo}..{hi}`"
    ))
    .fix(Fix::replace(
        format!("replace `{lo}-{hi}` with `{lo}..{hi}`"),
        span,
        format!("{lo}..{hi}"),
    ))
}

pub fn shard_needs_tenant(span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::MissingField,
        "`shard_by = tenant` needs the app's `tenant`",
    )
    .primary(span, "no tenant is declared")
    .help("add `tenant = header(\"x-tenant-id\")` (or similar) to the `app` block")
}

/// `word`: the signal when written as a bare word.
pub fn unknown_scaling_signal(described: &str, span: Span, word: Option<&str>) -> Diagnostic {
    let help = "scale on `cpu` (target 70%), `rps` (target 200/s per replica) or `queue_depth(\"name\")` (target 100)";
    let d = Diagnostic::error(
        Code::UnknownName,
        format!("cannot autoscale on {described}"),
    )
    .primary(span, "unknown scaling signal");
    match word {
        Some(w) => suggest_or(d, span, w, &["cpu", "rps", "queue_depth"], || {
            help.to_string()
        }),
        None => d.help(help),
    }
}

pub fn unsafe_retry(route: &str, method: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::UnsafeRetry,
        format!("`{route}` retries a {method} without an idempotency key"),
    )
    .primary(span, "a retried write may apply twice")
    .help("add `idempotency = header(\"Idempotency-Key\")` to the route, or remove `retry`")
}

pub fn backoff_backwards(span: Span) -> Diagnostic {
    Diagnostic::error(Code::RangeOrder, "the backoff range runs backwards")
        .primary(span, "first bound above the second")
        .help("write `backoff = SMALLER..LARGER`")
}

pub fn buckets_not_increasing(span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::RangeOrder,
        "histogram buckets must be strictly increasing",
    )
    .primary(span, "out of order")
    .help("list the bucket upper bounds from smallest to largest")
}

pub fn histogram_argument(span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::UnknownField,
        "`histogram` takes a name and `buckets = […]`",
    )
    .primary(span, "unexpected argument")
    .help("write `histogram(\"name\", buckets = [50ms, 100ms])`")
}

/// The label says why: `bad` the first character not allowed, else
/// whether the path lacks its leading `/`.
pub fn invalid_route_path(path: &str, bad: Option<char>, no_slash: bool, span: Span) -> Diagnostic {
    let why = match bad {
        Some(c) => format!("the character {c:?} is not allowed in a route path"),
        None if no_slash => "a route path starts with `/`".to_string(),
        None => "the path has unbalanced `{}`, `//` or `..`".to_string(),
    };
    invalid_path(path, &why, span)
}

/// A call graph cycle: `hops` are (caller → callee, span of the call).
pub fn call_cycle(path: &[&str], hops: &[(&str, &str, Span)]) -> Diagnostic {
    let mut d = Diagnostic::error(
        Code::CallCycle,
        format!("the services call each other in a cycle: {}", path.join(" → ")),
    )
    .help("a call graph must be acyclic so budgets can be summed along it; break the cycle, e.g. with an asynchronous queue");
    for (i, (a, b, span)) in hops.iter().enumerate() {
        let msg = format!("{a} calls {b}");
        d = if i == 0 {
            d.primary(*span, msg)
        } else {
            d.secondary(*span, msg)
        };
    }
    d
}

/// One service on the slowest chain below a route, with what it costs.
pub struct ChainHop {
    service: String,
    duration: String,
    /// The cost is its routes' p99 (end to end), not its own budget.
    routes: bool,
}

impl ChainHop {
    /// A service whose routes' p99 covers everything below it.
    pub fn routes(service: &str, duration: String) -> ChainHop {
        ChainHop {
            service: service.to_string(),
            duration,
            routes: true,
        }
    }

    /// A service costing its own budget.
    pub fn service(service: &str, duration: String) -> ChainHop {
        ChainHop {
            service: service.to_string(),
            duration,
            routes: false,
        }
    }
}

/// `bound` is "p99" or "timeout"; `have` and `need` durations as written.
#[allow(clippy::too_many_arguments)]
pub fn critical_path(
    service: &str,
    route: &str,
    bound: &str,
    have: &str,
    need: &str,
    chain: &[ChainHop],
    span: Span,
    first_call: Option<Span>,
) -> Diagnostic {
    let d = Diagnostic::error(
        Code::CriticalPath,
        format!(
            "the route `{service}.{route}` has {bound} {have} but the slowest chain it calls needs {need}"
        ),
    )
    .primary(span, format!("{bound} {have} here"))
    .note(format!(
        "slowest chain: {}",
        chain
            .iter()
            .map(|h| if h.routes {
                format!("{} routes ({})", h.service, h.duration)
            } else {
                format!("{} ({})", h.service, h.duration)
            })
            .collect::<Vec<_>>()
            .join(" → ")
    ))
    .help("raise the route's p99, or tighten the budgets of the services on that chain");
    match first_call {
        Some(e) => d.secondary(e, "the chain starts with this call"),
        None => d,
    }
}

/// `replicas = 0..N` without an autoscaler that can scale to zero.
pub fn zero_replicas_without_keda(span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::OutOfRange,
        "`replicas` may start at 0 only when KEDA scales the service",
    )
    .primary(span, "scales to zero")
    .help("scaling to zero needs `autoscale on queue_depth(\"queue\") target N` (KEDA wakes the service when work arrives); otherwise start the range at 1")
}

/// `app { namespace = "…" }` that is not a DNS-1123 label.
pub fn invalid_namespace(ns: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::InvalidName,
        format!("\"{}\" is not a Kubernetes namespace name", ns.escape_debug()),
    )
    .primary(span, "invalid namespace")
    .help("a namespace is at most 63 characters: lowercase letters, digits and `-`, beginning and ending with a letter or digit")
}

/// The app's namespace and the build's environment (`--env`) together are
/// longer than a namespace may be. `written`: the namespace is the app's
/// `namespace` field (else the app's name).
pub fn namespace_too_long(base: &str, env: &str, written: bool, span: Span) -> Diagnostic {
    let len = base.len() + 1 + env.len();
    let room = crate::ir::k8s_names::MAX_NAMESPACE.saturating_sub(base.len() + 1);
    Diagnostic::error(
        Code::NamespaceTooLong,
        format!(
            "the namespace `{base}` and the environment `{env}` make `{base}-{env}`, {len} characters; Kubernetes allows 63"
        ),
    )
    .primary(
        span,
        if written {
            "the app's namespace"
        } else {
            "the namespace is the app's name"
        },
    )
    .help(if room > 0 {
        format!("use an environment name of at most {room} characters, or set a shorter `app {{ namespace = \"…\" }}`")
    } else {
        "set a shorter `app { namespace = \"…\" }`: with the environment, at most 63 characters".to_string()
    })
}

/// A service the `k8s` target deploys without a CPU request, a memory
/// request, or both.
pub fn no_resource_requests(
    service: &str,
    no_cpu: bool,
    no_memory: bool,
    span: Span,
) -> Diagnostic {
    let (what, add) = match (no_cpu, no_memory) {
        (true, true) => (
            "CPU and memory requests",
            "`cpu = 250m` and `memory = 256Mi`",
        ),
        (true, false) => ("a CPU request", "`cpu = 250m`"),
        _ => ("a memory request", "`memory = 256Mi`"),
    };
    Diagnostic::warning(
        Code::NoResourceRequests,
        format!("service `{service}` is deployed without {what}"),
    )
    .primary(span, "deployed: it has an image")
    .help(format!(
        "add {add}, what one replica needs: the scheduler places pods by their requests, and the memory limit equals the memory request"
    ))
}

/// A Postgres or MySQL the spec deploys with more than one replica.
pub fn store_replicas(service: &str, kind: &str, max: u32, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::StoreCannotDeploy,
        format!("`{service}` is a {kind} the spec deploys with up to {max} replicas: each would be a separate database"),
    )
    .primary(span, "a StatefulSet of one primary")
    .help(format!("write `replicas = 1`; for a replicated {kind}, run it with an operator (such as CloudNativePG) and drop the `image`, so the spec calls it without deploying it"))
}

/// `storage` or `data_path` on a service that keeps no volume.
pub fn storage_without_volume(field: &str, kind: &str, deployed: bool, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::StoreCannotDeploy,
        format!("`{field}` is only for a data store the spec deploys"),
    )
    .primary(
        span,
        if deployed {
            format!("a `{kind}` keeps no volume")
        } else {
            "not deployed: it has no `image`".to_string()
        },
    )
    .help("`storage` and `data_path` describe the volume of a deployed `postgres`, `mysql` or `vector` (one with an `image`); remove them here")
}

/// A `data_path` that is not a plain absolute path.
pub fn bad_data_path(path: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::InvalidPath,
        format!("\"{}\" is not a data path", path.escape_debug()),
    )
    .primary(span, "invalid mount path")
    .help("write an absolute path of letters, digits, `-`, `_`, `.` and `/`, such as \"/var/lib/postgresql/data\"")
}
