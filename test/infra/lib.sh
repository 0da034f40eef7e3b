# Shared settings for the test-bed scripts. Sourced, not run.
# Everything built or downloaded lives in CACHE_DIR (outside the repo, survives between runs);
# everything a running component writes lives in RUN_DIR (data, logs, pids, the env file).

CACHE_DIR="${DORIS_SINKER_CACHE:-$HOME/.cache/doris-sinker}"
RUN_DIR="${DORIS_SINKER_RUN:-$CACHE_DIR/run}"
BIN_DIR="$CACHE_DIR/bin"
ENV_FILE="$RUN_DIR/env"
INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$INFRA_DIR/../.." && pwd)"
SHARED_DIR="${DORIS_SINKER_SHARED:-$REPO_DIR/../shared}"

K8S_VERSION="${K8S_VERSION:-v1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
KAFKA_VERSION="${KAFKA_VERSION:-4.3.1}"

# Ports a test bed in RUN_DIR was started with (written by `up`), so a later `up`/`down`/`status` with
# the same DORIS_SINKER_RUN finds it even without the port variables; a variable set explicitly wins.
PORT_VARS=(KAFKA_PORT KAFKA_CONTROLLER_PORT REDIS_PORT MARIADB_PORT ETCD_PORT ETCD_PEER_PORT APISERVER_PORT
  DORIS_FE_HTTP_PORT DORIS_BE_HTTP_PORT DORIS_QUERY_PORT DORIS_CONTROL_PORT)
PORTS_FILE="$RUN_DIR/ports"
if [[ -f "$PORTS_FILE" ]]; then
  while IFS='=' read -r _k _v; do
    [[ " ${PORT_VARS[*]} " == *" $_k "* && -z "${!_k:-}" ]] && printf -v "$_k" '%s' "$_v"
  done <"$PORTS_FILE"
  unset _k _v
fi

# Loopback ports of the test bed; chosen away from the components' defaults so a developer's own
# services don't collide with them.
KAFKA_PORT="${KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
REDIS_PORT="${REDIS_PORT:-16379}"
MARIADB_PORT="${MARIADB_PORT:-13306}"
ETCD_PORT="${ETCD_PORT:-12379}"
ETCD_PEER_PORT="${ETCD_PEER_PORT:-12380}"
APISERVER_PORT="${APISERVER_PORT:-16443}"
DORIS_FE_HTTP_PORT="${DORIS_FE_HTTP_PORT:-18030}"
DORIS_BE_HTTP_PORT="${DORIS_BE_HTTP_PORT:-18040}"
DORIS_QUERY_PORT="${DORIS_QUERY_PORT:-19030}"
DORIS_CONTROL_PORT="${DORIS_CONTROL_PORT:-18099}"

export PATH="$BIN_DIR:$PATH"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# timed NAME CMD...: runs CMD and reports how long it took.
timed() {
  local name="$1"; shift
  local start=$SECONDS
  "$@"
  log "$name ready in $((SECONDS - start))s"
}

# wait_for DESCRIPTION TIMEOUT_S CMD...: polls CMD until it succeeds.
wait_for() {
  local what="$1" timeout="$2"; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      return 1
    fi
    sleep 0.3
  done
}

pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# set_env KEY VALUE: writes or replaces one KEY=value line in the env file.
set_env() {
  mkdir -p "$RUN_DIR"
  touch "$ENV_FILE"
  local tmp
  tmp=$(mktemp)
  grep -v "^$1=" "$ENV_FILE" >"$tmp" || true
  echo "$1=$2" >>"$tmp"
  mv "$tmp" "$ENV_FILE"
}

# --- daemons -------------------------------------------------------------------------------------
# Each component runs detached (its own session, output to RUN_DIR/logs/<name>.log) and is tracked by
# RUN_DIR/pids/<name>.pid, so `up` and `down` from any shell, test or CI step find it again.
LOG_DIR="$RUN_DIR/logs"
PID_DIR="$RUN_DIR/pids"

