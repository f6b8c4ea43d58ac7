# Shared by scripts/serve, scripts/test, scripts/bench and .ci/run: where builds go, and
# functions that install each missing tool (idempotent: a tool already there is kept).
# Sourced, not run.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/weir/target}"
WEIR_TOOLS="${WEIR_TOOLS:-$HOME/.cache/weir/tools}"
export PATH="$HOME/.cargo/bin:$WEIR_TOOLS/node_modules/.bin:$PATH"

CARGO_LEPTOS_VERSION="0.3.10"   # 0.3.11 needs rustc 1.96
BINARYEN_VERSION="132.0.0"      # Debian's binaryen (v108) breaks hydration

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

APT_UPDATED=""
apt_install() {
  command -v apt-get >/dev/null || die "apt-get is missing: install $* with your system's package manager"
  if [ -z "$APT_UPDATED" ]; then
    log "apt-get update"
    as_root apt-get update -qq
    APT_UPDATED=1
  fi
  log "apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_rust() {
  command -v cargo >/dev/null || die "Rust is not installed: see https://rustup.rs"
  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    log "rustup target add wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi
  # The C toolchain and pkg-config some crates build with.
  command -v cc >/dev/null || apt_install build-essential pkg-config
}

ensure_cargo_leptos() {
  if [ "$(cargo leptos --version 2>/dev/null)" != "cargo-leptos $CARGO_LEPTOS_VERSION" ]; then
    log "cargo install cargo-leptos@$CARGO_LEPTOS_VERSION (about 20 minutes on 2 cores, once)"
    cargo install "cargo-leptos@$CARGO_LEPTOS_VERSION" --locked
  fi
}

ensure_wasm_bindgen() {
  local want
  want="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' "$ROOT/Cargo.lock")"
  [ -n "$want" ] || die "wasm-bindgen is not in Cargo.lock"
  if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $want" ]; then
    # No --locked: one of its locked dependencies is gone from the registry.
    log "cargo install wasm-bindgen-cli --version $want (a few minutes, once)"
    cargo install wasm-bindgen-cli --version "$want"
  fi
}

ensure_node() {
  command -v npm >/dev/null || apt_install nodejs npm
}

ensure_wasm_opt() {
  if [ "$(wasm-opt --version 2>/dev/null | awk '{print $3}')" != "${BINARYEN_VERSION%%.*}" ]; then
    ensure_node
    log "npm install binaryen@$BINARYEN_VERSION (wasm-opt)"
    mkdir -p "$WEIR_TOOLS"
    npm install --silent --prefix "$WEIR_TOOLS" "binaryen@$BINARYEN_VERSION" >/dev/null
  fi
}

# PostgreSQL server programs (initdb, pg_ctl, postgres) for the embedded database.
pg_bindir() {
  local d
  d="$(pg_config --bindir 2>/dev/null || true)"
  if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
  done
  return 1
}

ensure_postgres_binaries() {
  pg_bindir >/dev/null || apt_install postgresql postgresql-client
  pg_bindir >/dev/null || die "PostgreSQL server programs are still missing after installing postgresql"
}

ensure_chromium() {
  command -v chromium >/dev/null || apt_install chromium fonts-dejavu-core
}

ensure_playwright() {
  ensure_node
  if [ ! -d "$ROOT/end2end/node_modules/@playwright/test" ]; then
    log "npm ci in end2end/ (Playwright, driving the system's Chromium)"
    (cd "$ROOT/end2end" && npm ci --silent --no-audit --no-fund)
  fi
}

# An S3-compatible server for the tests and the artifact benchmark: the one already
# answering at 127.0.0.1:$WEIR_S3_PORT (default 9000), else moto (an in-memory emulator
# of the S3 API, from a virtualenv under ~/.cache/weir) started in its own session and
# left running. Creates the buckets in WEIR_S3_BUCKETS (default weir-test) and exports
# WEIR_TEST_S3_ENDPOINT. Stop moto with: kill "$(cat ~/.cache/weir/moto-state/moto.pid)"
MOTO_VERSION="5.2.5"
ensure_s3() {
  local port="${WEIR_S3_PORT:-9000}"
  local url="http://127.0.0.1:$port"
  local venv="$HOME/.cache/weir/moto" state="$HOME/.cache/weir/moto-state"
  local answers='curl -s -o /dev/null --max-time 2'
  if [ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null)" != "$MOTO_VERSION" ]; then
    command -v python3 >/dev/null || apt_install python3 python3-venv
    python3 -c 'import ensurepip' 2>/dev/null || apt_install python3-venv
    log "pip install moto[server]==$MOTO_VERSION into $venv (about a minute, once)"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
  fi
  if ! $answers "$url/"; then
    mkdir -p "$state"
    log "starting moto (in-memory S3) at $url; log in $state/moto.log"
    setsid "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$state/moto.log" 2>&1 </dev/null &
    echo $! >"$state/moto.pid"
    local waited=0
    until $answers "$url/"; do
      if ! kill -0 "$(cat "$state/moto.pid")" 2>/dev/null || [ "$waited" -ge 300 ]; then
        tail -n 20 "$state/moto.log" >&2
        die "moto did not answer at $url"
      fi
      sleep 0.1
      waited=$((waited + 1))
    done
  fi
  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 \
    "$venv/bin/python" - "$url" "${WEIR_S3_BUCKETS:-weir-test}" <<'PY' || die "could not create the test buckets at $url"
import sys, boto3, botocore.exceptions
s3 = boto3.client("s3", endpoint_url=sys.argv[1])
for bucket in sys.argv[2].replace(",", " ").split():
    try:
        s3.create_bucket(Bucket=bucket)
    except botocore.exceptions.ClientError as e:
        if e.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
PY
  export WEIR_TEST_S3_ENDPOINT="$url"
}
