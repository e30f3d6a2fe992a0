//! Input fingerprints of the build's units of work, so a rebuild renders
//! only the units whose inputs changed.
//!
//! A unit is one service's or one SLO's artifacts of one target
//! ([`crate::backends::Unit`]; a backend marks a unit with
//! [`crate::backends::ArtifactSink::unit`]). Its fingerprint is a SHA-256
//! of everything its rendering may read, taken coarsely so that it is
//! complete by construction rather than by knowing each backend:
//!
//! - the build: the compiler's version, the header fields of [`Meta`]
//!   (not the input hash, which only `manifest.json` and `ir.json` carry),
//!   the target set;
//! - the app-wide IR: every field of the IR except the bodies of the
//!   services and SLOs, which are replaced by their names in order (name
//!   tables and file stems depend on every name), and each SLO's service;
//!   a field added to the IR later is included without anyone listing it,
//!   since the IR is hashed through its serde form;
//! - the unit's *component*: the services connected to the unit's service
//!   by `calls`, in either direction and transitively (callers, callees,
//!   callees' callees, …), with the SLOs of each of them. A service with no
//!   calls either way is a component of one.
//!
//! An SLO unit's fingerprint is that of its service's component plus the
//! SLO itself. So a change to one service changes the fingerprints of its
//! component's units only; a change to anything app-wide (a budget, the
//! app block, a limit, a new service or a renamed one) changes every
//! fingerprint.
//!
//! An app-wide unit ([`UnitKind::App`], the proxy's three configs) names
//! its input itself: the SHA-256 of the serde form of what it reads (the
//! edge's plan), taken with the build and app-wide part above. A change
//! the edge does not see (an image, a replica range, an SLO) keeps it.
//!
//! Debug builds (what the tests run) check the scheme on every rebuild:
//! a unit kept for its unchanged fingerprint is rendered anyway and must
//! give exactly the files kept ([`verify`]).

use crate::backends::{Meta, Unit, UnitKind};
use crate::ir::Ir;
use sha2::{Digest, Sha256};
/// foldhash, not SipHash: a rebuild at 10,000 services looks up 50,000
/// units' fingerprints (none of these maps is iterated into an output).
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Whether a kept unit is rendered anyway and compared: in debug builds,
/// or with `SCALEC_VERIFY_UNITS=1`; never with `SCALEC_VERIFY_UNITS=0`
/// (the tests that compare rebuilds with clean builds turn it off, so the
/// output itself is the judge).
pub fn verify() -> bool {
    match std::env::var("SCALEC_VERIFY_UNITS").as_deref() {
        Ok("0") => false,
        Ok(_) => true,
        Err(_) => cfg!(debug_assertions),
    }
}

/// The fingerprint of every service and SLO of an IR, for one build.
#[derive(Debug, Clone, Default)]
pub struct Fingerprints {
    services: HashMap<String, [u8; 32]>,
    slos: HashMap<String, [u8; 32]>,
    /// The build and the app-wide IR (see the module's doc), for
    /// [`UnitKind::App`] units.
    global: Option<[u8; 32]>,
}

/// The SHA-256 of a value's serde form, for a [`UnitKind::App`] unit's
/// input (`None`: it does not serialise; render the unit).
pub fn input_of<T: serde::Serialize + ?Sized>(v: &T) -> Option<[u8; 32]> {
    hash_of(v)
}

/// An `io::Write` that hashes.
struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn hash_json(v: &serde_json::Value) -> [u8; 32] {
    hash_of(v).expect("a JSON value serialises")
}

/// SHA-256 of a value's JSON form, streamed (`None`: it does not
/// serialise).
fn hash_of<T: serde::Serialize + ?Sized>(v: &T) -> Option<[u8; 32]> {
    let mut w = HashWriter(Sha256::new());
    serde_json::to_writer(&mut w, v).ok()?;
    Some(w.0.finalize().into())
}

