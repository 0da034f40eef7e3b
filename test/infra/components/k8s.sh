# A Kubernetes control plane the way envtest runs one: etcd + kube-apiserver on loopback, built from
# Go modules (build-go-tools.sh), TLS from a private CA, RBAC on, no controllers and no nodes.
# Identities: admin (client cert in group system:masters, $KUBECONFIG) and "nobody" (client cert with
# no bindings, $KUBECONFIG_UNPRIVILEGED). ServiceAccount tokens work through the TokenRequest API.

K8S_DIR="$RUN_DIR/k8s"
K8S_PKI="$K8S_DIR/pki"
ETCD_BIN="$BIN_DIR/etcd"
APISERVER_BIN="$BIN_DIR/kube-apiserver"
KUBECTL_BIN="$BIN_DIR/kubectl"
HELM_BIN="$BIN_DIR/helm"
KUBE_APISERVER_URL="https://127.0.0.1:$APISERVER_PORT"

go_tools_current() {
  [[ -x "$ETCD_BIN" && -x "$APISERVER_BIN" && -x "$KUBECTL_BIN" && -x "$HELM_BIN" ]] &&
    [[ "$(cat "$BIN_DIR/.etcd-version" 2>/dev/null)" == "$ETCD_VERSION" ]] &&
    [[ "$(cat "$BIN_DIR/.k8s-version" 2>/dev/null)" == "$K8S_VERSION" ]] &&
    [[ "$(cat "$BIN_DIR/.helm-version" 2>/dev/null)" == "$HELM_VERSION" ]]
}

install_k8s() {
  command -v openssl >/dev/null || die "openssl not found: apt-get install -y openssl (or run .ci/run)"
  if ! go_tools_current; then
    command -v go >/dev/null || die "k8s: etcd/kube-apiserver/kubectl/helm not built and no Go toolchain to build them"
    log "k8s: building etcd $ETCD_VERSION, kube-apiserver + kubectl $K8S_VERSION, helm $HELM_VERSION (first time: 10-20 min)"
    bash "$INFRA_DIR/build-go-tools.sh" all || die "k8s: build-go-tools.sh failed"
  fi
  make_k8s_pki
}

# sign_cert NAME SUBJECT EXTENSIONS: a key and a certificate signed by the test-bed CA.
sign_cert() {
  local name="$1" subject="$2" ext="$3"
  openssl req -new -newkey rsa:2048 -nodes -keyout "$K8S_PKI/$name.key" -out "$K8S_PKI/$name.csr" \
    -subj "$subject" 2>/dev/null
  printf '%b\n' "$ext" >"$K8S_PKI/$name.ext"
  openssl x509 -req -in "$K8S_PKI/$name.csr" -CA "$K8S_PKI/ca.crt" -CAkey "$K8S_PKI/ca.key" \
    -set_serial "0x$(openssl rand -hex 8)" -days 3650 -extfile "$K8S_PKI/$name.ext" \
    -out "$K8S_PKI/$name.crt" 2>/dev/null
  rm -f "$K8S_PKI/$name.csr" "$K8S_PKI/$name.ext"
}

make_k8s_pki() {
  [[ -f "$K8S_PKI/.complete" ]] && return 0
  log "k8s: generating the CA, serving, client and service-account keys"
  rm -rf "$K8S_PKI"
  mkdir -p "$K8S_PKI"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$K8S_PKI/ca.key" -out "$K8S_PKI/ca.crt" -days 3650 \
    -subj "/CN=doris-sinker-test-bed-ca" 2>/dev/null
  sign_cert apiserver "/CN=kube-apiserver" \
    "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.0.0.1\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment"
  sign_cert admin "/O=system:masters/CN=admin" "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment"
  sign_cert nobody "/CN=nobody" "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment"
  openssl genrsa -out "$K8S_PKI/sa.key" 2048 2>/dev/null
  openssl rsa -in "$K8S_PKI/sa.key" -pubout -out "$K8S_PKI/sa.pub" 2>/dev/null
  write_kubeconfig admin "$K8S_DIR/admin.kubeconfig"
  write_kubeconfig nobody "$K8S_DIR/nobody.kubeconfig"
  touch "$K8S_PKI/.complete"
}

# write_kubeconfig USER FILE: a self-contained kubeconfig (certificates inline) for one identity.
write_kubeconfig() {
  local user="$1" file="$2"
  b64() { base64 -w0 "$1"; }
  cat >"$file" <<EOF2
apiVersion: v1
kind: Config
clusters:
- name: test-bed
  cluster:
    server: $KUBE_APISERVER_URL
    certificate-authority-data: $(b64 "$K8S_PKI/ca.crt")
users:
- name: $user
  user:
    client-certificate-data: $(b64 "$K8S_PKI/$user.crt")
    client-key-data: $(b64 "$K8S_PKI/$user.key")
contexts:
- name: $user@test-bed
  context:
    cluster: test-bed
    user: $user
    namespace: default
current-context: $user@test-bed
EOF2
  chmod 600 "$file"
}

