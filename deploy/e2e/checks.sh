#!/usr/bin/env bash
# The end-to-end checks of the example chart on a real cluster, shared by
# deploy/kind/run-e2e.sh (kind, MinIO in the cluster) and test/e2e/k8s.test.ts
# (the project's own single-node cluster, MinIO on the host's 127.0.0.1), so
# that both prove the same things with the same commands:
#
#   checks.sh restore RELEASE       helm install; the restore init container
#                                   exits 0 ("restored: DB"), the app starts
#                                   after it and reads the restored rows; the
#                                   marker (read inside the pod) says
#                                   restored; the database's logical digest
#                                   equals EXPECTED_DIGEST
#   checks.sh restart RELEASE       delete the pod, volume kept: the next pod's
#                                   restore is skipped, same digest
#   checks.sh fresh-volume RELEASE  scale to 0, delete the volume claim, scale
#                                   to 1: a new volume, restored again
#   checks.sh fail RELEASE CASE     CASE wrong-keys (77, "auth: ..."),
#                                   no-backup (66, "no-backup: ...") or
#                                   corrupt (65, "corrupt: ..."): helm install;
#                                   the exit code and termination message come
#                                   from the pod's status through the API; the
#                                   restore was retried and the app never
#                                   started
#   checks.sh uninstall RELEASE     helm uninstall and delete its volume claim
#   checks.sh all                   all of the above, as run-e2e.sh runs them
#
# Each check ends with "result KEY=VALUE" lines (what it observed) and
# "PASS: ..."; a failed check prints "FAIL: ..." and exits 1.
#
# Environment:
#   KUBECTL        kubectl command with its context/kubeconfig (word-split:
#                  no spaces inside arguments), e.g. "kubectl --context kind-e2e"
#   HELM           helm command likewise, e.g. "helm --kube-context kind-e2e"
#   NAMESPACE      namespace of the releases (must exist)
#   CHART          the example chart directory (dependencies built)
#   IMAGE_REPOSITORY, IMAGE_TAG   the image under test
#   IMAGE_PULL_POLICY             default IfNotPresent
#   S3_ENDPOINT    the S3 endpoint as the pods reach it
#   BUCKET         bucket holding the prefixes below
#   GOOD_PREFIX    a Litestream backup; EXPECTED_DIGEST is its database's digest
#   EMPTY_PREFIX   a prefix without a backup
#   CORRUPT_PREFIX a damaged backup (restore must fail with 65)
#   CREDENTIALS_SECRET        Secret with AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY
#   WRONG_CREDENTIALS_SECRET  the same key id with a wrong secret key
#   EXPECTED_DIGEST           logical digest (deploy/e2e/pod-digest.cjs)
#   DB_PATH        default /data/app.db
#   HELM_EXTRA_ARGS           more helm arguments (word-split), e.g.
#                             "--set hostNetwork=true"
#   TIMEOUT        seconds per wait (default 240)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DB_PATH="${DB_PATH:-/data/app.db}"
TIMEOUT="${TIMEOUT:-240}"
IMAGE_PULL_POLICY="${IMAGE_PULL_POLICY:-IfNotPresent}"

fail() { printf 'FAIL: %s\n' "$*"; exit 1; }
pass() { printf 'PASS: %s\n' "$*"; }
result() { printf 'result %s=%s\n' "$1" "$2"; }
say() { printf '[%s] %s\n' "$(date +%T)" "$*"; }
need() {
  local v
  for v in "$@"; do [ -n "${!v:-}" ] || fail "$v is not set"; done
}

need KUBECTL HELM NAMESPACE
# shellcheck disable=SC2086 # word-split on purpose: the commands carry their flags
k() { $KUBECTL --namespace "$NAMESPACE" "$@"; }
# shellcheck disable=SC2086
h() { $HELM --namespace "$NAMESPACE" "$@"; }

