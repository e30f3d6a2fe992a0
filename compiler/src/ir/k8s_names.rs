//! Kubernetes object names from IR names.
//!
//! Object names must be DNS-1123 labels (Service names DNS-1035: starting
//! with a letter): lowercase letters, digits and `-`, at most 63
//! characters, starting and ending with an alphanumeric. IR names are
//! identifiers such as `search_index`. The rule, applied to the set of names
//! of one kind (all services; all PrometheusRules):
//!
//! 1. A *plain* identifier — lowercase letters and digits in words joined by
//!    single underscores, starting with a letter (`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`),
//!    at most 63 characters — maps by turning `_` into `-`:
//!    `search_index` → `search-index`. On plain identifiers this is
//!    one-to-one (they hold no `-`), so two of them can never collide.
//! 2. Any other name (capitals, `__`, a leading digit or `_`, other
//!    characters, too long) is lowercased, every run of other characters
//!    becomes one `-`, ends are trimmed, `n-` is put in front when it would
//!    not start with a letter, it is cut to 52 characters, and `-` plus the
//!    first 10 hex digits of the SHA-256 of the original name is appended:
//!    `Search_Index` → `search-index-3c1f…`. The suffix keeps it apart from
//!    the plain form and from its other spellings.
//! 3. If two different names still end up equal (a plain name that happens
//!    to look like a suffixed one), every name in that clash takes the
//!    suffix; the table is checked to be one-to-one before it is used.
//!
//! The mapping depends only on the set of names, not on their order.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

const MAX: usize = 63;
const HASH_HEX: usize = 10;

fn is_plain(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z'))
        && name.len() <= MAX
        && !name.ends_with('_')
        && !name.contains("__")
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn hash_hex(name: &str) -> String {
    let digest = Sha256::digest(name.as_bytes());
    digest
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()[..HASH_HEX]
        .to_string()
}

/// The name with a hash suffix (rule 2).
fn suffixed(name: &str) -> String {
    let mut base = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            base.push(c);
        } else if !base.ends_with('-') {
            base.push('-');
        }
    }
    let mut base = base.trim_matches('-').to_string();
    if !base.starts_with(|c: char| c.is_ascii_lowercase()) {
        base.insert_str(0, "n-");
    }
    base.truncate(MAX - HASH_HEX - 1);
    let base = base.trim_end_matches('-');
    format!("{base}-{}", hash_hex(name))
}

/// An injective table from IR names to DNS-1035 labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    map: BTreeMap<String, String>,
}