etcd_ready() { curl -fsS "http://127.0.0.1:$ETCD_PORT/health" | grep -q '"health":"true"'; }
apiserver_ready() {
  [[ "$(curl -fsS --cacert "$K8S_PKI/ca.crt" --cert "$K8S_PKI/admin.crt" --key "$K8S_PKI/admin.key" \
    "$KUBE_APISERVER_URL/readyz" 2>/dev/null)" == ok ]]
}

start_etcd() {
  if daemon_alive etcd && etcd_ready; then return 0; fi
  stop_daemon etcd
  port_free_or_die etcd "$ETCD_PORT"
  port_free_or_die etcd "$ETCD_PEER_PORT"
  mkdir -p "$K8S_DIR/etcd"
  start_daemon etcd "$ETCD_BIN" --name test-bed --data-dir "$K8S_DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "test-bed=http://127.0.0.1:$ETCD_PEER_PORT" \
    --unsafe-no-fsync=true --log-level warn
  wait_for "etcd health" 30 etcd_ready || fail_start etcd "no healthy answer on 127.0.0.1:$ETCD_PORT"
}

start_apiserver() {
  if daemon_alive kube-apiserver && apiserver_ready; then return 0; fi
  stop_daemon kube-apiserver
  port_free_or_die kube-apiserver "$APISERVER_PORT"
  # ServiceAccount admission stays on (the default): with the node's controller manager creating each
  # namespace's `default` account, pods get their projected token as on a cluster (the operator pod needs it).
  # --endpoint-reconciler-type none: the default reconciler keeps trying to publish 127.0.0.1 as the
  # "kubernetes" Service endpoint, which validation refuses (loopback), logging an error every 10 s.
  start_daemon kube-apiserver "$APISERVER_BIN" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --secure-port "$APISERVER_PORT" --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
    --cert-dir "$K8S_DIR/apiserver-certs" \
    --tls-cert-file "$K8S_PKI/apiserver.crt" --tls-private-key-file "$K8S_PKI/apiserver.key" \
    --client-ca-file "$K8S_PKI/ca.crt" \
    --service-cluster-ip-range 10.0.0.0/24 --allow-privileged=true \
    --endpoint-reconciler-type none \
    --authorization-mode RBAC \
    --service-account-issuer https://kubernetes.default.svc \
    --service-account-key-file "$K8S_PKI/sa.pub" --service-account-signing-key-file "$K8S_PKI/sa.key" \
    --v 0
  wait_for "kube-apiserver readyz" 120 apiserver_ready || fail_start kube-apiserver "$KUBE_APISERVER_URL/readyz not ok"
}

set_k8s_env() {
  set_env KUBECONFIG "$K8S_DIR/admin.kubeconfig"
  set_env KUBECONFIG_UNPRIVILEGED "$K8S_DIR/nobody.kubeconfig"
  set_env KUBE_APISERVER "$KUBE_APISERVER_URL"
  set_env KUBE_CA_FILE "$K8S_PKI/ca.crt"
  set_env KUBECTL "$KUBECTL_BIN"
  set_env HELM "$HELM_BIN"
  set_env ETCD "$ETCD_BIN"
  set_env ETCD_ENDPOINT "http://127.0.0.1:$ETCD_PORT"
  set_env KUBE_APISERVER_BIN "$APISERVER_BIN"
  set_env K8S_VERSION "$K8S_VERSION"
  set_env ETCD_VERSION "$ETCD_VERSION"
  set_env HELM_VERSION "$HELM_VERSION"
}

start_k8s() {
  start_etcd
  start_apiserver
  set_k8s_env
}

stop_k8s() {
  stop_daemon kube-apiserver "${1:-TERM}" 30
  stop_daemon etcd "${1:-TERM}" 30
}

status_k8s() {
  if daemon_alive kube-apiserver && daemon_alive etcd && apiserver_ready; then
    echo "$KUBE_APISERVER_URL (kube-apiserver $K8S_VERSION, etcd $ETCD_VERSION on 127.0.0.1:$ETCD_PORT; KUBECONFIG=$K8S_DIR/admin.kubeconfig)"
  else
    local parts=()
    daemon_alive etcd && parts+=("etcd up") || parts+=("etcd down")
    daemon_alive kube-apiserver && parts+=("kube-apiserver not ready") || parts+=("kube-apiserver down")
    echo "down (${parts[*]})"
    return 1
  fi
}
