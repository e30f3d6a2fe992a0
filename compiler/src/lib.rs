//! `scalec`: the compiler for `.scale`, a declarative language that says how
//! a web application must behave under load.
//!
//! The pipeline: [`syntax`] parses text into a tree, [`semantics`] resolves
//! names and checks units, ranges, references and graphs while lowering into
//! the [`ir`], and backends read only the IR.

pub mod diagnostics;
pub mod syntax;
pub mod ir;
pub mod backends;
