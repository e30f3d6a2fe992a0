#!/usr/bin/env bash
# Checks the examples in docs/*.md and docs/diagnostics/*.md against the
# compiler.
#
# Every ```scale block whose first line is a marker comment is extracted to
# its own temporary project and run through `scalec check`:
#
#   // check: ok              must check clean: no error and no warning
#   // check: S0202 S0301     must report exactly these codes (any order,
#                             repeats count), and nothing else
#
# A ```yaml file=NAME (or ```json file=NAME) block is a file the examples
# read (a contract, a schema): it is written, as NAME, into the project of
# every later marked block of the same document.
# A second line `// env: NAME` checks the block as `scalec check --env NAME`.
#
# Blocks without a marker are not checked. Exits non-zero if any block fails.
#
# The last line of output is "N examples checked, M failed".
#
# Usage: scripts/check-doc-examples.sh [FILE.md…]   (default: docs/*.md and
#                                                   docs/diagnostics/*.md)
#   SCALEC=path/to/scalec   the binary (default: $CARGO_TARGET_DIR/debug/scalec,
#                           else ./target/debug/scalec)

set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if [[ -z "${SCALEC:-}" ]]; then
  if [[ -n "${CARGO_TARGET_DIR:-}" && -x "$CARGO_TARGET_DIR/debug/scalec" ]]; then
    SCALEC="$CARGO_TARGET_DIR/debug/scalec"
  else
    SCALEC="$root/target/debug/scalec"
  fi
fi
if [[ ! -x "$SCALEC" ]]; then
  echo "error: no scalec binary at $SCALEC; run \`cargo build\` or set SCALEC" >&2
  exit 2
fi

if [[ $# -gt 0 ]]; then
  docs=("$@")
else
  shopt -s nullglob
  docs=(docs/*.md docs/diagnostics/*.md)
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

checked=0
failed=0
ndoc=0

for doc in "${docs[@]}"; do
  # Split the document into one file per marked block: NNNN.scale, plus
  # NNNN.where ("doc:line") and NNNN.expect (the marker's codes or "ok").
  # One numbered folder per document: docs in different folders may share a
  # name.
  ndoc=$((ndoc + 1))
  out="$work/$ndoc-$(basename "$doc" .md)"
  mkdir -p "$out"
  awk -v out="$out" -v doc="$doc" '
    function flush() {
      if (n > 0 && marked) {
        count++
        base = sprintf("%s/%04d", out, count)
        printf "%s", body > (base ".scale"); close(base ".scale")
        print doc ":" start > (base ".where"); close(base ".where")
        print expect > (base ".expect"); close(base ".expect")
        print nasset + 0 > (base ".assets"); close(base ".assets")
        printf "%s", env > (base ".env"); close(base ".env")
      }
    }
    /^```(yaml|json) file=[^[:space:]]+[[:space:]]*$/ && !inside && !inasset {
      inasset = 1; nasset++; abody = ""
      aname = $0; sub(/^```(yaml|json) file=/, "", aname); sub(/[[:space:]]+$/, "", aname)
      printf "%s", aname > (out "/asset-" nasset ".name"); close(out "/asset-" nasset ".name")
      next
    }
    /^```[[:space:]]*$/ && inasset {
      printf "%s", abody > (out "/asset-" nasset ".body"); close(out "/asset-" nasset ".body")
      inasset = 0; next
    }
    inasset { abody = abody $0 "\n"; next }
    /^```scale[[:space:]]*$/ && !inside { inside = 1; n = 0; body = ""; marked = 0; env = ""; start = NR + 1; next }
    /^```[[:space:]]*$/ && inside { flush(); inside = 0; next }
    inside {
      n++
      if (n == 1 && $0 ~ /^\/\/ check:/) {
        marked = 1
        expect = $0
        sub(/^\/\/ check:[[:space:]]*/, "", expect)
        sub(/[[:space:]]+$/, "", expect)
      }
      if (n == 2 && marked && $0 ~ /^\/\/ env:/) {
        env = $0
        sub(/^\/\/ env:[[:space:]]*/, "", env)
        sub(/[[:space:]]+$/, "", env)
      }
      body = body $0 "\n"
    }
  ' "$doc"

  for src in "$out"/*.scale; do
    [[ -e "$src" ]] || continue
    base="${src%.scale}"
    where="$(cat "$base.where")"
    expect="$(cat "$base.expect")"
    env_args=()
    if [[ -s "$base.env" ]]; then
      env_args=(--env "$(cat "$base.env")")
    fi
    # Each block is its own project: a folder holding only that file.
    proj="$base.d"
    mkdir -p "$proj"
    cp "$src" "$proj/example.scale"
    # The files the document defined before this block.
    for ((k = 1; k <= $(cat "$base.assets"); k++)); do
      aname="$(cat "$out/asset-$k.name")"
      mkdir -p "$proj/$(dirname "$aname")"
      cp "$out/asset-$k.body" "$proj/$aname"
    done
    checked=$((checked + 1))
    set +e
    json="$("$SCALEC" check "${env_args[@]}" --message-format json "$proj" 2>"$base.stderr")"
    rc=$?
    set -e
    got="$({ printf '%s\n' "$json" | grep -o '"code":"S[0-9]*"' || true; } | sed 's/"code":"//; s/"//' | sort | tr '\n' ' ' | sed 's/ *$//')"
    if [[ "$expect" == "ok" ]]; then
      want=""
    else
      want="$(printf '%s\n' $expect | sort | tr '\n' ' ' | sed 's/ *$//')"
    fi
    if [[ $rc -eq 2 ]]; then
      echo "FAIL $where: scalec could not load the example: $(cat "$base.stderr")"
      failed=$((failed + 1))
    elif [[ "$got" != "$want" ]]; then
      echo "FAIL $where: expected ${want:-no diagnostics}, got ${got:-no diagnostics}"
      "$SCALEC" check "${env_args[@]}" --color never "$proj" 2>&1 | sed 's/^/    /' || true
      failed=$((failed + 1))
    elif [[ -z "$want" && $rc -ne 0 ]]; then
      echo "FAIL $where: scalec check exited $rc"
      failed=$((failed + 1))
    fi
  done
done

if [[ $checked -eq 0 ]]; then
  echo "error: no marked \`\`\`scale blocks found in: ${docs[*]}" >&2
  exit 2
fi
echo "$checked examples checked, $failed failed"
[[ $failed -eq 0 ]]
