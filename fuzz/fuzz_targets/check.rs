//! Parse + resolve + check + lower, then every default target, on any text:
//! never panics; a clean check always yields an IR, and its artifacts build.
//! The semantic model answers the language server's queries at several
//! offsets (start, end, and a few the input picks) without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;
use scalec::project::Project;
use scalec::query;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let c = scalec::check(Project::from_memory(&[("main.scale", text)]));
    let file = c.project.files[0].id;
    let mut offsets = vec![0, text.len() / 2, text.len()];
    offsets.extend(data.iter().take(4).map(|b| *b as usize * text.len() / 255));
    for at in offsets {
        if let Some(d) = query::definition_at(&c, file, at) {
            let _ = query::references(&c, d.decl);
        }
        let _ = query::hover(&c, file, at);
        let _ = query::completions(&c, file, at);
    }
    let _ = query::document_symbols(&c, file);
    if !c.has_errors() {
        let ir = c.ir.as_ref().expect("no errors means an IR");
        let targets = scalec::backends::default_targets();
        scalec::emit(ir, &c.meta(), &targets).expect("a clean spec builds");
    }
});
