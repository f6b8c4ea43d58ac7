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