# The release's pod (a StatefulSet of one: <fullname>-0), by its instance label.
pod_of() {
  k get pods -l "app.kubernetes.io/instance=$1" -o jsonpath='{.items[0].metadata.name}' 2>/dev/null || true
}
# The release's volume claims (volumeClaimTemplate "data").
claims_of() {
  k get pvc -l "app.kubernetes.io/instance=$1" -o name 2>/dev/null || true
}
# field POD JSONPATH: one field of the pod, empty when absent.
field() { k get pod "$1" -o jsonpath="$2" 2>/dev/null || true; }
restore_field() { field "$1" "{.status.initContainerStatuses[?(@.name==\"restore\")]$2}"; }
app_field() { field "$1" "{.status.containerStatuses[?(@.name==\"app\")]$2}"; }

# wait_until DESC CMD...: polls CMD every 2 s for TIMEOUT seconds.
wait_until() {
  local desc=$1 start=$SECONDS
  shift
  until "$@"; do
    ((SECONDS - start < TIMEOUT)) || { diagnose; fail "timed out after ${TIMEOUT}s waiting for $desc"; }
    sleep 2
  done
}

diagnose() {
  local p
  k get pods,pvc -o wide || true
  for p in $(k get pods -o name 2>/dev/null); do
    k describe "$p" | tail -n 30 || true
    k logs "$p" -c restore --tail=20 || true
  done
}

install() { # RELEASE PREFIX SECRET [helm args...]
  local release=$1 prefix=$2 secret=$3
  shift 3
  need CHART IMAGE_REPOSITORY IMAGE_TAG S3_ENDPOINT BUCKET
  say "helm install $release (s3://$BUCKET/$prefix)"
  # shellcheck disable=SC2086
  h upgrade --install "$release" "$CHART" \
    -f "$CHART/examples/minio.yaml" \
    --set "restore.image.repository=$IMAGE_REPOSITORY" --set "restore.image.tag=$IMAGE_TAG" \
    --set "restore.image.pullPolicy=$IMAGE_PULL_POLICY" \
    --set "restore.s3.endpoint=$S3_ENDPOINT" \
    --set "restore.replicaUrl=s3://$BUCKET/$prefix" \
    --set "restore.credentials.existingSecret=$secret" \
    --set "restore.database.path=$DB_PATH" \
    --set "restore.verify=full" \
    ${HELM_EXTRA_ARGS:-} "$@"
}

pod_ready() { [ "$(field "$1" '{.status.conditions[?(@.type=="Ready")].status}')" = True ]; }
pod_created() { [ -n "$(pod_of "$1")" ]; }

# check_restored RELEASE OUTCOME: the release's pod after a successful restore.
check_restored() {
  local release=$1 outcome=$2 pod
  need EXPECTED_DIGEST
  wait_until "a pod of $release" pod_created "$release"
  pod="$(pod_of "$release")"
  wait_until "pod $pod Ready" pod_ready "$pod"
  local code message finished started restarts
  code="$(restore_field "$pod" '.state.terminated.exitCode')"
  message="$(restore_field "$pod" '.state.terminated.message')"
  finished="$(restore_field "$pod" '.state.terminated.finishedAt')"
  started="$(app_field "$pod" '.state.running.startedAt')"
  restarts="$(restore_field "$pod" '.restartCount')"
  result pod "$pod"
  result restore.exitCode "$code"
  result restore.message "$message"
  result restore.finishedAt "$finished"
  result restore.restartCount "$restarts"
  result app.startedAt "$started"
  [ "$code" = 0 ] || fail "restore init container of $pod exited '$code' (message: $message)"
  [ "$message" = "$outcome: $DB_PATH" ] || fail "termination message '$message', expected '$outcome: $DB_PATH'"
  [ "$restarts" = 0 ] || fail "the restore ran $((restarts + 1)) times"
  [ -n "$started" ] && [ -n "$finished" ] || fail "no start time of the app ($started) or end time of the restore ($finished)"
  [[ ! "$started" < "$finished" ]] || fail "app started at $started, before the restore finished at $finished"
  pass "$pod: restore exited 0 ($message) at $finished; the app started at $started"

  # Inside the pod, with the image's node: the marker and the logical digest.
  local inside
  inside="$(k exec "$pod" -c app -- /nodejs/bin/node -e "$(cat "$HERE/pod-digest.cjs")" "$DB_PATH")" \
    || fail "reading the marker and the database inside $pod failed"
  printf '%s\n' "$inside" | sed 's/^/result pod./'
  local got_outcome got_digest tables
  got_outcome="$(printf '%s\n' "$inside" | sed -n 's/^marker\.outcome=//p')"
  got_digest="$(printf '%s\n' "$inside" | sed -n 's/^digest=//p')"
  tables="$(printf '%s\n' "$inside" | sed -n 's/^tables=//p')"
  [ "$got_outcome" = "$outcome" ] || fail "marker outcome '$got_outcome' in $pod, expected '$outcome'"
  [ "$got_digest" = "$EXPECTED_DIGEST" ] || fail "database digest $got_digest in $pod, expected $EXPECTED_DIGEST (the source's)"
  pass "$pod: marker outcome $got_outcome; database digest $got_digest = the source's ($tables)"

  # The app itself read the restored rows: its first report logs each table's row count.
  local line="" t name count
  for _ in $(seq 1 30); do
    line="$(k logs "$pod" -c app 2>/dev/null | grep -m1 '"msg":"database"' || true)"
    [ -n "$line" ] && break
    sleep 1
  done
  [ -n "$line" ] || fail "the app in $pod logged no database report"
  result app.report "$line"
  for t in ${tables//,/ }; do
    name="${t%:*}"
    count="${t##*:}"
    case "$line" in *"\"$name\":$count,"* | *"\"$name\":$count}"*) ;; *) fail "the app reported '$line', expected $name=$count" ;; esac
  done
  pass "$pod: the app read the restored rows ($tables)"
}

