//! The language's schema, stated once: every block, its fields (type, unit,
//! default, range, a one-line doc) and the statements it accepts.
//!
//! Readers: the checker (`Checker::fields` reads the field lists for the
//! unknown/duplicate/missing checks, and defaults such as the port come from
//! here), completion and hover ([`crate::query`]), and `docs/language.md`,
//! whose field tables are generated from this table (see
//! `compiler/tests/schema_docs.rs`: a test fails when they disagree, and
//! `UPDATE_DOCS=1` rewrites them).
//!
//! A default is written as the language writes it (`8080`, `30d`, `1s`) and
//! read by the checker with [`FieldSpec::default_quantity`], so each default
//! lives in this file only.

use super::values::{unit_factor, Dim};

/// What a field holds.
#[derive(Debug, Clone, Copy)]
pub enum Ty {
    /// A quantity of this dimension.
    Quantity(Dim),
    /// A quantity or a range `A..B` of this dimension.
    Range(Dim),
    /// A string.
    Str,
    /// One of these bare words.
    Words(&'static [&'static str]),
    /// `on` / `off`.
    Switch,
    /// The name of a declaration of this kind (`budget`, `service`, …).
    Ref(&'static str),
    /// A block (`name { … }`).
    Block(&'static BlockSpec),
    /// A declaration name, or an inline block (`budget = web`, `budget { … }`).
    RefOrBlock(&'static str, &'static BlockSpec),
    /// Anything else (request values, conditions, calls): see the doc.
    Other,
}

/// The value a field takes when it is omitted.
#[derive(Debug, Clone, Copy)]
pub enum DefaultValue {
    /// No value.
    None,
    /// The field must be written (S0106).
    Required,
    /// A value written in the language's own syntax, read by the checker.
    Value(&'static str),
    /// A value in the language's syntax, with the condition it applies under
    /// (markdown, appended in the docs).
    ValueWhen(&'static str, &'static str),
    /// A derived or conditional default, described (markdown).
    Text(&'static str),
}

#[derive(Debug)]
pub struct FieldSpec {
    pub name: &'static str,
    pub ty: Ty,
    /// The docs' "type" column (markdown).
    pub type_doc: &'static str,
    pub default: DefaultValue,
    /// One line for hover and completion.
    pub doc: &'static str,
    /// The docs' "notes" column (markdown), may be empty.
    pub notes: &'static str,
}

#[derive(Debug)]
pub struct BlockSpec {
    /// A stable name for the block (`service`, `route`, `jwt`, `window`, …).
    pub id: &'static str,
    /// How messages name it ("a service", "`limits`").
    pub what: &'static str,
    /// One line for hover and completion.
    pub doc: &'static str,
    pub fields: &'static [FieldSpec],
    /// Statements the block accepts (`route`, `calls`, `per`, …).
    pub stmts: &'static [&'static str],
    /// The block of items named freely (`alert_policy`'s windows).
    pub any_child: Option<&'static BlockSpec>,
}

const fn f(
    name: &'static str,
    ty: Ty,
    type_doc: &'static str,
    default: DefaultValue,
    doc: &'static str,
    notes: &'static str,
) -> FieldSpec {
    FieldSpec {
        name,
        ty,
        type_doc,
        default,
        doc,
        notes,
    }
}

const fn block(
    id: &'static str,
    what: &'static str,
    doc: &'static str,
    fields: &'static [FieldSpec],
    stmts: &'static [&'static str],
) -> BlockSpec {
    BlockSpec {
        id,
        what,
        doc,
        fields,
        stmts,
        any_child: None,
    }
}

use DefaultValue::{Required, Text, Value, ValueWhen};
use Ty::{Other, Quantity, Ref, RefOrBlock, Str, Switch, Words};
const NONE: DefaultValue = DefaultValue::None;

// ------------------------------------------------------------------ app

pub static APP: BlockSpec = block(
    "app",
    "`app`",
    "The application: its name, owner, pins and where its tenant comes from. One per project.",
    &[
        f(
            "owner",
            Str,
            "string",
            NONE,
            "The owning team.",
            "the owning team",
        ),
        f(
            "region",
            Str,
            "string",
            NONE,
            "The region the app runs in.",
            "",
        ),
        f(
            "generator",
            Str,
            "string `\"tool@version\"`",
            NONE,
            "The tool that produced the app, pinned; recorded in every artifact header.",
            "the tool that produced the app; recorded in every artifact header ([§7](#7-versions))",
        ),
        f(
            "scalec",
            Str,
            "string, a semver requirement",
            NONE,
            "The compiler versions this spec accepts.",
            "the compiler versions this spec accepts ([§7](#7-versions))",
        ),
        f(
            "tenant",
            Other,
            "request value",
            NONE,
            "Where a request's tenant comes from (`header(\"x-tenant-id\")`).",
            "where a request's tenant comes from; used by `shard_by = tenant` and `per tenant`",
        ),
        f(
            "prometheus",
            Str,
            "string, an `http://` or `https://` URL",
            Value("\"http://prometheus-operated.monitoring.svc:9090\""),
            "The Prometheus that KEDA queries for `queue_depth` scaling.",
            "the Prometheus that KEDA queries for `queue_depth` scaling; IR `prometheus_url`",
        ),
        f(
            "alert_labels",
            Ty::Block(&LABELS),
            "block `name = \"text\" …`",
            Text("`team = owner`"),
            "Labels every SLO alert carries, for Alertmanager routing.",
            "every SLO alert carries them (an SLO's own `labels` win); `team` defaults to `owner`",
        ),
        f(
            "rule_labels",
            Ty::Block(&LABELS),
            "block `name = \"text\" …`, Kubernetes label values",
            NONE,
            "Labels on every PrometheusRule object, for a Prometheus `ruleSelector`.",
            "on every PrometheusRule object, e.g. `release = \"kube-prometheus-stack\"` for that chart's rule selector",
        ),
        f(
            "namespace",
            Str,
            "string, a DNS-1123 label",
            Text("the app's Kubernetes name"),
            "The Kubernetes namespace of every object; `scalec build --env NAME` appends `-NAME`.",
            "every object and namespace-scoped query; with `--env NAME`, `<namespace>-NAME` (at most 63 characters in all)",
        ),
        f(
            "alert_severities",
            Ty::Block(&ALERT_SEVERITIES),
            "block `page = \"…\"  ticket = \"…\"`",
            Text("`critical`, `warning`"),
            "The `severity` label values of a page and a ticket, for Alertmanager routing.",
            "each a plain word (letters, digits, `-`, `_`, `.`; at most 63), the two different (S0610); below",
        ),
    ],
    &[],
);

pub static ALERT_SEVERITIES: BlockSpec = block(
    "alert_severities",
    "`alert_severities`",
    "The `severity` label of every alert: one value for a page, one for a ticket.",
    &[
        f(
            "page",
            Str,
            "string, a plain word",
            Value("\"critical\""),
            "The `severity` of a page: burn-rate alerts of `page` windows.",
            "burn-rate alerts of `severity = page` windows",
        ),
        f(
            "ticket",
            Str,
            "string, a plain word",
            Value("\"warning\""),
            "The `severity` of a ticket: `ticket` windows, missing data, drift.",
            "burn-rate alerts of `severity = ticket` windows, the missing-data alerts and the drift alerts",
        ),
    ],
    &[],
);

pub static LABELS: BlockSpec = block("labels", "labels", "`name = \"text\"` per label.", &[], &[]);

pub static ANNOTATIONS: BlockSpec = block(
    "annotations",
    "annotations",
    "`name = \"text\"` per annotation.",
    &[],
    &[],
);

// ------------------------------------------------------------------ budgets

pub static BUDGET: BlockSpec = block(
    "budget",
    "a budget",
    "A latency budget: the percentiles a hop must meet and its hard timeout.",
    &[
        f(
            "p50",
            Quantity(Dim::Duration),
            "duration > 0",
            NONE,
            "The median latency.",
            "IR `p50_ms`",
        ),
        f(
            "p95",
            Quantity(Dim::Duration),
            "duration > 0",
            NONE,
            "The 95th percentile latency.",
            "IR `p95_ms`",
        ),
        f(
            "p99",
            Quantity(Dim::Duration),
            "duration > 0",
            NONE,
            "The 99th percentile latency.",
            "IR `p99_ms`",
        ),
        f(
            "timeout",
            Quantity(Dim::Duration),
            "duration > 0",
            Text("1.2 × `p99`"),
            "The hard timeout; defaults to 1.2 × p99.",
            "the hard timeout; IR `timeout_ms`, and `timeout_defaulted`",
        ),
    ],
    &[],
);

// ------------------------------------------------------------------ services

pub const SERVICE_KINDS: &[&str] = &[
    "http", "postgres", "mysql", "redis", "vector", "queue", "external", "worker",
];

pub static CACHE: BlockSpec = block(
    "cache",
    "a cache",
    "Response caching for a route.",
    &[f(
        "ttl",
        Quantity(Dim::Duration),
        "duration > 0",
        Required,
        "How long a cached response is served.",
        "IR `cache_ttl_ms`",
    )],
    &[],
);

pub static RETRY: BlockSpec = block(
    "retry",
    "a retry policy",
    "How a failed call of the route is retried.",
    &[
        f(
            "attempts",
            Quantity(Dim::Count),
            "whole number 1–10",
            Required,
            "How many attempts in all.",
            "",
        ),
        f(
            "backoff",
            Ty::Range(Dim::Duration),
            "a duration, or a range `MIN..MAX` (> 0)",
            Value("25ms..250ms"),
            "The wait between attempts.",
            "",
        ),
    ],
    &[],
);

pub static CALL: BlockSpec = block(
    "call",
    "a call edge",
    "`calls NAME { … }`: how the caller calls one service (its timeout and retries).",
    &[
        f(
            "timeout",
            Quantity(Dim::Duration),
            "duration > 0",
            Text("none: the call is bounded by the route's own timeout"),
            "The caller's hard timeout for one try of the call.",
            "IR `call_options[].timeout_ms`; the chain check counts `timeout × (retries + 1)` for the edge",
        ),
        f(
            "retries",
            Quantity(Dim::Count),
            "whole number 0–10",
            Value("0"),
            "Retries of the call after the first try.",
            "IR `call_options[].retries`",
        ),
    ],
    &[],
);

pub static ROUTE: BlockSpec = block(
    "route",
    "a route",
    "`route NAME METHOD \"path\" class CLASS { … }`: an endpoint of an HTTP service.",
    &[
        f("budget", RefOrBlock("budget", &BUDGET), "budget ([§6.2](#62-budget))",
          Text("the service's `budget`, else `std.budgets.web`"),
          "The route's latency budget: a budget name, `NAME { overrides }` or an inline block.",
          "IR `budget` (effective) and `budget_name`"),
        f("auth", Other, "auth rule (below)", Value("authenticated"),
          "Who may call the route: `public`, `authenticated`, `role(\"…\")`, `mfa`, `device`, with `&` and `|`.", ""),
        f("limit", Other, "`per_KEY` (or `KEY`), `per_KEY(RATE)`, or a list of them", Text("every `limits` key"),
          "The limits that apply: `limits` keys (`per_ip`, `per_api_key`, …) and own rates (`per_api_key(50/s)`), alone or in a list.",
          "`per_KEY`: the app-wide bucket of `limits { per KEY }`; `per_KEY(RATE)` or `per_KEY(rate = RATE, burst = N)`: a bucket of the route's own; `[per_ip, per_api_key(50/s)]`: all of them; IR `limit` = the first app-wide key, `limits` = all"),
        f("cache", Ty::Block(&CACHE), "block `{ ttl = DURATION }`", NONE,
          "Response caching: `cache { ttl = 30s }`.", "`ttl` required, > 0; IR `cache_ttl_ms`"),
        f("idempotency", Other, "request value", NONE,
          "Where the idempotency key is read from (`header(\"Idempotency-Key\")`).",
          "where the idempotency key is read from"),
        f("retry", Ty::Block(&RETRY), "block `{ attempts, backoff }`", NONE,
          "Retries: `retry { attempts = 3  backoff = 100ms..2s }`.",
          "`attempts`: whole number 1–10, required; `backoff`: a duration or a range `MIN..MAX` (> 0), default `25ms..250ms`"),
        f("body", Str, "string, a path", NONE,
          "The JSON Schema of the request body (JSON, or YAML), checked against the gate's contract.",
          "relative to the **project root**; must be a valid JSON Schema and agree with the contract's `requestBody` ([§6.15](#615-gate))"),
    ],
    &[],
);

pub static METRICS: BlockSpec = block(
    "metrics",
    "a metrics binding",
    "The Prometheus series a service's SLOs count (OpenTelemetry names by default).",
    &[
        f(
            "requests",
            Other,
            "`counter(\"name\")`",
            Value("\"http_server_request_duration_seconds_count\""),
            "The request counter.",
            "",
        ),
        f(
            "latency",
            Other,
            "`histogram(\"name\", buckets = [D, …])`",
            Value("\"http_server_request_duration_seconds\""),
            "The latency histogram and its bucket bounds.",
            "",
        ),
        f(
            "status",
            Other,
            "`label(\"name\")`",
            Value("\"http_response_status_code\""),
            "The status code label.",
            "",
        ),
        f(
            "route",
            Other,
            "`label(\"name\")`",
            Value("\"http_route\""),
            "The route label.",
            "",
        ),
        f(
            "method",
            Other,
            "`label(\"name\")`",
            Value("\"http_request_method\""),
            "The method label.",
            "",
        ),
        f(
            "service",
            Other,
            "`label(\"name\")`",
            Value("\"job\""),
            "The label naming the service.",
            "",
        ),
    ],
    &[],
);

pub static SERVICE: BlockSpec = block(
    "service",
    "a service",
    "An HTTP workload the spec deploys (the default kind), or a dependency it calls.",
    &[
        f("kind", Words(SERVICE_KINDS), "`http`, `postgres`, `mysql`, `redis`, `vector`, `queue`, `external`, `worker`", Value("http"),
          "What the service is; `http` and `worker` need an image, only `http` may have routes.",
          "`http` and `worker` (the app's own code) need an image; only `http` may have routes; a `worker` gets no Service and is probed by a TCP connect to its metrics port; any kind with an image is deployed"),
        f("image", Str, "string", Text("required for `http`"),
          "The container image, `REGISTRY/NAME:TAG` or `NAME@sha256:…`.",
          "`[REGISTRY[:PORT]/]name/path[:TAG][@sha256:DIGEST]` by the OCI reference grammar: lower-case name components, at most 255 characters"),
        f("port", Quantity(Dim::Count), "whole number 1–65535", ValueWhen("8080", "for `http`, none otherwise"),
          "The port the service listens on.", ""),
        f("replicas", Ty::Range(Dim::Count), "whole number, or range `MIN..MAX`, 1–10 000 (a range may start at 0 with `autoscale on queue_depth`)", Value("1..1"),
          "How many pods: a number, or `MIN..MAX` for autoscaling.", "a single number means MIN = MAX"),
        f("cpu", Quantity(Dim::Cpu), "CPU amount, `1m..256` cores", NONE,
          "The CPU request per replica (`500m`, or cores).",
          "`500m`, or cores (`0.5`, `2`); IR `cpu_millicores`, rounded up"),
        f("memory", Quantity(Dim::Size), "size, `1Mi..4Ti`", NONE, "The memory per replica.", "IR `memory_bytes`"),
        f("budget", RefOrBlock("budget", &BUDGET), "budget ([§6.2](#62-budget))", NONE,
          "The default budget of the service's routes, and its p99 in the call graph.",
          "the default budget of the service's routes, and the service's p99 in the call graph"),
        f("prewarm", Switch, "switch", Value("off"),
          "Take traffic only once the warmup endpoint answers.", ""),
        f("shard_by", Other, "`tenant`, or a request value", NONE,
          "What requests are sharded by; `tenant` means the app's `tenant`.",
          "`tenant` means the app's `tenant`"),
        f("metrics", Ty::Block(&METRICS), "block ([§6.5](#65-metrics))", Text("OpenTelemetry names"),
          "The series SLOs count.", "the series SLOs count"),
        f("health", Str, "string, a route path", Text("HTTP services: `\"/healthz\"`; other kinds: a TCP connect"),
          "The liveness probe endpoint.", "an HTTP GET on the path; checked like route paths"),
        f("ready", Str, "string, a route path", Text("HTTP services: `\"/readyz\"`; other kinds: a TCP connect"),
          "The readiness probe endpoint.", "an HTTP GET on the path; checked like route paths"),
        f("warmup", Str, "string, a route path", Text("HTTP services: `\"/warmup\"`; other kinds: a TCP connect"),
          "The startup probe endpoint that says the service is warm.", "an HTTP GET on the path; checked like route paths"),
        f("storage", Quantity(Dim::Size), "size, `1Mi..64Ti`", ValueWhen("10Gi", "for a deployed `postgres`, `mysql` or `vector`"),
          "The volume each replica of a deployed data store keeps its data on.",
          "only on a deployed `postgres`, `mysql` or `vector` (one with an `image`): a StatefulSet's volume claim per replica; IR `storage.bytes`"),
        f("data_path", Str, "string, an absolute path", Text("`postgres`: `\"/var/lib/postgresql/data\"`; `mysql`: `\"/var/lib/mysql\"`; `vector`: `\"/qdrant/storage\"`"),
          "Where the data store's image keeps its data (the volume's mount path).",
          "with `storage`; Postgres's `PGDATA` is a folder below it; IR `storage.path`"),
    ],
    &["route", "calls", "autoscale"],
);

// ------------------------------------------------------------------ limits

pub static LIMIT: BlockSpec = block(
    "per",
    "a limit",
    "`per KEY { rate, burst, from }`: a token bucket per key.",
    &[
        f(
            "rate",
            Quantity(Dim::Rate),
            "rate > 0",
            Required,
            "The sustained rate allowed per key.",
            "IR `rate_rps`",
        ),
        f(
            "burst",
            Quantity(Dim::Count),
            "whole number 1–10⁹",
            Text("⌈rate⌉ (one second of rate)"),
            "The bucket size; at least one second of rate.",
            "must be ≥ one second of rate",
        ),
        f(
            "from",
            Other,
            "`header(\"…\")` or `claim(\"…\")`",
            Text("per key, above"),
            "Where the key is read from.",
            "",
        ),
    ],
    &[],
);

pub static LIMITS: BlockSpec = block(
    "limits",
    "`limits`",
    "Rate limits per key, the concurrency cap and what happens past it. One per project.",
    &[
        f(
            "concurrency",
            Other,
            "`cores`, or a whole number 1–10⁶",
            Value("cores"),
            "In-flight requests per pod; `cores` = the pod's CPU, rounded up.",
            "in-flight requests per pod; `cores` = the pod's CPU, rounded up",
        ),
        f(
            "overflow",
            Other,
            "`reject` or `queue(\"name\")`",
            Value("reject"),
            "What happens past the concurrency cap.",
            "what happens past the concurrency cap",
        ),
        f(
            "queue_timeout",
            Quantity(Dim::Duration),
            "duration > 0",
            Value("1s"),
            "How long a request may wait in the overflow queue.",
            "how long a request may wait in the overflow queue",
        ),
        f(
            "edge_replicas",
            Quantity(Dim::Count),
            "whole number 1–10⁴",
            Value("1"),
            "How many proxy instances enforce these limits, each with its own buckets.",
            "each instance keeps its own buckets: up to rate × this in all (S1204)",
        ),
    ],
    &["per"],
);

// ------------------------------------------------------------------ auth

pub const JWT_ALGORITHMS: &[&str] = &[
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "PS384",
    "PS512", "EdDSA",
];

pub static ROTATION: BlockSpec = block(
    "rotation",
    "a key rotation",
    "How often signing keys rotate, and how long old keys stay valid.",
    &[
        f(
            "every",
            Quantity(Dim::Duration),
            "duration > 0",
            Required,
            "The rotation period.",
            "",
        ),
        f(
            "overlap",
            Quantity(Dim::Duration),
            "duration ≥ 0",
            Required,
            "How long the previous key stays valid; shorter than `every`.",
            "",
        ),
        f(
            "starts",
            Str,
            "date",
            NONE,
            "When key `k0` starts signing: `\"2027-01-04\"` (UTC midnight) or `\"2027-01-04T09:00:00Z\"`; `auth/rotation.json` then lists each kid's dates.",
            "a UTC date `YYYY-MM-DD` or time `YYYY-MM-DDTHH:MM:SSZ`, years 1970–9999",
        ),
    ],
    &[],
);

pub static JWT: BlockSpec = block(
    "jwt",
    "a JWT policy",
    "How bearer tokens are verified.",
    &[
        f("issuer", Str, "string", Required, "The token issuer, an `https://` URL.", "an `https://` URL without spaces"),
        f("audience", Str, "string", Required, "The expected audience.", ""),
        f("algorithms", Other, "list of names, or one name", Required,
          "The accepted signing algorithms; `none` is never accepted.",
          "from `HS256 HS384 HS512 RS256 RS384 RS512 ES256 ES384 PS256 PS384 PS512 EdDSA`; `none` is never accepted"),
        f("max_size", Quantity(Dim::Size), "size", Value("2048B"),
          "The token size cap; above 2KiB warns, above 8KiB is an error.",
          "the token size cap; note `2KB` is 2000 bytes and `2KiB` 2048"),
        f("rotation", Ty::Block(&ROTATION), "block `{ every, overlap, starts }`", NONE,
          "Key rotation: `rotation { every = 30d  overlap = 7d  starts = \"2027-01-04\" }`.",
          "`every` and `overlap` required; `every` > 0, `overlap` ≥ 0"),
        f("jwks", Str, "string", NONE, "The JWKS URI.", "the JWKS URI"),
    ],
    &[],
);

pub static SESSION: BlockSpec = block(
    "session",
    "a session policy",
    "How sessions are pinned and refreshed.",
    &[
        f(
            "pin",
            Words(&["region", "tenant", "none"]),
            "`region`, `tenant` or `none`",
            NONE,
            "What a session is pinned to.",
            "",
        ),
        f(
            "fallback",
            Words(&["sticky", "any", "reject"]),
            "`sticky`, `any` or `reject`",
            NONE,
            "Where a session goes when its pin is unavailable.",
            "",
        ),
        f(
            "refresh_cap",
            Quantity(Dim::Duration),
            "duration > 0",
            NONE,
            "How long a session may be refreshed; above 30d warns.",
            "",
        ),
    ],
    &[],
);

pub static PROOF_OF_WORK: BlockSpec = block(
    "proof_of_work",
    "a proof-of-work policy",
    "The proof-of-work challenge's settings.",
    &[f(
        "difficulty",
        Quantity(Dim::Count),
        "whole number 1–32",
        Value("16"),
        "The challenge's difficulty in bits.",
        "",
    )],
    &[],
);

pub static AUTH: BlockSpec = block(
    "auth",
    "`auth`",
    "The auth posture: tokens, sessions, MFA, device binding, risk scoring. One per project.",
    &[
        f("jwt", Ty::Block(&JWT), "block", NONE, "How bearer tokens are verified.", "below"),
        f("session", Ty::Block(&SESSION), "block", NONE, "How sessions are pinned and refreshed.", "below"),
        f("mfa", Other, "`required for RULE`, or a switch", NONE,
          "Who must present MFA (`required for role(\"admin\")`).",
          "who must present MFA; `on` means every authenticated request; IR `mfa_required_for`"),
        f("device_binding", Switch, "switch", Value("off"), "Bind sessions to a device.", ""),
        f("risk_scoring", Other, "`hook(\"name\")` or `off`", NONE,
          "A hook that scores each request's risk.",
          "a hook name: letters, digits, `_` and `.`; called through a trait in the generated middleware"),
        f("proof_of_work", Ty::Block(&PROOF_OF_WORK), "`on [CONDITION] [{ difficulty = N }]`, or `off`", NONE,
          "A proof-of-work challenge, maybe only on a condition.",
          "`difficulty` whole number 1–32, default 16; CONDITION is any word (IR `when`)"),
    ],
    &[],
);

// ------------------------------------------------------------------ observe

pub static DRIFT: BlockSpec = block(
    "drift",
    "a drift policy",
    "The largest change allowed between periods, per signal.",
    &[
        f(
            "token_usage",
            Quantity(Dim::Fraction),
            "percentage > 0",
            NONE,
            "Allowed change in token usage.",
            "relative change of the rate of counter `llm_tokens_total`, per service",
        ),
        f(
            "error_taxonomy",
            Quantity(Dim::Fraction),
            "percentage > 0",
            NONE,
            "Allowed change in the error taxonomy.",
            "change of each `class`'s share of counter `app_errors_total`, in share points, per service",
        ),
        f(
            "latency",
            Quantity(Dim::Fraction),
            "percentage > 0",
            NONE,
            "Allowed change in latency.",
            "relative change of the rate of counter `latency_total`, per service",
        ),
        f(
            "cost",
            Quantity(Dim::Fraction),
            "percentage > 0",
            NONE,
            "Allowed change in cost.",
            "relative change of the rate of counter `cost_total`, per service",
        ),
        f(
            "error_rate",
            Quantity(Dim::Fraction),
            "percentage > 0",
            NONE,
            "Allowed change in the error rate.",
            "relative change of the rate of counter `error_rate_total`, per service",
        ),
        f(
            "compare",
            Other,
            "`daily`, `weekly` or a duration",
            Value("weekly"),
            "The period compared.",
            "",
        ),
    ],
    &[],
);

pub static OBSERVE: BlockSpec = block(
    "observe",
    "`observe`",
    "What traces carry and which drifts alert. One per project.",
    &[
        f("attach", Other, "list of names", Value("[]"), "Span and label attributes.", "span and label attributes (repeats dropped)"),
        f("drift", Ty::Block(&DRIFT), "block", NONE, "Drift limits per signal.",
          "`SIGNAL = P` (P > 0, the largest change allowed between periods) for `token_usage`, `error_taxonomy`, `latency`, `cost`, `error_rate` (another name is S0609); and `compare` = `daily`, `weekly` or a duration (default `weekly`, 7 days)"),
    ],
    &[],
);

// ------------------------------------------------------------------ slo

pub static SLO: BlockSpec = block(
    "slo",
    "an SLO",
    "A service level objective over a service or one of its routes.",
    &[
        f(
            "service",
            Ref("service"),
            "`SERVICE` or `SERVICE.ROUTE`",
            Required,
            "The service (or `service.route`) the objective is about.",
            "IR `service` and `route`",
        ),
        f(
            "objective",
            Quantity(Dim::Fraction),
            "percentage, strictly between 0% and 100%",
            Required,
            "The share of good events promised.",
            "IR fraction: `99.9%` → 0.999",
        ),
        f(
            "window",
            Quantity(Dim::Duration),
            "duration, `1d..366d`",
            Value("30d"),
            "The SLO period.",
            "the SLO period; every alert window's `long` must fit in it (S0606)",
        ),
        f(
            "sli",
            Other,
            "`errors(status >= N) / requests` or `latency < D`",
            Required,
            "What counts as a bad event.",
            "below",
        ),
        f(
            "alerts",
            Ref("alert_policy"),
            "an `alert_policy` name",
            Text("`std.slo.multiwindow`"),
            "The alert policy (burn-rate windows).",
            "naming a std policy needs its import",
        ),
        f(
            "runbook",
            Str,
            "string, an `https://` URL",
            NONE,
            "Where the on-call finds what to do when this SLO alerts.",
            "the alerts' `runbook_url` annotation",
        ),
        f(
            "labels",
            Ty::Block(&LABELS),
            "block `name = \"text\" …`",
            NONE,
            "Labels this SLO's alerts carry, for Alertmanager routing.",
            "added to the app's `alert_labels`; not `app`, `service`, `slo`, `route`, `window`, `severity` (S0607)",
        ),
        f(
            "annotations",
            Ty::Block(&ANNOTATIONS),
            "block `name = \"text\" …`",
            NONE,
            "Annotations this SLO's alerts carry.",
            "`summary` and `description` are written by scalec unless given here",
        ),
        f(
            "for",
            Quantity(Dim::Duration),
            "duration, `0s..1d`",
            Text("none (`0s`)"),
            "How long a burn-rate alert's condition must hold before it fires.",
            "the `for` of this SLO's burn-rate alerts (both severities); none by default, as Sloth's",
        ),
    ],
    &[],
);

pub static WINDOW: BlockSpec = block(
    "window",
    "an alert window",
    "One burn-rate alert window of an alert policy.",
    &[
        f(
            "severity",
            Words(&["page", "ticket"]),
            "`page` or `ticket`",
            Required,
            "Who is told.",
            "",
        ),
        f(
            "long",
            Quantity(Dim::Duration),
            "duration > 0",
            Required,
            "The window that detects the burn.",
            "the window that detects the burn",
        ),
        f(
            "short",
            Quantity(Dim::Duration),
            "duration > 0",
            Required,
            "The window that confirms it is still burning.",
            "the window that confirms it is still burning; `long` > `short`",
        ),
        f(
            "budget",
            Quantity(Dim::Fraction),
            "percentage, 0 < b ≤ 100%",
            Text("one of `budget`/`factor` required"),
            "The share of the error budget spent within `long`.",
            "the share of the error budget spent within `long`; the factor is then scaled per SLO",
        ),
        f(
            "factor",
            Quantity(Dim::Factor),
            "multiplier > 0",
            Text(""),
            "A fixed burn factor.",
            "a fixed burn factor (used when both are given)",
        ),
    ],
    &[],
);

pub static ALERT_POLICY: BlockSpec = BlockSpec {
    id: "alert_policy",
    what: "an alert policy",
    doc: "Named burn-rate alert windows, each `NAME { severity, long, short, budget }`.",
    fields: &[],
    stmts: &[],
    any_child: Some(&WINDOW),
};

// ------------------------------------------------------------------ exercises

pub static STAGES: BlockSpec = block(
    "stages",
    "`stages`",
    "Load stages: `ramp A -> B over D`, `burst R for D`, `soak R for D`, `hold R for D`.",
    &[],
    &["stage"],
);

pub static MIX: BlockSpec = block(
    "mix",
    "a traffic mix",
    "`CLASS = PERCENT` per route class of the target, summing to 100%.",
    &[],
    &[],
);

pub static LOAD_TEST: BlockSpec = block(
    "load_test",
    "a load test",
    "A k6 load test against a service.",
    &[
        f("target", Ref("service"), "a service name", Required, "The service under test.", "must have routes"),
        f("mix", Ty::Block(&MIX), "block `CLASS = PERCENT …`", Text("equal shares of the target's classes"),
          "The traffic share per route class.",
          "classes are those of the target's routes; shares ≥ 0, summing to 100%; a class left out gets no traffic"),
        f("stages", Ty::Block(&STAGES), "block of stages", Text("one of `stages`/`shape` required"),
          "The load stages.", "below"),
        f("shape", Ref("shape"), "a `shape` name", Text(""), "A named traffic shape, scaled to `peak`.",
          "the shape's stages, scaled to `peak`"),
        f("peak", Quantity(Dim::Rate), "rate > 0", NONE, "The peak rate percentages refer to.",
          "required with `shape`, and with percentage stages"),
        f("thresholds", Words(&["budgets", "none"]), "`budgets` or `none`", Value("budgets"),
          "Whether every route's budget becomes a threshold.", "`budgets`: every route's budget becomes a threshold"),
        f("api_keys", Quantity(Dim::Count), "whole number 1–10⁹", Value("1000"),
          "How many API keys the test draws from.",
          "the peak over this many keys must fit `per api_key` ([S1103](diagnostics/S1103.md))"),
        f("replay", Str, "string, a path", NONE, "A masked traffic trace to replay instead of the stages.",
          "JSON lines, one request each (see `scalec mask`); relative to the **project root**, which it must not leave; `stages` may then be left out"),
        f("mask", Other, "list of strings", Value("[]"), "The request fields `scalec mask` replaces with pseudonyms.",
          "header, query, JSON body field or path parameter names (letters, digits, `.`, `_`, `-`)"),
    ],
    &[],
);

pub static SHAPE: BlockSpec = block(
    "shape",
    "a shape",
    "A reusable traffic shape, in percentages of a load test's `peak`.",
    &[f(
        "stages",
        Ty::Block(&STAGES),
        "block of stages",
        Required,
        "The shape's stages.",
        "",
    )],
    &[],
);

pub static CHAOS: BlockSpec = block(
    "chaos",
    "a chaos experiment",
    "A chaos experiment: faults injected into a service, and what must happen.",
    &[f(
        "target",
        Ref("service"),
        "a service name",
        Required,
        "The service the faults hit.",
        "",
    )],
    &["kill", "latency", "expect"],
);

pub static GATE: BlockSpec = block(
    "gate",
    "a gate",
    "What a deploy must pass.",
    &[
        f("contract", Str, "string, a path", NONE, "The OpenAPI 3.0/3.1 contract (YAML or JSON) the routes must match.",
          "relative to the **project root**, which it must not leave; read by `scalec check`: every route must be one of its operations; IR path normalised (`api/../openapi.yaml` → `openapi.yaml`)"),
        f("query_plans", Other, "`cost_increase < P` (`<`, `<=` or `==`)", NONE,
          "The largest allowed query-plan cost increase.",
          "the largest allowed query-plan cost increase, a percentage ≥ 0"),
        f("migrations", Other, "`drift == N` (`<`, `<=` or `==`)", NONE,
          "The largest allowed migration drift.", "the largest allowed migration drift, a plain number ≥ 0"),
        f("sbom", Switch, "switch", Value("off"), "Whether an SBOM is required.", ""),
        f("signing", Words(&["sigstore", "none"]), "`sigstore` or `none`", NONE, "How artifacts are signed.", ""),
        f("queries", Str, "string, a path", Value("\"db/queries\""),
          "The folder of the named queries whose plans `query_plans` compares: one `<name>.sql` per query.",
          "relative to the **project root**, which it must not leave; used only when `query_plans` is set"),
        f("sast", Words(&["semgrep", "none"]), "`semgrep` or `none`", Value("none"),
          "A static analysis (Semgrep) the workflow runs.", "cargo-audit runs whenever the repository has a `Cargo.lock`"),
        f("dast", Words(&["zap_baseline", "none"]), "`zap_baseline` or `none`", Value("none"),
          "A dynamic scan (OWASP ZAP baseline) the workflow runs against the pull request's environment.", ""),
    ],
    &["condition"],
);

/// The declarations, in the order of `semantics::DECL_KINDS`.
pub static DECLS: &[&BlockSpec] = &[
    &APP,
    &BUDGET,
    &SERVICE,
    &LIMITS,
    &AUTH,
    &SLO,
    &LOAD_TEST,
    &CHAOS,
    &GATE,
    &OBSERVE,
    &ALERT_POLICY,
    &SHAPE,
];

/// Every block, declarations first then nested blocks.
pub static BLOCKS: &[&BlockSpec] = &[
    &APP,
    &BUDGET,
    &SERVICE,
    &ROUTE,
    &CACHE,
    &RETRY,
    &CALL,
    &METRICS,
    &LIMITS,
    &LIMIT,
    &AUTH,
    &JWT,
    &ROTATION,
    &SESSION,
    &PROOF_OF_WORK,
    &ALERT_SEVERITIES,
    &SLO,
    &LABELS,
    &ANNOTATIONS,
    &ALERT_POLICY,
    &WINDOW,
    &LOAD_TEST,
    &MIX,
    &STAGES,
    &SHAPE,
    &CHAOS,
    &GATE,
    &OBSERVE,
    &DRIFT,
];

/// One-line docs of the statements.
pub const STATEMENTS: &[(&str, &str)] = &[
    (
        "route",
        "`route NAME METHOD \"path\" class CLASS { … }`: an endpoint of the service.",
    ),
    (
        "calls",
        "`calls a, b { timeout = 2s  retries = 1 }`: the services this one calls (edges of the call graph), with options per edge.",
    ),
    (
        "autoscale",
        "`autoscale on cpu|rps|queue_depth(\"q\") target N`: what the replicas scale on.",
    ),
    (
        "per",
        "`per KEY { rate = …  burst = … }`: a rate limit per api_key, ip, identity or tenant.",
    ),
    (
        "stage",
        "`ramp A -> B over D`, `burst R for D`, `soak R for D`, `hold R for D`.",
    ),
    (
        "kill",
        "`kill pod every D`: kill a pod of the target periodically.",
    ),
    (
        "latency",
        "`latency SERVICE +D` (or `+P%`): add delay on traffic to a service.",
    ),
    (
        "expect",
        "`expect breaker(SERVICE) opens and closes within D`: what must happen.",
    ),
    (
        "condition",
        "`slo_burn < 1x over 1h`: a condition the deploy must meet.",
    ),
];

/// The declaration kind's block.
pub fn decl(kind: &str) -> Option<&'static BlockSpec> {
    DECLS.iter().copied().find(|b| b.id == kind)
}

