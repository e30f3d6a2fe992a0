//! The `scalec` command line.

use clap::{Parser, Subcommand, ValueEnum};
use scalec::backends::{ArtifactSink, EmitError};
use scalec::diagnostics::{self, Code, Severity};
use scalec::output::{self, Drift};
use scalec::project::Project;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

mod gate_cmd;
mod init;

#[derive(Parser)]
#[command(
    name = "scalec",
    version,
    about = "The compiler for .scale: how a web application must behave under load"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum MessageFormat {
    Human,
    Json,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Color {
    Auto,
    Always,
    Never,
}

#[derive(clap::Args)]
struct DiagOpts {
    /// How to print diagnostics: `human` (to stderr) or `json` (one object per line, to stdout).
    #[arg(long, value_enum, default_value = "human")]
    message_format: MessageFormat,
    /// Colour in human output.
    #[arg(long, value_enum, default_value = "auto")]
    color: Color,
    /// Treat warnings as errors (exit 1).
    #[arg(long)]
    deny_warnings: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Check specs and print diagnostics; exit 1 on any error.
    Check {
        /// `.scale` files, or folders (every `.scale` file below them).
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Check as `build --env NAME` would build (the namespace with NAME must fit).
        #[arg(long, value_name = "NAME", value_parser = env_name)]
        env: Option<String>,
        #[command(flatten)]
        diag: DiagOpts,
    },
    /// Compile specs into artifacts for every target (or those chosen).
    Build {
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// The output folder; its whole content is replaced atomically.
        #[arg(short, long)]
        out: PathBuf,
        /// Targets, comma-separated (see `scalec targets`). Default: all but `ir`.
        #[arg(long, value_delimiter = ',')]
        target: Vec<String>,
        /// Also emit an intermediate form: `ir` writes ir.json.
        #[arg(long, value_delimiter = ',')]
        emit: Vec<String>,
        /// Write nothing; exit 1 and show a diff if the folder is stale.
        #[arg(long)]
        check: bool,
        /// An environment (a DNS-1123 label, e.g. `pr-12`): every object and
        /// namespace-scoped query goes into namespace `<namespace>-NAME`.
        #[arg(long, value_name = "NAME", value_parser = env_name)]
        env: Option<String>,
        #[command(flatten)]
        diag: DiagOpts,
    },
    /// Print the long explanation of a diagnostic code (e.g. S0301).
    Explain {
        /// The code; omit it with --list to see every code.
        code: Option<String>,
        /// List every code with its title.
        #[arg(long)]
        list: bool,
    },
    /// List the build targets.
    Targets,
    /// Mask a production trace for replay: the fields a load test's `mask`
    /// names become keyed pseudonyms (key from $SCALE_MASK_KEY).
    Mask {
        /// The spec: `.scale` files, or folders.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// The load test whose `mask` fields (and target's route parameters) apply.
        #[arg(long)]
        test: String,
        /// The raw trace: JSON lines, one request each.
        #[arg(long)]
        trace: PathBuf,
        /// The masked trace. Default: the test's `replay`, under the project root.
        #[arg(short, long)]
        out: Option<PathBuf>,
        /// Another field to mask (repeatable).
        #[arg(long)]
        field: Vec<String>,
    },
    /// Format `.scale` files in place (canonical layout, comments kept).
    Fmt {
        /// `.scale` files, or folders (every `.scale` file below them).
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Write nothing; list the files that would change with a diff, and exit 1 if any.
        #[arg(long)]
        check: bool,
    },
    /// Create a starter project in DIR (default: the current folder): a spec
    /// using the standard library, a CI workflow, a README.
    Init {
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Judge measurements (a k6 summary, query plans, table digests) against
    /// the spec: exit 0 pass, 1 a gate failed, 2 a usage or input error.
    Gate {
        #[command(subcommand)]
        gate: gate_cmd::GateCommand,
    },
    /// Run the language server on stdin/stdout (for editors; runs the
    /// `scalec-lsp` binary installed beside `scalec`, see docs/editors.md).
    Lsp {
        /// Passed to the server (`--stdio` is accepted and is the default).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
}

// glibc's default arenas, one per thread: a single arena (`M_ARENA_MAX`
// 1, which once kept the freed syntax trees for rayon's threads) made the
// threads wait on its lock. At 10k services with one arena: the one-service
// rebuild 0.76-0.87 s, the first build 2.39-2.53 s user; with the default:
// 0.55 s and 1.99-2.09 s, and peak RSS 113-124 MB either way.
fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { inputs, env, diag } => {
            let Some(c) = load_and_check(&inputs, env.as_deref(), &diag) else {
                return ExitCode::from(2);
            };
            let code = if failed(&c, &diag) {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
            // The process ends here: freeing the trees and the IR one by
            // one would only cost time (about 5% of a large check).
            std::mem::forget(c);
            code
        }
        Command::Build {
            inputs,
            out,
            target,
            emit,
            check,
            env,
            diag,
        } => build(&inputs, &out, target, emit, check, env.as_deref(), &diag),
        Command::Explain { code, list } => explain(code, list),
        Command::Fmt { inputs, check } => fmt(&inputs, check),
        Command::Mask {
            inputs,
            test,
            trace,
            out,
            field,
        } => mask(&inputs, &test, &trace, out, field),
        Command::Lsp { args } => lsp(args),
        Command::Gate { gate } => gate_cmd::run(gate),
        Command::Init { dir } => match init::init(&dir) {
            Ok(files) => {
                for f in &files {
                    eprintln!("created {}", f.display());
                }
                eprintln!(
                    "next: `scalec check {0}` and `scalec build {0} -o {0}/out`",
                    dir.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Command::Targets => {
            for b in scalec::backends::BACKENDS {
                let opt_in = if b.in_default_set() {
                    ""
                } else {
                    " (only when asked for)"
                };
                println!("{:<12} {}{opt_in}", b.name(), b.description());
            }
            ExitCode::SUCCESS
        }
    }
}

fn failed(c: &scalec::Compilation, diag: &DiagOpts) -> bool {
    c.has_errors()
        || (diag.deny_warnings
            && c.diagnostics
                .iter()
                .any(|d| d.severity == Severity::Warning))
}

/// `--env NAME`: a DNS-1123 label (it ends a namespace's name).
fn env_name(s: &str) -> Result<String, String> {
    if scalec::ir::k8s_names::is_dns_1123_label(s) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "{:?} is not an environment name: use at most 63 lowercase letters, digits and `-`, beginning and ending with a letter or digit (e.g. `pr-12`)",
            s
        ))
    }
}

fn load_and_check(
    inputs: &[PathBuf],
    env: Option<&str>,
    diag: &DiagOpts,
) -> Option<scalec::Compilation> {
    let project = match Project::load(inputs) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {}", diagnostics::escape_text(&e.to_string()));
            return None;
        }
    };
    let c = scalec::check_without_model(project, env);
    report(&c, diag);
    Some(c)
}

