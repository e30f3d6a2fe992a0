//! What several backends need, in one place, so no backend imports from a
//! sibling: YAML artifacts ([`yaml`]), Kubernetes object names and standard
//! labels ([`k8s_names`], [`k8s_labels`]), PromQL ([`promql`]), the
//! Prometheus rule groups the Prometheus and Kubernetes targets both write
//! ([`rules`]), and the escapers of every text format ([`escape`]).
//!
//! # The rule for text targets
//!
//! Spec data (names, paths, headers, issuers, any string that came from a
//! `.scale` file) enters a generated file only through that format's
//! escaper:
//!
//! - YAML and JSON: typed serde structs, serialised whole
//!   ([`yaml::yaml_artifact`], `serde_json`); never `format!` into YAML.
//! - PromQL inside those: [`promql::selector`], [`promql::string`]
//!   ([`escape::promql_label_value`]), [`promql::label_name`],
//!   [`promql::metric_name`].
//! - k6 JavaScript: tera templates fed a typed view whose strings were made
//!   with [`escape::js_string`] / [`escape::js_json`] (templates hold no
//!   logic), or a typed printer using the same functions.
//! - nginx and HAProxy: typed printers (or tera with per-target filters)
//!   through [`escape::nginx_string`] and [`escape::haproxy_string`]; these
//!   refuse what the format cannot hold, and the backend reports it as a
//!   diagnostic at the construct's span (`Ir::origins`).
//! - Rust: quote + prettyplease, or typed constants through
//!   [`escape::rust_string`].
//!
//! A value that is not a string (a number, a duration) is printed by a
//! formatter of this module (`promql::num`, `promql::duration`), never by
//! `Display` of user text.

pub mod escape;
pub mod k6_script;
pub mod k8s_labels;
/// Kubernetes object names: in the IR, because the checker needs them too
/// (a namespace's length).
pub use crate::ir::k8s_names;
pub mod promql;
pub mod rules;
pub mod yaml;
pub mod yaml_emit;
