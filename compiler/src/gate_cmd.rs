//! `scalec gate …`: the command side of [`scalec::gate`].

use crate::{load_and_check, Color, DiagOpts, MessageFormat};
use clap::{Subcommand, ValueEnum};
use scalec::diagnostics;
use scalec::gate::{self, InputError, Report};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    /// A table on stdout.
    Human,
    /// One JSON object on stdout: `{"gate","subject","pass","checks":[…]}`.
    Json,
}

#[derive(Subcommand)]
pub enum GateCommand {
    /// A k6 `--summary-export` file against each route's p95/p99 budget and
    /// the error budget of the load test's target.
    K6 {
        /// The summary k6 wrote (`k6 run --summary-export S.json …`).
        #[arg(long)]
        summary: PathBuf,
        /// The load test that ran (needed when the spec has several).
        #[arg(long)]
        test: Option<String>,
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
        /// The spec: `.scale` files, or folders.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
    },
    /// `EXPLAIN (FORMAT JSON)` plans, one `<query>.json` per named query,
    /// against the gate's `query_plans = cost_increase < N%`.
    Plans {
        #[arg(long)]
        baseline: PathBuf,
        #[arg(long)]
        current: PathBuf,
        /// The gate block whose `query_plans` applies (needed when several set it).
        #[arg(long)]
        gate: Option<String>,
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
        /// The spec: `.scale` files, or folders.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
    },
    /// Prometheus' answer (`/api/v1/query` JSON) to the query of
    /// `ci/burn/<gate>.promql`: each SLO's burn rate over the gate's window
    /// against `slo_burn < N x`.
    Burn {
        /// The JSON Prometheus answered.
        #[arg(long)]
        result: PathBuf,
        /// The gate block whose `slo_burn` applies (needed when several set it).
        #[arg(long)]
        gate: Option<String>,
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
        /// The spec: `.scale` files, or folders.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
    },
    /// Table digests (row count and content hash per table) before and
    /// after a migration: any drift fails.
    Migration {
        #[arg(long)]
        before: PathBuf,
        #[arg(long)]
        after: PathBuf,
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
    },
}

pub fn run(cmd: GateCommand) -> ExitCode {
    let result = match cmd {
        GateCommand::K6 {
            summary,
            test,
            format,
            inputs,
        } => with_ir(&inputs, |ir| {
            gate::k6::evaluate(ir, test.as_deref(), &summary)
        })
        .map(|r| (r, format)),
        GateCommand::Plans {
            baseline,
            current,
            gate: name,
            format,
            inputs,
        } => with_ir(&inputs, |ir| {
            let max = plan_threshold(ir, name.as_deref())?;
            gate::plans::evaluate(&baseline, &current, max)
        })
        .map(|r| (r, format)),
        GateCommand::Burn {
            result,
            gate: name,
            format,
            inputs,
        } => with_ir(&inputs, |ir| {
            let g = pick_gate(ir, name.as_deref(), "slo_burn", |g| g.slo_burn.is_some())?;
            match &g.slo_burn {
                Some(b) => gate::burn::evaluate(ir, b, &result),
                None => Err(InputError("no `slo_burn` in the gate".into())),
            }
        })
        .map(|r| (r, format)),
        GateCommand::Migration {
            before,
            after,
            format,
        } => gate::migration::evaluate(&before, &after)
            .map(|r| (r, format))
            .map_err(Some),
    };
    match result {
        Ok((report, format)) => {
            match format {
                Format::Human => print!("{}", report.to_table()),
                Format::Json => println!("{}", report.to_json()),
            }
            if report.pass {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            if let Some(e) = e {
                eprintln!("error: {}", diagnostics::escape_text(&e.0));
            }
            ExitCode::from(2)
        }
    }
}

/// Loads and checks the spec (diagnostics on stderr), then evaluates.
/// `Err(None)`: the spec did not load or has errors (already reported).
fn with_ir(
    inputs: &[PathBuf],
    f: impl FnOnce(&scalec::ir::Ir) -> Result<Report, InputError>,
) -> Result<Report, Option<InputError>> {
    let diag = DiagOpts {
        message_format: MessageFormat::Human,
        color: Color::Auto,
        deny_warnings: false,
    };
    let c = load_and_check(inputs, None, &diag).ok_or(None)?;
    let Some(ir) = c.ir.as_ref() else {
        return Err(Some(InputError(
            "the spec has errors (above); nothing was judged".into(),
        )));
    };
    f(ir).map_err(Some)
}

/// The `query_plans` fraction of the named gate, or of the only gate
/// that sets it.
fn plan_threshold(ir: &scalec::ir::Ir, name: Option<&str>) -> Result<f64, InputError> {
    let g = pick_gate(ir, name, "query_plans", |g| {
        g.max_query_cost_increase.is_some()
    })?;
    Ok(g.max_query_cost_increase.unwrap_or(0.0))
}

/// The named gate, or the only one, among those that set `field`.
fn pick_gate<'a>(
    ir: &'a scalec::ir::Ir,
    name: Option<&str>,
    field: &str,
    sets: impl Fn(&scalec::ir::Gate) -> bool,
) -> Result<&'a scalec::ir::Gate, InputError> {
    let with: Vec<_> = ir
        .gates
        .iter()
        .filter(|g| sets(g))
        .filter(|g| name.is_none_or(|n| g.name == n))
        .collect();
    match &with[..] {
        [g] => Ok(g),
        [] => Err(InputError(match name {
            Some(n) => format!("no gate `{n}` with `{field}` in the spec"),
            None => format!("no gate in the spec sets `{field}`"),
        })),
        _ => Err(InputError(format!(
            "several gates set `{field}`; name one with --gate ({})",
            with.iter()
                .map(|g| g.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}
