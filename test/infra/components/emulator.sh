# The Doris emulator (test/emulator) on the test-bed ports: FE $DORIS_FE_HTTP_PORT, one BE
# $DORIS_BE_HTTP_PORT, MySQL-protocol query port $DORIS_QUERY_PORT and the control API
# $DORIS_CONTROL_PORT, rows stored in the test bed's MariaDB (db test_db, table from the canonical
# Doris DDL). Needs mariadb up. The Doris password is made once and kept in $RUN_DIR/emulator.password.

EMULATOR_PASSWORD_FILE="$RUN_DIR/emulator.password"
EMULATOR_NODE="$REPO_DIR/node_modules/.bin/node"

emulator_ready() {
  grep -q '^doris-emulator ready' "$LOG_DIR/emulator.log" 2>/dev/null &&
    curl -fsS "http://127.0.0.1:$DORIS_CONTROL_PORT/health" >/dev/null 2>&1
}

install_emulator() {
  [[ -x "$EMULATOR_NODE" ]] || die "emulator: $EMULATOR_NODE not found: run npm ci"
  [[ -d "$REPO_DIR/node_modules/mysql2" ]] || die "emulator: mysql2 missing from node_modules: run npm ci"
  [[ -f "$SHARED_DIR/bench/tb_event.doris.sql" ]] || die "emulator: $SHARED_DIR/bench/tb_event.doris.sql not found (set DORIS_SINKER_SHARED)"
  command -v curl >/dev/null || die "emulator: curl not found: apt-get install -y curl"
}

emulator_password() {
  if [[ ! -s "$EMULATOR_PASSWORD_FILE" ]]; then
    mkdir -p "$RUN_DIR"
    (umask 077 && head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$EMULATOR_PASSWORD_FILE")
  fi
  cat "$EMULATOR_PASSWORD_FILE"
}

set_emulator_env() {
  set_env DORIS_FE_HTTP "127.0.0.1:$DORIS_FE_HTTP_PORT"
  set_env DORIS_BE_HTTP "127.0.0.1:$DORIS_BE_HTTP_PORT"
  set_env DORIS_QUERY "127.0.0.1:$DORIS_QUERY_PORT"
  set_env DORIS_CONTROL "127.0.0.1:$DORIS_CONTROL_PORT"
  set_env DORIS_USER root
  set_env DORIS_PASSWORD "$(emulator_password)"
}

start_emulator() {
  if daemon_alive emulator && emulator_ready; then
    set_emulator_env
    return 0
  fi
  stop_daemon emulator
  local p
  for p in "$DORIS_FE_HTTP_PORT" "$DORIS_BE_HTTP_PORT" "$DORIS_QUERY_PORT" "$DORIS_CONTROL_PORT"; do
    port_free_or_die emulator "$p"
  done
  port_open "$MARIADB_PORT" || die "emulator: MariaDB is not up on 127.0.0.1:$MARIADB_PORT (test/infra/up mariadb)"
  mkdir -p "$LOG_DIR"
  : >"$LOG_DIR/emulator.log"
  # The password goes through the environment, not the command line (ps shows arguments).
  DORIS_EMULATOR_PASSWORD="$(emulator_password)" start_daemon emulator "$EMULATOR_NODE" "$REPO_DIR/test/emulator/main.ts" \
    --fe-port "$DORIS_FE_HTTP_PORT" --be-ports "$DORIS_BE_HTTP_PORT" --query-port "$DORIS_QUERY_PORT" \
    --control-port "$DORIS_CONTROL_PORT" --mysql "127.0.0.1:$MARIADB_PORT" sinker sinker \
    --ddl "$SHARED_DIR/bench/tb_event.doris.sql" --user root
  wait_for "emulator ready" 30 emulator_ready || fail_start emulator "no ready line / control /health"
  set_emulator_env
}

stop_emulator() { stop_daemon emulator "${1:-TERM}" 15; }

status_emulator() {
  if daemon_alive emulator && emulator_ready; then
    grep '^doris-emulator ready' "$LOG_DIR/emulator.log" | tail -n 1 | sed 's/^doris-emulator ready //'
  else
    echo down
    return 1
  fi
}
