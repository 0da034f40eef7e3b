# Redis from the Debian package, on 127.0.0.1:$REDIS_PORT, data under $RUN_DIR/redis.
# Append-only file on (fsync every second) so `down redis; up redis` keeps the keys, as a restarted
# production Redis would; `down --kill redis` loses at most the last second, like a crash.

REDIS_DIR="$RUN_DIR/redis"

redis_ready() { [[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]; }

install_redis() {
  command -v redis-server >/dev/null || die "redis-server not found: apt-get install -y redis-server (or run .ci/run)"
}

start_redis() {
  if daemon_alive redis && redis_ready; then
    set_env REDIS_URL "redis://127.0.0.1:$REDIS_PORT"
    return 0
  fi
  stop_daemon redis
  port_free_or_die redis "$REDIS_PORT"
  mkdir -p "$REDIS_DIR"
  start_daemon redis redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --protected-mode yes \
    --dir "$REDIS_DIR" --save "" --appendonly yes --appendfsync everysec \
    --daemonize no --logfile "" --loglevel warning
  wait_for "redis ping" 20 redis_ready || fail_start redis "no PONG on 127.0.0.1:$REDIS_PORT"
  set_env REDIS_URL "redis://127.0.0.1:$REDIS_PORT"
}

stop_redis() {
  # SHUTDOWN (on TERM) flushes the append-only file before exiting.
  stop_daemon redis "${1:-TERM}"
}

status_redis() {
  if daemon_alive redis && redis_ready; then
    echo "redis://127.0.0.1:$REDIS_PORT (redis $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'))"
  else
    echo down
    return 1
  fi
}
