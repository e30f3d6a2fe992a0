//! The k6 target (`k6/`): per load test a k6 script, and the ConfigMap and
//! k6-operator `TestRun` that run it in a cluster.
//!
//! `k6/<test>.js` is the fixed runtime after one line `const SPEC = …;`
//! holding everything the spec says as escaped JSON
//! ([`crate::backends::common::k6_script`]): no spec text is ever code.
//!
//! The runtime builds the k6 options from `SPEC` (one arrival-rate scenario
//! per request class and run of stages, rates split by the mix weights and
//! scaled by `RATE_SCALE`, durations by `TIME_SCALE`; VU pools from the rate
//! and the class's budget) and the thresholds come from here: p95/p99 of
//! every route's budget on the `route` tag's sub-metric of
//! `http_req_duration`, and `http_req_failed` below the target's tightest
//! availability SLO (1% without one).
//!
//! `k6/<test>.configmap.yaml` holds the script, byte for byte;
//! `k6/<test>.testrun.yaml` runs it with a parallelism that follows the peak
//! rate ([`RUNNER_RPS`] per runner).

use super::common::k6_script::{plan, script};
use super::common::k8s_names::{self as names, Names};
use super::common::yaml::yaml_artifact;
use super::{Artifact, ArtifactSink, Backend, Collect, EmitError, Meta};
use crate::ir::Ir;

mod operator;

/// The arrival rate one k6 runner is planned for: a TestRun runs
/// ⌈peak / RUNNER_RPS⌉ runners.
pub const RUNNER_RPS: f64 = 5000.0;

/// The k6 image the TestRun runs: the version the scripts are tested with.
pub const K6_IMAGE: &str = "grafana/k6:1.1.0";

/// `k6`: a script, ConfigMap and TestRun per load test.
pub struct K6;

impl Backend for K6 {
    fn name(&self) -> &'static str {
        "k6"
    }
    fn description(&self) -> &'static str {
        "k6 load-test scripts, with a ConfigMap and k6-operator TestRun per test"
    }
    fn emit(&self, ir: &Ir, meta: &Meta, sink: &dyn ArtifactSink) -> Result<(), EmitError> {
        write(ir, meta, sink)
    }
}

/// Every artifact of the target, sorted by path.
pub fn emit(ir: &Ir, meta: &Meta) -> Vec<Artifact> {
    let sink = Collect::default();
    let _ = write(ir, meta, &sink);
    sink.into_sorted()
}

pub fn write(ir: &Ir, meta: &Meta, sink: &dyn ArtifactSink) -> Result<(), EmitError> {
    let app = names::single(&ir.app.name);
    let namespace = ir.app.namespace();
    let tests = Names::new(ir.load_tests.iter().map(|t| t.name.as_str()));
    let services = Names::new(ir.services.iter().map(|s| s.name.as_str()));
    for test in &ir.load_tests {
        let Some(target) = ir.service(&test.target) else {
            continue;
        };
        let name = tests.get(&test.name);
        let service = services.get(&target.name);
        let plan = plan(ir, test, target, service);
        let script = script(meta, &plan);
        let file = format!("{name}.js");
        sink.put(yaml_artifact(
            format!("k6/{name}.configmap.yaml"),
            meta,
            &operator::config_map(&app, &namespace, name, &file, &script),
        ))?;
        sink.put(yaml_artifact(
            format!("k6/{name}.testrun.yaml"),
            meta,
            &operator::test_run(&app, &namespace, name, &file, &plan),
        ))?;
        sink.put(Artifact {
            path: format!("k6/{file}"),
            contents: script,
        })?;
    }
    Ok(())
}