fn report(c: &scalec::Compilation, diag: &DiagOpts) {
    // Nothing to print (either format prints nothing for no diagnostic):
    // no copy of the sources to show them from.
    if c.diagnostics.is_empty() {
        return;
    }
    report_list(&shown_from_cwd(&c.project), &c.diagnostics, diag);
}

/// The project's files named as a user in the current folder reaches them
/// (`shop/api.scale`, `../specs/x.scale`), so an editor or terminal can open
/// them from a diagnostic. The project itself names them relative to its
/// root (what the build hashes and records, the same on every machine);
/// only what is shown changes. `std/…` names stay as they are.
fn shown_from_cwd(project: &scalec::project::Project) -> diagnostics::SourceMap {
    let cwd = std::env::current_dir().ok();
    let root = match &cwd {
        Some(c) => c.join(&project.root),
        None => project.root.clone(),
    };
    let mut shown = diagnostics::SourceMap::default();
    for (i, (_, f)) in project.sources.files().enumerate() {
        let is_std = project
            .files
            .get(i)
            .is_some_and(|pf| pf.std_module.is_some());
        let name = match (&cwd, is_std) {
            (Some(cwd), false) => relative_to(&root.join(&f.name), cwd),
            _ => f.name.clone(),
        };
        shown.add(name, f.text.clone());
    }
    shown
}

