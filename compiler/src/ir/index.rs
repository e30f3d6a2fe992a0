//! Side tables of the IR that are not part of `ir.json`: the name index
//! behind [`super::Ir::service`], and where each entity was declared.

use super::Service;
use crate::diagnostics::Span;
use std::collections::BTreeMap;

/// foldhash, not SipHash: every SLO of every target looks its service up.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
use std::sync::OnceLock;

/// An IR entity, by name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Entity {
    App,
    Budget(String),
    Service(String),
    Route { service: String, route: String },
    Limits,
    Auth,
    Slo(String),
    AlertPolicy(String),
    LoadTest(String),
    Chaos(String),
    Gate(String),
    Observe,
}

/// Entity → the span of its declaration (its name, or the keyword of a
/// singleton block). Equality ignores it: two IRs with the same content are
/// equal wherever they were written (so an IR read back from `ir.json`,
/// which has no origins, equals the one that wrote it).
#[derive(Debug, Clone, Default)]
pub struct Origins(BTreeMap<Entity, Span>);

impl PartialEq for Origins {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Origins {
    pub fn insert(&mut self, entity: Entity, span: Span) {
        self.0.entry(entity).or_insert(span);
    }

    pub fn get(&self, entity: &Entity) -> Option<Span> {
        self.0.get(entity).copied()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Entity, &Span)> {
        self.0.iter()
    }
}

/// Name → position in `services`, built on first lookup. A hit is checked
/// against the service's name, and a miss falls back to a scan, so a
/// `services` list changed after the index was built still answers right.
#[derive(Debug, Default)]
pub struct Index {
    services: OnceLock<HashMap<String, usize>>,
}

impl Clone for Index {
    fn clone(&self) -> Self {
        Index::default()
    }
}

impl PartialEq for Index {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Index {
    pub fn service<'s>(&self, services: &'s [Service], name: &str) -> Option<&'s Service> {
        let map = self.services.get_or_init(|| {
            let mut m = HashMap::with_capacity_and_hasher(services.len(), Default::default());
            for (i, s) in services.iter().enumerate() {
                m.entry(s.name.clone()).or_insert(i);
            }
            m
        });
        map.get(name)
            .and_then(|&i| services.get(i))
            .filter(|s| s.name == name)
            .or_else(|| services.iter().find(|s| s.name == name))
    }
}