impl Names {
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut map: BTreeMap<String, String> = names
            .into_iter()
            .map(|n| {
                let k = if is_plain(n) {
                    n.replace('_', "-")
                } else {
                    suffixed(n)
                };
                (n.to_string(), k)
            })
            .collect();
        // Rule 3: every name in a clash takes the suffix.
        let mut by_label: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (n, k) in &map {
            by_label.entry(k.clone()).or_default().push(n.clone());
        }
        for names in by_label.values().filter(|v| v.len() > 1) {
            for n in names {
                map.insert(n.clone(), suffixed(n));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for k in map.values() {
            assert!(
                seen.insert(k.clone()),
                "two names map to the Kubernetes name {k}"
            );
            debug_assert!(is_dns_1035(k), "{k} is not a DNS-1035 label");
        }
        Names { map }
    }

    /// The Kubernetes name for an IR name of this set.
    pub fn get(&self, name: &str) -> &str {
        self.map
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not in this name table"))
    }
}

/// `^[a-z]([-a-z0-9]*[a-z0-9])?$`, at most 63 characters.
pub fn is_dns_1035(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The Kubernetes name `Names::new` gives `name` among all of `services`
/// (the Service a ServiceMonitor scrapes, so the `job` of its series),
/// without building the table when it cannot matter: a plain name maps by
/// rule 1 unless its plain form looks like a suffixed one (rule 3).
pub fn service_name(services: &[crate::ir::Service], name: &str) -> String {
    if is_plain(name) {
        let plain = name.replace('_', "-");
        let looks_suffixed = plain.rsplit_once('-').is_some_and(|(_, tail)| {
            tail.len() == HASH_HEX && tail.chars().all(|c| c.is_ascii_hexdigit())
        });
        if !looks_suffixed {
            return plain;
        }
    }
    let names = Names::new(
        services
            .iter()
            .map(|s| s.name.as_str())
            .chain(std::iter::once(name)),
    );
    names.get(name).to_string()
}

/// The name of a single thing (the app): same rules, a set of one.
pub fn single(name: &str) -> String {
    Names::new([name]).get(name).to_string()
}

/// `^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`, at most 63 characters: what a
/// Namespace's name and an environment name must be.
pub fn is_dns_1123_label(s: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !s.is_empty()
        && s.len() <= MAX
        && s.starts_with(alnum)
        && s.ends_with(alnum)
        && s.chars().all(|c| alnum(c) || c == '-')
}

/// The longest name Kubernetes takes for a Namespace (a DNS-1123 label).
pub const MAX_NAMESPACE: usize = MAX;

/// The app's own namespace, before any environment: `app { namespace }`
/// when written, else the app's Kubernetes name.
pub fn base_namespace(app_name: &str, declared: Option<&str>) -> String {
    declared.map_or_else(|| single(app_name), str::to_string)
}

/// The namespace every object of a build goes into, and every
/// namespace-scoped query selects: the base namespace
/// ([`base_namespace`]), and `-<env>` when the build names an environment
/// (`scalec build --env pr-12` → `triage-pr-12`). The one place this is
/// computed; the checker refuses a result longer than 63 characters.
pub fn namespace(app_name: &str, declared: Option<&str>, env: Option<&str>) -> String {
    let base = base_namespace(app_name, declared);
    match env {
        Some(env) => format!("{base}-{env}"),
        None => base,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_identifiers_map_by_underscore() {
        let n = Names::new(["search_index", "api", "db2", "a_b_c"]);
        assert_eq!(n.get("search_index"), "search-index");
        assert_eq!(n.get("api"), "api");
        assert_eq!(n.get("db2"), "db2");
        assert_eq!(n.get("a_b_c"), "a-b-c");
    }

    #[test]
    fn other_spellings_never_collide() {
        let names = [
            "search_index",
            "Search_Index",
            "search__index",
            "_search_index",
            "search_index_",
            "search-index",
        ];
        let n = Names::new(names);
        assert_eq!(n.get("search_index"), "search-index");
        let mut labels: Vec<&str> = names.iter().map(|x| n.get(x)).collect();
        for l in &labels {
            assert!(is_dns_1035(l), "{l}");
        }
        labels.sort();
        labels.dedup();
        assert_eq!(labels.len(), names.len(), "{labels:?}");
        assert!(n.get("Search_Index").starts_with("search-index-"));
    }

    #[test]
    fn a_plain_name_that_looks_suffixed_is_suffixed_too() {
        let fake = format!("x_{}", hash_hex("X"));
        let n = Names::new(["X", fake.as_str()]);
        assert_ne!(n.get("X"), n.get(&fake));
        assert!(n.get(&fake).starts_with(&format!("x-{}-", hash_hex("X"))));
    }

    #[test]
    fn long_and_odd_names_fit() {
        let long = "a".repeat(100);
        let n = Names::new([long.as_str(), "9lives", "ünïcode", ""]);
        for k in [long.as_str(), "9lives", "ünïcode", ""] {
            assert!(is_dns_1035(n.get(k)), "{}", n.get(k));
        }
        assert!(n.get("9lives").starts_with("n-9lives-"));
    }

    #[test]
    fn namespace_is_the_app_and_the_environment() {
        assert_eq!(namespace("triage", None, None), "triage");
        assert_eq!(namespace("order_api", None, None), "order-api");
        assert_eq!(namespace("triage", None, Some("pr-12")), "triage-pr-12");
        assert_eq!(namespace("triage", Some("support"), None), "support");
        assert_eq!(
            namespace("triage", Some("support"), Some("pr-12")),
            "support-pr-12"
        );
        for ok in ["a", "pr-12", "0", "9x"] {
            assert!(is_dns_1123_label(ok), "{ok}");
        }
        let long = "a".repeat(64);
        for bad in ["", "-a", "a-", "A", "a_b", "a.b", long.as_str()] {
            assert!(!is_dns_1123_label(bad), "{bad}");
        }
    }

    #[test]
    fn order_does_not_matter() {
        assert_eq!(
            Names::new(["b_x", "a", "B_x"]),
            Names::new(["B_x", "a", "b_x"])
        );
    }
}
