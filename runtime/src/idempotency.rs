//! Idempotency keys on write routes that declare one: a request without the
//! key is refused (400); the first request with a key runs and its response
//! (status below 500) is kept; a repeat gets that response again, marked
//! `idempotent-replayed: true`, without running the handler; a repeat while
//! the first is still running gets 409. A 5xx, a timeout or a shed frees the
//! key, so a retry runs again: async writes stay safe to retry.
//!
//! Keys are scoped by route and by the caller's `sub` claim when there is
//! one, so one caller never replays another's response.

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A response kept for replay.
#[derive(Debug, Clone)]
pub struct Stored {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

#[derive(Debug)]
enum Entry {
    Running,
    Done(Arc<Stored>, Instant),
}

/// What to do with a request carrying a key.
#[derive(Debug)]
pub enum Begin {
    /// Run it; call [`Store::finish`] or [`Store::abort`] after.
    Run,
    Replay(Arc<Stored>),
    Running,
}

/// An in-memory store bounded in entries and age.
#[derive(Debug)]
pub struct Store {
    map: Mutex<HashMap<String, Entry>>,
    ttl: Duration,
    max_entries: usize,
    /// Bodies larger than this are not kept (the key is freed instead).
    pub max_body: usize,
}

impl Default for Store {
    fn default() -> Self {
        Store::new(Duration::from_secs(24 * 3600), 100_000)
    }
}

impl Store {
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        Store {
            map: Mutex::new(HashMap::new()),
            ttl,
            max_entries,
            max_body: 1 << 20,
        }
    }

    pub fn begin(&self, key: &str) -> Begin {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(key) {
            Some(Entry::Running) => return Begin::Running,
            Some(Entry::Done(s, at)) if at.elapsed() < self.ttl => return Begin::Replay(s.clone()),
            _ => {}
        }
        if map.len() >= self.max_entries {
            let ttl = self.ttl;
            map.retain(|_, e| matches!(e, Entry::Done(_, at) if at.elapsed() < ttl));
            if map.len() >= self.max_entries {
                // Still full of live entries: drop the oldest finished one.
                let oldest = map
                    .iter()
                    .filter_map(|(k, e)| match e {
                        Entry::Done(_, at) => Some((*at, k.clone())),
                        Entry::Running => None,
                    })
                    .min();
                if let Some((_, k)) = oldest {
                    map.remove(&k);
                }
            }
        }
        map.insert(key.to_string(), Entry::Running);
        Begin::Run
    }

    pub fn finish(&self, key: &str, stored: Stored) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(
            key.to_string(),
            Entry::Done(Arc::new(stored), Instant::now()),
        );
    }

    pub fn abort(&self, key: &str) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if matches!(map.get(key), Some(Entry::Running)) {
            map.remove(key);
        }
    }
}

/// Frees a running key if the request is dropped (client gone, timeout)
/// before it finished.
pub(crate) struct Guard {
    pub store: Arc<Store>,
    pub key: Option<String>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(k) = self.key.take() {
            self.store.abort(&k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_then_replay_and_abort_frees() {
        let s = Store::default();
        assert!(matches!(s.begin("a"), Begin::Run));
        assert!(matches!(s.begin("a"), Begin::Running));
        s.abort("a");
        assert!(matches!(s.begin("a"), Begin::Run));
        s.finish(
            "a",
            Stored {
                status: StatusCode::CREATED,
                headers: HeaderMap::new(),
                body: Bytes::from_static(b"x"),
            },
        );
        match s.begin("a") {
            Begin::Replay(r) => {
                assert_eq!((r.status, &r.body[..]), (StatusCode::CREATED, &b"x"[..]))
            }
            other => panic!("{other:?}"),
        }
        let small = Store::new(Duration::from_secs(60), 1);
        assert!(matches!(small.begin("a"), Begin::Run));
        small.finish(
            "a",
            Stored {
                status: StatusCode::OK,
                headers: HeaderMap::new(),
                body: Bytes::new(),
            },
        );
        assert!(matches!(small.begin("b"), Begin::Run));
        assert!(
            matches!(small.begin("a"), Begin::Run),
            "the oldest was evicted"
        );
    }
}
