# MariaDB from the Debian package: its own datadir under $RUN_DIR/mariadb, TCP on
# 127.0.0.1:$MARIADB_PORT and a private socket, user sinker/sinker with every privilege, database
# test_db holding the canonical table from $SHARED_DIR/bench/tb_event.mysql.sql.

MARIADB_DIR="$RUN_DIR/mariadb"
MARIADB_SOCKET="$MARIADB_DIR/mariadbd.sock"
MARIADB_TABLE_SQL="$SHARED_DIR/bench/tb_event.mysql.sql"

mariadb_root() { mariadb --no-defaults --socket="$MARIADB_SOCKET" --user=root "$@"; }
mariadb_ready() { mariadb-admin --no-defaults --socket="$MARIADB_SOCKET" --user=root ping; }

install_mariadb() {
  command -v mariadbd >/dev/null || die "mariadbd not found: apt-get install -y mariadb-server (or run .ci/run)"
  [[ -f "$MARIADB_TABLE_SQL" ]] || die "mariadb: $MARIADB_TABLE_SQL not found (set DORIS_SINKER_SHARED to the shared/ directory)"
  if [[ ! -d "$MARIADB_DIR/data/mysql" ]]; then
    log "mariadb: initialising the data directory"
    rm -rf "$MARIADB_DIR/data"
    mkdir -p "$MARIADB_DIR/data"
    # root logs in through the private socket only (unix_socket auth), the test user over TCP.
    mariadb-install-db --no-defaults --user="$(id -un)" --datadir="$MARIADB_DIR/data" \
      --skip-test-db --auth-root-authentication-method=socket >"$MARIADB_DIR/install.log" 2>&1 ||
      { tail -n 20 "$MARIADB_DIR/install.log" >&2; die "mariadb-install-db failed"; }
  fi
}

start_mariadb() {
  if daemon_alive mariadb && mariadb_ready >/dev/null 2>&1; then
    set_mariadb_env
    return 0
  fi
  stop_daemon mariadb
  port_free_or_die mariadb "$MARIADB_PORT"
  # --user: mariadbd refuses to run as root unless told to; the datadir belongs to the same user.
  # Durability settings are relaxed: this is a test bed, and the emulator's loads should be fast.
  start_daemon mariadb mariadbd --no-defaults --user="$(id -un)" --datadir="$MARIADB_DIR/data" \
    --socket="$MARIADB_SOCKET" --pid-file="$MARIADB_DIR/mariadbd.pid" \
    --bind-address=127.0.0.1 --port="$MARIADB_PORT" --skip-name-resolve \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
    --innodb-buffer-pool-size=256M --innodb-flush-log-at-trx-commit=2 --innodb-doublewrite=0 \
    --max-allowed-packet=256M --max-connections=500 --log-error="$LOG_DIR/mariadb.err"
  wait_for "mariadb ping" 60 mariadb_ready || fail_start mariadb "no answer on $MARIADB_SOCKET; see also $LOG_DIR/mariadb.err"
  mariadb_root <<SQL
CREATE USER IF NOT EXISTS 'sinker'@'127.0.0.1' IDENTIFIED BY 'sinker';
CREATE USER IF NOT EXISTS 'sinker'@'localhost' IDENTIFIED BY 'sinker';
GRANT ALL PRIVILEGES ON *.* TO 'sinker'@'127.0.0.1' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO 'sinker'@'localhost' WITH GRANT OPTION;
CREATE DATABASE IF NOT EXISTS test_db;
SQL
  mariadb_root <"$MARIADB_TABLE_SQL" || die "mariadb: applying $MARIADB_TABLE_SQL failed"
  set_mariadb_env
}

set_mariadb_env() {
  set_env MARIADB_HOST 127.0.0.1
  set_env MARIADB_PORT "$MARIADB_PORT"
  set_env MARIADB_USER sinker
  set_env MARIADB_PASSWORD sinker
  set_env MARIADB_DATABASE test_db
  set_env MARIADB_SOCKET "$MARIADB_SOCKET"
}

stop_mariadb() { stop_daemon mariadb "${1:-TERM}" 60; }

status_mariadb() {
  if daemon_alive mariadb && mariadb_ready >/dev/null 2>&1; then
    echo "127.0.0.1:$MARIADB_PORT user sinker db test_db ($(mariadbd --version | awk '{print $3}'))"
  else
    echo down
    return 1
  fi
}
