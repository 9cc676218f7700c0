#!/usr/bin/env bash
# A single-node Kubernetes cluster for the tests, on this host, without Docker:
# etcd, containerd (+ runc), kube-apiserver, kube-controller-manager,
# kube-scheduler and the kubelet as plain processes, every listener on
# 127.0.0.1, all state under one directory. test/support/cluster.ts drives it.
#
#   cluster.sh up DIR      start it (environment below); prints "cluster: ready"
#   cluster.sh down DIR    stop everything started for DIR and undo every host
#                          change; idempotent, safe to run at any point
#   cluster.sh release DIR stop the guard, which releases the host lock (after
#                          `KEEP_LOCK=1 cluster.sh down DIR`, once the caller
#                          has checked the host)
#   cluster.sh guard DIR   (started by up) holds the host lock while the
#                          cluster lives and runs `down` when OWNER_PID is gone
#
# Environment of `up` (saved in DIR/cluster.env for down and guard):
#   KUBE_BIN     directory of kube-apiserver, kube-controller-manager,
#                kube-scheduler, kubelet, kubectl
#   PAUSE_TAR    docker-archive of the pause image (k8s-setup.sh host)
#   LOCK_FILE    host-wide lock: one cluster at a time, because the kubelet
#                changes host-wide sysctls that down restores
#   LOCK_WAIT    seconds to wait for the lock (default 900)
#   HOLD_AFTER_LOCK=1  print "cluster: locked" once the lock is held and wait
#                for a line on stdin before changing anything (the caller
#                records the host's state meanwhile)
#   OWNER_PID    the process whose death tears the cluster down (the test)
#   ETCD_PORT ETCD_PEER_PORT APISERVER_PORT KUBELET_PORT KUBELET_HEALTHZ_PORT
#   KCM_PORT SCHEDULER_PORT    free TCP ports on 127.0.0.1
#
# Host changes and how down undoes them (each recorded by up before it happens):
#   - sysctls the kubelet sets (vm.overcommit_memory, vm.panic_on_oom,
#     kernel.panic, kernel.panic_on_oops, kernel.keys.root_max*): saved to
#     DIR/run/sysctl.orig, written back;
#   - cgroups: the kubelet's cgroup root /$CGROUP_ROOT_NAME is made in every
#     hierarchy by up (cgroup v1 and hybrid hosts were tried; v2 is handled
#     but was not); down kills what is left in it (by PID) and removes it;
#   - mounts (kubelet root dir, pod volumes, container rootfs, shm, netns), all
#     below DIR: unmounted deepest first;
#   - directories the kubelet or containerd create outside DIR whatever their
#     configuration (/var/log/containers for log symlinks, /run/containerd/s
#     for shim sockets, /var/lib/cni for CNI results, /var/lib/kubelet for the
#     device-plugin socket): this cluster's entries deleted, then the
#     directories removed when up found them absent;
#   - iptables: the kubelet is told not to touch them (makeIPTablesUtilChains:
#     false); down still compares the chains with the snapshot up took and
#     removes any KUBE-* chain that appeared.
# Processes: every daemon is started in its own session (a Ctrl-C of the test
# does not hit it) with its PID in DIR/run/NAME.pid, and stopped by that PID;
# container processes are found through the cluster's cgroup and the shims
# through their containerd socket, and killed by PID.
set -euo pipefail

CGROUP_ROOT_NAME="sqlite-s3-restore-k8s"
NODE="localhost"
KUBELET_SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes)
HOST_DIRS=(/var/log/containers /run/containerd /var/lib/cni /var/lib/kubelet /usr/libexec/kubernetes /run/netns /opt/containerd /etc/kubernetes /var/run/kubernetes)
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

