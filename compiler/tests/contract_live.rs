//! The ci target's `contract` job, run for real: its script, as the
//! generated workflow holds it, runs schemathesis (installed by
//! scripts/install-tools.sh at the version the workflow pins) against the
//! loopback test backend.
//!
//! - with a contract the backend conforms to, the job passes, and requests
//!   reached every operation under the contract's server base path (`/v1`,
//!   the same base `scalec check` applied to the routes), with the bearer
//!   token from the `SCALE_CONTRACT_TOKEN` secret;
//! - with a contract the backend breaks (an operation documented as `404`
//!   only, while the backend answers `200`), the same script fails and
//!   names the check.
//!
//! Each run is bounded ([`RUN_LIMIT`]); the backend stops when the test ends.

#[path = "support/backend.rs"]
#[allow(dead_code, clippy::while_let_loop)]
mod backend;
mod support;

use backend::Backend;
use scalec::project::Project;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// No schemathesis run may take longer than this.
const RUN_LIMIT: Duration = Duration::from_secs(180);

const SPEC: &str = r#"app shop { owner = "team" }

service api {
  image = "shop/api:1"  cpu = 250m  memory = 256Mi
  route get_item GET "/v1/items/{id}" {}
  route add_item POST "/v1/items" { body = "schemas/item.json" }
}

gate deploy {
  contract = "api/openapi.yaml"
}
"#;

const ITEM: &str = r#"{ "type": "object", "properties": { "name": { "type": "string" } }, "required": ["name"] }
"#;

/// What the test backend answers: `200`, a JSON object naming the method
/// and the path.
const CONTRACT: &str = r##"openapi: 3.0.3
info: { title: shop, version: "1" }
servers:
  - url: https://shop.example/v1
paths:
  /items/{itemId}:
    get:
      parameters:
        - { name: itemId, in: path, required: true, schema: { type: string, pattern: "^[a-z0-9]{1,12}$" } }
      responses:
        "200": { $ref: "#/components/responses/Echo" }
  /items:
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema: { $ref: "#/components/schemas/Item" }
      responses:
        "200": { $ref: "#/components/responses/Echo" }
components:
  schemas:
    Item:
      type: object
      properties:
        name: { type: string }
      required: [name]
  responses:
    Echo:
      description: what arrived
      content:
        application/json:
          schema:
            type: object
            properties:
              method: { type: string }
              path: { type: string }
            required: [method, path]
"##;

fn workflow_job(dir: &Path) -> yaml_serde::Value {
    let c = scalec::check(Project::load(&[dir.to_path_buf()]).unwrap());
    assert!(
        c.diagnostics.is_empty(),
        "the spec and its contract check clean: {:?}",
        c.diagnostics
    );
    let ir = c.ir.clone().expect("the spec checks");
    let arts = scalec::emit(&ir, &c.meta(), &["ci"]).unwrap();
    let wf = arts
        .iter()
        .find(|a| a.path == "ci/scale.yml")
        .expect("ci/scale.yml");
    let doc: yaml_serde::Value = yaml_serde::from_str(&wf.contents).unwrap();
    doc["jobs"]["contract"].clone()
}

/// Runs the job's contract step with bash, as GitHub does; (exit code,
/// output).
fn run_step(job: &yaml_serde::Value, spec_dir: &Path, url: &str, tool_dir: &Path) -> (i32, String) {
    let steps = job["steps"].as_sequence().expect("steps");
    let script = steps
        .iter()
        .find(|s| s["name"].as_str() == Some("Contract tests against the OpenAPI file"))
        .and_then(|s| s["run"].as_str())
        .expect("the contract step");
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("contract_live_work");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let mut cmd = Command::new("bash");
    cmd.args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
        .current_dir(&work);
    for (k, v) in job["env"].as_mapping().expect("env") {
        cmd.env(k.as_str().unwrap(), v.as_str().unwrap());
    }
    let path = std::env::var("PATH").unwrap_or_default();
    cmd.env("PATH", format!("{}:{path}", tool_dir.display()))
        // The workflow's own env (vars and secrets the repository sets).
        .env("SCALE_SPEC", spec_dir)
        .env("SCALE_SMOKE_URL", url)
        // What the job's "Reach the environment" step exports (with no
        // pull request environment, `vars.SCALE_SMOKE_URL`).
        .env("SCALE_BASE_URL", url)
        .env("SCALE_CONTRACT_TOKEN", "contract-test-token")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out_path = work.join("out.txt");
    let out_file = std::fs::File::create(&out_path).unwrap();
    cmd.stdout(out_file.try_clone().unwrap()).stderr(out_file);
    let mut child = cmd.spawn().expect("bash");
    let start = Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code().unwrap_or(-1);
        }
        if start.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("schemathesis ran longer than {RUN_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = std::fs::read_to_string(&out_path).unwrap_or_default();
    assert!(
        work.join("contract-report").is_dir(),
        "the job's report folder (uploaded by the next step) is written:\n{out}"
    );
    (code, out)
}

