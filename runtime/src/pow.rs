//! Proof of work, hashcash style: a stamp `1:BITS:UNIX_SECS:RESOURCE:NONCE`
//! whose SHA-256 starts with `BITS` zero bits, where `BITS` is at least the
//! spec's difficulty, `RESOURCE` the request path and the time within
//! [`MAX_AGE_SECS`] of now. A stamp is accepted once (replays are refused
//! while they would still be fresh).

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;

/// The request header carrying the stamp.
pub const HEADER: &str = "x-proof-of-work";
/// The response header that asks for one (`1:BITS:UNIX_SECS:RESOURCE:`).
pub const CHALLENGE_HEADER: &str = "x-proof-of-work-challenge";
pub const MAX_AGE_SECS: u64 = 300;

/// Leading zero bits of a digest.
pub fn zero_bits(digest: &[u8]) -> u32 {
    let mut n = 0;
    for b in digest {
        if *b == 0 {
            n += 8;
        } else {
            return n + b.leading_zeros();
        }
    }
    n
}

/// The stamp prefix a client must complete for `resource` at `now_secs`.
pub fn challenge(difficulty: u32, now_secs: u64, resource: &str) -> String {
    format!("1:{difficulty}:{now_secs}:{resource}:")
}

/// Finds a nonce for `prefix` (clients and tests; ~2^difficulty hashes).
pub fn solve(prefix: &str, difficulty: u32) -> String {
    (0u64..)
        .map(|n| format!("{prefix}{n:x}"))
        .find(|s| zero_bits(&Sha256::digest(s.as_bytes())) >= difficulty)
        .unwrap_or_default()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowError {
    Missing,
    Malformed,
    WrongResource,
    Stale,
    TooEasy,
    Replayed,
}

/// Checks stamps and remembers the fresh ones.
#[derive(Debug, Default)]
pub struct PowChecker {
    seen: Mutex<HashMap<String, u64>>,
}

impl PowChecker {
    pub fn check(
        &self,
        stamp: Option<&str>,
        difficulty: u32,
        resource: &str,
        now_secs: u64,
    ) -> Result<(), PowError> {
        let stamp = stamp.ok_or(PowError::Missing)?;
        let parts: Vec<&str> = stamp.splitn(5, ':').collect();
        let [ver, bits, time, res, _nonce] = parts[..] else {
            return Err(PowError::Malformed);
        };
        let bits: u32 = bits.parse().map_err(|_| PowError::Malformed)?;
        let time: u64 = time.parse().map_err(|_| PowError::Malformed)?;
        if ver != "1" {
            return Err(PowError::Malformed);
        }
        if res != resource {
            return Err(PowError::WrongResource);
        }
        if time > now_secs + 30 || now_secs.saturating_sub(time) > MAX_AGE_SECS {
            return Err(PowError::Stale);
        }
        if bits < difficulty || zero_bits(&Sha256::digest(stamp.as_bytes())) < difficulty {
            return Err(PowError::TooEasy);
        }
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.retain(|_, t| now_secs.saturating_sub(*t) <= MAX_AGE_SECS + 30);
        if seen.insert(stamp.to_string(), time).is_some() {
            return Err(PowError::Replayed);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_solved_stamp_passes_once_and_an_unsolved_one_fails() {
        let c = PowChecker::default();
        let prefix = challenge(10, 1_000, "/v1/x");
        let stamp = solve(&prefix, 10);
        assert_eq!(c.check(Some(&stamp), 10, "/v1/x", 1_010), Ok(()));
        assert_eq!(
            c.check(Some(&stamp), 10, "/v1/x", 1_010),
            Err(PowError::Replayed)
        );
        assert_eq!(
            c.check(Some(&stamp), 10, "/v1/y", 1_010),
            Err(PowError::WrongResource)
        );
        assert_eq!(
            c.check(Some(&stamp), 10, "/v1/x", 2_000),
            Err(PowError::Stale)
        );
        assert_eq!(c.check(None, 10, "/v1/x", 1_010), Err(PowError::Missing));
        // The easiest stamp that does not reach 10 bits.
        let weak = (0u64..)
            .map(|n| format!("{prefix}{n:x}"))
            .find(|s| zero_bits(&Sha256::digest(s.as_bytes())) < 10)
            .unwrap();
        assert_eq!(
            c.check(Some(&weak), 10, "/v1/x", 1_010),
            Err(PowError::TooEasy)
        );
        assert_eq!(zero_bits(&[0, 0x10]), 11);
    }
}
