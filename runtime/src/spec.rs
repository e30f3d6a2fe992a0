//! The typed constants the generated module fills in: everything the
//! middleware needs to know about one service, as `'static` data.

use std::time::Duration;

/// Where a value is read from in a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A request header (lowercase name).
    Header(&'static str),
    /// A query-string parameter.
    Query(&'static str),
    /// A cookie.
    Cookie(&'static str),
    /// A claim of the verified JWT.
    Claim(&'static str),
    /// The client's address ([`crate::Hooks::client_ip`]).
    ClientIp,
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthRule {
    /// No credential needed.
    Public,
    /// Any valid JWT.
    Authenticated,
    /// A JWT whose `roles` (or `role`) claim holds this role.
    Role(&'static str),
    /// The MFA hook passes.
    Mfa,
    /// The device-binding hook passes.
    DeviceBound,
    All(&'static [AuthRule]),
    Any(&'static [AuthRule]),
}

impl AuthRule {
    /// Whether the rule needs a verified JWT at all.
    pub fn needs_token(&self) -> bool {
        !matches!(self, AuthRule::Public)
    }
}

/// One route of the service.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RouteSpec {
    pub name: &'static str,
    /// `GET`, `POST`, …
    pub method: &'static str,
    /// As written: `/v1/reports/{id}`.
    pub path: &'static str,
    /// `read`, `write`, `admin`, …
    pub class: &'static str,
    /// Requests whose remaining budget cannot cover this are shed at once.
    pub p50: Option<Duration>,
    /// The hard timeout (504 past it).
    pub timeout: Duration,
    pub auth: AuthRule,
    /// The first `limits` key this route is limited by.
    pub limit: Option<&'static str>,
    /// Every `limits` key the route lists (`limit = [per_ip, per_api_key]`).
    /// A route that lists no key and has no rate of its own is limited by
    /// every key (see [`RouteSpec::limited_by`]).
    pub limits: &'static [&'static str],
    /// The route's own rates (`per_api_key(50/s)`): buckets counted by this
    /// route alone, on top of the keys above.
    pub own_limits: &'static [LimitSpec],
    /// Where the idempotency key comes from, when the route requires one.
    pub idempotency: Option<Source>,
}

impl RouteSpec {
    /// Whether the app-wide bucket of `key` counts this route: listed, or
    /// (no list) the route's one `limit`, or (no limit written at all)
    /// every key.
    pub fn limited_by(&self, key: &str) -> bool {
        if !self.limits.is_empty() {
            return self.limits.contains(&key);
        }
        match self.limit {
            Some(k) => k == key,
            None => self.own_limits.is_empty(),
        }
    }
}

/// One call edge (`calls psp { timeout = 2s  retries = 1 }`): how this
/// service calls another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownstreamSpec {
    /// The callee, as the spec names it.
    pub service: &'static str,
    /// The hard timeout of one try, if the spec states one.
    pub timeout: Option<Duration>,
    /// Retries after the first try.
    pub retries: u32,
}

impl DownstreamSpec {
    /// How long one try may take when the request has `remaining` budget:
    /// the edge's timeout, never past the budget.
    pub fn per_try(&self, remaining: Duration) -> Duration {
        self.timeout.map_or(remaining, |t| t.min(remaining))
    }

    /// The most the call may take in all, every try timing out.
    pub fn worst_case(&self) -> Option<Duration> {
        self.timeout
            .map(|t| t.saturating_mul(self.retries.saturating_add(1)))
    }
}

/// One keyed rate limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LimitSpec {
    /// `api_key`, `ip`, `identity`, `tenant`.
    pub key: &'static str,
    pub source: Source,
    /// Requests per second admitted per key value.
    pub rate_per_sec: f64,
    pub burst: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concurrency {
    /// One in flight per core: the service's CPU request rounded up, or the
    /// cores the process may use when the spec states none.
    Cores,
    Fixed(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Beyond the concurrency cap: 503 at once.
    Reject,
    /// Beyond the cap: wait in a bounded queue; beyond the queue: 503.
    Queue {
        name: &'static str,
        timeout: Duration,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JwtSpec {
    pub issuer: &'static str,
    pub audience: &'static str,
    /// `ES256`, `RS256`, … (the only ones accepted).
    pub algorithms: &'static [&'static str],
    /// Tokens longer than this are refused before any parsing.
    pub max_size_bytes: u64,
    pub rotation: Option<RotationSpec>,
    pub jwks_uri: Option<&'static str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationSpec {
    pub every: Duration,
    pub overlap: Duration,
    /// When key `k0` starts signing, in seconds since the Unix epoch (the
    /// spec's `rotation.starts`; 0, the epoch itself, when it states none).
    pub anchor_unix_secs: u64,
}

impl RotationSpec {
    /// The calendar this rotation implies, anchored where the spec says.
    pub fn calendar(&self) -> crate::rotation::Calendar {
        crate::rotation::Calendar::new(self.every, self.overlap).anchored_at(
            std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(self.anchor_unix_secs),
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSpec {
    /// `region`: a session is served only in the region that made it.
    pub pin: Option<&'static str>,
    /// `sticky`: another region's session is answered with a hint to go home.
    pub fallback: Option<&'static str>,
    /// A session older than this is not refreshed.
    pub refresh_cap: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PowSpec {
    /// `suspicious`: asked only of requests the risk hook scores so.
    pub when: Option<&'static str>,
    /// Leading zero bits of the stamp's SHA-256.
    pub difficulty: u32,
}

/// Everything about one service.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServiceSpec {
    pub app: &'static str,
    pub service: &'static str,
    /// The app's region (sessions pin to it).
    pub region: Option<&'static str>,
    /// The CPU the service requests, in millicores (`concurrency = cores`
    /// is this rounded up to whole cores).
    pub cpu_millicores: Option<u32>,
    pub routes: &'static [RouteSpec],
    pub limits: &'static [LimitSpec],
    /// The services this one calls, with the options of each edge.
    pub downstreams: &'static [DownstreamSpec],
    pub concurrency: Concurrency,
    pub overflow: Overflow,
    pub jwt: Option<JwtSpec>,
    pub session: Option<SessionSpec>,
    /// Principals matching this rule must also pass the MFA hook.
    pub mfa_required_for: Option<AuthRule>,
    pub device_binding: bool,
    pub risk_scoring: Option<&'static str>,
    pub proof_of_work: Option<PowSpec>,
    /// Span tags: `model`, `prompt_hash`, `dataset`.
    pub attach: &'static [&'static str],
}

impl ServiceSpec {
    /// The call edge to `service`, if the spec declares one.
    pub fn downstream(&self, service: &str) -> Option<&'static DownstreamSpec> {
        self.downstreams.iter().find(|d| d.service == service)
    }

    /// The route a request is for: method and path template (`{x}` matches
    /// one non-empty segment).
    pub fn route(&self, method: &str, path: &str) -> Option<&'static RouteSpec> {
        self.route_at(method, path).map(|(_, r)| r)
    }

    /// [`ServiceSpec::route`] with the route's index in `routes`.
    pub fn route_at(&self, method: &str, path: &str) -> Option<(usize, &'static RouteSpec)> {
        self.routes
            .iter()
            .enumerate()
            .find(|(_, r)| r.method == method && path_matches(r.path, path))
    }
}

pub(crate) fn path_matches(template: &str, path: &str) -> bool {
    if !template.as_bytes().contains(&b'{') {
        return template == path;
    }
    let mut t = template.split('/');
    let mut p = path.split('/');
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            (Some(ts), Some(ps)) => {
                let var = ts.starts_with('{') && ts.ends_with('}');
                if (var && ps.is_empty()) || (!var && ts != ps) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::path_matches;

    #[test]
    fn templates_match_one_segment_per_variable() {
        assert!(path_matches("/v1/reports/{id}", "/v1/reports/7"));
        assert!(!path_matches("/v1/reports/{id}", "/v1/reports/"));
        assert!(!path_matches("/v1/reports/{id}", "/v1/reports/7/x"));
        assert!(path_matches("/v1/search", "/v1/search"));
        assert!(!path_matches("/v1/search", "/v1/searchx"));
    }
}