/// The words a field takes (`pin` of `session`: region, tenant, none).
pub fn words(block: &BlockSpec, field: &str) -> &'static [&'static str] {
    match block.field(field).map(|f| f.ty) {
        Some(Ty::Words(w)) => w,
        _ => &[],
    }
}

pub fn statement_doc(name: &str) -> Option<&'static str> {
    STATEMENTS.iter().find(|s| s.0 == name).map(|s| s.1)
}

impl BlockSpec {
    pub fn field(&self, name: &str) -> Option<&'static FieldSpec> {
        // `fields` is a `&'static` slice: each block is `static` data.
        let fields: &'static [FieldSpec] = self.fields;
        fields.iter().find(|f| f.name == name)
    }

    pub fn field_names(&self) -> Vec<&'static str> {
        self.fields.iter().map(|f| f.name).collect()
    }

    /// The block a field or statement of this block opens (`budget { … }`,
    /// `route … { … }`, `per ip { … }`).
    pub fn child(&self, key: &str) -> Option<&'static BlockSpec> {
        match (self.id, key) {
            ("service", "route") => return Some(&ROUTE),
            ("limits", "per") => return Some(&LIMIT),
            ("service", "calls") => return Some(&CALL),
            _ => {}
        }
        match self.field(key)?.ty {
            Ty::Block(b) | Ty::RefOrBlock(_, b) => Some(b),
            _ => None,
        }
    }

    /// The field table of docs/language.md for this block.
    pub fn markdown_table(&self) -> String {
        let mut s = String::from("| field | type | default | notes |\n|---|---|---|---|\n");
        for fl in self.fields {
            let (name, default) = (format!("`{}`", fl.name), fl.default.markdown());
            let cells: [&str; 4] = [&name, fl.type_doc, &default, fl.notes];
            for c in cells {
                s.push_str("| ");
                s.push_str(c);
                if !c.is_empty() {
                    s.push(' ');
                }
            }
            s.push_str("|\n");
        }
        s
    }
}

