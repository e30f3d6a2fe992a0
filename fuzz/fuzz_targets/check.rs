//! Parse + resolve + check + lower, then every default target, on any text:
//! never panics; a clean check always yields an IR, and its artifacts build.
#![no_main]
use libfuzzer_sys::fuzz_target;
use scalec::project::Project;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let c = scalec::check(Project::from_memory(&[("main.scale", text)]));
    if !c.has_errors() {
        let ir = c.ir.as_ref().expect("no errors means an IR");
        let targets = scalec::backends::default_targets();
        scalec::emit(ir, &c.meta(), &targets).expect("a clean spec builds");
    }
});
