//! The database gates' capture (`query_plans`, `migrations`): what the
//! `db_gates` job runs against PostgreSQL, written as artifacts so the
//! live test runs exactly the same files.
//!
//! - `ci/db/capture.sh plans QUERIES_DIR OUT_DIR`: for each named query
//!   `QUERIES_DIR/<name>.sql`, `OUT_DIR/<name>.json` is its `EXPLAIN
//!   (FORMAT JSON)` (`ci/db/explain.sql`), what `scalec gate plans` reads.
//! - `ci/db/capture.sh digest SCHEMA OUT_FILE`: a row count and a content
//!   hash of every table of `SCHEMA` (`ci/db/digest.sql`), what `scalec
//!   gate migration` reads.
//!
//! Both connect with psql: to `$SCALE_DATABASE_URL` when it is set, else
//! to what libpq's `PG*` variables say. Nothing from the spec is written
//! into these files: the query text reaches the server as a psql variable
//! quoted by psql itself (`:'query'`), and `\gexec` sends the statement
//! without reading it as psql commands. Both run in a read-only
//! transaction that is rolled back.

use super::{checkout, gha_literal, install_scalec, Job, Step};
use crate::backends::{Artifact, Meta};
use crate::ir::Ir;
use std::collections::BTreeMap;

pub const CAPTURE: &str = "ci/db/capture.sh";
pub const EXPLAIN: &str = "ci/db/explain.sql";
pub const DIGEST: &str = "ci/db/digest.sql";

const CAPTURE_BODY: &str = r#"#
# Usage:
#   capture.sh plans QUERIES_DIR OUT_DIR   EXPLAIN (FORMAT JSON) of each QUERIES_DIR/<name>.sql
#                                          into OUT_DIR/<name>.json (scalec gate plans)
#   capture.sh digest SCHEMA OUT_FILE      row count and content hash of each table of SCHEMA
#                                          (scalec gate migration)
# Connects to $SCALE_DATABASE_URL when set, else as libpq's PG* variables say.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
conn=()
if [[ -n ${SCALE_DATABASE_URL:-} ]]; then
    conn=(-d "$SCALE_DATABASE_URL")
