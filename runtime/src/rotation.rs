//! The key rotation calendar: key `n` signs from `anchor + n × every` until
//! the next key takes over, is published `overlap` before it signs (so every
//! verifier knows it first) and retired `overlap` after it stops signing (so
//! tokens it signed stay valid to their expiry). Inside an overlap two kids
//! verify; a token lifetime under `overlap` never sees a gap.

use std::time::{Duration, SystemTime};

/// When one kid is published, signs and is retired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub publish: SystemTime,
    pub sign_from: SystemTime,
    pub sign_until: SystemTime,
    pub retire: SystemTime,
}

impl Window {
    /// A key that verifies at any time (no rotation declared).
    pub fn always() -> Self {
        let far = SystemTime::UNIX_EPOCH + Duration::from_secs(1 << 40);
        Window {
            publish: SystemTime::UNIX_EPOCH,
            sign_from: SystemTime::UNIX_EPOCH,
            sign_until: far,
            retire: far,
        }
    }

    /// Whether a token with this kid is accepted at `t`.
    pub fn verifies_at(&self, t: SystemTime) -> bool {
        self.publish <= t && t < self.retire
    }
}

/// The calendar a `rotation { every  overlap }` implies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calendar {
    pub anchor: SystemTime,
    pub every: Duration,
    pub overlap: Duration,
}

impl Calendar {
    /// Anchored at the Unix epoch, as `auth/rotation.json` states it.
    pub fn new(every: Duration, overlap: Duration) -> Self {
        Calendar {
            anchor: SystemTime::UNIX_EPOCH,
            every,
            overlap,
        }
    }

    pub fn anchored_at(self, anchor: SystemTime) -> Self {
        Calendar { anchor, ..self }
    }

    /// Key `n`'s window.
    /// Key `n`'s window (times past what the clock can state saturate to
    /// [`Window::always`]'s far end).
    pub fn window(&self, n: u32) -> Window {
        let far = Window::always().retire;
        let at = |d: Option<Duration>| d.and_then(|d| self.anchor.checked_add(d)).unwrap_or(far);
        let sign_from = at(self.every.checked_mul(n));
        let sign_until = at(self
            .every
            .checked_mul(n)
            .and_then(|d| d.checked_add(self.every)));
        Window {
            publish: sign_from.checked_sub(self.overlap).unwrap_or(sign_from),
            sign_from,
            sign_until,
            retire: sign_until.checked_add(self.overlap).unwrap_or(far),
        }
    }

    /// The key that signs at `t` (`None` before the anchor or an empty period).
    pub fn signing_at(&self, t: SystemTime) -> Option<u32> {
        let since = t.duration_since(self.anchor).ok()?;
        let n = since.as_nanos().checked_div(self.every.as_nanos())?;
        u32::try_from(n).ok()
    }

    /// The keys that verify at `t`: the signing one, plus its predecessor or
    /// successor inside an overlap.
    pub fn verifying_at(&self, t: SystemTime) -> Vec<u32> {
        let Some(n) = self.signing_at(t) else {
            return Vec::new();
        };
        [n.checked_sub(1), Some(n), n.checked_add(1)]
            .into_iter()
            .flatten()
            .filter(|k| self.window(*k).verifies_at(t))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_kids_inside_the_overlap_one_outside() {
        let day = Duration::from_secs(86_400);
        let c = Calendar::new(day * 30, day * 7);
        let t = SystemTime::UNIX_EPOCH + day * 30 * 100;
        assert_eq!(c.signing_at(t), Some(100));
        assert_eq!(c.verifying_at(t), vec![99, 100]);
        assert_eq!(c.verifying_at(t + day * 7), vec![100]);
        assert_eq!(c.verifying_at(t + day * 24), vec![100, 101]);
        let w = c.window(100);
        assert_eq!(w.retire.duration_since(w.publish).unwrap(), day * 44);
        // Absurd periods saturate instead of overflowing.
        let huge = Calendar::new(Duration::from_secs(u64::MAX / 2), day);
        assert!(huge.window(u32::MAX).retire >= Window::always().retire);
        assert!(
            crate::quota(1e-300, 1).replenish_interval() <= Duration::from_secs(3600 * 24 * 365)
        );
        assert_eq!(crate::quota(f64::NAN, 0).burst_size().get(), 1);
    }
}