cmd_restore() {
  local release=${1:?release}
  need GOOD_PREFIX CREDENTIALS_SECRET
  install "$release" "$GOOD_PREFIX" "$CREDENTIALS_SECRET" --wait --timeout "${TIMEOUT}s"
  check_restored "$release" restored
}

pod_replaced() { local p; p="$(pod_of "$1")"; [ -n "$p" ] && [ "$(field "$p" '{.metadata.uid}')" != "$2" ]; }

cmd_restart() {
  local release=${1:?release} pod uid
  pod="$(pod_of "$release")"
  [ -n "$pod" ] || fail "no pod of $release"
  uid="$(field "$pod" '{.metadata.uid}')"
  say "deleting pod $pod (its volume claim stays)"
  k delete pod "$pod" --wait=true --timeout "${TIMEOUT}s" >/dev/null
  wait_until "a new pod of $release" pod_replaced "$release" "$uid"
  check_restored "$release" skipped
}

no_pod() { [ -z "$(pod_of "$1")" ]; }
no_claim() { [ -z "$(claims_of "$1")" ]; }

cmd_fresh_volume() {
  local release=${1:?release} sts claims
  sts="$(k get statefulset -l "app.kubernetes.io/instance=$release" -o name)"
  [ -n "$sts" ] || fail "no StatefulSet of $release"
  claims="$(claims_of "$release")"
  [ -n "$claims" ] || fail "no volume claim of $release"
  say "scaling $sts to 0, deleting $(echo "$claims" | tr '\n' ' '), scaling back to 1"
  k scale "$sts" --replicas=0 >/dev/null
  wait_until "the pod of $release to go" no_pod "$release"
  # shellcheck disable=SC2086
  k delete $claims --wait=true --timeout "${TIMEOUT}s" >/dev/null
  wait_until "the claims of $release to go" no_claim "$release"
  k scale "$sts" --replicas=1 >/dev/null
  check_restored "$release" restored
}

# The restore container's last failed run: "CODE MESSAGE", from lastState
# (after a restart) or state (the first failure), as an operator reads it.
failed_run() {
  local code message
  code="$(restore_field "$1" '.lastState.terminated.exitCode')"
  message="$(restore_field "$1" '.lastState.terminated.message')"
  if [ -z "$code" ]; then
    code="$(restore_field "$1" '.state.terminated.exitCode')"
    message="$(restore_field "$1" '.state.terminated.message')"
  fi
  [ -n "$code" ] && [ "$code" != 0 ] && printf '%s %s' "$code" "$message"
}
retried() { # the kubelet restarted the failed restore at least once
  local pod r
  pod="$(pod_of "$1")"
  [ -n "$pod" ] || return 1
  r="$(restore_field "$pod" '.restartCount')"
  [ -n "$r" ] && [ "$r" -ge 1 ] && failed_run "$pod" >/dev/null
}

