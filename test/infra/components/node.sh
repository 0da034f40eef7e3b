# What a cluster adds to the bare control plane of k8s.sh, from real parts on this machine:
# kube-controller-manager (Deployments → ReplicaSets → Pods, garbage collection, ServiceAccounts,
# root CA ConfigMaps), kube-scheduler, and one real node: kubelet + containerd (Debian) + runc.
# Built by build-node-tools.sh from the same k8s.io/kubernetes wrapper module as kube-apiserver.
# Needs the k8s component up. Images come from buildah's storage through test/infra/load-image.
# Facts about what runs here and why (cgroup v1, containerd 1.6, sysctls): docs/e2e-node.md.

NODE_DIR="$RUN_DIR/node"
# The node's name is "localhost": the kubelet reports it as the node's Hostname address, the
# address kube-apiserver dials first for logs/exec, and the kubelet listens on loopback only.
TESTBED_NODE_NAME="${TESTBED_NODE_NAME:-localhost}"
# Two test beds may share this machine (a developer's and CI's, on other ports and RUN_DIRs). What
# the node holds machine-wide is therefore keyed on the apiserver's port: its own ports (right
# above the apiserver's), its cgroup root (a kubelet kills processes in pod cgroups under its root
# that it doesn't know) and its CNI bridge and subnet.
KCM_PORT="${KCM_PORT:-$((APISERVER_PORT + 1))}"
SCHEDULER_PORT="${SCHEDULER_PORT:-$((APISERVER_PORT + 2))}"
KUBELET_PORT="${KUBELET_PORT:-$((APISERVER_PORT + 3))}"
KUBELET_HEALTHZ_PORT="${KUBELET_HEALTHZ_PORT:-$((APISERVER_PORT + 4))}"
NODE_CGROUP_ROOT="/doris-sinker-$APISERVER_PORT"
# One /24 per port: 10.<high byte>.<low byte>.0/24 (16443 → 10.64.59.0/24).
NODE_CNI_SUBNET="${NODE_CNI_SUBNET:-10.$((APISERVER_PORT >> 8)).$((APISERVER_PORT & 255)).0/24}"
NODE_CNI_BRIDGE="dsk$APISERVER_PORT"
CONTAINERD_SOCK="$NODE_DIR/containerd/containerd.sock"
# Our own pause image (a static C program, build-node-tools.sh): no registry can be reached here.
PAUSE_IMAGE="localhost/doris-sinker/pause:1"
PAUSE_ARCHIVE="$CACHE_DIR/node/pause-1.oci.tar"
NODE_BASE_IMAGE="docker.io/library/node:24-bookworm-slim"
# The sysctls the kubelet rewrites at start (vm.overcommit_memory=1, kernel.panic_on_oops=1, ...);
# this shared machine gets its own values back once the kubelet has started (see start_kubelet).
# Values as in the kubelet's setupKernelTunables (pkg/kubelet/cm/container_manager_linux.go).
NODE_SYSCTLS=(vm.overcommit_memory=1 vm.panic_on_oom=0 kernel.panic=10 kernel.panic_on_oops=1
  kernel.keys.root_maxkeys=1000000 kernel.keys.root_maxbytes=25000000)

# The base image's build marker (build-base-image.sh: one per Node/npm version), and whether
# containerd holds the image built with it.
base_image_stamp() { ls -t "$CACHE_DIR"/base-image/.built-* 2>/dev/null | head -n 1; }
base_image_stamped() {
  local stamp
  stamp=$(base_image_stamp)
  [[ -n "$stamp" && "$(cat "$NODE_DIR/base-image.stamp" 2>/dev/null)" == "$stamp" ]]
}
base_image_loaded() {
  base_image_stamped && node_ctr images ls -q "name==$NODE_BASE_IMAGE" 2>/dev/null | grep -q .
}
node_ctr() { ctr --address "$CONTAINERD_SOCK" --namespace k8s.io "$@"; }
node_kubectl() { "$KUBECTL_BIN" --kubeconfig "$K8S_DIR/admin.kubeconfig" "$@"; }

