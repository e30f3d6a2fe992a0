//! Text to syntax tree: the grammar (`scale.pest`), the tree (`ast`) and the
//! parser that builds one from the other and recovers from errors.

pub mod ast;
pub mod format;
pub mod parser;

pub use parser::parse;
