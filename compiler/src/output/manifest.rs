//! `manifest.json`: what a build lists of its output (every artifact's
//! path, SHA-256, size and unit, and each unit's input fingerprint),
//! written as the build ends and read back by the next one.

use super::MANIFEST;
use crate::backends::{Artifact, Meta};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io;
use std::path::Path;

/// One line of the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry {
    pub(super) path: String,
    pub(super) sha256: [u8; 32],
    pub(super) bytes: usize,
    /// The unit of work that made it (`k8s:service:api`), if any.
    pub(super) unit: Option<String>,
}

/// One line of the manifest as it is written: borrowed from a new
/// [`Entry`] or from a file the previous build listed and this one kept.
#[derive(Debug, Clone, Copy)]
pub(super) struct Line<'a> {
    pub(super) path: &'a str,
    pub(super) sha256: &'a [u8; 32],
    pub(super) bytes: u64,
    pub(super) unit: Option<&'a str>,
}

impl Entry {
    pub(super) fn line(&self) -> Line<'_> {
        Line {
            path: &self.path,
            sha256: &self.sha256,
            bytes: self.bytes as u64,
            unit: self.unit.as_deref(),
        }
    }
}

/// The manifest as a typed value, for `serde_json` to write in the test
/// that holds [`write_manifest`] to it.
#[cfg(test)]
#[derive(serde::Serialize)]
pub(super) struct ManifestDoc<'a> {
    generated: serde_json::Value,
    artifacts: Lines<'a>,
    /// Unit key → input fingerprint (see [`crate::incremental`]).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    units: BTreeMap<&'a str, Hex<'a>>,
}

/// Every entry, as `{path, sha256, bytes, unit?}`, made as it is written.
#[cfg(test)]
pub(super) struct Lines<'a>(&'a [Entry]);

#[cfg(test)]
impl serde::Serialize for Lines<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        struct Line<'a>(&'a Entry);
        impl serde::Serialize for Line<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let e = self.0;
                let mut st = s.serialize_struct("ManifestLine", 3 + e.unit.is_some() as usize)?;
                st.serialize_field("path", &e.path)?;
                st.serialize_field("sha256", &Hex(&e.sha256))?;
                st.serialize_field("bytes", &e.bytes)?;
                if let Some(u) = &e.unit {
                    st.serialize_field("unit", u)?;
                }
                st.end()
            }
        }
        s.collect_seq(self.0.iter().map(Line))
    }
}

/// A SHA-256 as 64 lowercase hex digits, without an allocation.
#[cfg(test)]
pub(super) struct Hex<'a>(&'a [u8; 32]);

#[cfg(test)]
impl serde::Serialize for Hex<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let buf = hex_digits(self.0);
        s.serialize_str(std::str::from_utf8(&buf).expect("hex digits are ASCII"))
    }
}

/// Writes the manifest of `entries` (sorted by path) and `units` to `w`:
/// what `serde_json`'s pretty printer makes of [`ManifestDoc`] (a test
/// holds the two together), written directly, since a rebuild at 10,000
/// services spent a tenth of its CPU pretty-printing the manifest's
/// 120,000 lines.
pub(super) fn write_manifest<'a, W: io::Write>(
    mut w: W,
    meta: &Meta,
    entries: impl IntoIterator<Item = Line<'a>>,
    units: impl IntoIterator<Item = (&'a str, &'a [u8; 32])>,
) -> io::Result<()> {
    let generated = serde_json::to_string_pretty(&meta.json()).map_err(io::Error::other)?;
    w.write_all(b"{\n  \"generated\": ")?;
    // A JSON text has no line break inside a string: indent every line.
    w.write_all(generated.replace('\n', "\n  ").as_bytes())?;
    w.write_all(b",\n  \"artifacts\": ")?;
    let mut any = false;
    for e in entries {
        w.write_all(if any { b",\n" } else { b"[\n" })?;
        any = true;
        w.write_all(b"    {\n      \"path\": ")?;
        json_str(&mut w, e.path)?;
        w.write_all(b",\n      \"sha256\": \"")?;
        w.write_all(&hex_digits(e.sha256))?;
        w.write_all(b"\",\n      \"bytes\": ")?;
        w.write_all(itoa::Buffer::new().format(e.bytes).as_bytes())?;
        if let Some(u) = e.unit {
            w.write_all(b",\n      \"unit\": ")?;
            json_str(&mut w, u)?;
        }
        w.write_all(b"\n    }")?;
    }
    w.write_all(if any { b"\n  ]" } else { b"[]" })?;
    let mut any = false;
    for (k, v) in units {
        w.write_all(if any { b",\n" } else { b",\n  \"units\": {\n" })?;
        any = true;
        w.write_all(b"    ")?;
        json_str(&mut w, k)?;
        w.write_all(b": \"")?;
        w.write_all(&hex_digits(v))?;
        w.write_all(b"\"")?;
    }
    if any {
        w.write_all(b"\n  }")?;
    }
    w.write_all(b"\n}\n")
}

