//! The formatter on any text that parses: its output parses to the same
//! tree (spans aside) and formats to itself.
#![no_main]
use libfuzzer_sys::fuzz_target;
use scalec::diagnostics::FileId;
use scalec::syntax::format::format;

/// The tree printed without spans, the only thing formatting may change.
fn tree(text: &str) -> Option<String> {
    let (file, diags) = scalec::syntax::parse(FileId(0), text);
    if !diags.is_empty() {
        return None;
    }
    let debug = format!("{file:?}");
    let mut out = String::with_capacity(debug.len());
    let mut rest = debug.as_str();
    while let Some(at) = rest.find("span: Span {") {
        out.push_str(&rest[..at]);
        let close = rest[at..].find('}').expect("span closes");
        rest = &rest[at + close + 1..];
    }
    out.push_str(rest);
    Some(out)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some(before) = tree(text) else {
        return;
    };
    let Ok(once) = format(text) else {
        panic!("parses but does not format:\n{text}");
    };
    let after = tree(&once).unwrap_or_else(|| panic!("formatted text does not parse:\n{once}"));
    assert_eq!(before, after, "formatting changed the tree:\n{text}\n---\n{once}");
    let twice = format(&once).expect("formats again");
    assert_eq!(once, twice, "not idempotent");
});
