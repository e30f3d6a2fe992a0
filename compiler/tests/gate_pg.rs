//! `scalec gate plans` and `scalec gate migration` on a real PostgreSQL
//! server, fed by the capture the `ci` target writes and run as the
//! generated workflow runs it.
//!
//! The test starts Debian's PostgreSQL (`scripts/install-tools.sh`
//! installs it) on 127.0.0.1, a free port, its data and socket in a temp
//! folder; as root it runs the server as the `postgres` user (PostgreSQL
//! refuses root). A guard stops the server by its pid (SIGINT, a fast
//! shutdown) even when an assertion fails.
//!
//! The flagship (`examples/triage`) is built with `--target ci`; the steps
//! of its `db_gates` job are taken from `ci/scale.yml` and run with bash,
//! as GitHub would, in a copy of the project whose `db/queries/` holds the
//! flagship's named queries:
//!
//! - plans: a `tickets` table with 100 000 rows and an index on
//!   `tenant_id`; the baseline is captured with the index, the index is
//!   dropped, the job's steps fail (exit 1) naming the cost ratio, the new
//!   sequential scan and `CREATE INDEX ON tickets (tenant_id)`; with the
//!   index back they pass. The ratios are checked against the plans' own
//!   `Total Cost`s.
//! - migration: `public` and a `shadow` copy of the tables (rows in another
//!   physical order): the job's steps pass; one changed row in
//!   `shadow.tickets` fails, naming `tickets` and only it.

mod support;

use serde_json::Value;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A PostgreSQL server of this test; stopped by its pid when dropped.
struct Pg {
    child: Child,
    dir: PathBuf,
    port: u16,
    psql: PathBuf,
}