install_node() {
  local c
  for c in containerd containerd-shim-runc-v2 ctr runc buildah; do
    command -v "$c" >/dev/null || die "node: $c not found: apt-get install -y containerd runc buildah containernetworking-plugins"
  done
  [[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local ]] ||
    die "node: CNI plugins missing in /usr/lib/cni: apt-get install -y containernetworking-plugins"
  [[ -x "$KUBECTL_BIN" ]] || install_k8s
  bash "$INFRA_DIR/build-node-tools.sh" all || die "node: build-node-tools.sh failed"
  # The image the project's Dockerfiles start FROM, which the node's own tests run (cached; buildah
  # is slow even to look while other builds hold its storage, so a recorded build stamp is trusted).
  base_image_stamped || bash "$INFRA_DIR/build-base-image.sh" || die "node: build-base-image.sh failed"
  [[ -f "$K8S_PKI/.complete" ]] || make_k8s_pki
  make_node_pki
}

# Client certificates from the test-bed CA for each component, in the groups/names the apiserver's
# bootstrap RBAC roles are bound to (system:kube-controller-manager, system:kube-scheduler).
# They live in K8S_PKI next to the CA, so a new CA (k8s.sh wipes the directory) means new ones.
make_node_pki() {
  if [[ -f "$K8S_PKI/.node-complete" && -f "$NODE_DIR/kubelet.kubeconfig" ]]; then return 0; fi
  log "node: client certificates for controller-manager, scheduler, kubelet"
  mkdir -p "$NODE_DIR"
  local client="extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment"
  sign_cert node-controller-manager "/CN=system:kube-controller-manager" "$client"
  sign_cert node-scheduler "/CN=system:kube-scheduler" "$client"
  sign_cert node-kubelet "/O=system:nodes/CN=system:node:$TESTBED_NODE_NAME" "$client"
  sign_cert node-kubelet-serving "/CN=$TESTBED_NODE_NAME" \
    "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:$TESTBED_NODE_NAME\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment"
  write_kubeconfig node-controller-manager "$NODE_DIR/controller-manager.kubeconfig"
  write_kubeconfig node-scheduler "$NODE_DIR/scheduler.kubeconfig"
  write_kubeconfig node-kubelet "$NODE_DIR/kubelet.kubeconfig"
  touch "$K8S_PKI/.node-complete"
}

