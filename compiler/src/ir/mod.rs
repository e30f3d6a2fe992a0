//! The IR: the one resolved model every backend reads.
//!
//! Names are resolved, units normalised (durations in milliseconds, rates in
//! requests per second, percentages as fractions, sizes in bytes, CPU in
//! millicores), defaults filled and standard-library presets merged. It holds
//! no spans and no unchecked strings. `scalec build --emit ir` writes it as
//! JSON; all collections are ordered (Vec in a defined order, BTreeMap), so
//! the JSON is deterministic.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

mod index;
pub mod k8s_names;
pub mod time;
mod words;
pub use index::{Entity, Origins};
pub use words::{BreakerEvent, DriftSignal, RouteClass, Severity, StageKind};

pub const IR_VERSION: u32 = 1;

/// The API keys a load test draws from when it does not say
/// (`load_test { api_keys = N }`).
pub const DEFAULT_API_KEYS: u32 = 1000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ir {
    pub ir_version: u32,
    pub app: App,
    /// Named budgets (user's and the stdlib presets used), fully resolved.
    pub budgets: BTreeMap<String, Budget>,
    /// In declaration order of the project's files.
    pub services: Vec<Service>,
    pub limits: Option<Limits>,
    pub auth: Option<Auth>,
    pub slos: Vec<Slo>,
    pub load_tests: Vec<LoadTest>,
    pub chaos: Vec<Chaos>,
    pub gates: Vec<Gate>,
    pub observe: Option<Observe>,
    /// Where each IR entity was declared, for diagnostics a backend raises
    /// (a target that cannot express a construct points at it). Not part
    /// of `ir.json`; empty after deserialisation. Ignored by `==`: two IRs
    /// are equal when their content is ([`Origins`]' `PartialEq`).
    #[serde(skip)]
    pub origins: Origins,
    /// Name → position lookups, built on first use (never serialised).
    #[serde(skip)]
    pub(crate) index: index::Index,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct App {
    pub name: String,
    pub owner: Option<String>,
    pub region: Option<String>,
    /// `generator = "appforge@3.2.1"`: the tool that produced the app, pinned.
    pub generator: Option<String>,
    /// `scalec = "0.1"`: the compiler version requirement the spec was written for.
    pub scalec: Option<String>,
    /// Where the tenant of a request comes from.
    pub tenant: Option<RequestValue>,
    /// The Prometheus that in-cluster consumers (KEDA triggers) query:
    /// `app { prometheus = "…" }`, by default the service kube-prometheus
    /// creates (`http://prometheus-operated.monitoring.svc:9090`).
    pub prometheus_url: String,
    /// Labels every SLO alert carries (`alert_labels { … }`), as written;
    /// `team` is added from `owner` by the backends when not given.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub alert_labels: BTreeMap<String, String>,
    /// Labels on every PrometheusRule object (`rule_labels { … }`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rule_labels: BTreeMap<String, String>,
    /// The `severity` label values of a page and a ticket
    /// (`alert_severities { page = "P1"  ticket = "P3" }`); kube-prometheus'
    /// `critical` and `warning` by default.
    #[serde(default, skip_serializing_if = "AlertSeverities::is_default")]
    pub alert_severities: AlertSeverities,
    /// `app { namespace = "…" }` as written (a DNS-1123 label); the app's
    /// Kubernetes name when absent. Read through [`App::namespace`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The environment of this build (`scalec build --env pr-12`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
}

impl App {
    /// The namespace of every object of this build, and of every
    /// namespace-scoped query ([`k8s_names::namespace`]).
    pub fn namespace(&self) -> String {
        k8s_names::namespace(&self.name, self.namespace.as_deref(), self.env.as_deref())
    }
}

/// What the `severity` label of an alert says for a page and for a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertSeverities {
    pub page: String,
    pub ticket: String,
}