/// A JSON string: as it is when nothing in it needs an escape (what
/// `serde_json` escapes: quotes, backslashes, control characters), else
/// by `serde_json`.
fn json_str<W: io::Write>(w: &mut W, s: &str) -> io::Result<()> {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        w.write_all(b"\"")?;
        w.write_all(s.as_bytes())?;
        w.write_all(b"\"")
    } else {
        serde_json::to_writer(&mut *w, s).map_err(io::Error::other)
    }
}

fn hex_digits(sha: &[u8; 32]) -> [u8; 64] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 64];
    for (i, b) in sha.iter().enumerate() {
        buf[2 * i] = DIGITS[(b >> 4) as usize];
        buf[2 * i + 1] = DIGITS[(b & 15) as usize];
    }
    buf
}

/// The manifest by `serde_json` (what [`write_manifest`] must equal).
#[cfg(test)]
fn write_manifest_serde<W: io::Write>(
    mut w: W,
    meta: &Meta,
    entries: &[Entry],
    units: &BTreeMap<String, [u8; 32]>,
) -> io::Result<()> {
    let doc = ManifestDoc {
        generated: meta.json(),
        artifacts: Lines(entries),
        units: units.iter().map(|(k, v)| (k.as_str(), Hex(v))).collect(),
    };
    serde_json::to_writer_pretty(&mut w, &doc).map_err(io::Error::other)?;
    w.write_all(b"\n")
}

pub(super) fn manifest_of(
    meta: &Meta,
    entries: &[Entry],
    units: &BTreeMap<String, [u8; 32]>,
) -> Artifact {
    let mut out = Vec::with_capacity(256 * entries.len() + 1024);
    write_manifest(
        &mut out,
        meta,
        entries.iter().map(Entry::line),
        units.iter().map(|(k, v)| (k.as_str(), v)),
    )
    .expect("a manifest serialises into memory");
    Artifact {
        path: MANIFEST.into(),
        contents: String::from_utf8(out).expect("JSON is UTF-8"),
    }
}

/// `manifest.json`: the header and every artifact's hash and size.
pub fn manifest(meta: &Meta, artifacts: &[Artifact]) -> Artifact {
    let entries: Vec<Entry> = artifacts
        .iter()
        .map(|a| Entry {
            path: a.path.clone(),
            sha256: Sha256::digest(a.contents.as_bytes()).into(),
            bytes: a.contents.len(),
            unit: None,
        })
        .collect();
    manifest_of(meta, &entries, &BTreeMap::new())
}

pub(super) fn not_a_manifest(dir: &Path, e: serde_json::Error) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "{} is not a scalec manifest: {e}",
            dir.join(MANIFEST).display()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The manifest written directly is the one `serde_json` pretty-prints.
    #[test]
    fn the_manifest_writer_matches_serde_json() {
        let mut meta = Meta {
            compiler: "scalec 0.1.0".into(),
            generator: Some("in \"x\"\n".into()),
            requires: None,
            input_hash: "sha256:00".into(),
            env: None,
        };
        let entry = |path: &str, unit: Option<&str>, n: u8| Entry {
            path: path.into(),
            sha256: [n; 32],
            bytes: n as usize * 1000,
            unit: unit.map(str::to_string),
        };
        let entries = [
            entry("a.yaml", None, 1),
            entry("k8s/é \"q\" \\ \u{1}.yaml", Some("k8s:service:a"), 2),
            entry("z/\u{7f}", Some("u\tv"), 255),
        ];
        let mut units = BTreeMap::new();
        units.insert("k8s:service:a".to_string(), [7u8; 32]);
        units.insert("q\"\\".to_string(), [0u8; 32]);
        for env in [None, Some("pr-1".to_string())] {
            meta.env = env;
            for (e, u) in [
                (&entries[..], &units),
                (&entries[..0], &BTreeMap::new()),
                (&entries[..1], &BTreeMap::new()),
            ] {
                let (mut fast, mut slow) = (Vec::new(), Vec::new());
                write_manifest(
                    &mut fast,
                    &meta,
                    e.iter().map(Entry::line),
                    u.iter().map(|(k, v)| (k.as_str(), v)),
                )
                .unwrap();
                write_manifest_serde(&mut slow, &meta, e, u).unwrap();
                assert_eq!(
                    String::from_utf8(fast).unwrap(),
                    String::from_utf8(slow).unwrap()
                );
            }
        }
    }
}
