#!/usr/bin/env bash
# Builds what the "node" component runs, into the cache, once per version: kube-controller-manager,
# kube-scheduler and kubelet from the same k8s.io/kubernetes wrapper module build-go-tools.sh makes
# for kube-apiserver (node-tools.go adds their imports next to its tools.go), and the pause image.
# Compiles run niced on one core: the machine is shared.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

NODE_TOOLS=(kube-controller-manager kube-scheduler kubelet)

node_tools_current() {
  local t
  for t in "${NODE_TOOLS[@]}"; do [[ -x "$BIN_DIR/$t" ]] || return 1; done
  [[ "$(cat "$BIN_DIR/.k8s-node-version" 2>/dev/null)" == "$K8S_VERSION" ]]
}

build_node_tools() {
  node_tools_current && return 0
  local mod="$CACHE_DIR/go-wrap/k8s-$K8S_VERSION"
  # The wrapper module (go.mod with the staging replace lines) is build-go-tools.sh's to make.
  [[ -f "$mod/go.mod" ]] || bash "$INFRA_DIR/build-go-tools.sh" k8s
  (
    cd "$mod"
    if [[ ! -f node-tools.go ]]; then
      cat >node-tools.go <<'EOF'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
EOF
      log "resolving the node tools' dependencies in $mod"
      go mod tidy >/dev/null
    fi
    local minor ld
    minor=$(echo "$K8S_VERSION" | cut -d. -f2)
    ld="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"
    log "compiling ${NODE_TOOLS[*]} $K8S_VERSION (first time: several minutes on one core)"
    GOMAXPROCS=1 CGO_ENABLED=0 nice -n 19 go build -p 1 -trimpath -ldflags "$ld" -o "$BIN_DIR/" \
      k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet
  )
  echo "$K8S_VERSION" >"$BIN_DIR/.k8s-node-version"
}

# The pod sandbox ("pause") image containerd starts first in every pod. No registry can be reached
# here, so it is ours: a static C program that holds the pod's namespaces, reaps orphans and exits
# on SIGTERM/SIGINT, in an image of its own, kept as an OCI archive containerd imports.
PAUSE_IMAGE="localhost/doris-sinker/pause:1"
PAUSE_DIR="$CACHE_DIR/node"

build_pause() {
  [[ -f "$PAUSE_DIR/pause-1.oci.tar" ]] && return 0
  command -v gcc >/dev/null || die "gcc not found (for the pause image): apt-get install -y gcc libc6-dev"
  mkdir -p "$PAUSE_DIR"
  cat >"$PAUSE_DIR/pause.c" <<'EOF'
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void quit(int sig) { (void)sig; _exit(0); }
static void reap(int sig) { (void)sig; while (waitpid(-1, NULL, WNOHANG) > 0) {} }

int main(void) {
  struct sigaction q = {.sa_handler = quit}, r = {.sa_handler = reap, .sa_flags = SA_NOCLDSTOP};
  sigaction(SIGINT, &q, NULL);
  sigaction(SIGTERM, &q, NULL);
  sigaction(SIGCHLD, &r, NULL);
  for (;;) pause();
}
EOF
  nice -n 19 gcc -static -Os -s -o "$PAUSE_DIR/pause" "$PAUSE_DIR/pause.c"
  local b=(buildah --storage-driver vfs) ctr
  ctr=$("${b[@]}" from scratch)
  "${b[@]}" copy "$ctr" "$PAUSE_DIR/pause" /pause >/dev/null
  "${b[@]}" config --entrypoint '["/pause"]' --user 65535:65535 "$ctr"
  "${b[@]}" commit --quiet --rm "$ctr" "$PAUSE_IMAGE" >/dev/null
  "${b[@]}" push --quiet "$PAUSE_IMAGE" "oci-archive:$PAUSE_DIR/pause-1.oci.tar.tmp:$PAUSE_IMAGE"
  mv "$PAUSE_DIR/pause-1.oci.tar.tmp" "$PAUSE_DIR/pause-1.oci.tar"
}

mkdir -p "$BIN_DIR"
case "${1:-all}" in
  k8s) timed "kube-controller-manager+kube-scheduler+kubelet" build_node_tools ;;
  pause) timed "pause image" build_pause ;;
  all)
    timed "kube-controller-manager+kube-scheduler+kubelet" build_node_tools
    timed "pause image" build_pause
    ;;
  *) echo "usage: $0 [all|k8s|pause]" >&2; exit 2 ;;
esac