#[test]
fn the_contract_job_passes_a_conforming_service_and_fails_a_breaking_one() {
    let Some(schemathesis) = support::tool("schemathesis") else {
        return;
    };
    let tool_dir = schemathesis.parent().unwrap().to_path_buf();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("contract_live");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("api")).unwrap();
    std::fs::create_dir_all(dir.join("schemas")).unwrap();
    std::fs::write(dir.join("main.scale"), SPEC).unwrap();
    std::fs::write(dir.join("schemas/item.json"), ITEM).unwrap();
    std::fs::write(dir.join("api/openapi.yaml"), CONTRACT).unwrap();
    let job = workflow_job(&dir);
    assert_eq!(
        job["env"]["SCALE_CONTRACT"].as_str(),
        Some("api/openapi.yaml")
    );

    let b = Backend::start();
    let (code, out) = run_step(&job, &dir, &b.url(), &tool_dir);
    assert_eq!(code, 0, "the conforming backend passes:\n{out}");
    let counts = b.counts();
    let gets: u64 = counts
        .iter()
        .filter(|((m, p), _)| m == "GET" && p.starts_with("/v1/items/"))
        .map(|(_, n)| n)
        .sum();
    let posts = b.count("POST", "/v1/items");
    assert!(
        gets > 0 && posts > 0,
        "requests reached both operations under /v1 (GET {gets}, POST {posts}): {counts:?}"
    );
    let auth = b
        .last_headers("/v1/items")
        .and_then(|h| h.into_iter().find(|(k, _)| k == "authorization"))
        .map(|(_, v)| v);
    assert_eq!(auth.as_deref(), Some("Bearer contract-test-token"));
    eprintln!("contract_live: conforming run: GET {gets}, POST {posts} requests, exit 0");

    // The same job, the contract changed under it: the backend's `200` on
    // GET is no longer documented.
    let breaking = CONTRACT.replacen(
        "        \"200\": { $ref: \"#/components/responses/Echo\" }\n  /items:",
        "        \"404\": { description: no such item }\n  /items:",
        1,
    );
    assert_ne!(breaking, CONTRACT, "the replacement applies");
    std::fs::write(dir.join("api/openapi.yaml"), &breaking).unwrap();
    let (code, out) = run_step(&job, &dir, &b.url(), &tool_dir);
    assert_ne!(
        code, 0,
        "a backend that breaks the contract fails the job:\n{out}"
    );
    assert!(
        out.contains("Undocumented status code") && out.contains("GET /items/{itemId}"),
        "the failure names the check and the operation:\n{out}"
    );
    eprintln!("contract_live: breaking run: exit {code}");
}

/// The workflow installs the schemathesis the tests run.
#[test]
fn the_workflow_pins_the_tested_schemathesis() {
    let pins = std::fs::read_to_string(support::repo_root().join("scripts/tools/schemathesis.txt"))
        .unwrap();
    let pinned = pins
        .lines()
        .find_map(|l| l.strip_prefix("schemathesis=="))
        .expect("scripts/tools/schemathesis.txt pins schemathesis");
    assert_eq!(pinned, scalec::backends::ci::SCHEMATHESIS_VERSION);
}
