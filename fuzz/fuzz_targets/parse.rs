//! The parser on any text: never panics, every diagnostic span lies inside
//! the text and on character boundaries.
#![no_main]
use libfuzzer_sys::fuzz_target;
use scalec::diagnostics::FileId;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (_, diags) = scalec::syntax::parse(FileId(0), text);
    for d in &diags {
        for l in &d.labels {
            let r = l.span.range();
            assert!(r.end <= text.len(), "span past the end: {d:?}");
            assert!(
                text.is_char_boundary(r.start) && text.is_char_boundary(r.end),
                "span inside a character: {d:?}"
            );
        }
    }
});