fi
sql() {
    psql -X -q -A -t -v ON_ERROR_STOP=1 "${conn[@]}" "$@"
}
usage() {
    echo "usage: capture.sh plans QUERIES_DIR OUT_DIR | capture.sh digest SCHEMA OUT_FILE" >&2
    exit 2
}
case ${1:-} in
plans)
    [[ $# -eq 3 ]] || usage
    queries=$2 out=$3
    shopt -s nullglob
    files=("$queries"/*.sql)
    if ((${#files[@]} == 0)); then
        echo "capture: no <name>.sql query in $queries" >&2
        exit 2
    fi
    mkdir -p "$out"
    for f in "${files[@]}"; do
        name=$(basename "$f" .sql)
        sql -v query="$(cat "$f")" -f "$here/explain.sql" >"$out/$name.json"
        echo "capture: $out/$name.json"
    done
    ;;
digest)
    [[ $# -eq 3 ]] || usage
    sql -v schema="$2" -f "$here/digest.sql" >"$3"
    echo "capture: $3"
    ;;
*) usage ;;
esac
"#;

const EXPLAIN_BODY: &str = r#"-- EXPLAIN (FORMAT JSON) of the query in the psql variable `query` (the
-- text of one <name>.sql, a trailing `;` allowed), read-only, rolled back.
\set ON_ERROR_STOP on
BEGIN READ ONLY;
SELECT 'EXPLAIN (FORMAT JSON) ' || regexp_replace(:'query', ';[[:space:]]*$', '') \gexec
ROLLBACK;
"#;

const DIGEST_BODY: &str = r#"-- {"tables": {"<table>": {"rows": N, "hash": "<md5>"}}} for every table
-- of the schema in the psql variable `schema`: the row count, and the md5
-- of the rows' text sorted and joined by newlines, so equal contents give
-- equal digests whatever the physical order. One snapshot, read-only.
\set ON_ERROR_STOP on
BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
SELECT coalesce(
    'SELECT json_build_object(''tables'', json_object_agg(name, digest ORDER BY name)) FROM ('
        || string_agg(
            format(
                'SELECT %L AS name, (SELECT json_build_object(''rows'', count(*), ''hash'', '
                    || 'md5(coalesce(string_agg(t::text, E''\n'' ORDER BY t::text), ''''))) '
                    || 'FROM %I.%I t) AS digest',
                c.relname, n.nspname, c.relname),
            ' UNION ALL ' ORDER BY c.relname)
        || ') tables',
    'SELECT json_build_object(''tables'', json_build_object())')
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = :'schema' AND c.relkind IN ('r', 'p') AND NOT c.relispartition \gexec
ROLLBACK;
"#;

fn wants(ir: &Ir) -> (bool, bool) {
    let plans = ir.gates.iter().any(|g| g.max_query_cost_increase.is_some());
    let migration = ir.gates.iter().any(|g| g.max_migration_drift.is_some());
    (plans, migration)
}

/// The capture files, when a gate sets `query_plans` or `migrations`.
pub fn artifacts(ir: &Ir, meta: &Meta) -> Vec<Artifact> {
    let (plans, migration) = wants(ir);
    if !(plans || migration) {
        return vec![];
    }
    let mut capture = String::from("#!/usr/bin/env bash\n");
    capture.push_str(&meta.header("#"));
    capture.push_str(CAPTURE_BODY);
    let sql = |body: &str| {
        let mut t = meta.header("--");
        t.push_str(body);
        t
    };
    vec![
        Artifact {
            path: CAPTURE.into(),
            contents: capture,
        },
        Artifact {
            path: DIGEST.into(),
            contents: sql(DIGEST_BODY),
        },
        Artifact {
            path: EXPLAIN.into(),
            contents: sql(EXPLAIN_BODY),
        },
    ]
}

const NEED_DB: &str = "if [[ -z ${SCALE_DATABASE_URL:-} ]]; then\n  echo \"::error::the spec's gate compares query plans or migrations: set the secret SCALE_DATABASE_URL\"\n  exit 1\nfi\n";

/// `db_gates`: capture from `secrets.SCALE_DATABASE_URL`, then `scalec
/// gate plans` (against the committed `scale/plans/baseline/`) per gate
/// with `query_plans`, and `scalec gate migration` on the digests of the
/// shadow-write schemas.
pub(super) fn job(ir: &Ir) -> Option<Job> {
    let (plans, migration) = wants(ir);
    if !(plans || migration) {
        return None;
    }
    let mut steps = vec![
        checkout(),
        install_scalec(),
        super::run("The database to judge", NEED_DB),
    ];
    for g in ir
        .gates
        .iter()
        .filter(|g| g.max_query_cost_increase.is_some())
    {
        let queries = g.queries.clone().unwrap_or_else(|| "db/queries".into());
        steps.push(Step {
            name: Some("Capture the query plans"),
            env: BTreeMap::from([("SCALE_QUERIES", gha_literal(&queries))]),
            run: Some("bash \"$SCALE_OUT/ci/db/capture.sh\" plans \"$SCALE_SPEC/$SCALE_QUERIES\" scale-plans-current"),
            ..Step::default()
        });
        steps.push(Step {
            name: Some("Query plans within the cost budget"),
            env: BTreeMap::from([("SCALE_GATE", gha_literal(&g.name))]),
            run: Some("scalec gate plans --gate \"$SCALE_GATE\" --baseline \"$SCALE_SPEC/scale/plans/baseline\" \\\n  --current scale-plans-current \"$SCALE_SPEC\"\n"),
            ..Step::default()
        });
    }
    if migration {
        steps.push(super::run(
            "Digest the tables before and after the migration",
            "bash \"$SCALE_OUT/ci/db/capture.sh\" digest \"$SCALE_MIGRATION_BEFORE\" scale-before.json\nbash \"$SCALE_OUT/ci/db/capture.sh\" digest \"$SCALE_MIGRATION_AFTER\" scale-after.json\n",
        ));
        steps.push(super::run(
            "No drift from the migration",
            "scalec gate migration --before scale-before.json --after scale-after.json",
        ));
    }
    let mut j = super::job("query plans and migration drift".into(), steps);
    j.needs = vec!["check".into()];
    j.env.insert(
        "SCALE_DATABASE_URL",
        "${{ secrets.SCALE_DATABASE_URL }}".to_string(),
    );
    if migration {
        j.env.insert(
            "SCALE_MIGRATION_BEFORE",
            "${{ vars.SCALE_MIGRATION_BEFORE || 'public' }}".to_string(),
        );
        j.env.insert(
            "SCALE_MIGRATION_AFTER",
            "${{ vars.SCALE_MIGRATION_AFTER || 'shadow' }}".to_string(),
        );
    }
    Some(j)
}
