//! `scalec-lsp`: the `.scale` language server on stdin/stdout. Editors
//! start it as `scalec lsp`, which runs this binary (installed beside
//! `scalec`).

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        None | Some("--stdio") => {}
        Some("--version" | "-V") => {
            println!("scalec-lsp {}", scalec::VERSION);
            return std::process::ExitCode::SUCCESS;
        }
        Some("--help" | "-h") => {
            println!("scalec-lsp: the .scale language server.\n\nUsage: scalec lsp [--stdio]\n\nSpeaks the Language Server Protocol on stdin/stdout; an editor starts it.");
            return std::process::ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!("error: unknown argument `{other}`; scalec-lsp speaks LSP on stdin/stdout and takes no argument but --stdio");
            return std::process::ExitCode::from(2);
        }
    }
    match scalec_lsp::run_stdio() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot start the language server: {e}");
            std::process::ExitCode::from(2)
        }
    }
}
