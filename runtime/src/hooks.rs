//! What the application decides: MFA, device binding, risk, the client's
//! address. Every method has a safe default: MFA and device binding refuse
//! unless the token proves them, risk scores nothing suspicious, and the
//! client address is the [`ClientIp`] extension (never a forwarded header).

use crate::jwt::Claims;
use http::request::Parts;
use std::net::IpAddr;

/// The client's address, put in the request's extensions by the server
/// (or override [`Hooks::client_ip`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

pub trait Hooks: Send + Sync + 'static {
    /// Whether the caller passed MFA. Default: the token's `amr` claim
    /// (RFC 8176) lists `mfa`.
    fn mfa(&self, claims: &Claims, _req: &Parts) -> bool {
        matches!(claims.0.get("amr"), Some(serde_json::Value::Array(a))
            if a.iter().any(|v| v.as_str() == Some("mfa")))
    }

    /// Whether the request comes from the device the session is bound to.
    /// Default: the token's `device_id` claim equals the `x-device-id`
    /// header, and both are present.
    fn device_bound(&self, claims: &Claims, req: &Parts) -> bool {
        match (claims.str("device_id"), req.headers.get("x-device-id")) {
            (Some(c), Some(h)) => !c.is_empty() && h.as_bytes() == c.as_bytes(),
            _ => false,
        }
    }

    /// A risk score in `[0, 1]` (the spec's `risk_scoring` hook; its name is
    /// in [`crate::ServiceSpec::risk_scoring`]). At or above
    /// [`Hooks::suspicious_at`] the request is suspicious and, when the spec
    /// says `proof_of_work = on suspicious`, must carry a stamp. Default: 0.
    fn risk(&self, _claims: Option<&Claims>, _req: &Parts) -> f64 {
        0.0
    }

    fn suspicious_at(&self) -> f64 {
        0.5
    }

    /// The client's address for `per ip` limits. Default: the [`ClientIp`]
    /// extension.
    fn client_ip(&self, req: &Parts) -> Option<IpAddr> {
        req.extensions.get::<ClientIp>().map(|c| c.0)
    }
}

/// The defaults, as they are.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultHooks;

impl Hooks for DefaultHooks {}
