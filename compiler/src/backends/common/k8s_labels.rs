//! The standard `app.kubernetes.io/*` labels every generated Kubernetes
//! object carries.

use std::collections::BTreeMap;

pub type Labels = BTreeMap<String, String>;

/// Standard labels of every object of a workload.
pub fn workload(app: &str, name: &str) -> Labels {
    let mut l = selector(app, name);
    l.insert("app.kubernetes.io/managed-by".into(), "scalec".into());
    l
}

/// The labels that select a workload's pods (immutable on a Deployment,
/// so kept to two).
pub fn selector(app: &str, name: &str) -> Labels {
    let mut l = Labels::new();
    l.insert("app.kubernetes.io/name".into(), name.into());
    l.insert("app.kubernetes.io/part-of".into(), app.into());
    l
}

/// The labels of an app-wide object (a rule) of one component.
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
        let w = workload("shop", "api");
        let s = selector("shop", "api");
        assert!(s.iter().all(|(k, v)| w.get(k) == Some(v)));
        assert_eq!(w["app.kubernetes.io/managed-by"], "scalec");
        assert_eq!(
            component("shop", "slo")["app.kubernetes.io/component"],
            "slo"
        );
    }
}
