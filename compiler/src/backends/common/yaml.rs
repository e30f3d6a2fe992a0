//! YAML artifacts: built from typed serde values only, never by gluing
//! text, so serde's YAML emitter is the escaper.

use crate::backends::{Artifact, Meta};
use serde::Serialize;

/// A YAML artifact built from a typed value, headed by the build header.
pub fn yaml_artifact<T: Serialize>(path: String, meta: &Meta, value: &T) -> Artifact {
    let body = yaml_serde::to_string(value).expect("generated values serialise to YAML");
    let mut contents = meta.header("#");
    contents.push_str(&body);
    Artifact { path, contents }
}