impl Drop for Pg {
    fn drop(&mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SIGINT: PostgreSQL's fast shutdown.
        unsafe {
            libc::kill(pid, libc::SIGINT);
        }
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(15) {
            if let Ok(Some(_)) = self.child.try_wait() {
                let _ = std::fs::remove_dir_all(&self.dir);
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// uid and gid of the user the server runs as when the test is root.
fn unprivileged() -> (u32, u32) {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, "postgres"]).output().ok()?;
        String::from_utf8(out.stdout).ok()?.trim().parse().ok()
    };
    match (id("-u"), id("-g")) {
        (Some(u), Some(g)) => (u, g),
        // No `postgres` user: nobody/nogroup.
        _ => (65534, 65534),
    }
}

/// A command that runs `program` as the server's user: itself when the
/// test is not root, through `setpriv` (which execs, so the pid is the
/// program's own) when it is.
fn as_server_user(program: &Path) -> Command {
    if unsafe { libc::geteuid() } != 0 {
        return Command::new(program);
    }
    let (uid, gid) = unprivileged();
    let mut c = Command::new("setpriv");
    c.arg(format!("--reuid={uid}"))
        .arg(format!("--regid={gid}"))
        .arg("--clear-groups")
        .arg("--")
        .arg(program);
    c
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Pg {
    /// Starts a server, or `None` (a loud SKIP; a failure under CI=true)
    /// when PostgreSQL is not installed.
    fn start(name: &str) -> Option<Pg> {
        let initdb = support::tool("initdb")?;
        let psql = support::tool("psql")?;
        // `postgres` is beside `initdb` (/usr/lib/postgresql/<major>/bin).
        let bin = std::fs::canonicalize(&initdb).unwrap();
        let postgres = bin.parent().unwrap().join("postgres");
        assert!(postgres.is_file(), "no postgres beside {}", bin.display());

        // In the system temp folder: the server's user must reach it.
        let dir = std::env::temp_dir().join(format!("scale-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        if unsafe { libc::geteuid() } == 0 {
            let (uid, gid) = unprivileged();
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).unwrap();
        }
        let data = dir.join("data");
        let out = as_server_user(&initdb)
            .arg("-D")
            .arg(&data)
            .args(["-U", "scale", "--auth=trust", "-E", "UTF8", "--no-locale"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let log = std::fs::File::create(dir.join("server.log")).unwrap();
        let mut last = String::new();
        // A port found free may be taken before the server binds it: try again.
        for _ in 0..5 {
            let port = free_port();
            let child = as_server_user(&postgres)
                .arg("-D")
                .arg(&data)
                .arg("-k")
                .arg(&dir)
                .args(["-h", "127.0.0.1", "-p", &port.to_string()])
                .args(["-c", "fsync=off", "-c", "full_page_writes=off"])
                // Plans the same on every run: ANALYZE reads every row of
                // the test tables (300 × target rows, not a random sample
                // whose most-common values move a tenant's estimate by a
                // quarter), and no autovacuum changes statistics between
                // the baseline and the gate.
                .args([
                    "-c",
                    "default_statistics_target=1000",
                    "-c",
                    "autovacuum=off",
                ])
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log.try_clone().unwrap())
                .spawn()
                .unwrap();
            let mut pg = Pg {
                child,
                dir: dir.clone(),
                port,
                psql: psql.clone(),
            };
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(30) {
                if let Ok(Some(_)) = pg.child.try_wait() {
                    break;
                }
                let ok = pg.psql_cmd().args(["-c", "SELECT 1"]).output().unwrap();
                if ok.status.success() {
                    return Some(pg);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            last = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
            // Keep the folder for the next try.
            pg.dir = PathBuf::from("/nonexistent-scale-pg");
            drop(pg);
        }
        let _ = std::fs::remove_dir_all(&dir);
        panic!("PostgreSQL did not start: {last}");
    }

    fn url(&self) -> String {
        format!("postgresql://scale@127.0.0.1:{}/postgres", self.port)
    }

    fn psql_cmd(&self) -> Command {
        let mut c = Command::new(&self.psql);
        c.args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            &self.url(),
        ])
        .env("PGCONNECT_TIMEOUT", "5");
        c
    }

    /// Runs SQL; panics with the server's words on an error.
    fn sql(&self, sql: &str) -> String {
        let out = self.psql_cmd().args(["-c", sql]).output().unwrap();
        assert!(
            out.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// A copy of the flagship (spec and named queries) with its `ci` build in
/// `out/`; returns (project folder, the workflow).
fn project(name: &str) -> (PathBuf, yaml_serde::Value) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("gate_pg")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    let src = support::repo_root().join("examples/triage");
    std::fs::create_dir_all(dir.join("db/queries")).unwrap();
    std::fs::copy(src.join("triage.scale"), dir.join("triage.scale")).unwrap();
    support::copy_triage_assets(&dir);
    let mut queries = 0;
    for e in std::fs::read_dir(src.join("db/queries")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.join("db/queries").join(p.file_name().unwrap())).unwrap();
        queries += 1;
    }
    assert!(queries >= 2, "the flagship names its queries");
    let ok = support::scalec()
        .args(["build", "--target", "ci", "-o"])
        .arg(dir.join("out"))
        .arg(&dir)
        .status()
        .unwrap()
        .success();
    assert!(ok, "build --target ci");
    let text = std::fs::read_to_string(dir.join("out/ci/scale.yml")).unwrap();
    (dir, yaml_serde::from_str(&text).unwrap())
}

/// Runs the `db_gates` steps whose names are given, in order, as GitHub
/// runs a `run:` step (bash -eo pipefail), with the job's and the step's
/// `env:` (the expressions replaced by what GitHub would give). Returns the
/// first failing step's exit code (0 when all pass) and all output.
fn run_steps(
    project: &Path,
    workflow: &yaml_serde::Value,
    names: &[&str],
    pg: &Pg,
) -> (i32, String) {
    let job = &workflow["jobs"]["db_gates"];
    let steps = job["steps"].as_sequence().expect("db_gates steps");
    let scalec = PathBuf::from(env!("CARGO_BIN_EXE_scalec"));
    let path = format!(
        "{}:{}",
        scalec.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut output = String::new();
    for name in names {
        let step = steps
            .iter()
            .find(|s| s["name"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("no step `{name}` in db_gates"));
        let script = step["run"].as_str().unwrap();
        let mut cmd = Command::new("bash");
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
            .current_dir(project)
            .env("PATH", &path)
            .env("SCALE_SPEC", ".")
            .env("SCALE_OUT", "out")
            .env_remove("PGHOST")
            .env_remove("PGPORT")
            .env_remove("PGUSER")
            .env_remove("PGDATABASE");
        for scope in [job, step] {
            if let Some(env) = scope["env"].as_mapping() {
                for (k, v) in env {
                    let (k, v) = (k.as_str().unwrap(), v.as_str().unwrap());
                    let v = match v {
                        "${{ secrets.SCALE_DATABASE_URL }}" => pg.url(),
                        "${{ vars.SCALE_MIGRATION_BEFORE || 'public' }}" => "public".into(),
                        "${{ vars.SCALE_MIGRATION_AFTER || 'shadow' }}" => "shadow".into(),
                        v => {
                            assert!(
                                !v.contains("${{"),
                                "an expression this test does not know: {v}"
                            );
                            v.to_string()
                        }
                    };
                    cmd.env(k, v);
                }
            }
        }
        let out = cmd.output().unwrap();
        output.push_str(&String::from_utf8_lossy(&out.stdout));
        output.push_str(&String::from_utf8_lossy(&out.stderr));
        let code = out.status.code().unwrap_or(-1);
        if code != 0 {
            return (code, output);
        }
    }
    (0, output)
}

/// `Total Cost` of a captured plan.
fn total_cost(file: &Path) -> f64 {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    v[0]["Plan"]["Total Cost"].as_f64().unwrap()
}

const PLANS: [&str; 3] = [
    "The database to judge",
    "Capture the query plans",
    "Query plans within the cost budget",
];

#[test]
fn plans_and_migration_gates_on_a_live_postgres() {
    let Some(pg) = Pg::start("gate-pg") else {
        return;
    };
    let (dir, workflow) = project("flagship");
    pg.sql(
        "CREATE TABLE tickets (id bigint PRIMARY KEY, tenant_id int NOT NULL, \
           status text NOT NULL, created_at timestamptz NOT NULL);
         INSERT INTO tickets SELECT g, g % 1000, \
           CASE WHEN g % 3 = 0 THEN 'open' ELSE 'closed' END, \
           timestamptz '2026-01-01' + g * interval '1 minute' \
           FROM generate_series(1, 100000) g;
         CREATE INDEX tickets_tenant_idx ON tickets (tenant_id);
         CREATE TABLE tenants (id int PRIMARY KEY, name text NOT NULL);
         INSERT INTO tenants SELECT g, 'tenant ' || g FROM generate_series(1, 1000) g;
         ANALYZE;",
    );

    // The baseline, as docs/targets/ci.md says to refresh it: the
    // generated capture script, with the index.
    let capture = dir.join("out/ci/db/capture.sh");
    let out = Command::new("bash")
        .arg(&capture)
        .args(["plans", "db/queries", "scale/plans/baseline"])
        .current_dir(&dir)
        .env("SCALE_DATABASE_URL", pg.url())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let base = dir.join("scale/plans/baseline");
    for q in ["tickets_by_tenant", "open_tickets"] {
        let text = std::fs::read_to_string(base.join(format!("{q}.json"))).unwrap();
        assert!(
            text.contains("tickets_tenant_idx"),
            "{q} uses the index: {text}"
        );
    }

    // Without the index: the gate fails, naming the scan and the index.
    pg.sql("DROP INDEX tickets_tenant_idx; ANALYZE tickets;");
    let (code, out) = run_steps(&dir, &workflow, &PLANS, &pg);
    assert_eq!(code, 1, "{out}");
    let current = dir.join("scale-plans-current");
    for q in ["tickets_by_tenant", "open_tickets"] {
        let ratio = total_cost(&current.join(format!("{q}.json")))
            / total_cost(&base.join(format!("{q}.json")));
        assert!(ratio > 1.2, "{q}: ×{ratio}");
        let row = out
            .lines()
            .find(|l| l.starts_with(q))
            .unwrap_or_else(|| panic!("{out}"));
        assert!(
            row.contains(&format!("{}", (ratio * 1000.0).round() / 1000.0)),
            "{row}"
        );
        assert!(row.ends_with("FAIL"), "{row}");
    }
    assert!(
        out.contains("new Seq Scan on tickets (Filter: (tenant_id = 42))"),
        "{out}"
    );
    assert!(
        out.contains("hint: CREATE INDEX ON tickets (tenant_id)\n"),
        "{out}"
    );
    assert!(
        out.contains("hint: CREATE INDEX ON tickets (tenant_id, status)"),
        "{out}"
    );
    assert!(out.contains("gate plans: FAILED (2 of 2)"), "{out}");

    // The index back: it passes.
    pg.sql("CREATE INDEX tickets_tenant_idx ON tickets (tenant_id); ANALYZE tickets;");
    let (code, out) = run_steps(&dir, &workflow, &PLANS, &pg);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("gate plans: pass (2 checks)"), "{out}");
    assert!(!out.contains("Seq Scan"), "{out}");

    // Shadow writes: the same rows in another order, another schema.
    pg.sql(
        "CREATE SCHEMA shadow;
         CREATE TABLE shadow.tickets AS SELECT * FROM tickets ORDER BY random();
         CREATE TABLE shadow.tenants AS SELECT * FROM tenants ORDER BY id DESC;",
    );
    let migration = [
        "The database to judge",
        "Digest the tables before and after the migration",
        "No drift from the migration",
    ];
    let (code, out) = run_steps(&dir, &workflow, &migration, &pg);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("gate migration: pass (4 checks)"), "{out}");
    let before: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("scale-before.json")).unwrap())
            .unwrap();
    assert_eq!(before["tables"]["tickets"]["rows"], 100000, "{before}");
    assert_eq!(before["tables"]["tenants"]["rows"], 1000, "{before}");

    // One changed row in the shadow table: it fails, and names it.
    pg.sql("UPDATE shadow.tickets SET status = 'closed' WHERE id = 99999;");
    let (code, out) = run_steps(&dir, &workflow, &migration, &pg);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("gate migration: FAILED (1 of 4): tickets hash"),
        "{out}"
    );
    let row = out
        .lines()
        .find(|l| l.starts_with("tickets  hash"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(row.ends_with("FAIL"), "{row}");

    // Nothing from a query file reaches psql as a command, and nothing
    // writes: the capture runs read-only.
    std::fs::write(
        dir.join("db/queries/hostile.sql"),
        "SELECT 1 \\! touch pwned",
    )
    .unwrap();
    let out = Command::new("bash")
        .arg(&capture)
        .args(["plans", "db/queries", "hostile-out"])
        .current_dir(&dir)
        .env("SCALE_DATABASE_URL", pg.url())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(!dir.join("pwned").exists(), "a psql command ran");
    std::fs::write(
        dir.join("db/queries/hostile.sql"),
        "SELECT 1; DROP TABLE tenants",
    )
    .unwrap();
    let out = Command::new("bash")
        .arg(&capture)
        .args(["plans", "db/queries", "hostile-out"])
        .current_dir(&dir)
        .env("SCALE_DATABASE_URL", pg.url())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("read-only transaction"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(pg.sql("SELECT count(*) FROM tenants").trim(), "1000");
}

/// The guard stops the server when the test panics: its pid is gone, and
/// so is its folder.
#[test]
fn the_server_is_stopped_when_a_test_fails() {
    let mut seen: Option<(u32, PathBuf)> = None;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let Some(pg) = Pg::start("gate-pg-panic") else {
            return;
        };
        assert_eq!(pg.sql("SELECT 40 + 2").trim(), "42");
        seen = Some((pg.child.id(), pg.dir.clone()));
        panic!("a deliberate failure with the server up");
    }));
    let Some((pid, dir)) = seen else {
        return; // PostgreSQL missing: SKIP printed above.
    };
    assert!(result.is_err(), "the closure panicked");
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "postgres (pid {pid}) still runs"
    );
    assert!(!dir.exists(), "{} is left", dir.display());
}
