//! JWT checks: a size cap before any parsing, `alg: none` and any algorithm
//! outside the spec's list refused, the kid looked up in a set of keys each
//! valid over its rotation window (two overlap during a rotation), then
//! signature, issuer, audience and expiry by `jsonwebtoken`.

use crate::rotation::Window;
use crate::spec::JwtSpec;
pub use jsonwebtoken::DecodingKey;
use jsonwebtoken::{Algorithm, Validation};
use std::collections::BTreeMap;
use std::time::SystemTime;

/// The verified claims of a request, in its extensions.
#[derive(Debug, Clone, PartialEq)]
pub struct Claims(pub serde_json::Map<String, serde_json::Value>);

impl Claims {
    pub fn str(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(|v| v.as_str())
    }

    /// Whether `roles` (an array) or `role` (a string) holds `role`.
    pub fn has_role(&self, role: &str) -> bool {
        match self.0.get("roles") {
            Some(serde_json::Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(role)),
            _ => self.str("role") == Some(role),
        }
    }

    /// A claim as a rate-limit or idempotency key: strings as they are,
    /// numbers printed.
    pub fn key(&self, name: &str) -> Option<String> {
        match self.0.get(name)? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
}

/// Why a token was refused (the reason goes in `WWW-Authenticate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtError {
    Missing,
    TooLarge,
    Malformed,
    AlgorithmRefused,
    UnknownKid,
    KidOutsideWindow,
    Invalid,
    Expired,
    WrongIssuer,
    WrongAudience,
}

impl JwtError {
    pub fn as_str(self) -> &'static str {
        match self {
            JwtError::Missing => "missing bearer token",
            JwtError::TooLarge => "token larger than the cap",
            JwtError::Malformed => "malformed token",
            JwtError::AlgorithmRefused => "algorithm not allowed",
            JwtError::UnknownKid => "unknown kid",
            JwtError::KidOutsideWindow => "kid outside its rotation window",
            JwtError::Invalid => "invalid signature or claims",
            JwtError::Expired => "token expired",
            JwtError::WrongIssuer => "wrong issuer",
            JwtError::WrongAudience => "wrong audience",
        }
    }
}

struct Key {
    key: DecodingKey,
    window: Window,
}

/// The verifying keys by kid, each with the window it may verify in.
#[derive(Default)]
pub struct KeySet {
    keys: BTreeMap<String, Key>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.keys.keys()).finish()
    }
}

impl KeySet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key that verifies from `window.publish` to `window.retire`.
    pub fn insert(&mut self, kid: impl Into<String>, key: DecodingKey, window: Window) {
        self.keys.insert(kid.into(), Key { key, window });
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The spec's checks, compiled once.
pub struct Verifier {
    max_size: usize,
    algorithms: Vec<Algorithm>,
    validation: Validation,
    keys: KeySet,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("max_size", &self.max_size)
            .field("algorithms", &self.algorithms)
            .field("keys", &self.keys)
            .finish()
    }
}

impl Verifier {
    /// Algorithms the spec names that `jsonwebtoken` does not know are
    /// dropped (never widened): a spec of only unknown names refuses all.
    pub fn new(spec: &JwtSpec, keys: KeySet) -> Self {
        let algorithms: Vec<Algorithm> = spec
            .algorithms
            .iter()
            .filter_map(|a| a.parse::<Algorithm>().ok())
            .collect();
        let mut validation = Validation::new(algorithms.first().copied().unwrap_or_default());
        validation.algorithms = algorithms.clone();
        validation.set_issuer(&[spec.issuer]);
        validation.set_audience(&[spec.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.leeway = 5;
        Verifier {
            max_size: usize::try_from(spec.max_size_bytes).unwrap_or(usize::MAX),
            algorithms,
            validation,
            keys,
        }
    }

    /// Checks an `Authorization` header value (`Bearer …`) at `now`.
    pub fn verify(
        &self,
        authorization: Option<&[u8]>,
        now: SystemTime,
    ) -> Result<Claims, JwtError> {
        let raw = authorization.ok_or(JwtError::Missing)?;
        // The cap comes first: nothing of an oversize token is parsed.
        if raw.len() > self.max_size + "Bearer ".len() {
            return Err(JwtError::TooLarge);
        }
        let token = raw
            .strip_prefix(b"Bearer ")
            .or_else(|| raw.strip_prefix(b"bearer "))
            .ok_or(JwtError::Missing)?;
        let token = std::str::from_utf8(token).map_err(|_| JwtError::Malformed)?;
        // `alg: none` (and any name jsonwebtoken does not know) fails here.
        let header = jsonwebtoken::decode_header(token).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::Json(_) => JwtError::AlgorithmRefused,
            _ => JwtError::Malformed,
        })?;
        if !self.algorithms.contains(&header.alg) {
            return Err(JwtError::AlgorithmRefused);
        }
        let kid = header.kid.ok_or(JwtError::UnknownKid)?;
        let key = self.keys.keys.get(&kid).ok_or(JwtError::UnknownKid)?;
        if !key.window.verifies_at(now) {
            return Err(JwtError::KidOutsideWindow);
        }
        use jsonwebtoken::errors::ErrorKind as K;
        let data = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(
            token,
            &key.key,
            &self.validation,
        )
        .map_err(|e| match e.kind() {
            K::ExpiredSignature => JwtError::Expired,
            K::InvalidIssuer => JwtError::WrongIssuer,
            K::InvalidAudience => JwtError::WrongAudience,
            K::InvalidAlgorithm => JwtError::AlgorithmRefused,
            _ => JwtError::Invalid,
        })?;
        Ok(Claims(data.claims))
    }
}