/// `path` as seen from `base` (both absolute): `a/b.scale`, `../x/b.scale`.
fn relative_to(path: &std::path::Path, base: &std::path::Path) -> String {
    use std::path::Component;
    let norm = |p: &std::path::Path| -> Vec<std::ffi::OsString> {
        let mut out: Vec<std::ffi::OsString> = Vec::new();
        for c in p.components() {
            match c {
                Component::ParentDir => {
                    out.pop();
                }
                Component::CurDir => {}
                other => out.push(other.as_os_str().to_os_string()),
            }
        }
        out
    };
    let (p, b) = (norm(path), norm(base));
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if common == 0 {
        return path.to_string_lossy().into_owned();
    }
    let mut parts: Vec<String> = vec!["..".to_string(); b.len() - common];
    parts.extend(p[common..].iter().map(|s| s.to_string_lossy().into_owned()));
    parts.join("/")
}

fn report_list(
    sources: &diagnostics::SourceMap,
    list: &[diagnostics::Diagnostic],
    diag: &DiagOpts,
) {
    match diag.message_format {
        MessageFormat::Json => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(diagnostics::to_json_lines(sources, list).as_bytes());
        }
        MessageFormat::Human => {
            let color = match diag.color {
                Color::Always => true,
                Color::Never => false,
                Color::Auto => {
                    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
                }
            };
            let text = diagnostics::render(sources, list, color);
            // A summary of what the cap left out counts for what it hides.
            let (mut errors, mut warnings, mut hidden) = (0, 0, 0);
            for d in list {
                let n = if d.hidden > 0 { d.hidden } else { 1 };
                hidden += d.hidden;
                match d.severity {
                    Severity::Error => errors += n,
                    Severity::Warning => warnings += n,
                    Severity::Note => {}
                }
            }
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(text.as_bytes());
            if errors + warnings > 0 {
                let _ = writeln!(
                    err,
                    "{} error{}, {} warning{}{}",
                    errors,
                    plural(errors),
                    warnings,
                    plural(warnings),
                    if hidden > 0 {
                        format!(" ({hidden} not shown)")
                    } else {
                        String::new()
                    }
                );
            }
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn build(
    inputs: &[PathBuf],
    out: &std::path::Path,
    target: Vec<String>,
    emit: Vec<String>,
    check: bool,
    env: Option<&str>,
    diag: &DiagOpts,
) -> ExitCode {
    for e in &emit {
        if e != "ir" {
            eprintln!("error: unknown --emit `{e}`; the only intermediate form is `ir`");
            return ExitCode::from(2);
        }
    }
    // `SCALEC_TIMINGS=1`: phase timings on stderr (the build bench reads them).
    let timings = std::env::var_os("SCALEC_TIMINGS").is_some();
    let started = std::time::Instant::now();
    // The previous build is read while the spec is checked.
    let early = if check {
        output::Early::none()
    } else {
        output::Early::start(out)
    };
    let Some(c) = load_and_check(inputs, env, diag) else {
        return ExitCode::from(2);
    };
    if timings {
        eprintln!("timing: load+check {:.3}s", started.elapsed().as_secs_f64());
    }
    if failed(&c, diag) {
        eprintln!(
            "error: the build stopped on the {} above; {} was left as it was",
            if c.has_errors() {
                "errors"
            } else {
                "warnings (--deny-warnings)"
            },
            out.display()
        );
        return ExitCode::from(1);
    }
    // The syntax trees are not needed past the check: free them before
    // the targets run (the sources stay, for diagnostics).
    let mut c = c;
    for f in &mut c.project.files {
        f.ast = Default::default();
    }
    let meta = c.meta();
    let Some(mut ir) = c.ir.take() else {
        eprintln!("error: the check produced no IR; this is a scalec bug, please report it");
        return ExitCode::from(2);
    };
    let mut targets: Vec<&str> = if target.is_empty() {
        scalec::backends::default_targets()
    } else {
        target.iter().map(String::as_str).collect()
    };
    if !emit.is_empty() && !targets.contains(&"ir") {
        targets.push("ir");
    }
    targets.sort();
    targets.dedup();
    if let Err(e) = scalec::backends_for(&targets) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let started = std::time::Instant::now();
    let fingerprints = scalec::incremental::Fingerprints::of(&mut ir, &meta, &targets);
    if timings {
        eprintln!(
            "timing: fingerprints {:.3}s",
            started.elapsed().as_secs_f64()
        );
    }
    let ir = &ir;
    let started = std::time::Instant::now();
    // Backends stream every artifact into the sink, the manifest last.
    let produce = |sink: &dyn ArtifactSink, manifest: &dyn Fn() -> std::io::Result<()>| {
        scalec::emit_into(ir, &meta, &targets, sink)?;
        manifest()?;
        Ok::<(), EmitError>(())
    };
    if check {
        let result = output::check_units(out, Some(fingerprints), |sink| {
            produce(sink, &|| sink.put(sink.manifest(&meta)))
        });
        if timings {
            eprintln!(
                "timing: emit+compare {:.3}s",
                started.elapsed().as_secs_f64()
            );
        }
        return match result {
            Ok((drift, files)) if diag.message_format == MessageFormat::Json => {
                // One JSON record per file that would change, then a summary.
                let mut o = std::io::stdout().lock();
                for d in &drift {
                    let record = match d {
                        Drift::Changed { path, diff } => serde_json::json!({
                            "kind": "drift", "change": "changed", "path": path, "diff": diff,
                        }),
                        Drift::Missing { path } => serde_json::json!({
                            "kind": "drift", "change": "missing", "path": path,
                        }),
                        Drift::Extra { path } => serde_json::json!({
                            "kind": "drift", "change": "extra", "path": path,
                        }),
                    };
                    let _ = writeln!(o, "{record}");
                }
                let summary = serde_json::json!({
                    "kind": "summary",
                    "up_to_date": drift.is_empty(),
                    "compared": files,
                    "changed": drift.len(),
                    "output": out.display().to_string(),
                });
                let _ = writeln!(o, "{summary}");
                if drift.is_empty() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                }
            }
            Ok((drift, files)) if drift.is_empty() => {
                eprintln!("{} is up to date ({files} files)", out.display());
                ExitCode::SUCCESS
            }
            Ok((drift, _)) => {
                let mut o = std::io::stdout().lock();
                for d in &drift {
                    let _ = match d {
                        Drift::Changed { diff, .. } => write!(o, "{diff}"),
                        Drift::Missing { path } => {
                            writeln!(o, "missing: {path} (a build would create it)")
                        }
                        Drift::Extra { path } => {
                            writeln!(o, "extra:   {path} (a build would remove it)")
                        }
                    };
                }
                eprintln!(
                    "error: {} is stale: {} file{} would change; run the same `scalec build` without --check",
                    out.display(),
                    drift.len(),
                    plural(drift.len())
                );
                ExitCode::from(1)
            }
            Err(EmitError::Unsupported(diags)) => unsupported(&c, diags, diag, out),
            Err(EmitError::Sink(e)) => {
                eprintln!("error: cannot read {}: {e}", out.display());
                ExitCode::from(2)
            }
        };
    }
    let mut spec_paths = inputs.to_vec();
    spec_paths.extend(c.project.disk_paths());
    let result = output::write_units_early(out, early, &spec_paths, Some(fingerprints), |sink| {
        produce(sink, &|| sink.put_manifest(&meta))
    });
    if timings {
        eprintln!("timing: emit+write {:.3}s", started.elapsed().as_secs_f64());
    }
    match result {
        Ok(stats) => {
            if timings {
                eprintln!(
                    "timing: of which reading the previous build {:.3}s, staging {:.3}s, {} {:.3}s, removing the previous tree {:.3}s; units rendered {}, kept {}",
                    stats.prepare.as_secs_f64(),
                    stats.stage.as_secs_f64(),
                    if stats.in_place { "moving changed files in" } else { "swap" },
                    stats.swap.as_secs_f64(),
                    stats.cleanup.as_secs_f64(),
                    stats.units_rendered,
                    stats.units_kept
                );
            }
            eprintln!(
                "wrote {} file{} to {} ({} unchanged)",
                stats.files,
                plural(stats.files),
                out.display(),
                stats.unchanged
            );
            if let Some((kept, files)) = &stats.kept {
                eprintln!(
                    "warning: {} file{} appeared in {} while the build ran ({}); the previous output, with them, was kept at {}",
                    files.len(),
                    plural(files.len()),
                    out.display(),
                    files.iter().take(5).cloned().collect::<Vec<_>>().join(", "),
                    kept.display()
                );
            }
            // Done: exit without freeing the model and the IR (at 10,000
            // services their destructors were a twentieth of a rebuild).
            let _ = std::io::Write::flush(&mut std::io::stdout());
            std::process::exit(0)
        }
        Err(EmitError::Unsupported(diags)) => unsupported(&c, diags, diag, out),
        Err(EmitError::Sink(e)) => {
            eprintln!(
                "error: cannot write {}: {e}; the previous output was kept",
                out.display()
            );
            ExitCode::from(2)
        }
    }
}

/// A target could not express part of the spec: the diagnostics point at it.
fn unsupported(
    c: &scalec::Compilation,
    diags: Vec<diagnostics::Diagnostic>,
    diag: &DiagOpts,
    out: &std::path::Path,
) -> ExitCode {
    report_list(&shown_from_cwd(&c.project), &diags, diag);
    eprintln!(
        "error: a target cannot express the spec (above); {} was left as it was",
        out.display()
    );
    ExitCode::from(1)
}

fn explain(code: Option<String>, list: bool) -> ExitCode {
    if list || code.is_none() {
        for c in Code::ALL {
            println!("{}  {}", c.as_str(), c.title());
        }
        return ExitCode::SUCCESS;
    }
    let code = code.expect("checked");
    match Code::parse(&code) {
        Some(c) => {
            print!("{}", c.explanation());
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("error: `{code}` is not a scalec diagnostic code; `scalec explain --list` lists them");
            ExitCode::from(2)
        }
    }
}

/// `scalec fmt`: exit 0 when every file is (or now is) formatted, 1 when
/// `--check` found one that is not, 2 when one does not parse or cannot be
/// read or written (such a file is left as it was).
fn fmt(inputs: &[PathBuf], check: bool) -> ExitCode {
    let mut files = Vec::new();
    let mut failed = false;
    for p in inputs {
        if !p.is_dir() {
            files.push(p.clone());
        } else if let Err(e) = scalec::project::collect_dir(p, &mut files) {
            eprintln!("error: cannot read {}: {e}", p.display());
            failed = true;
        }
    }
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut stale = 0;
    for path in &files {
        let name = path.display().to_string();
        let old = match std::fs::read(path).map(String::from_utf8) {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => {
                let at = e.utf8_error().valid_up_to();
                let (line, col) = scalec::project::line_col(&e.as_bytes()[..at]);
                eprintln!(
                    "error[{}]: {name}:{line}:{col}: not valid UTF-8 (byte 0x{:02X}); it was left as it was",
                    Code::InvalidUtf8.as_str(),
                    e.as_bytes()[at]
                );
                failed = true;
                continue;
            }
            Err(e) => {
                eprintln!("error: cannot read {name}: {e}");
                failed = true;
                continue;
            }
        };
        // A byte-order mark is not part of the canonical form.
        let body = old.strip_prefix('\u{FEFF}').unwrap_or(&old);
        let new = match scalec::syntax::format::format(body) {
            Ok(t) => t,
            Err(diags) => {
                let mut sources = diagnostics::SourceMap::default();
                sources.add(name.clone(), old);
                eprint!("{}", diagnostics::render(&sources, &diags, color));
                eprintln!("error: {name} has syntax errors; it was left as it was");
                failed = true;
                continue;
            }
        };
        if new == old {
            continue;
        }
        if check {
            stale += 1;
            println!("would reformat: {name}");
            print!(
                "{}",
                similar::TextDiff::from_lines(&old, &new)
                    .unified_diff()
                    .header(&name, &format!("{name} (formatted)"))
            );
            continue;
        }
        // Atomically: a temporary file beside the real one, then a rename.
        let written = std::fs::canonicalize(path).and_then(|real| {
            let file_name = real.file_name().unwrap_or_default().to_string_lossy();
            let tmp =
                real.with_file_name(format!(".{file_name}.scalec-fmt-{}", std::process::id()));
            std::fs::write(&tmp, &new)
                .and_then(|()| {
                    std::fs::set_permissions(&tmp, std::fs::metadata(&real)?.permissions())
                })
                .and_then(|()| std::fs::rename(&tmp, &real))
                .inspect_err(|_| {
                    let _ = std::fs::remove_file(&tmp);
                })
        });
        match written {
            Ok(()) => eprintln!("formatted {name}"),
            Err(e) => {
                eprintln!("error: cannot write {name}: {e}; it was left as it was");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::from(2)
    } else if stale > 0 {
        eprintln!(
            "error: {stale} file{} would be reformatted; run `scalec fmt` without --check",
            plural(stale)
        );
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// `scalec mask`: exit 1 on errors in the spec, 2 on a usage or I/O
/// problem (no key, an unknown test, an unreadable or malformed trace).
fn mask(
    inputs: &[PathBuf],
    test: &str,
    trace: &std::path::Path,
    out: Option<PathBuf>,
    extra: Vec<String>,
) -> ExitCode {
    let diag = DiagOpts {
        message_format: MessageFormat::Human,
        color: Color::Auto,
        deny_warnings: false,
    };
    let Some(c) = load_and_check(inputs, None, &diag) else {
        return ExitCode::from(2);
    };
    let Some(ir) = c.ir.as_ref() else {
        eprintln!("error: the spec has errors; nothing was masked");
        return ExitCode::from(1);
    };
    let Some(lt) = ir.load_tests.iter().find(|t| t.name == test) else {
        let names: Vec<&str> = ir.load_tests.iter().map(|t| t.name.as_str()).collect();
        eprintln!(
            "error: no load test `{}`; the spec has: {}",
            diagnostics::escape_text(test),
            names.join(", ")
        );
        return ExitCode::from(2);
    };
    let mut fields = lt.mask.clone();
    fields.extend(extra);
    if fields.is_empty() {
        eprintln!("error: the load test names no `mask` fields and no --field was given");
        return ExitCode::from(2);
    }
    let out = match (out, &lt.replay) {
        (Some(o), _) => o,
        (None, Some(r)) => c.project.root.join(r),
        (None, None) => {
            eprintln!("error: the load test has no `replay` path; give -o FILE");
            return ExitCode::from(2);
        }
    };
    let key = match std::env::var("SCALE_MASK_KEY") {
        Ok(k) if !k.is_empty() => k,
        _ => {
            eprintln!(
                "error: set SCALE_MASK_KEY to a secret of at least {} bytes (the same key masks the same way)",
                scalec::mask::MIN_KEY_BYTES
            );
            return ExitCode::from(2);
        }
    };
    let routes: Vec<String> = ir
        .service(&lt.target)
        .map(|s| s.routes.iter().map(|r| r.path.clone()).collect())
        .unwrap_or_default();
    let masker = match scalec::mask::Masker::new(key.as_bytes(), &fields, &routes) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let raw = match std::fs::read_to_string(trace) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", trace.display());
            return ExitCode::from(2);
        }
    };
    let (masked, stats) = match masker.mask(&raw) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {}: {e}", trace.display());
            return ExitCode::from(2);
        }
    };
    // Written next to its place and renamed, so a reader never sees half.
    let tmp = out.with_extension("jsonl.tmp");
    let written = out
        .parent()
        .map_or(Ok(()), |p| {
            if p.as_os_str().is_empty() {
                Ok(())
            } else {
                std::fs::create_dir_all(p)
            }
        })
        .and_then(|_| std::fs::write(&tmp, masked.as_bytes()))
        .and_then(|_| std::fs::rename(&tmp, &out));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        eprintln!("error: cannot write {}: {e}", out.display());
        return ExitCode::from(2);
    }
    eprintln!(
        "masked {} requests ({} distinct values) into {}",
        stats.lines,
        stats.values,
        out.display()
    );
    ExitCode::SUCCESS
}