pid_file() { echo "$PID_DIR/$1.pid"; }
daemon_alive() { pid_alive "$(pid_file "$1")"; }

# start_daemon NAME CMD...: starts CMD in the background, detached from this shell's session.
start_daemon() {
  local name="$1"; shift
  mkdir -p "$LOG_DIR" "$PID_DIR"
  {
    echo
    echo "=== $(date -u +%FT%TZ) starting $name: $*"
  } >>"$LOG_DIR/$name.log"
  # 8>&- 9>&-: the daemon must not inherit .ci/run's lock or the run-dir lock (lock_run_dir), or it
  # would hold them for as long as it runs.
  setsid "$@" </dev/null >>"$LOG_DIR/$name.log" 2>&1 8>&- 9>&- &
  echo $! >"$(pid_file "$name")"
}

# stop_daemon NAME [SIGNAL] [TIMEOUT_S]: signals the process and waits for it to exit, then SIGKILLs.
# SIGNAL=KILL is the fault-injection path (a crash, no clean shutdown).
stop_daemon() {
  local name="$1" sig="${2:-TERM}" timeout="${3:-30}" file pid
  file="$(pid_file "$name")"
  [[ -f "$file" ]] || return 0
  pid="$(cat "$file")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "-$sig" "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + timeout))
    while kill -0 "$pid" 2>/dev/null; do
      if ((SECONDS >= deadline)); then
        log "$name (pid $pid) did not stop within ${timeout}s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
      fi
      sleep 0.2
    done
  fi
  rm -f "$file"
}

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# port_free_or_die NAME PORT: before starting NAME, make sure no foreign process holds its port.
port_free_or_die() {
  if port_open "$2"; then
    die "$1: port 127.0.0.1:$2 is taken by another process (not started by test/infra); free it or set the port variable"
  fi
}

# fail_start NAME WHAT: prints the tail of the component's log and exits.
fail_start() {
  log "$1 did not become ready ($2); last lines of $LOG_DIR/$1.log:"
  tail -n 30 "$LOG_DIR/$1.log" >&2 || true
  exit 1
}

# --- components ----------------------------------------------------------------------------------
# components/<name>.sh defines install_<name>, start_<name>, stop_<name> [SIGNAL], status_<name>.
# ALL_COMPONENTS is the start order (down goes in reverse); emulator.sh and node.sh join when they exist.
ALL_COMPONENTS=(mariadb redis kafka k8s)
for _component_file in "$INFRA_DIR"/components/*.sh; do
  # shellcheck source=/dev/null
  source "$_component_file"
done
[[ -f "$INFRA_DIR/components/emulator.sh" ]] && ALL_COMPONENTS+=(emulator)
[[ -f "$INFRA_DIR/components/node.sh" ]] && ALL_COMPONENTS+=(node)
unset _component_file

# select_components ARGS...: sets COMPONENTS to ARGS (checked) or to all of them.
select_components() {
  COMPONENTS=()
  if (($# == 0)); then
    COMPONENTS=("${ALL_COMPONENTS[@]}")
    return 0
  fi
  local c
  for c in "$@"; do
    [[ " ${ALL_COMPONENTS[*]} " == *" $c "* ]] || die "unknown component '$c' (known: ${ALL_COMPONENTS[*]})"
    COMPONENTS+=("$c")
  done
}

save_ports() {
  mkdir -p "$RUN_DIR"
  local k
  for k in "${PORT_VARS[@]}"; do echo "$k=${!k}"; done >"$PORTS_FILE"
}

# lock_run_dir: one up/down at a time (tests, CI and a developer may call them concurrently).
lock_run_dir() {
  mkdir -p "$RUN_DIR"
  exec 9>"$RUN_DIR/.lock"
  flock -w 600 9 || die "another test/infra up/down holds $RUN_DIR/.lock"
}
