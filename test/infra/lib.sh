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
