//! `manifest.json`: what a build lists of its output (every artifact's
//! path, SHA-256, size and unit, and each unit's input fingerprint),
//! written as the build ends and read back by the next one.

use super::{HashMap, MANIFEST};
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
pub(super) fn write_manifest<W: io::Write>(
    mut w: W,
    meta: &Meta,
    entries: &[Entry],
    units: &BTreeMap<String, [u8; 32]>,
) -> io::Result<()> {
    let generated = serde_json::to_string_pretty(&meta.json()).map_err(io::Error::other)?;
    w.write_all(b"{\n  \"generated\": ")?;
    // A JSON text has no line break inside a string: indent every line.
    w.write_all(generated.replace('\n', "\n  ").as_bytes())?;
    w.write_all(b",\n  \"artifacts\": ")?;
    if entries.is_empty() {
        w.write_all(b"[]")?;
    } else {
        w.write_all(b"[\n")?;
        for (i, e) in entries.iter().enumerate() {
            if i > 0 {
                w.write_all(b",\n")?;
            }
            w.write_all(b"    {\n      \"path\": ")?;
            json_str(&mut w, &e.path)?;
            w.write_all(b",\n      \"sha256\": \"")?;
            w.write_all(&hex_digits(&e.sha256))?;
            w.write_all(b"\",\n      \"bytes\": ")?;
            w.write_all(itoa::Buffer::new().format(e.bytes).as_bytes())?;
            if let Some(u) = &e.unit {
                w.write_all(b",\n      \"unit\": ")?;
                json_str(&mut w, u)?;
            }
            w.write_all(b"\n    }")?;
        }
        w.write_all(b"\n  ]")?;
    }
    if !units.is_empty() {
        w.write_all(b",\n  \"units\": {\n")?;
        for (i, (k, v)) in units.iter().enumerate() {
            if i > 0 {
                w.write_all(b",\n")?;
            }
            w.write_all(b"    ")?;
            json_str(&mut w, k)?;
            w.write_all(b": \"")?;
            w.write_all(&hex_digits(v))?;
            w.write_all(b"\"")?;
        }
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
    write_manifest(&mut out, meta, entries, units).expect("a manifest serialises into memory");
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

/// A file the previous build listed.
#[derive(Debug, Clone)]
pub(super) struct PrevFile {
    pub(super) sha256: [u8; 32],
    pub(super) bytes: u64,
}

/// The previous build, from its `manifest.json`.
#[derive(Debug, Default)]
pub(super) struct Previous {
    pub(super) files: HashMap<String, PrevFile>,
    /// Unit key → (fingerprint, its files).
    pub(super) units: HashMap<String, ([u8; 32], Vec<String>)>,
    /// When the manifest was written: a file whose mtime is older and
    /// whose size is the listed one is trusted to hold the listed bytes.
    pub(super) written: Option<std::time::SystemTime>,
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

fn unhex(s: &str) -> Option<[u8; 32]> {
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = digit(b[2 * i])? << 4 | digit(b[2 * i + 1])?;
    }
    Some(out)
}

/// The previous build's manifest, read with its time; empty when there is
/// none (or it cannot be read: then nothing is kept).
pub(super) fn read_previous(dir: &Path) -> io::Result<Previous> {
    use std::borrow::Cow;
    // Strings borrowed from the text where they hold no escape (hashes and
    // unit keys never do): 120,000 lines at 10,000 services.
    #[derive(serde::Deserialize)]
    struct Doc<'a> {
        #[serde(borrow)]
        artifacts: Vec<Line<'a>>,
        #[serde(default, borrow)]
        units: HashMap<Cow<'a, str>, Cow<'a, str>>,
    }
    #[derive(serde::Deserialize)]
    struct Line<'a> {
        #[serde(borrow)]
        path: Cow<'a, str>,
        #[serde(borrow)]
        sha256: Cow<'a, str>,
        bytes: u64,
        #[serde(default, borrow)]
        unit: Option<Cow<'a, str>>,
    }
    let path = dir.join(MANIFEST);
    let file = std::fs::File::open(&path)?;
    let written = file.metadata().and_then(|m| m.modified()).ok();
    let mut text = String::new();
    io::Read::read_to_string(&mut &file, &mut text)?;
    let doc = serde_json::from_str::<Doc>(&text).map_err(|e| not_a_manifest(dir, e))?;
    let mut prev = Previous {
        written,
        ..Previous::default()
    };
    prev.files.reserve(doc.artifacts.len());
    let mut unit_files: HashMap<Cow<str>, Vec<String>> = HashMap::default();
    for l in doc.artifacts {
        let Some(sha256) = unhex(&l.sha256) else {
            continue;
        };
        let path = l.path.into_owned();
        if let Some(u) = l.unit {
            unit_files.entry(u).or_default().push(path.clone());
        }
        prev.files.insert(
            path,
            PrevFile {
                sha256,
                bytes: l.bytes,
            },
        );
    }
    for (key, fp) in doc.units {
        if let Some(fp) = unhex(&fp) {
            let files = unit_files.remove(&key).unwrap_or_default();
            prev.units.insert(key.into_owned(), (fp, files));
        }
    }
    Ok(prev)
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
                write_manifest(&mut fast, &meta, e, u).unwrap();
                write_manifest_serde(&mut slow, &meta, e, u).unwrap();
                assert_eq!(
                    String::from_utf8(fast).unwrap(),
                    String::from_utf8(slow).unwrap()
                );
            }
        }
    }
}
