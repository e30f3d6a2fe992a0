//! `proxy/gateway/*.yaml`: Gateway API and Envoy Gateway resources.

use super::Plan;
use crate::backends::{Artifact, Meta};

pub fn artifacts(_plan: &Plan, _meta: &Meta) -> Vec<Artifact> {
    Vec::new()
}
