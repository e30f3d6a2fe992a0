//! Rules of the edge: what the proxy configs must be able to carry, and
//! what a limit enforced per proxy instance really allows.

use crate::diagnostics::{catalog, Diagnostic, Span};

/// The longest route path, in bytes. nginx reads no configuration word
/// longer than 4 KiB, and a path becomes a regex there (a `.` is written
/// `\\x2E`): 1000 characters stay within it whatever they are.
pub const MAX_ROUTE_PATH: usize = 1000;

/// A route path too long for the proxy configs.
pub fn path_too_long(path: &str, span: Span) -> Option<Diagnostic> {
    (path.len() > MAX_ROUTE_PATH)
        .then(|| catalog::route_path_too_long(path.len(), MAX_ROUTE_PATH, span))
}