impl Default for AlertSeverities {
    fn default() -> Self {
        AlertSeverities {
            page: "critical".into(),
            ticket: "warning".into(),
        }
    }
}

impl AlertSeverities {
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// The label value for a severity of the spec.
    pub fn of(&self, s: Severity) -> &str {
        match s {
            Severity::Page => &self.page,
            Severity::Ticket => &self.ticket,
        }
    }
}

/// A value read from a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "from", content = "name", rename_all = "snake_case")]
pub enum RequestValue {
    Header(String),
    Query(String),
    Cookie(String),
    Claim(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// The hard timeout: as written, or 1.2 × p99.
    pub timeout_ms: f64,
    pub timeout_defaulted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceKind {
    /// An HTTP service (the default): has routes, gets a Deployment.
    Http,
    Postgres,
    Mysql,
    Redis,
    Vector,
    Queue,
    External,
    /// The application's own code that serves no HTTP routes (a queue
    /// consumer): deployed without a Service, probed by a TCP connect to
    /// its metrics port, scraped through a PodMonitor.
    Worker,
}

impl ServiceKind {
    /// The port this kind of server listens on by convention (`None` for
    /// the app's own code, whose port is the spec's or the default).
    pub fn usual_port(self) -> Option<u16> {
        match self {
            ServiceKind::Http | ServiceKind::Worker => None,
            ServiceKind::Postgres => Some(5432),
            ServiceKind::Mysql => Some(3306),
            ServiceKind::Redis => Some(6379),
            ServiceKind::Vector => Some(6333),
            ServiceKind::Queue => Some(5672),
            ServiceKind::External => Some(443),
        }
    }

    /// The application's own code (an HTTP service, a worker): it must
    /// name its image.
    pub fn needs_image(self) -> bool {
        matches!(self, ServiceKind::Http | ServiceKind::Worker)
    }

    /// Only an HTTP service has routes.
    pub fn serves_routes(self) -> bool {
        matches!(self, ServiceKind::Http)
    }

    /// A store whose data must outlive its pods: deployed as a StatefulSet
    /// with a volume per replica.
    pub fn holds_data(self) -> bool {
        matches!(
            self,
            ServiceKind::Postgres | ServiceKind::Mysql | ServiceKind::Vector
        )
    }

    /// A database whose replicas would be separate databases: deployed as
    /// one replica (more needs an operator's replication).
    pub fn single_primary(self) -> bool {
        matches!(self, ServiceKind::Postgres | ServiceKind::Mysql)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Service {
    pub name: String,
    pub kind: ServiceKind,
    pub image: Option<String>,
    pub port: Option<u16>,
    pub replicas: Replicas,
    pub cpu_millicores: Option<u32>,
    pub memory_bytes: Option<u64>,
    pub autoscale: Option<Autoscale>,
    /// Direct callees, in the order written.
    pub calls: Vec<String>,
    /// The options written on call edges (`calls psp { timeout = 2s }`),
    /// in the order of `calls`; an edge without options is not listed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub call_options: Vec<CallOptions>,
    /// The service's own budget (for dependencies such as a database).
    pub budget: Option<Budget>,
    pub routes: Vec<Route>,
    pub prewarm: bool,
    /// `shard_by = tenant`: requests hash on the tenant value.
    pub shard_by: Option<RequestValue>,
    pub metrics: Metrics,
    /// How the platform asks whether the service is alive, ready and warm.
    /// HTTP services default to `GET /healthz`, `/readyz` and `/warmup`;
    /// other kinds to a TCP connect, unless the spec names a path.
    pub health: Probe,
    pub ready: Probe,
    pub warmup: Probe,
    /// A deployed data store ([`Service::keeps_data`]): the size of each
    /// replica's volume, as written or the default (`storage`), and where
    /// it is mounted (`data_path`). Absent for every other service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<Storage>,
}

/// The volume of a deployed data store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Storage {
    pub bytes: u64,
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Probe {
    Http {
        path: String,
    },
    /// A TCP connect to the service's port.
    Tcp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replicas {
    pub min: u32,
    pub max: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "on", rename_all = "snake_case")]
pub enum Autoscale {
    /// Target average CPU utilisation, a fraction.
    Cpu { target_utilization: f64 },
    /// Target requests per second per replica.
    Rps { target_per_replica: f64 },
    /// Target queue depth per replica (KEDA).
    QueueDepth { queue: String, target: f64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
    Options,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Head => "HEAD",
            Method::Options => "OPTIONS",
        }
    }

    /// RFC 9110 idempotent methods: safe to retry at the proxy.
    pub fn is_idempotent(self) -> bool {
        !matches!(self, Method::Post | Method::Patch)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Route {
    pub name: String,
    pub method: Method,
    /// As written: `/v1/reports/{id}`.
    pub path: String,
    /// `read`, `write`, `admin`, … (default `read` for GET/HEAD, else `write`).
    pub class: RouteClass,
    /// The effective budget: the route's own, else the service's, else `std.budgets.web`.
    pub budget: Budget,
    /// The named budget it came from, if any.
    pub budget_name: Option<String>,
    pub auth: AuthRule,
    /// The first app-wide `limits` key this route is limited by, if any
    /// (`ip`, `api_key`, …). All of them, and the route's own rates, are
    /// in `limits`.
    pub limit: Option<String>,
    /// Every limit of the route, in the order written: the app-wide keys it
    /// names and its own rates (`limit = [per_ip, per_api_key(50/s)]`).
    /// Empty when it would say no more than `limit`: no `limit` at all
    /// (every app-wide key applies), or one app-wide key (`limit` is it).
    /// So it is absent from `ir.json` for such routes.
    #[serde(default, skip_serializing_if = "RouteLimit::only_limit")]
    pub limits: Vec<RouteLimit>,
    pub cache_ttl_ms: Option<f64>,
    pub idempotency: Option<RequestValue>,
    pub retry: Option<Retry>,
    /// True when a retry is safe: the method is idempotent or the route has an idempotency key.
    pub retry_safe: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "of", rename_all = "snake_case")]
pub enum AuthRule {
    /// No authentication.
    Public,
    /// Any valid credential (the default).
    Authenticated,
    Role(String),
    Mfa,
    DeviceBound,
    All(Vec<AuthRule>),
    Any(Vec<AuthRule>),
}

/// Options of one call edge: `calls psp { timeout = 2s  retries = 1 }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallOptions {
    /// The callee.
    pub to: String,
    /// The caller's hard timeout per try, if written.
    pub timeout_ms: Option<f64>,
    /// Retries after the first try (0 unless written).
    pub retries: u32,
}

/// One limit of a route, resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteLimit {
    /// `api_key`, `ip`, `identity`, `tenant`.
    pub key: String,
    pub source: LimitSource,
    pub rate_rps: f64,
    pub burst: u32,
    /// True for the route's own rate (`per_api_key(50/s)`): a bucket of
    /// its own, counted by this route alone. False: the app-wide bucket of
    /// `limits { per KEY }`, shared by every route it limits.
    pub own: bool,
}

impl RouteLimit {
    /// True when the list says no more than `Route::limit` does.
    pub fn only_limit(v: &[RouteLimit]) -> bool {
        v.len() <= 1 && v.iter().all(|l| !l.own)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Retry {
    pub attempts: u32,
    pub backoff_min_ms: f64,
    pub backoff_max_ms: f64,
}

/// Which series an SLO counts. Defaults follow the OpenTelemetry HTTP server
/// conventions as Prometheus exports them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Counter of requests (defaults to the histogram's `_count`).
    pub requests: String,
    /// Histogram base name (without `_bucket`).
    pub latency_histogram: String,
    /// Bucket upper bounds, in milliseconds, when declared.
    pub buckets_ms: Option<Vec<f64>>,
    pub status_label: String,
    pub route_label: String,
    pub method_label: String,
    /// The label naming the service (`job` by default).
    pub service_label: String,
    /// Its value, when the spec states one. Unset, it is the `job` the
    /// generated ServiceMonitor gives the series (the Kubernetes Service's
    /// name) for the `job` label, the service's name for another label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_value: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// In the order written.
    pub keys: Vec<LimitKey>,
    pub concurrency: Concurrency,
    pub overflow: Overflow,
    /// How many proxy instances enforce the limits, each with its own
    /// buckets (`edge_replicas`, default 1).
    #[serde(default = "one")]
    pub edge_replicas: u32,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LimitKey {
    /// `api_key`, `ip`, `identity`, `tenant`.
    pub key: String,
    /// Where the key is read from.
    pub source: LimitSource,
    pub rate_rps: f64,
    pub burst: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "from", content = "name", rename_all = "snake_case")]
pub enum LimitSource {
    ClientIp,
    Header(String),
    Claim(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Concurrency {
    /// One in-flight request per core of the pod (the CPU request, rounded up).
    Cores,
    Fixed(u32),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Overflow {
    Reject,
    Queue { name: String, timeout_ms: f64 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Auth {
    pub jwt: Option<Jwt>,
    pub session: Option<Session>,
    /// `mfa = required for role("admin")`: who must present MFA.
    pub mfa_required_for: Option<AuthRule>,
    pub device_binding: bool,
    /// Hook names, called through traits in the generated middleware.
    pub risk_scoring: Option<String>,
    pub proof_of_work: Option<ProofOfWork>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Jwt {
    pub issuer: String,
    pub audience: String,
    pub algorithms: Vec<String>,
    pub max_size_bytes: u64,
    pub rotation: Option<Rotation>,
    pub jwks_uri: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rotation {
    pub every_ms: f64,
    pub overlap_ms: f64,
    /// `starts`: when key `k0` signs, in seconds since the Unix epoch
    /// (`None`: the calendar is anchored at the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_unix_secs: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub pin: Option<String>,
    pub fallback: Option<String>,
    pub refresh_cap_ms: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProofOfWork {
    pub when: Option<String>,
    pub difficulty: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slo {
    pub name: String,
    pub service: String,
    /// Set when the SLO is about one route (`api.search`).
    pub route: Option<String>,
    /// A fraction: 0.999.
    pub objective: f64,
    pub window_ms: f64,
    pub sli: Sli,
    pub alerts: AlertPolicy,
    /// `runbook = "https://…"`: the alerts' `runbook_url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook: Option<String>,
    /// Alert labels of this SLO (`labels { … }`), as written.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Alert annotations of this SLO (`annotations { … }`), as written.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// `for = 2m`: how long a burn-rate alert's condition must hold before
    /// it fires (none: at once, as Sloth's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_ms: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Sli {
    /// Errors are responses with status ≥ `error_status_min` (a whole
    /// class: 400 or 500), or one of `error_codes` (`status == 429`).
    Availability {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error_status_min: Option<u16>,
        /// Exact codes, ascending, none inside the class above.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        error_codes: Vec<u16>,
    },
    /// Good requests finish under `threshold_ms` (a histogram bucket bound).
    Latency { threshold_ms: f64 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertPolicy {
    pub name: String,
    pub windows: Vec<BurnWindow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BurnWindow {
    /// `page` or `ticket`.
    pub severity: Severity,
    pub long_ms: f64,
    pub short_ms: f64,
    /// Burn-rate factor, already scaled to the SLO's window.
    pub factor: f64,
    /// Share of the error budget this window spends before alerting (0.02 = 2%).
    pub budget_share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadTest {
    pub name: String,
    pub target: String,
    /// class → fraction, summing to 1.
    pub mix: BTreeMap<String, f64>,
    pub stages: Vec<Stage>,
    /// Routes whose budgets become thresholds (`thresholds = budgets`).
    pub thresholds_from_budgets: bool,
    /// `api_keys = N`: how many API keys the test draws from
    /// ([`DEFAULT_API_KEYS`] when absent). Absent from older `ir.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_keys: Option<u32>,
    /// `replay = "traces/peak.jsonl"`: a masked trace the test replays
    /// instead of its stages, relative to the project root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<String>,
    /// `mask = ["email", "authorization", "id"]`: the request fields
    /// `scalec mask` replaces with pseudonyms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mask: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    /// `ramp`, `burst`, `hold`, `soak`.
    pub kind: StageKind,
    pub from_rps: f64,
    pub to_rps: f64,
    pub duration_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chaos {
    pub name: String,
    pub target: String,
    pub actions: Vec<ChaosAction>,
    pub expectations: Vec<Expectation>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChaosAction {
    PodKill {
        every_ms: f64,
    },
    /// Added latency on traffic to `service`. `basis` says how a relative
    /// amount (`+5%`) was turned into milliseconds.
    Latency {
        service: String,
        added_ms: f64,
        basis: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Expectation {
    /// `breaker(db)`: what is observed, and of which service.
    pub probe: String,
    pub service: String,
    /// `opens`, `closes`, in order.
    pub events: Vec<BreakerEvent>,
    pub within_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gate {
    pub name: String,
    /// Relative to the project root, checked not to escape it.
    pub contract: Option<String>,
    /// `query_plans = cost_increase < 20%`: the largest allowed increase, a fraction.
    pub max_query_cost_increase: Option<f64>,
    /// `migrations = drift == 0`
    pub max_migration_drift: Option<f64>,
    pub sbom_required: bool,
    pub signing: Option<String>,
    /// `slo_burn < 1x over 1h`
    pub slo_burn: Option<BurnGate>,
    /// `queries = "db/queries"`: the folder of named queries (`<name>.sql`),
    /// relative to the project root; set when `query_plans` is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queries: Option<String>,
    /// `sast = semgrep`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sast: Option<String>,
    /// `dast = zap_baseline`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dast: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BurnGate {
    pub max_factor: f64,
    pub over_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observe {
    /// Span / label attributes: `model`, `prompt_hash`, `dataset`.
    pub attach: Vec<String>,
    pub drift: Vec<Drift>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    /// `token_usage`, `error_taxonomy`.
    pub signal: DriftSignal,
    /// Largest allowed change, a fraction.
    pub max_change: f64,
    /// Comparison period in ms (weekly = 7d).
    pub compare_ms: f64,
}

impl Service {
    /// A service is deployed (Deployment, Service, PDB, autoscaler) when it
    /// has an image: every HTTP service, and a data store the app runs
    /// itself (`kind = vector  image = "qdrant/qdrant:…"`). A dependency
    /// without an image is run by someone else.
    pub fn is_workload(&self) -> bool {
        self.image.is_some()
    }

    /// A deployed data store (Postgres, MySQL, a vector store with an
    /// image): a StatefulSet with a volume per replica.
    pub fn keeps_data(&self) -> bool {
        self.is_workload() && self.kind.holds_data()
    }
}

impl Ir {
    /// The service of that name, in O(1) (an index built on first use; a
    /// service added to `services` afterwards is still found).
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.index.service(&self.services, name)
    }
}

/// Characters no generated file should carry from a spec's text: control
/// characters, line and paragraph separators, the bidirectional controls
/// that make text read differently from how it runs, and invisible ones
/// (zero-width spaces and joiners, the word joiner, a byte-order mark,
/// Unicode tag characters) that hide what a value holds.
pub fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}'
                | '\u{2029}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{061C}'
                | '\u{2060}'
                | '\u{FEFF}'
        )
        || ('\u{200B}'..='\u{200D}').contains(&c)
        || ('\u{202A}'..='\u{202E}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
        || ('\u{E0000}'..='\u{E007F}').contains(&c)
}