/// Union-find over service indexes.
fn root(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

impl Fingerprints {
    /// The fingerprints for building `ir` with `meta` into `targets`. The
    /// IR's service and SLO lists are taken out while the rest is hashed,
    /// and put back as they were.
    pub fn of(ir: &mut Ir, meta: &Meta, targets: &[&str]) -> Fingerprints {
        let services = std::mem::take(&mut ir.services);
        let slos = std::mem::take(&mut ir.slos);
        let rest = hash_of(&*ir);
        ir.services = services;
        ir.slos = slos;
        match rest {
            Some(rest) => Fingerprints::with(ir, rest, meta, targets),
            // Nothing is kept when the IR cannot be hashed.
            None => Fingerprints::default(),
        }
    }

    fn with(ir: &Ir, rest: [u8; 32], meta: &Meta, targets: &[&str]) -> Fingerprints {
        use rayon::prelude::*;
        let service_hashes: Option<Vec<[u8; 32]>> = ir.services.par_iter().map(hash_of).collect();
        let slo_hashes: Option<Vec<[u8; 32]>> = ir.slos.par_iter().map(hash_of).collect();
        let (Some(service_hashes), Some(slo_hashes)) = (service_hashes, slo_hashes) else {
            return Fingerprints::default();
        };
        // The app-wide part: the IR without the bodies, plus the names.
        let names = serde_json::json!({
            "services": ir.services.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            "slos": ir.slos.iter().map(|s| [s.name.as_str(), s.service.as_str()]).collect::<Vec<_>>(),
        });
        let mut global = Sha256::new();
        global.update(b"scalec units v1\0");
        global.update(crate::VERSION.as_bytes());
        let build = serde_json::json!({
            "compiler": meta.compiler,
            "generator": meta.generator,
            "requires": meta.requires,
            "targets": targets,
        });
        global.update(hash_json(&build));
        global.update(rest);
        global.update(hash_json(&names));
        let global: [u8; 32] = global.finalize().into();

        // Components of the call graph.
        let index: HashMap<&str, usize> = ir
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.as_str(), i))
            .collect();
        let mut parent: Vec<usize> = (0..ir.services.len()).collect();
        for (i, s) in ir.services.iter().enumerate() {
            for c in &s.calls {
                if let Some(&j) = index.get(c.as_str()) {
                    let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                    parent[a.max(b)] = a.min(b);
                }
            }
        }
        // Each component's hash: its services' bodies in declaration
        // order, each followed by its SLOs' bodies in declaration order.
        let mut slos_of: Vec<Vec<usize>> = vec![Vec::new(); ir.services.len()];
        for (k, slo) in ir.slos.iter().enumerate() {
            if let Some(&i) = index.get(slo.service.as_str()) {
                slos_of[i].push(k);
            }
        }
        let mut components: HashMap<usize, Sha256> = HashMap::default();
        for i in 0..ir.services.len() {
            let r = root(&mut parent, i);
            let h = components.entry(r).or_insert_with(|| {
                let mut h = Sha256::new();
                h.update(global);
                h
            });
            h.update(b"service\0");
            h.update(service_hashes[i]);
            for &k in &slos_of[i] {
                h.update(b"slo\0");
                h.update(slo_hashes[k]);
            }
        }
        let components: HashMap<usize, [u8; 32]> = components
            .into_iter()
            .map(|(r, h)| (r, h.finalize().into()))
            .collect();
        let mut out = Fingerprints {
            global: Some(global),
            ..Fingerprints::default()
        };
        for (i, s) in ir.services.iter().enumerate() {
            let c = components[&root(&mut parent, i)];
            out.services.insert(s.name.clone(), c);
        }
        for (k, slo) in ir.slos.iter().enumerate() {
            let mut h = Sha256::new();
            h.update(global);
            match index.get(slo.service.as_str()) {
                Some(&i) => h.update(components[&root(&mut parent, i)]),
                None => h.update(b"no service\0"),
            }
            h.update(slo_hashes[k]);
            out.slos.insert(slo.name.clone(), h.finalize().into());
        }
        // A name declared twice cannot be told apart: nothing of it is kept.
        if out.services.len() != ir.services.len() {
            out.services.clear();
        }
        if out.slos.len() != ir.slos.len() {
            out.slos.clear();
        }
        out
    }

    /// The unit's fingerprint (`None`: render it, and keep no record).
    pub fn get(&self, unit: &Unit<'_>) -> Option<[u8; 32]> {
        let mut h = Sha256::new();
        match unit.kind {
            UnitKind::Service => h.update(self.services.get(unit.name)?),
            UnitKind::Slo => h.update(self.slos.get(unit.name)?),
            UnitKind::App { input } => {
                h.update(self.global?);
                h.update(input);
            }
        }
        h.update(unit.key().as_bytes());
        Some(h.finalize().into())
    }
}
