#!/usr/bin/env bash
# Runs the cargo-fuzz targets (fuzz/fuzz_targets/) for a set time each and
# keeps what they learn in fuzz/corpus/<target>/.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET…]     (default: 60, all)
#
# The corpus is seeded from examples/, stdlib/ and tests/ui/. An input that
# takes over one second is a failure (-timeout=1), like a crash; libFuzzer
# writes it to fuzz/artifacts/<target>/ and the script exits non-zero.
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`); the toolchain here
# is stable, so the sanitizer is off (-s none: a panic is the crash) and
# RUSTC_BOOTSTRAP lets cargo-fuzz pass its -Z flags.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT/fuzz"

SECS=${1:-60}
shift || true
TARGETS=("$@")
((${#TARGETS[@]})) || TARGETS=(parse check fmt_roundtrip)

command -v cargo-fuzz >/dev/null || {
    echo "fuzz.sh: cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2
    exit 2
}
export RUSTC_BOOTSTRAP=1

status=0
for t in "${TARGETS[@]}"; do
    corpus=corpus/$t
    mkdir -p "$corpus" "artifacts/$t"
    # Seeds: every spec of the repository, by content hash (idempotent).
    while IFS= read -r -d '' f; do
        cp "$f" "$corpus/seed-$(sha1sum "$f" | cut -c1-16)"
    done < <(find "$ROOT/examples" "$ROOT/stdlib" "$ROOT/tests/ui" -name '*.scale' -print0)
    echo "==> fuzz $t for ${SECS}s ($(find "$corpus" -type f | wc -l) inputs in the corpus)"
    rc=0
    cargo fuzz run -s none --release "$t" "$corpus" -- \
        -max_total_time="$SECS" -timeout=1 -rss_limit_mb=2048 -max_len=65536 \
        -dict=scale.dict -print_final_stats=1 -artifact_prefix="artifacts/$t/" \
        >"artifacts/$t.log" 2>&1 || rc=$?
    grep -E '^(#[0-9]+[[:space:]]+(INITED|DONE)|stat::|==[0-9]+==|SUMMARY|thread)' "artifacts/$t.log" || true
    if ((rc != 0)); then
        echo "!!! $t failed: see fuzz/artifacts/$t.log and fuzz/artifacts/$t/" >&2
        status=1
    fi
done
exit $status
