//! The standard `app.kubernetes.io/*` labels every generated Kubernetes
//! object carries.
//!
//! A workload's objects carry `name` (the service), `instance` (the service
//! in this app's namespace), `component` (what kind of service it is),
//! `part-of` (the app), `managed-by: scalec` and, on the Deployment and its
//! pods, when the image has a tag, `version`. Its pods are selected by `app.kubernetes.io/name` alone: a
//! Deployment's selector is immutable, so it holds only a label that never
//! changes (renaming the app, or a new image version, must not touch it).
//! Service names are unique within the app's namespace.

use std::collections::BTreeMap;

pub type Labels = BTreeMap<String, String>;

/// What a workload is, for `app.kubernetes.io/component`.
pub fn component_of(kind: crate::ir::ServiceKind) -> &'static str {
    use crate::ir::ServiceKind::*;
    match kind {
        Http => "server",
        Postgres | Mysql => "database",
        Redis => "cache",
        Vector => "vector-store",
        Queue => "queue",
        External => "external",
        Worker => "worker",
    }
}

/// Standard labels of every object of a workload.
pub fn workload(app: &str, name: &str, component: &str, image: Option<&str>) -> Labels {
    let mut l = selector(name);
    l.insert("app.kubernetes.io/instance".into(), name.into());
    l.insert("app.kubernetes.io/component".into(), component.into());
    l.insert("app.kubernetes.io/part-of".into(), app.into());
    l.insert("app.kubernetes.io/managed-by".into(), "scalec".into());
    if let Some(v) = image.and_then(image_version) {
        l.insert("app.kubernetes.io/version".into(), v);
    }
    l
}

/// The labels that select a workload's pods: only the one that never changes.
pub fn selector(name: &str) -> Labels {
    let mut l = Labels::new();
    l.insert("app.kubernetes.io/name".into(), name.into());
    l
}

/// The tag of an image reference (`ghcr.io/a/b:1.8.0` → `1.8.0`), when it
/// is a valid label value; none for a digest-only or untagged reference.
pub fn image_version(image: &str) -> Option<String> {
    let without_digest = image.split('@').next().unwrap_or(image);
    // The tag follows the last `:` after the last `/` (a registry port is not a tag).
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    let (_, tag) = last.rsplit_once(':')?;
    let ok = !tag.is_empty()
        && tag.len() <= 63
        && tag.starts_with(|c: char| c.is_ascii_alphanumeric())
        && tag.ends_with(|c: char| c.is_ascii_alphanumeric())
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    ok.then(|| tag.to_string())
}

/// The labels of an app-wide object (a rule, the namespace) of one component.
pub fn component(app: &str, component: &str) -> Labels {
    let mut l = Labels::new();
    l.insert("app.kubernetes.io/component".into(), component.into());
    l.insert("app.kubernetes.io/managed-by".into(), "scalec".into());
    l.insert("app.kubernetes.io/part-of".into(), app.into());
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_labels_extend_the_selector() {
        let w = workload("shop", "api", "server", Some("ghcr.io/a/api:1.8.0"));
        let s = selector("api");
        assert!(s.iter().all(|(k, v)| w.get(k) == Some(v)));
        assert_eq!(s.len(), 1, "the selector holds only the stable label");
        assert_eq!(w["app.kubernetes.io/managed-by"], "scalec");
        assert_eq!(w["app.kubernetes.io/version"], "1.8.0");
        assert_eq!(
            component("shop", "slo")["app.kubernetes.io/component"],
            "slo"
        );
    }

    #[test]
    fn versions_from_image_references() {
        assert_eq!(
            image_version("qdrant/qdrant:v1.12.4").as_deref(),
            Some("v1.12.4")
        );
        assert_eq!(image_version("registry:5000/app").as_deref(), None);
        assert_eq!(image_version("registry:5000/app:2").as_deref(), Some("2"));
        assert_eq!(image_version("app@sha256:abc").as_deref(), None);
        assert_eq!(image_version("app:1.0@sha256:abc").as_deref(), Some("1.0"));
        assert_eq!(image_version("app:bad+tag"), None);
    }
}