cmd="${1:-}"
DIR="${2:-}"
[ -n "$cmd" ] && [ -n "$DIR" ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d' >&2; exit 2; }
DIR="$(cd "$DIR" && pwd)"
RUN="$DIR/run"
LOG="$DIR/logs"
PKI="$DIR/pki"
ETC="$DIR/etc"
SOCK="$RUN/containerd.sock"

log() { printf '[%s] cluster: %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

ctr_() { ctr --address "$SOCK" --namespace k8s.io "$@"; }
# (its discovery cache stays below DIR, not in ~/.kube)
kubectl_() { "$KUBE_BIN/kubectl" --kubeconfig "$DIR/admin.kubeconfig" --cache-dir "$RUN/kubectl-cache" "$@"; }

# ---------------------------------------------------------------- configuration
write_pki() {
  mkdir -p "$PKI"
  (
    cd "$PKI"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt \
      -days 30 -subj "/CN=sqlite-s3-restore-test-ca" 2>/dev/null
    # cert NAME CN O [SANS]: a leaf signed by the CA (server and client use when SANS are given)
    cert() {
      local name=$1 cn=$2 o=$3 san=${4:-} subj
      subj="/CN=$cn"
      [ -z "$o" ] || subj="/O=$o/CN=$cn"
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$name.key" -out "$name.csr" -subj "$subj" 2>/dev/null
      {
        echo "basicConstraints=CA:FALSE"
        echo "keyUsage=digitalSignature,keyEncipherment"
        if [ -n "$san" ]; then echo "extendedKeyUsage=serverAuth,clientAuth"; echo "subjectAltName=$san"
        else echo "extendedKeyUsage=clientAuth"; fi
      } >"$name.ext"
      openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$name.crt" -days 30 -extfile "$name.ext" 2>/dev/null
      rm -f "$name.csr" "$name.ext"
    }
    cert apiserver kube-apiserver "" "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:127.1.0.1"
    cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
    cert admin kubernetes-admin system:masters
    cert controller-manager system:kube-controller-manager ""
    cert scheduler system:kube-scheduler ""
    cert kubelet-client "system:node:$NODE" system:nodes
    cert kubelet-server "$NODE" "" "DNS:$NODE,IP:127.0.0.1"
    # Service-account tokens are signed RS256, as on EKS (an STS checks them against the issuer's JWKS).
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  )
  local who
  for who in admin controller-manager scheduler kubelet-client; do
    cat >"$DIR/$who.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority: $PKI/ca.crt
users:
- name: $who
  user:
    client-certificate: $PKI/$who.crt
    client-key: $PKI/$who.key
contexts:
- name: local
  context: {cluster: local, user: $who}
current-context: local
EOF
  done
}

write_configs() {
  mkdir -p "$ETC/cni/net.d" "$DIR/cni/bin" "$RUN" "$LOG" "$DIR/pod-logs"
  echo 'nameserver 127.0.0.1' >"$ETC/resolv.conf"
  # containerd sets up its own "lo" network with the loopback plugin, and the
  # default network gives each non-hostNetwork pod an isolated eth0.
  ln -sf /usr/lib/cni/loopback "$DIR/cni/bin/loopback"
  ln -sf "$HERE/cni-isolated-eth0" "$DIR/cni/bin/isolated-eth0"
  echo '{"cniVersion":"0.4.0","name":"isolated","plugins":[{"type":"isolated-eth0"}]}' >"$ETC/cni/net.d/10-isolated.conflist"
  cat >"$ETC/containerd.toml" <<EOF
version = 2
root = "$DIR/containerd/root"
state = "$RUN/containerd"
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$DIR/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/ssr-test/pause:1"
  # This host's root lacks CAP_SYS_RESOURCE: the negative oom_score_adj the CRI
  # gives the pause container (-998) makes runc fail; clamp it instead.
  restrict_oom_score_adj = true
  # network namespaces below DIR, not in /run/netns
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "$(command -v runc)"
        # runc's state below DIR, not in /run/containerd/runc
        Root = "$RUN/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$DIR/cni/bin"
    conf_dir = "$ETC/cni/net.d"
EOF
  cat >"$ETC/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $PKI/kubelet-server.crt
tlsPrivateKeyFile: $PKI/kubelet-server.key
cgroupDriver: cgroupfs
# made by up in every hierarchy, removed by down: pods' cgroups stay apart from the host's
cgroupRoot: /$CGROUP_ROOT_NAME
containerRuntimeEndpoint: unix://$SOCK
# no KUBE-FIREWALL / KUBE-KUBELET-CANARY / KUBE-IPTABLES-HINT chains on the host
makeIPTablesUtilChains: false
failSwapOn: false
resolvConf: $ETC/resolv.conf
podLogsDir: $DIR/pod-logs
volumePluginDir: $DIR/kubelet/volume-plugins
clusterDomain: cluster.local
serializeImagePulls: false
# the test's disk may be nearly full: never evict or garbage-collect images for that
evictionHard: {memory.available: "100Mi", nodefs.available: "0%", nodefs.inodesFree: "0%", imagefs.available: "0%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
EOF
}

# ---------------------------------------------------------------- processes
# start NAME CMD...: in its own session (terminal signals do not reach it),
# without the lock's file descriptor, output to logs/NAME.log. The process
# records its own PID (run/NAME.pid, run/started) before it becomes the
# daemon, so that down finds it even if up is killed right after the fork.
start() {
  local name=$1
  shift
  # shellcheck disable=SC2016 # expanded by the inner bash
  setsid bash -c 'echo $$ >"$1/$2.pid"; echo "$$ $2" >>"$1/started"; shift 2; exec "$@"' _ "$RUN" "$name" "$@" \
    </dev/null >"$LOG/$name.log" 2>&1 9>&- &
  log "started $name (pid $!)"
}

# wait_for DESC SECONDS CMD...: polls CMD every 0.25 s. Gives up at once when
# a daemon started so far has exited (a port it could not bind, a bad flag),
# naming it, rather than waiting out the limit for what will never come.
wait_for() {
  local desc=$1 limit=$2 start=$SECONDS
  shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS - start < limit)) || die "$desc not ready after ${limit}s"
    check_daemons "$desc"
    sleep 0.25
  done
  log "$desc ready after $((SECONDS - start))s"
}

alive() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

# check_daemons DESC: dies naming the first daemon started by up that has exited, with its log's tail.
check_daemons() {
  local _pid name
  while read -r _pid name; do
    [ "$name" = guard ] && continue
    alive "$name" && continue
    tail -n 5 "$LOG/$name.log" >&2 2>/dev/null || true
    die "$name exited while waiting for $1 (its log: $LOG/$name.log)"
  done <"$RUN/started"
}

# stop GRACE NAME...: SIGTERM to each by PID, together; SIGKILL to those
# still alive after GRACE seconds.
stop() {
  local grace=$1 name pid i left
  shift
  local -A pids=()
  for name in "$@"; do
    [ -f "$RUN/$name.pid" ] || continue
    pid="$(cat "$RUN/$name.pid")"
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      pids[$name]=$pid
    else
      rm -f "$RUN/$name.pid"
    fi
  done
  for ((i = 0; i < grace * 4; i++)); do
    left=0
    for name in "${!pids[@]}"; do kill -0 "${pids[$name]}" 2>/dev/null && left=1; done
    [ "$left" = 0 ] && break
    sleep 0.25
  done
  for name in "${!pids[@]}"; do
    pid=${pids[$name]}
    if kill -0 "$pid" 2>/dev/null; then
      log "$name (pid $pid) ignored SIGTERM for ${grace}s: SIGKILL"
      kill -9 "$pid" 2>/dev/null || true
      for ((i = 0; i < 20; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    log "stopped $name (pid $pid)"
    rm -f "$RUN/$name.pid"
  done
}

# ---------------------------------------------------------------- host state
# The mount points of the cgroup hierarchies: the single root of a cgroup v2
# host, or one per v1 hierarchy (a hybrid host's v2 mount, "unified", included:
# runc makes containers' cgroups there too).
cgroup_hierarchies() {
  local h
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    echo /sys/fs/cgroup/
  else
    for h in /sys/fs/cgroup/*/; do [ -f "${h}cgroup.procs" ] && echo "$h"; done
  fi
  return 0
}

cgroup_dirs() { # the cluster's cgroup root in every hierarchy where it exists
  local h
  for h in $(cgroup_hierarchies); do
    [ -d "$h$CGROUP_ROOT_NAME" ] && echo "$h$CGROUP_ROOT_NAME"
  done
  return 0
}

make_cgroups() {
  local h
  for h in $(cgroup_hierarchies); do mkdir -p "$h$CGROUP_ROOT_NAME"; done
  # a new v1 cpuset cgroup has no CPUs or memory nodes: give it the parent's
  if [ -f "/sys/fs/cgroup/cpuset/$CGROUP_ROOT_NAME/cpuset.cpus" ]; then
    cat /sys/fs/cgroup/cpuset/cpuset.cpus >"/sys/fs/cgroup/cpuset/$CGROUP_ROOT_NAME/cpuset.cpus"
    cat /sys/fs/cgroup/cpuset/cpuset.mems >"/sys/fs/cgroup/cpuset/$CGROUP_ROOT_NAME/cpuset.mems"
  fi
}

iptables_chains() { # one line per existing chain: FAMILY TABLE CHAIN
  local ipt t
  for ipt in iptables ip6tables; do
    command -v "$ipt" >/dev/null 2>&1 || continue
    for t in filter nat mangle; do
      "$ipt" -t "$t" -S 2>/dev/null | awk -v f="$ipt" -v t="$t" '$1 == "-N" { print f, t, $2 }'
    done
  done
  return 0
}

record_host_state() {
  [ -f "$RUN/sysctl.orig" ] || sysctl -e "${KUBELET_SYSCTLS[@]}" | sed 's/ = /=/' >"$RUN/sysctl.orig"
  if [ ! -f "$RUN/host-dirs.absent" ]; then
    local d
    for d in "${HOST_DIRS[@]}"; do [ -e "$d" ] || echo "$d"; done >"$RUN/host-dirs.absent"
  fi
  [ -f "$RUN/iptables.before" ] || iptables_chains >"$RUN/iptables.before"
}

# ---------------------------------------------------------------- up
up() {
  [ "$(id -u)" = 0 ] || die "needs root (kubelet, containerd)"
  local v
  for v in KUBE_BIN PAUSE_TAR LOCK_FILE OWNER_PID ETCD_PORT ETCD_PEER_PORT APISERVER_PORT KUBELET_PORT \
    KUBELET_HEALTHZ_PORT KCM_PORT SCHEDULER_PORT; do
    [ -n "${!v:-}" ] || die "$v is not set"
  done
  mkdir -p "$RUN" "$LOG"
  for v in KUBE_BIN PAUSE_TAR LOCK_FILE OWNER_PID ETCD_PORT ETCD_PEER_PORT APISERVER_PORT KUBELET_PORT \
    KUBELET_HEALTHZ_PORT KCM_PORT SCHEDULER_PORT; do
    printf '%s=%q\n' "$v" "${!v}"
  done >"$DIR/cluster.env"
  local t0=$SECONDS

  # One cluster per host at a time. The guard inherits the lock and keeps it
  # until the cluster is down again.
  mkdir -p "$(dirname "$LOCK_FILE")"
  exec 9>>"$LOCK_FILE"
  if ! flock -n 9; then
    log "waiting for the host lock $LOCK_FILE (another test cluster is running)"
    flock -w "${LOCK_WAIT:-900}" 9 || die "another test cluster held $LOCK_FILE for ${LOCK_WAIT:-900}s"
  fi
  setsid bash "${BASH_SOURCE[0]}" guard "$DIR" </dev/null >>"$LOG/guard.log" 2>&1 &
  echo $! >"$RUN/guard.pid"
  echo "$! guard" >>"$RUN/started"
  exec 9>&-
  # A failure tears down what was started. A signal just ends up: whoever
  # sent it (the test's stop, or down from the guard) runs down itself.
  echo $$ >"$RUN/up.pid"
  trap 'exit 143' TERM
  trap 'exit 130' INT
  # shellcheck disable=SC2154 # rc is assigned inside the trap
  trap 'rc=$?; rm -f "$RUN/up.pid"; case $rc in 0 | 130 | 143) ;; *) log "up failed: tearing down"; down || true ;; esac' EXIT
  if [ "${HOLD_AFTER_LOCK:-}" = 1 ]; then
    echo "cluster: locked"
    read -r _ || exit 143 # the caller is gone
  fi

  record_host_state
  make_cgroups
  write_pki
  write_configs

  start etcd etcd --name node --data-dir "$DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "node=http://127.0.0.1:$ETCD_PEER_PORT" --listen-metrics-urls ''
  start containerd containerd --config "$ETC/containerd.toml"
  wait_for etcd 60 curl -fsS "http://127.0.0.1:$ETCD_PORT/health"
  wait_for containerd 60 ctr --address "$SOCK" version
  ctr_ images import --no-unpack "$PAUSE_TAR" >/dev/null

  start kube-apiserver "$KUBE_BIN/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --bind-address=127.0.0.1 --secure-port="$APISERVER_PORT" --advertise-address=127.0.0.1 \
    --endpoint-reconciler-type=none --service-cluster-ip-range=127.1.0.0/24 \
    --client-ca-file="$PKI/ca.crt" --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority="$PKI/ca.crt" --kubelet-preferred-address-types=Hostname \
    --service-account-issuer="https://127.0.0.1:$APISERVER_PORT" \
    --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
    --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction --allow-privileged=true \
    --cert-dir="$RUN/apiserver-certs"
  wait_for kube-apiserver 180 kubectl_ get --raw /readyz
  start kube-controller-manager "$KUBE_BIN/kube-controller-manager" \
    --kubeconfig="$DIR/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$DIR/controller-manager.kubeconfig" --authorization-kubeconfig="$DIR/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$KCM_PORT" --leader-elect=false --use-service-account-credentials=true \
    --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
    --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
    --cert-dir="$RUN/kcm-certs" --flex-volume-plugin-dir="$DIR/kcm-volume-plugins"
  # A pod parked as unschedulable is retried on the event that may fix it; when
  # that event is missed, the flush after this duration (default 5 minutes,
  # longer than the checks' time limits) is the only retry.
  start kube-scheduler "$KUBE_BIN/kube-scheduler" \
    --kubeconfig="$DIR/scheduler.kubeconfig" \
    --authentication-kubeconfig="$DIR/scheduler.kubeconfig" --authorization-kubeconfig="$DIR/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" --leader-elect=false \
    --pod-max-in-unschedulable-pods-duration=15s \
    --cert-dir="$RUN/scheduler-certs"
  start kubelet "$KUBE_BIN/kubelet" --config="$ETC/kubelet.yaml" --kubeconfig="$DIR/kubelet-client.kubeconfig" \
    --root-dir="$DIR/kubelet" --cert-dir="$DIR/kubelet/pki" --hostname-override="$NODE"
  wait_for "node $NODE Ready" 180 kubectl_ wait --for=condition=Ready "node/$NODE" --timeout=2s
  wait_for "default ServiceAccount" 120 kubectl_ get serviceaccount default --namespace default
  trap - EXIT
  rm -f "$RUN/up.pid"
  log "ready in $((SECONDS - t0))s"
  echo "cluster: ready"
}

# ---------------------------------------------------------------- down
# PIDs of the processes in the cluster's cgroups (containers, and anything they spawned).
cgroup_pids() {
  local d
  for d in $(cgroup_dirs); do find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null; done | sort -un
}

# PIDs of containerd shims serving this cluster's containerd (their command line names its socket).
shim_pids() {
  local p
  for p in /proc/[0-9]*; do
    tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "-address $SOCK " && echo "${p#/proc/}"
  done
  return 0
}

mounts_below() { # mount points at or below DIR, deepest first
  awk -v d="$DIR" '{ m = $2; gsub(/\\040/, " ", m); if (m == d || index(m, d "/") == 1) print m }' /proc/mounts | sort -r
}

down() {
  [ -d "$RUN" ] || return 0
  # guard and test may both call down (e.g. the test is killed mid-way): one at a time
  exec 8>>"$RUN/down.lock"
  flock 8
  local problems=()

  # 0. an `up` still starting things (the test was stopped or died meanwhile):
  #    it exits at its next command when signalled
  local up_pid
  up_pid="$(cat "$RUN/up.pid" 2>/dev/null || true)"
  if [ -n "$up_pid" ] && [ "$up_pid" != "$$" ] && kill -0 "$up_pid" 2>/dev/null; then
    kill "$up_pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$up_pid" 2>/dev/null || break; sleep 0.25; done
    log "stopped up (pid $up_pid)"
  fi

  # 1. pods: deleted through the API while the kubelet runs, so that it stops
  #    them itself (volumes unmounted, CNI DEL, cgroups removed); bounded, as
  #    the kill below catches whatever is left
  if alive kube-apiserver && alive kubelet && kubectl_ get --raw /readyz >/dev/null 2>&1; then
    kubectl_ delete statefulsets,deployments,replicasets,daemonsets,jobs,cronjobs --all --all-namespaces \
      --wait=false >/dev/null 2>&1 || true
    kubectl_ delete pods --all --all-namespaces --grace-period=1 --wait=false >/dev/null 2>&1 || true
    for _ in $(seq 1 60); do
      [ -z "$(ctr_ tasks ls -q 2>/dev/null)" ] && break
      sleep 0.25
    done
  fi
  # then the kubelet, and every container it left (killed through containerd
  # by ID, then any process still in the cluster's cgroups by PID)
  stop 20 kubelet
  if alive containerd && [ -S "$SOCK" ]; then
    local t
    for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill --signal SIGKILL "$t" >/dev/null 2>&1 || true; done
    for _ in 1 2 3 4 5 6 7 8; do [ -z "$(cgroup_pids)" ] && break; sleep 0.25; done
    for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks delete --force "$t" >/dev/null 2>&1 || true; done
    for t in $(ctr_ containers ls -q 2>/dev/null); do ctr_ containers delete "$t" >/dev/null 2>&1 || true; done
  fi
  local pid
  for pid in $(cgroup_pids); do kill -9 "$pid" 2>/dev/null || true; done

  # 2. the control plane and the stores
  stop 15 kube-scheduler kube-controller-manager kube-apiserver
  stop 15 containerd etcd
  for pid in $(shim_pids); do kill -9 "$pid" 2>/dev/null || true; done

  # 3. host changes
  if [ -f "$RUN/sysctl.orig" ]; then
    # shellcheck disable=SC2046 # one NAME=VALUE per word
    if sysctl -q -w $(cat "$RUN/sysctl.orig") >/dev/null; then
      log "restored sysctls $(tr '\n' ' ' <"$RUN/sysctl.orig")"
      rm -f "$RUN/sysctl.orig"
    else problems+=("sysctls not restored (saved in $RUN/sysctl.orig)"); fi
  fi
  if [ -f "$RUN/iptables.before" ]; then
    local fam tab chain
    while read -r fam tab chain; do
      case "$chain" in KUBE-*) ;; *) continue ;; esac
      log "removing iptables chain $fam -t $tab $chain"
      "$fam" -t "$tab" -S | awk -v c="$chain" '$1 == "-A" && $0 ~ (" -j " c "( |$)") { $1 = ""; print }' |
        while read -r rule; do eval "$fam -t $tab -D $rule" || true; done
      "$fam" -t "$tab" -F "$chain" 2>/dev/null || true
      "$fam" -t "$tab" -X "$chain" 2>/dev/null || problems+=("iptables chain $fam $tab $chain")
    done < <(iptables_chains | grep -vxF -f "$RUN/iptables.before" || true)
    rm -f "$RUN/iptables.before"
  fi
  for pid in $(cgroup_pids); do kill -9 "$pid" 2>/dev/null || true; done
  local d
  for d in $(cgroup_dirs); do
    for _ in 1 2 3 4 5 6 7 8; do
      find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
      [ -d "$d" ] || break
      sleep 0.25
    done
    [ -d "$d" ] && problems+=("cgroup $d")
  done
  local m
  for m in $(mounts_below); do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || problems+=("mount $m"); done
  # Host directories: the kubelet's log symlinks into DIR, the CNI result
  # cache of this cluster's two networks, then every directory left empty
  # among those up found absent.
  [ -d /var/log/containers ] && find /var/log/containers -maxdepth 1 -type l -lname "$DIR/*" -delete 2>/dev/null || true
  [ -d /var/lib/cni/results ] && find /var/lib/cni/results -maxdepth 1 -type f \
    \( -name 'isolated-*' -o -name 'cni-loopback-*' \) -delete 2>/dev/null || true
  if [ -f "$RUN/host-dirs.absent" ]; then
    while read -r d; do
      [ -e "$d" ] || continue
      # what is left there: sockets (the kubelet's device-plugin socket, whose
      # path is fixed) and empty directories
      find "$d" -depth \( -type s -o -type d -empty \) -delete 2>/dev/null || true
      if [ -e "$d" ]; then problems+=("$d (created while the cluster ran, not empty)")
      else log "removed $d (created while the cluster ran)"; fi
    done <"$RUN/host-dirs.absent"
    rm -f "$RUN/host-dirs.absent"
  fi

  # 4. the guard (unless this is the guard), which releases the host lock;
  #    KEEP_LOCK=1 leaves that to `release`
  if [ "${KEEP_LOCK:-}" != 1 ] && [ -f "$RUN/guard.pid" ] && [ "$(cat "$RUN/guard.pid")" != "${GUARD_PID:-}" ]; then
    stop 5 guard
  fi

  # 5. proof: nothing of this cluster left running or mounted
  local n
  if [ -f "$RUN/started" ]; then
    while read -r pid n; do
      # alive, and still the process started under that PID (its command names it)
      [ "$pid" = "${GUARD_PID:-}" ] && continue
      [ "$n" = guard ] && [ "${KEEP_LOCK:-}" = 1 ] && continue
      if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$n"; then
        problems+=("process $n (pid $pid)")
      fi
    done <"$RUN/started"
  fi
  [ -z "$(shim_pids)" ] || problems+=("containerd shims $(shim_pids | tr '\n' ' ')")
  [ -z "$(mounts_below)" ] || problems+=("mounts $(mounts_below | tr '\n' ' ')")
  if [ "${#problems[@]}" -gt 0 ]; then
    log "down left: ${problems[*]}"
    return 1
  fi
  log "down: no process, mount, cgroup or host change left"
}

# ---------------------------------------------------------------- guard
guard() {
  GUARD_PID=$$
  # shellcheck disable=SC1091
  . "$DIR/cluster.env"
  local stopping=0
  trap 'stopping=1' TERM INT
  while [ "$stopping" = 0 ] && kill -0 "$OWNER_PID" 2>/dev/null; do
    sleep 1 9>&- &
    wait $! || true
  done
  if [ "$stopping" = 0 ]; then
    log "owner process $OWNER_PID is gone: tearing the cluster down"
    down || true
  fi
  rm -f "$RUN/guard.pid"
}

case "$cmd" in
  up) up ;;
  down)
    # shellcheck disable=SC1091
    [ -f "$DIR/cluster.env" ] && . "$DIR/cluster.env"
    down
    ;;
  release) if [ -f "$RUN/guard.pid" ]; then stop 5 guard; fi ;;
  guard) guard ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d' >&2; exit 2 ;;
esac