impl DefaultValue {
    /// The docs' "default" column.
    pub fn markdown(&self) -> String {
        match self {
            DefaultValue::None => "none".into(),
            DefaultValue::Required => "required".into(),
            DefaultValue::Value(v) => format!("`{v}`"),
            DefaultValue::ValueWhen(v, when) => format!("`{v}` {when}"),
            DefaultValue::Text(t) => t.to_string(),
        }
    }

    /// The default as written in the language, if it is a value.
    pub fn written(&self) -> Option<&'static str> {
        match *self {
            DefaultValue::Value(v) | DefaultValue::ValueWhen(v, _) => Some(v),
            _ => None,
        }
    }
}

impl FieldSpec {
    /// The default, read as a quantity of `dim` in the IR's unit (`30d` →
    /// milliseconds, `8080` → 8080).
    pub fn default_quantity(&self, dim: Dim) -> Option<f64> {
        let text = self.default.written()?;
        let split = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len());
        let (num, unit) = text.split_at(split);
        let v: f64 = num.parse().ok()?;
        if unit.is_empty() {
            return Some(v);
        }
        Some(v * unit_factor(unit, dim)?)
    }

    /// A one-line description for hover and completion: type, default, doc.
    pub fn summary(&self) -> String {
        let mut s = format!("`{}`: {}", self.name, self.doc);
        s.push_str(&format!("\n\nType: {}", self.type_doc));
        match self.default {
            DefaultValue::None | DefaultValue::Text("") => {}
            DefaultValue::Required => s.push_str(" (required)"),
            d => s.push_str(&format!("; default: {}", d.markdown())),
        }
        s
    }
}