/// `scalec lsp`: the server is the `scalec-lsp` binary of the `lsp/`
/// crate (which depends on this package's library, so this binary cannot
/// link it in): `$SCALEC_LSP` if set, else `scalec-lsp` beside this
/// executable, else on `PATH`. On Unix it replaces this process, so the
/// editor talks to it directly.
fn lsp(args: Vec<std::ffi::OsString>) -> ExitCode {
    let exe_name = format!("scalec-lsp{}", std::env::consts::EXE_SUFFIX);
    let server = std::env::var_os("SCALEC_LSP")
        .map(PathBuf::from)
        .or_else(|| {
            let beside = std::env::current_exe().ok()?.with_file_name(&exe_name);
            beside.is_file().then_some(beside)
        })
        .unwrap_or_else(|| PathBuf::from(&exe_name));
    let mut cmd = std::process::Command::new(&server);
    cmd.args(&args);
    #[cfg(unix)]
    let err = {
        use std::os::unix::process::CommandExt;
        cmd.exec()
    };
    #[cfg(not(unix))]
    let err = match cmd.status() {
        Ok(s) => return ExitCode::from(s.code().unwrap_or(2).clamp(0, 255) as u8),
        Err(e) => e,
    };
    eprintln!(
        "error: cannot run the language server {}: {err}\n\
         help: install it beside scalec: `cargo install --path lsp` (or set SCALEC_LSP to its path)",
        server.display()
    );
    ExitCode::from(2)
}
