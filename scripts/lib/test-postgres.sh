# A PostgreSQL server for the test suite. Sourced by scripts/test.
# Uses DATABASE_URL when set, else a server already answering at 127.0.0.1:5432 as
# user postgres, else starts a throwaway cluster on port 55432 (stopped by test_pg_stop).

TEST_PG_STARTED=""
TEST_PG_DIR=""

test_pg_start() {
  if [ -z "${WEIR_TEST_OWN_PG:-}" ] && [ -n "${DATABASE_URL:-}" ]; then
    log "tests use DATABASE_URL"
    return 0
  fi
  if [ -z "${WEIR_TEST_OWN_PG:-}" ] && command -v psql >/dev/null && psql -qtA "postgres://postgres@127.0.0.1:5432/postgres" -c "select 1" >/dev/null 2>&1; then
    export DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres"
    log "tests use the PostgreSQL server at 127.0.0.1:5432"
    return 0
  fi
  ensure_postgres_binaries
  local bindir port=55432 runas=()
  bindir="$(pg_bindir)"
  TEST_PG_DIR="$(mktemp -d /tmp/weir-test-pg.XXXXXX)"
  chmod 755 "$TEST_PG_DIR"
  if [ "$(id -u)" = 0 ]; then
    chown postgres: "$TEST_PG_DIR"
    runas=(runuser -u postgres --)
  fi
  log "starting a throwaway PostgreSQL for the tests in $TEST_PG_DIR (port $port)"
  "${runas[@]}" "$bindir/initdb" -D "$TEST_PG_DIR/data" -U postgres -A trust -E UTF8 --no-locale >/dev/null
  "${runas[@]}" "$bindir/pg_ctl" -D "$TEST_PG_DIR/data" -l "$TEST_PG_DIR/log" -w \
    -o "-p $port -k $TEST_PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null
  TEST_PG_STARTED=1
  export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
}

test_pg_stop() {
  if [ -n "$TEST_PG_STARTED" ]; then
    local runas=()
    [ "$(id -u)" = 0 ] && runas=(runuser -u postgres --)
    "${runas[@]}" "$(pg_bindir)/pg_ctl" -D "$TEST_PG_DIR/data" -m fast -w stop >/dev/null || true
    rm -rf "$TEST_PG_DIR"
    TEST_PG_STARTED=""
  fi
}