secure_healthz() { [[ "$(curl -fsSk "https://127.0.0.1:$1/healthz" 2>/dev/null)" == ok ]]; }
containerd_ready() { node_ctr version >/dev/null 2>&1 && [[ -S "$CONTAINERD_SOCK" ]]; }
kubelet_healthy() { [[ "$(curl -fsS "http://127.0.0.1:$KUBELET_HEALTHZ_PORT/healthz" 2>/dev/null)" == ok ]]; }
node_ready() {
  [[ "$(node_kubectl get node "$TESTBED_NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]
}
# node_ready_since EPOCH: Ready, and the kubelet said so after EPOCH (a Node left from an earlier
# run still reads Ready until the node lifecycle controller notices, 50 s later).
node_ready_since() {
  local beat
  beat=$(node_kubectl get node "$TESTBED_NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].lastHeartbeatTime}' 2>/dev/null) &&
    [[ -n "$beat" ]] && (($(date -d "$beat" +%s) >= $1)) && node_ready
}
# node_sysctls_before: the machine's own values of NODE_SYSCTLS, as KEY=VALUE lines. They are
# recorded once per boot, machine-wide, so a second test bed's kubelet starting while the first one
# has just rewritten them doesn't take the kubelet's values for the machine's.
NODE_SYSCTLS_FILE=/run/doris-sinker-node.sysctls
node_sysctls_before() {
  local boot s
  boot=$(cat /proc/sys/kernel/random/boot_id)
  if [[ "$(head -n 1 "$NODE_SYSCTLS_FILE" 2>/dev/null)" != "boot=$boot" ]]; then
    {
      echo "boot=$boot"
      for s in "${NODE_SYSCTLS[@]}"; do echo "${s%%=*}=$(sysctl -n "${s%%=*}")"; done
    } >"$NODE_SYSCTLS_FILE.tmp" && mv "$NODE_SYSCTLS_FILE.tmp" "$NODE_SYSCTLS_FILE"
  fi
  tail -n +2 "$NODE_SYSCTLS_FILE"
}
kubelet_sysctls_applied() {
  local s
  for s in "${NODE_SYSCTLS[@]}"; do [[ "$(sysctl -n "${s%%=*}")" == "${s#*=}" ]] || return 1; done
}

write_containerd_config() {
  mkdir -p "$NODE_DIR/containerd" "$NODE_DIR/cni/net.d"
  cat >"$NODE_DIR/containerd/config.toml" <<EOF
# Written by test/infra/components/node.sh: a private containerd for the test-bed kubelet.
version = 2
root = "$NODE_DIR/containerd/root"
state = "$NODE_DIR/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]

[grpc]
  address = "$CONTAINERD_SOCK"

[plugins."io.containerd.internal.v1.opt"]
  path = "$NODE_DIR/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  # This sandbox's root lacks CAP_SYS_RESOURCE (not in the bounding set), so no process may lower
  # its oom_score_adj: runc's write of the pause container's -998 fails with EACCES. containerd
  # then keeps every container's value at or above its own (0), as it does for rootless runs.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$NODE_DIR/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$NODE_DIR/containerd/runc"
EOF
  # Pods that are not hostNetwork get a veth on a bridge of their own with no masquerading: they
  # reach this machine (the bridge address) and nothing beyond it.
  cat >"$NODE_DIR/cni/net.d/10-test-bed.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "doris-sinker-test-bed",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$NODE_CNI_BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "$NODE_CNI_SUBNET" }]],
        "routes": [{ "dst": "0.0.0.0/0" }],
        "dataDir": "$NODE_DIR/cni/ipam"
      }
    }
  ]
}
EOF
}

start_containerd() {
  if daemon_alive containerd && containerd_ready; then return 0; fi
  stop_daemon containerd
  write_containerd_config
  start_daemon containerd containerd --config "$NODE_DIR/containerd/config.toml"
  wait_for "containerd" 30 containerd_ready || fail_start containerd "no answer on $CONTAINERD_SOCK"
  if ! node_ctr images ls -q "name==$PAUSE_IMAGE" | grep -q .; then
    node_ctr images import "$PAUSE_ARCHIVE" >/dev/null || die "node: importing $PAUSE_ARCHIVE into containerd failed"
  fi
}

start_controller_manager() {
  if daemon_alive kube-controller-manager && secure_healthz "$KCM_PORT"; then return 0; fi
  stop_daemon kube-controller-manager
  port_free_or_die kube-controller-manager "$KCM_PORT"
  local kc="$NODE_DIR/controller-manager.kubeconfig"
  start_daemon kube-controller-manager "$BIN_DIR/kube-controller-manager" \
    --kubeconfig "$kc" --authentication-kubeconfig "$kc" --authorization-kubeconfig "$kc" \
    --bind-address 127.0.0.1 --secure-port "$KCM_PORT" --cert-dir "$NODE_DIR/controller-manager-certs" \
    --service-account-private-key-file "$K8S_PKI/sa.key" --root-ca-file "$K8S_PKI/ca.crt" \
    --cluster-signing-cert-file "$K8S_PKI/ca.crt" --cluster-signing-key-file "$K8S_PKI/ca.key" \
    --use-service-account-credentials --controllers '*' --leader-elect=false \
    --kube-api-qps 100 --kube-api-burst 200 --v 0
  wait_for "kube-controller-manager healthz" 60 secure_healthz "$KCM_PORT" ||
    fail_start kube-controller-manager "https://127.0.0.1:$KCM_PORT/healthz not ok"
}

start_scheduler() {
  if daemon_alive kube-scheduler && secure_healthz "$SCHEDULER_PORT"; then return 0; fi
  stop_daemon kube-scheduler
  port_free_or_die kube-scheduler "$SCHEDULER_PORT"
  local kc="$NODE_DIR/scheduler.kubeconfig"
  start_daemon kube-scheduler "$BIN_DIR/kube-scheduler" \
    --kubeconfig "$kc" --authentication-kubeconfig "$kc" --authorization-kubeconfig "$kc" \
    --bind-address 127.0.0.1 --secure-port "$SCHEDULER_PORT" --cert-dir "$NODE_DIR/scheduler-certs" \
    --leader-elect=false --v 0
  wait_for "kube-scheduler healthz" 60 secure_healthz "$SCHEDULER_PORT" ||
    fail_start kube-scheduler "https://127.0.0.1:$SCHEDULER_PORT/healthz not ok"
}

# ensure_cgroup_root: the kubelet wants its cgroup root to exist in every cgroup v1 hierarchy; a new
# cpuset cgroup starts with no CPUs or memory nodes, so it gets its parent's.
ensure_cgroup_root() {
  local h dir
  for h in /sys/fs/cgroup/*/; do
    [[ -f "$h/cgroup.procs" && ! -f "$h/cgroup.controllers" ]] || continue # v1 hierarchies only
    dir="${h%/}$NODE_CGROUP_ROOT"
    mkdir -p "$dir"
    if [[ -f "$h/cpuset.cpus" ]]; then
      [[ -n "$(cat "$dir/cpuset.cpus")" ]] || cat "$h/cpuset.cpus" >"$dir/cpuset.cpus"
      [[ -n "$(cat "$dir/cpuset.mems")" ]] || cat "$h/cpuset.mems" >"$dir/cpuset.mems"
    fi
  done
}

write_kubelet_config() {
  mkdir -p "$NODE_DIR/kubelet" "$NODE_DIR/pod-logs"
  cat >"$NODE_DIR/kubelet-config.yaml" <<EOF
# Written by test/infra/components/node.sh.
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
tlsCertFile: $K8S_PKI/node-kubelet-serving.crt
tlsPrivateKeyFile: $K8S_PKI/node-kubelet-serving.key
# kube-apiserver dials the kubelet (logs, exec) without a client certificate; the kubelet only
# listens on loopback.
authentication:
  anonymous:
    enabled: true
  webhook:
    enabled: false
  x509:
    clientCAFile: $K8S_PKI/ca.crt
authorization:
  mode: AlwaysAllow
# This machine mounts cgroup v1; kubelet 1.35+ refuses it unless told (KEP-5573).
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: $NODE_CGROUP_ROOT
failSwapOn: false
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
podLogsDir: $NODE_DIR/pod-logs
serializeImagePulls: false
# Images are imported, never pulled: don't let image GC delete them on a busy disk.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 100Mi
  nodefs.available: 2%
  imagefs.available: 2%
  nodefs.inodesFree: 2%
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
nodeStatusUpdateFrequency: 5s
syncFrequency: 10s
EOF
}

start_kubelet() {
  if daemon_alive kubelet && kubelet_healthy && node_ready; then return 0; fi
  stop_daemon kubelet
  port_free_or_die kubelet "$KUBELET_PORT"
  port_free_or_die kubelet "$KUBELET_HEALTHZ_PORT"
  # The kubelet's own RBAC: the bootstrap role system:node is no longer bound to anyone by default.
  node_kubectl create clusterrolebinding test-bed:node:"$TESTBED_NODE_NAME" --clusterrole system:node \
    --user "system:node:$TESTBED_NODE_NAME" --dry-run=client -o yaml | node_kubectl apply -f - >/dev/null ||
    die "node: binding system:node for the kubelet failed"
  write_kubelet_config
  ensure_cgroup_root
  local s saved=() since
  mapfile -t saved < <(node_sysctls_before)
  since=$(date +%s)
  start_daemon kubelet "$BIN_DIR/kubelet" --config "$NODE_DIR/kubelet-config.yaml" \
    --kubeconfig "$NODE_DIR/kubelet.kubeconfig" --root-dir "$NODE_DIR/kubelet" \
    --hostname-override "$TESTBED_NODE_NAME" --v 0
  local ok=0
  wait_for "kubelet healthz" 90 kubelet_healthy && wait_for "node Ready" 90 node_ready_since "$since" && ok=1
  # The kubelet sets these once, when its container manager starts; give the machine its values
  # back once it has.
  wait_for "kubelet sysctls" 30 kubelet_sysctls_applied || log "node: the kubelet did not set its sysctls within 30 s"
  for s in "${saved[@]}"; do sysctl -q -w "$s" >/dev/null 2>&1 || log "node: could not restore $s"; done
  ((ok)) || fail_start kubelet "healthz on 127.0.0.1:$KUBELET_HEALTHZ_PORT not ok or node $TESTBED_NODE_NAME not Ready"
}

set_node_env() {
  set_env TESTBED_NODE_NAME "$TESTBED_NODE_NAME"
  set_env CONTAINERD_ADDRESS "$CONTAINERD_SOCK"
  set_env CONTAINERD_NAMESPACE k8s.io
  set_env NODE_LOAD_IMAGE "$INFRA_DIR/load-image"
  set_env KUBELET_BIN "$BIN_DIR/kubelet"
  set_env KUBE_CONTROLLER_MANAGER_BIN "$BIN_DIR/kube-controller-manager"
  set_env KUBE_SCHEDULER_BIN "$BIN_DIR/kube-scheduler"
}

start_node() {
  apiserver_ready || die "node: kube-apiserver is not up on $KUBE_APISERVER_URL (test/infra/up k8s)"
  timed "  containerd" start_containerd
  timed "  kube-controller-manager" start_controller_manager
  timed "  kube-scheduler" start_scheduler
  timed "  kubelet" start_kubelet
  set_node_env
  if ! base_image_loaded; then
    timed "  base image in containerd" "$INFRA_DIR/load-image" "$NODE_BASE_IMAGE"
    base_image_stamp >"$NODE_DIR/base-image.stamp"
  fi
}

# Stops the kubelet first, then every pod's containers (containerd's shims outlive containerd, and
# hostNetwork pods would keep their ports), then containerd and the control-plane parts.
stop_node() {
  local sig="${1:-TERM}"
  stop_daemon kubelet "$sig" 30
  if daemon_alive containerd; then
    local t round
    for round in 1 2 3; do
      [[ -n "$(node_ctr tasks ls -q 2>/dev/null)" ]] || break
      for t in $(node_ctr tasks ls -q 2>/dev/null); do
        node_ctr tasks kill --signal SIGKILL "$t" >/dev/null 2>&1 || true
      done
      sleep 0.5
      for t in $(node_ctr tasks ls -q 2>/dev/null); do
        node_ctr tasks delete --force "$t" >/dev/null 2>&1 || true
      done
    done
  fi
  stop_daemon containerd "$sig" 30
  # What the kubelet and containerd mounted under RUN_DIR/node (the kubelet's root dir bound onto
  # itself, pod volumes, sandbox /dev/shm), deepest first, so the directory can be removed.
  local m
  for m in $(findmnt -rn -o TARGET | grep -F "$NODE_DIR/" | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "node: could not unmount $m"
  done
  # The bridge goes too (its subnet may change with the config); containerd tears down the old
  # sandboxes' networks when it starts again.
  ip link show "$NODE_CNI_BRIDGE" >/dev/null 2>&1 && { ip link delete "$NODE_CNI_BRIDGE" || true; }
  # A shim whose task never started (or whose containerd was killed) lingers; ours name our socket.
  local p
  for p in $(pgrep -f -- "containerd-shim-runc-v2 .*-address $CONTAINERD_SOCK\$" 2>/dev/null); do
    kill -KILL "$p" 2>/dev/null || true
  done
  stop_daemon kube-scheduler "$sig" 30
  stop_daemon kube-controller-manager "$sig" 30
}

status_node() {
  local parts=() down=0 d
  for d in containerd kube-controller-manager kube-scheduler kubelet; do
    daemon_alive "$d" || { parts+=("$d down"); down=1; }
  done
  if ((down == 0)) && node_ready; then
    echo "node $TESTBED_NODE_NAME Ready (kubelet $K8S_VERSION on 127.0.0.1:$KUBELET_PORT, $(containerd --version | awk '{print "containerd " $3}'), controller-manager :$KCM_PORT, scheduler :$SCHEDULER_PORT)"
  else
    ((down)) || parts+=("node $TESTBED_NODE_NAME not Ready")
    echo "down (${parts[*]})"
    return 1
  fi
}
