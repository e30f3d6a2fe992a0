#!/usr/bin/env bash
# The one entry point for the whole test suite, locally and in CI (.ci/run):
# installs the external tools (scripts/install-tools.sh, quick when they are
# there), then runs rustfmt, clippy and every test of the workspace.
#
#   scripts/test.sh [extra arguments for `cargo test`]
#
# Environment:
#   SCALE_TOOLS_DIR  where the tools are (default .tools/ at the repo root)
#   SCALE_SCHEMAS    the shared CRD schemas (default ../shared/schemas)
#   CI=true          tests fail, rather than SKIP, when a tool is missing
#
# Every step runs even when an earlier one failed, so one run shows all the
# problems; the exit status is non-zero when any step failed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

step() { printf '\n==> %s\n' "$*"; }

scripts/install-tools.sh

export SCALE_TOOLS_DIR="${SCALE_TOOLS_DIR:-$ROOT/.tools}"
export SCALE_SCHEMAS="${SCALE_SCHEMAS:-$(cd "$ROOT/.." && pwd)/shared/schemas}"
export K6_NO_USAGE_REPORT=true
export PATH="$SCALE_TOOLS_DIR/bin:$PATH"

if [[ ! -d $SCALE_SCHEMAS/crds ]]; then
    cat >&2 <<EOF

######################################################################
##  WARNING: no CRD schemas at $SCALE_SCHEMAS/crds
##  The strict checks of ScaledObject, PrometheusRule, TestRun and
##  Schedule cannot run: they SKIP (or fail under CI=true).
##  Set SCALE_SCHEMAS to the folder holding crds/.
######################################################################

EOF
fi

# rustfmt and clippy come with the toolchain here; add them if they are not.
for component in rustfmt clippy; do
    cmd=fmt
    [[ $component == clippy ]] && cmd=clippy
    if ! cargo "$cmd" --version >/dev/null 2>&1; then
        step "rustup component add $component"
        rustup component add "$component"
    fi
done

failed=()

step "cargo fmt --all -- --check"
cargo fmt --all -- --check || failed+=("cargo fmt --check")

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings || failed+=("cargo clippy")

step "cargo test --workspace --all-targets $*"
cargo test --workspace --all-targets "$@" || failed+=("cargo test")

if ((${#failed[@]})); then
    printf '\n!!! FAILED: %s\n' "${failed[@]}" >&2
    exit 1
fi
printf '\n==> all checks passed\n'
