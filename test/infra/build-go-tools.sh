#!/usr/bin/env bash
# Builds kube-apiserver, kubectl, etcd and helm from Go modules into the cache, once per version.
# k8s.io/kubernetes can't be `go install`ed (its go.mod points at ./staging via replace lines), so
# a wrapper module of our own requires it and maps each staging module to its published version.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

build_k8s() {
  local bin="$BIN_DIR/kube-apiserver" kubectl_bin="$BIN_DIR/kubectl"
  if [[ -x "$bin" && -x "$kubectl_bin" && "$(cat "$BIN_DIR/.k8s-version" 2>/dev/null)" == "$K8S_VERSION" ]]; then
    return 0
  fi
  local mod="$CACHE_DIR/go-wrap/k8s-$K8S_VERSION"
  mkdir -p "$mod"
  local staging_minor="v0.${K8S_VERSION#v1.}"
  (
    cd "$mod"
    if [[ ! -f go.mod ]]; then
      local gomod
      gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
      {
        echo "module dorissinker.local/k8swrap"
        echo
        echo "go 1.26"
        echo
        echo "require k8s.io/kubernetes $K8S_VERSION"
        echo
        grep -E '^\s*k8s.io/[^ ]+ => \./staging/' "$gomod" |
          awk -v v="$staging_minor" '{print "replace " $1 " => " $1 " " v}'
      } >go.mod
      cat >tools.go <<'EOF'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
EOF
      log "resolving k8s.io/kubernetes $K8S_VERSION dependencies"
      go mod tidy >/dev/null
    fi
    local ld="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2) -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"
    log "compiling kube-apiserver $K8S_VERSION (first time: several minutes)"
    CGO_ENABLED=0 go build -trimpath -ldflags "$ld" -o "$bin" k8s.io/kubernetes/cmd/kube-apiserver
    log "compiling kubectl $K8S_VERSION"
    CGO_ENABLED=0 go build -trimpath -ldflags "$ld" -o "$kubectl_bin" k8s.io/kubernetes/cmd/kubectl
  )
  echo "$K8S_VERSION" >"$BIN_DIR/.k8s-version"
}

build_etcd() {
  if [[ -x "$BIN_DIR/etcd" && "$(cat "$BIN_DIR/.etcd-version" 2>/dev/null)" == "$ETCD_VERSION" ]]; then return 0; fi
  # etcd's server module carries replace lines too, so it also needs a wrapper module.
  local mod="$CACHE_DIR/go-wrap/etcd-$ETCD_VERSION"
  mkdir -p "$mod"
  (
    cd "$mod"
    if [[ ! -f go.mod ]]; then
      printf 'module dorissinker.local/etcdwrap\n\ngo 1.26\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" >go.mod
      printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' >tools.go
      go mod tidy >/dev/null
    fi
    log "compiling etcd $ETCD_VERSION"
    CGO_ENABLED=0 go build -trimpath -o "$BIN_DIR/etcd" go.etcd.io/etcd/server/v3
  )
  echo "$ETCD_VERSION" >"$BIN_DIR/.etcd-version"
}

build_helm() {
  if [[ -x "$BIN_DIR/helm" && "$(cat "$BIN_DIR/.helm-version" 2>/dev/null)" == "$HELM_VERSION" ]]; then return 0; fi
  log "compiling helm $HELM_VERSION"
  GOBIN="$BIN_DIR" CGO_ENABLED=0 go install -trimpath \
    -ldflags "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  echo "$HELM_VERSION" >"$BIN_DIR/.helm-version"
}

mkdir -p "$BIN_DIR"
case "${1:-all}" in
  k8s) timed "kube-apiserver+kubectl" build_k8s ;;
  etcd) timed etcd build_etcd ;;
  helm) timed helm build_helm ;;
  all)
    timed etcd build_etcd
    timed helm build_helm
    timed "kube-apiserver+kubectl" build_k8s
    ;;
  *) echo "usage: $0 [all|k8s|etcd|helm]" >&2; exit 2 ;;
esac