cmd_fail() {
  local release=${1:?release} case=${2:?case} prefix secret want_code want_kind
  need CREDENTIALS_SECRET WRONG_CREDENTIALS_SECRET GOOD_PREFIX EMPTY_PREFIX CORRUPT_PREFIX
  case "$case" in
    wrong-keys) prefix=$GOOD_PREFIX secret=$WRONG_CREDENTIALS_SECRET want_code=77 want_kind=auth ;;
    no-backup) prefix=$EMPTY_PREFIX secret=$CREDENTIALS_SECRET want_code=66 want_kind=no-backup ;;
    corrupt) prefix=$CORRUPT_PREFIX secret=$CREDENTIALS_SECRET want_code=65 want_kind=corrupt ;;
    *) fail "unknown case $case (wrong-keys, no-backup, corrupt)" ;;
  esac
  install "$release" "$prefix" "$secret"
  wait_until "a failed, retried restore in $release" retried "$release"
  local pod run code message
  pod="$(pod_of "$release")"
  run="$(failed_run "$pod")"
  code="${run%% *}"
  message="${run#* }"
  result pod "$pod"
  result restore.exitCode "$code"
  result restore.message "$message"
  result restore.restartCount "$(restore_field "$pod" '.restartCount')"
  [ "$code" = "$want_code" ] || fail "$case: restore exited $code ($message), expected $want_code"
  case "$message" in "$want_kind: "?*) ;; *) fail "$case: termination message '$message' should start with '$want_kind: '" ;; esac
  [ "${#message}" -le 4096 ] && [ "$(printf '%s' "$message" | wc -l)" = 0 ] || fail "$case: the message is not one line"
  pass "$pod: restore exited $code: $message"

  # The app never started: waiting in PodInitializing, never running, never restarted, no logs.
  local waiting running terminated app_restarts phase
  waiting="$(app_field "$pod" '.state.waiting.reason')"
  running="$(app_field "$pod" '.state.running.startedAt')"
  terminated="$(app_field "$pod" '.lastState.terminated.exitCode')"
  app_restarts="$(app_field "$pod" '.restartCount')"
  phase="$(field "$pod" '{.status.phase}')"
  result app.waiting "$waiting"
  result app.restartCount "$app_restarts"
  result pod.phase "$phase"
  [ "$waiting" = PodInitializing ] || fail "$case: app container state '$waiting', expected waiting in PodInitializing"
  [ -z "$running" ] && [ -z "$terminated" ] && [ "$app_restarts" = 0 ] || fail "$case: the app container ran (started $running, exit $terminated, restarts $app_restarts)"
  [ "$phase" = Pending ] || fail "$case: pod phase $phase, expected Pending"
  ! k logs "$pod" -c app >/dev/null 2>&1 || fail "$case: the app container has logs"
  pass "$pod: the app never started (waiting: $waiting, phase $phase)"
}

cmd_uninstall() {
  local release=${1:?release} claims
  h uninstall "$release" --wait --timeout "${TIMEOUT}s" >/dev/null 2>&1 || true
  wait_until "the pod of $release to go" no_pod "$release"
  claims="$(claims_of "$release")"
  # shellcheck disable=SC2086
  [ -z "$claims" ] || k delete $claims --wait=true --timeout "${TIMEOUT}s" >/dev/null
  pass "$release uninstalled"
}

cmd_all() {
  cmd_restore app
  cmd_restart app
  cmd_fresh_volume app
  cmd_uninstall app
  local c
  for c in wrong-keys no-backup corrupt; do
    cmd_fail "bad-$c" "$c"
    cmd_uninstall "bad-$c"
  done
  say "all checks passed"
}

case "${1:-}" in
  restore) cmd_restore "${2:-}" ;;
  restart) cmd_restart "${2:-}" ;;
  fresh-volume) cmd_fresh_volume "${2:-}" ;;
  fail) cmd_fail "${2:-}" "${3:-}" ;;
  uninstall) cmd_uninstall "${2:-}" ;;
  all) cmd_all ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d' >&2; exit 2 ;;
esac