/// The default of `block.name` as a quantity of `dim` (0 if the table had
/// none: the tests below read every default the checker uses).
pub fn default_of(block: &BlockSpec, name: &str, dim: Dim) -> f64 {
    block
        .field(name)
        .and_then(|f| f.default_quantity(dim))
        .unwrap_or(0.0)
}

/// The port a deployed service listens on when it names none (the
/// checker fills it in the IR, so no backend needs its own default).
/// The volume of a deployed data store when `storage` is not written.
pub fn default_storage_bytes() -> u64 {
    SERVICE
        .field("storage")
        .and_then(|f| f.default_quantity(Dim::Size))
        .map(|b| b as u64)
        .unwrap_or(10 << 30)
}

/// Where a data store of this kind keeps its data when `data_path` is not
/// written: the official image's data folder (a vector store's differs per
/// product; this is Qdrant's). The `data_path` row's default says the same
/// (a test keeps them equal).
pub fn default_data_path(kind: crate::ir::ServiceKind) -> Option<&'static str> {
    use crate::ir::ServiceKind::*;
    match kind {
        Postgres => Some("/var/lib/postgresql/data"),
        Mysql => Some("/var/lib/mysql"),
        Vector => Some("/qdrant/storage"),
        _ => None,
    }
}

pub fn default_port() -> u16 {
    SERVICE
        .field("port")
        .and_then(|f| f.default_quantity(Dim::Count))
        .map(|p| p as u16)
        .unwrap_or(8080)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_store_defaults_are_documented() {
        use crate::ir::ServiceKind;
        assert_eq!(default_storage_bytes(), 10 << 30);
        let doc = SERVICE.field("data_path").unwrap().default.markdown();
        for k in [
            ServiceKind::Postgres,
            ServiceKind::Mysql,
            ServiceKind::Vector,
        ] {
            assert!(k.holds_data());
            let path = default_data_path(k).unwrap();
            assert!(doc.contains(&format!("\"{path}\"")), "{doc}");
        }
    }

    #[test]
    fn blocks_are_listed_once_and_fields_are_unique() {
        for (i, b) in BLOCKS.iter().enumerate() {
            assert!(
                !BLOCKS[..i].iter().any(|o| o.id == b.id),
                "{} listed twice",
                b.id
            );
            for (j, fl) in b.fields.iter().enumerate() {
                assert!(
                    !b.fields[..j].iter().any(|o| o.name == fl.name),
                    "{}.{} twice",
                    b.id,
                    fl.name
                );
                assert!(!fl.doc.is_empty(), "{}.{} has no doc", b.id, fl.name);
            }
        }
        for k in super::super::DECL_KINDS {
            assert!(decl(k).is_some(), "no schema for `{k}`");
        }
    }

    #[test]
    fn service_kinds_are_the_irs() {
        for k in SERVICE_KINDS {
            let parsed: Result<crate::ir::ServiceKind, _> =
                serde_json::from_str(&format!("\"{k}\""));
            assert!(parsed.is_ok(), "`{k}` is not an IR service kind");
        }
        assert_eq!(words(&SESSION, "pin"), ["region", "tenant", "none"]);
    }

    #[test]
    fn defaults_are_read_from_the_table() {
        assert_eq!(default_port(), 8080);
        let window = SLO.field("window").unwrap();
        assert_eq!(
            window.default_quantity(Dim::Duration),
            Some(30.0 * 86_400_000.0)
        );
        let qt = LIMITS.field("queue_timeout").unwrap();
        assert_eq!(qt.default_quantity(Dim::Duration), Some(1000.0));
        let ms = JWT.field("max_size").unwrap();
        assert_eq!(ms.default_quantity(Dim::Size), Some(2048.0));
        assert_eq!(default_of(&PROOF_OF_WORK, "difficulty", Dim::Count), 16.0);
    }
}
