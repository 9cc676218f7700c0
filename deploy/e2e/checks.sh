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
#   checks.sh irsa-setup            IRSA without static keys: an STS
#                                   (deploy/e2e/sts.cjs, in a pod of the
#                                   image) that trusts the cluster's own OIDC
#                                   issuer, read anonymously (a
#                                   ClusterRoleBinding of
#                                   system:service-account-issuer-discovery to
#                                   system:unauthenticated), and mints MinIO
#                                   credentials limited to reading BUCKET
#   checks.sh irsa RELEASE          helm install with the chart's IRSA mode (a
#                                   projected token for sts.amazonaws.com,
#                                   AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE)
#                                   and no static key anywhere in the release:
#                                   the restore gets its credentials from web
#                                   identity through the STS and restores
#                                   GOOD_PREFIX (as "restore" checks)
#   checks.sh irsa-fail RELEASE CASE  wrong-audience (the token projected for
#                                   another audience) or bad-signature (a real
#                                   token re-signed with a key of our own):
#                                   the STS refuses it, the restore exits 77
#                                   (read from the pod status), the app never
#                                   starts
#   checks.sh irsa-down             remove the STS and the ClusterRoleBinding
#   checks.sh loop RELEASE PREFIX IMAGE V   the whole loop from one chart: a
#                                   release with the Litestream sidecar (IMAGE,
#                                   config format V: v0.3 or v0.5) on an empty
#                                   PREFIX (first boot); the app writes (WAL
#                                   mode, deploy/e2e/pod-write.cjs), the
#                                   sidecar replicates, the release's verify
#                                   Job passes on that backup; the pod and its
#                                   volume are deleted and the next pod's
#                                   restore yields the same logical digest;
#                                   twice (the second round writes into the
#                                   restored database)
#   checks.sh verify RELEASE CASE   the chart's verify CronJob, run as a Job
#                                   (kubectl create job --from=cronjob/...):
#                                   good (GOOD_PREFIX: Complete), corrupt
#                                   (CORRUPT_PREFIX: exit 65 fails the Job at
#                                   once by its podFailurePolicy, one pod) or
#                                   unreachable (a store nobody listens at:
#                                   exit 75, retried by a new pod, then
#                                   BackoffLimitExceeded)
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
#   IRSA_ROLE_ARN  the role of the IRSA checks (default
#                  arn:aws:iam::123456789012:role/sqlite-s3-restore-e2e)
#   STS_CREDENTIALS_SECRET    the STS's own MinIO keys (default CREDENTIALS_SECRET)
#   STS_PORT       default 8080
#   STS_HOST_NETWORK          true: the STS pod in the node's network,
#                  listening on 127.0.0.1:STS_PORT (default false: a Service)
#   STS_ENDPOINT   the STS as the pods reach it (default
#                  http://127.0.0.1:STS_PORT with STS_HOST_NETWORK, else
#                  http://sts.NAMESPACE.svc.cluster.local:STS_PORT)
#   LOOP_ROWS      rows the app writes per round of "loop" (default 300)
#   UNREACHABLE_ENDPOINT      an S3 endpoint where nothing listens (default
#                  http://127.0.0.1:9)
#   LITESTREAM_V3_IMAGE, LITESTREAM_V5_IMAGE   Litestream 0.3.x / 0.5.x images
#                  for "all" (default litestream/litestream:0.3.13 and :0.5.18)
#   LOOP_PREFIX    where "all" lets the sidecars write (default loop-RANDOM)
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

# The release's pod (a StatefulSet of one: <fullname>-0), by its instance
# label; not the pods of its verify Jobs (they carry a component label).
pod_of() {
  k get pods -l "app.kubernetes.io/instance=$1,!app.kubernetes.io/component" -o jsonpath='{.items[0].metadata.name}' 2>/dev/null || true
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
    --set "restore.litestream.image.pullPolicy=$IMAGE_PULL_POLICY" \
    --set restore.litestream.enabled=false --set verifyCronJob.enabled=false \
    ${HELM_EXTRA_ARGS:-} "$@" || { diagnose; fail "helm install $release failed"; }
}

pod_ready() { [ "$(field "$1" '{.status.conditions[?(@.type=="Ready")].status}')" = True ]; }
pod_created() { [ -n "$(pod_of "$1")" ]; }

# check_restored RELEASE OUTCOME: the release's pod after a successful restore
# to a database whose logical digest is EXPECTED_DIGEST.
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
  inside="$(k exec "$pod" -c app -- /nodejs/bin/node -e "$(cat "$HERE/pod-digest.cjs")" "$DB_PATH" "" "${DIGEST_SKIP_TABLES:-}")" \
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
  check_failed "$release" "$case" "$want_code" "$want_kind"
}

# check_failed RELEASE CASE CODE KIND: the restore of the release's pod failed
# with CODE and a "KIND: ..." message (pod status, after the kubelet's retry);
# the app never started.
check_failed() {
  local release=$1 case=$2 want_code=$3 want_kind=$4
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

# ---------------------------------------------------------------- IRSA

IRSA_ROLE_ARN="${IRSA_ROLE_ARN:-arn:aws:iam::123456789012:role/sqlite-s3-restore-e2e}"
STS_PORT="${STS_PORT:-8080}"
STS_HOST_NETWORK="${STS_HOST_NETWORK:-false}"
if [ "$STS_HOST_NETWORK" = true ]; then
  STS_ENDPOINT="${STS_ENDPOINT:-http://127.0.0.1:$STS_PORT}"
else
  STS_ENDPOINT="${STS_ENDPOINT:-http://sts.$NAMESPACE.svc.cluster.local:$STS_PORT}"
fi
DISCOVERY_BINDING=sqlite-s3-restore-e2e-oidc-discovery

sts_ready() { [ "$(k get deployment sts -o jsonpath='{.status.readyReplicas}' 2>/dev/null)" = 1 ]; }

cmd_irsa_setup() {
  need IMAGE_REPOSITORY IMAGE_TAG S3_ENDPOINT BUCKET
  local issuer secret=${STS_CREDENTIALS_SECRET:-${CREDENTIALS_SECRET:-}} listen=0.0.0.0 probe_host='""'
  [ -n "$secret" ] || fail "STS_CREDENTIALS_SECRET (or CREDENTIALS_SECRET) is not set"
  # The issuer as the API server announces it (the tokens' iss).
  issuer="$($KUBECTL get --raw /.well-known/openid-configuration | sed -n 's/.*"issuer":"\([^"]*\)".*/\1/p')"
  [ -n "$issuer" ] || fail "the API server publishes no OIDC discovery document"
  result oidc.issuer "$issuer"
  # AWS reads the discovery document and the keys without credentials.
  $KUBECTL apply -f - >/dev/null <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: $DISCOVERY_BINDING
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: system:service-account-issuer-discovery
subjects:
  - apiGroup: rbac.authorization.k8s.io
    kind: Group
    name: system:unauthenticated
EOF
  k create configmap sts-script --from-file=sts.cjs="$HERE/sts.cjs" --dry-run=client -o yaml | k apply -f - >/dev/null
  if [ "$STS_HOST_NETWORK" = true ]; then listen=127.0.0.1 probe_host=127.0.0.1; fi
  # The role's trust: tokens of this issuer for sts.amazonaws.com, from any
  # service account of the namespace. Its credentials may only read BUCKET.
  local policy
  policy="{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"s3:ListBucket\",\"s3:GetBucketLocation\"],\"Resource\":[\"arn:aws:s3:::$BUCKET\"]},{\"Effect\":\"Allow\",\"Action\":[\"s3:GetObject\"],\"Resource\":[\"arn:aws:s3:::$BUCKET/*\"]}]}"
  k apply -f - >/dev/null <<EOF
apiVersion: apps/v1
kind: Deployment
metadata:
  name: sts
  labels: {app: sts}
spec:
  replicas: 1
  selector:
    matchLabels: {app: sts}
  template:
    metadata:
      labels: {app: sts}
    spec:
      hostNetwork: $STS_HOST_NETWORK
      automountServiceAccountToken: false
      securityContext: {runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: {type: RuntimeDefault}}
      containers:
        - name: sts
          image: "$IMAGE_REPOSITORY:$IMAGE_TAG"
          imagePullPolicy: $IMAGE_PULL_POLICY
          command: [/nodejs/bin/node, /sts/sts.cjs]
          env:
            - {name: PORT, value: "$STS_PORT"}
            - {name: HOST, value: "$listen"}
            - {name: OIDC_ISSUER, value: "$issuer"}
            - {name: OIDC_CA_FILE, value: /ca/ca.crt}
            - {name: AUDIENCE, value: sts.amazonaws.com}
            - {name: ROLE_ARN, value: "$IRSA_ROLE_ARN"}
            - {name: ROLE_SUBJECT, value: "system:serviceaccount:$NAMESPACE:*"}
            - {name: ROLE_POLICY, value: '$policy'}
            - {name: MINIO_ENDPOINT, value: "$S3_ENDPOINT"}
            - {name: DURATION_SECONDS, value: "900"}
          envFrom: [{secretRef: {name: "$secret"}}]
          # Ready once it has read the issuer's keys (anonymously).
          readinessProbe:
            httpGet: {path: /healthz, port: $STS_PORT, host: $probe_host}
            periodSeconds: 1
          securityContext: {readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
          volumeMounts:
            - {name: script, mountPath: /sts, readOnly: true}
            - {name: ca, mountPath: /ca, readOnly: true}
      volumes:
        - {name: script, configMap: {name: sts-script}}
        # The cluster CA, which signed the API server's (the issuer's) certificate.
        - {name: ca, configMap: {name: kube-root-ca.crt}}
EOF
  if [ "$STS_HOST_NETWORK" != true ]; then
    k apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Service
metadata:
  name: sts
spec:
  selector: {app: sts}
  ports: [{port: $STS_PORT, targetPort: $STS_PORT}]
EOF
  fi
  wait_until "the STS to read the issuer's keys" sts_ready
  result sts.endpoint "$STS_ENDPOINT"
  local logs
  logs="$(k logs deployment/sts)"
  result sts.keys "$(grep -m1 '"event":"keys"' <<<"$logs" || true)"
  pass "STS at $STS_ENDPOINT trusts $issuer (keys read anonymously) for $IRSA_ROLE_ARN"
}

# install_irsa RELEASE [helm args...]: a release whose only AWS identity is web identity.
install_irsa() {
  local release=$1
  shift
  need GOOD_PREFIX
  install "$release" "$GOOD_PREFIX" "" \
    --set "restore.irsa.roleArn=$IRSA_ROLE_ARN" \
    --set "restore.extraEnv[0].name=AWS_ENDPOINT_URL_STS" --set "restore.extraEnv[0].value=$STS_ENDPOINT" \
    "$@"
}

sts_logs_since() { k logs deployment/sts --since-time="$1" 2>/dev/null || true; }

# No static key anywhere in the release: not in its manifest, not in its pod.
check_no_static_keys() {
  local release=$1 pod=$2 manifest names
  manifest="$(h get manifest "$release")"
  if printf '%s' "$manifest" | grep -Eq 'AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN|secretKeyRef|secretRef'; then
    fail "$release: its manifest holds a static key or a Secret reference"
  fi
  names="$(field "$pod" '{range .spec.initContainers[*]}{.env[*].name}{" "}{.envFrom}{" "}{end}{range .spec.containers[*]}{.env[*].name}{" "}{.envFrom}{" "}{end}')"
  case "$names" in *AWS_ACCESS_KEY_ID* | *AWS_SECRET_ACCESS_KEY* | *secretRef*) fail "$pod: static keys in the environment: $names" ;; esac
  pass "$release: no static key in the release or its pod"
}

cmd_irsa() {
  local release=${1:?release} since pod env issued
  since="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  install_irsa "$release" --set restore.irsa.tokenProjection.enabled=true --wait --timeout "${TIMEOUT}s"
  check_restored "$release" restored
  pod="$(pod_of "$release")"
  check_no_static_keys "$release" "$pod"
  env="$(field "$pod" '{range .spec.initContainers[?(@.name=="restore")].env[*]}{.name}={.value}{" "}{end}')"
  result restore.awsEnv "$(printf '%s' "$env" | tr ' ' '\n' | grep -E '^AWS_' | tr '\n' ' ')"
  case "$env" in *"AWS_ROLE_ARN=$IRSA_ROLE_ARN "*) ;; *) fail "AWS_ROLE_ARN is not $IRSA_ROLE_ARN in $pod" ;; esac
  case "$env" in *"AWS_WEB_IDENTITY_TOKEN_FILE=/var/run/secrets/eks.amazonaws.com/serviceaccount/token "*) ;; *) fail "no AWS_WEB_IDENTITY_TOKEN_FILE in $pod" ;; esac
  result restore.tokenAudience "$(field "$pod" '{.spec.volumes[?(@.name=="aws-iam-token")].projected.sources[0].serviceAccountToken.audience}')"
  # The tool says where its credentials came from; the STS, whom it trusted.
  # Read once, then searched: with pipefail, `k logs | grep -q` fails when grep
  # stops at its match while kubectl is still writing (SIGPIPE).
  local logs
  logs="$(k logs "$pod" -c restore)"
  result restore.credentials "$(grep -m1 '"event":"credentials"' <<<"$logs" || true)"
  grep -q '"event":"credentials","source":"web-identity","how":"reported by the SDK"' <<<"$logs" \
    || fail "$pod: the restore did not report web-identity credentials"
  issued="$(sts_logs_since "$since" | grep '"event":"issued"' | grep -F "\"sub\":\"system:serviceaccount:$NAMESPACE:" | tail -n1)"
  [ -n "$issued" ] || fail "the STS issued no credentials to a service account of $NAMESPACE"
  result sts.issued "$issued"
  pass "$pod: restored with web identity credentials"
}

# A real service-account token for sts.amazonaws.com, re-signed with a key of our own.
forged_token() {
  local token tmp sig
  token="$(k create token default --audience sts.amazonaws.com --duration 1h)"
  tmp="$(mktemp -d)"
  openssl genrsa -out "$tmp/key.pem" 2048 2>/dev/null
  sig="$(printf '%s' "${token%.*}" | openssl dgst -sha256 -sign "$tmp/key.pem" | openssl base64 -A | tr '+/' '-_' | tr -d '=')"
  rm -rf "$tmp"
  printf '%s.%s' "${token%.*}" "$sig"
}

cmd_irsa_fail() {
  local release=${1:?release} case=${2:?case} since reason
  since="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  case "$case" in
    wrong-audience)
      reason='Incorrect token audience'
      install_irsa "$release" --set restore.irsa.tokenProjection.enabled=true \
        --set restore.irsa.tokenProjection.audience=https://kubernetes.default.svc ;;
    bad-signature)
      reason='signature does not verify'
      k create secret generic "$release-token" --from-literal=token="$(forged_token)" --dry-run=client -o yaml | k apply -f - >/dev/null
      # What the webhook would inject, set by hand, pointing at the forged token.
      install_irsa "$release" \
        --set "restore.extraEnv[1].name=AWS_ROLE_ARN" --set "restore.extraEnv[1].value=$IRSA_ROLE_ARN" \
        --set "restore.extraEnv[2].name=AWS_WEB_IDENTITY_TOKEN_FILE" --set "restore.extraEnv[2].value=/var/run/secrets/forged/token" \
        --set "restore.extraVolumes[0].name=forged" --set "restore.extraVolumes[0].secret.secretName=$release-token" \
        --set "restore.extraVolumeMounts[0].name=forged" --set "restore.extraVolumeMounts[0].mountPath=/var/run/secrets/forged" ;;
    *) fail "unknown case $case (wrong-audience, bad-signature)" ;;
  esac
  check_failed "$release" "$case" 77 auth
  local pod refused
  pod="$(pod_of "$release")"
  check_no_static_keys "$release" "$pod"
  refused="$(sts_logs_since "$since" | grep '"event":"refused"' | grep -F "$reason" | tail -n1)"
  [ -n "$refused" ] || fail "$case: the STS logged no refusal for '$reason'"
  result sts.refused "$refused"
  pass "$case: the STS refused the token ($reason)"
}

cmd_irsa_down() {
  k delete deployment sts --ignore-not-found --wait=true >/dev/null
  k delete service/sts configmap/sts-script --ignore-not-found >/dev/null
  $KUBECTL delete clusterrolebinding "$DISCOVERY_BINDING" --ignore-not-found >/dev/null
  pass "the STS and $DISCOVERY_BINDING removed"
}

# ---------------------------------------------------------------- the backup loop

# pod_digest POD: "DIGEST TABLES" of the database inside the pod.
pod_digest() {
  local inside
  inside="$(k exec "$1" -c app -- /nodejs/bin/node -e "$(cat "$HERE/pod-digest.cjs")" "$DB_PATH" "" "${DIGEST_SKIP_TABLES:-}")" || fail "reading the database in $1 failed"
  printf '%s %s' "$(printf '%s\n' "$inside" | sed -n 's/^digest=//p')" "$(printf '%s\n' "$inside" | sed -n 's/^tables=//p')"
}

# write_round RELEASE ROUND: the app writes a round of rows (in WAL mode).
write_round() {
  local release=$1 round=$2 pod out
  pod="$(pod_of "$release")"
  out="$(k exec "$pod" -c app -- /nodejs/bin/node -e "$(cat "$HERE/pod-write.cjs")" "$DB_PATH" "$round" "${LOOP_ROWS:-300}")" \
    || fail "the app's writes in $pod failed"
  printf '%s\n' "$out" | sed "s/^/result round$round./"
  printf '%s\n' "$out" | grep -qx 'journal_mode=wal' || fail "the app's database is not in WAL mode"
}

sidecar_running() {
  local pod
  pod="$(pod_of "$1")"
  [ -n "$pod" ] && [ -n "$(field "$pod" '{.status.initContainerStatuses[?(@.name=="litestream")].state.running.startedAt}')" ]
}

# cycle RELEASE: delete the pod (its sidecar syncs a last time) and its
# volume; a new pod on a new volume.
cycle() {
  local release=$1 sts claims
  sts="$(k get statefulset -l "app.kubernetes.io/instance=$release" -o name)"
  claims="$(claims_of "$release")"
  say "deleting the pod and the volume ($(echo "$claims" | tr '\n' ' ')) of $release"
  k scale "$sts" --replicas=0 >/dev/null
  wait_until "the pod of $release to go" no_pod "$release"
  # shellcheck disable=SC2086
  k delete $claims --wait=true --timeout "${TIMEOUT}s" >/dev/null
  wait_until "the claims of $release to go" no_claim "$release"
  k scale "$sts" --replicas=1 >/dev/null
}

cmd_loop() {
  local release=${1:?release} prefix=${2:?prefix} image=${3:?image} version=${4:?config version: v0.3 or v0.5} pod digest tables
  # The app's data: Litestream's bookkeeping tables change at its own checkpoints.
  local DIGEST_SKIP_TABLES=_litestream_seq,_litestream_lock
  need CREDENTIALS_SECRET
  install "$release" "$prefix" "$CREDENTIALS_SECRET" \
    --set restore.litestream.enabled=true \
    --set "restore.litestream.image.repository=${image%:*}" --set "restore.litestream.image.tag=${image##*:}" \
    --set "restore.litestream.configVersion=$version" --set restore.litestream.syncInterval=1s \
    --set restore.ifNoBackup=allow --set verifyCronJob.enabled=true
  # First boot: nothing to restore yet; the sidecar waits for the app's database.
  wait_until "a pod of $release" pod_created "$release"
  pod="$(pod_of "$release")"
  wait_until "pod $pod Ready" pod_ready "$pod"
  wait_until "the Litestream sidecar of $pod running" sidecar_running "$release"
  [ "$(restore_field "$pod" '.state.terminated.message')" = "first-boot: $DB_PATH" ] \
    || fail "the first restore of $release said '$(restore_field "$pod" '.state.terminated.message')', expected first-boot"
  result sidecar.image "$(field "$pod" '{.spec.initContainers[?(@.name=="litestream")].image}')"
  result sidecar.restartPolicy "$(field "$pod" '{.spec.initContainers[?(@.name=="litestream")].restartPolicy}')"
  result sidecar.config "$(field "$pod" '{.metadata.annotations.sqlite-s3-restore/litestream\.yml}' | tr '\n' ' ')"
  pass "$pod: first boot; the Litestream sidecar ($image, config $version) runs"

  local round
  for round in 1 2; do
    write_round "$release" "$round"
    pod="$(pod_of "$release")"
    read -r digest tables <<<"$(pod_digest "$pod")"
    result "round$round.digest" "$digest"
    result "round$round.tables" "$tables"
    pass "round $round: the app wrote ($tables; digest $digest)"
    # The backup the sidecar writes passes the release's own verify Job.
    [ "$round" = 1 ] && verify_job "$release" "$release-verify" Complete 0
    result "round$round.sidecar.restartCount" "$(field "$pod" '{.status.initContainerStatuses[?(@.name=="litestream")].restartCount}')"
    cycle "$release"
    EXPECTED_DIGEST=$digest check_restored "$release" restored
    pass "round $round: the next pod, on a new volume, restored what the app wrote"
  done
}

# ---------------------------------------------------------------- the verify CronJob

# job_outcome JOB: Complete or Failed once the Job has that condition.
job_outcome() {
  local c
  c="$(k get job "$1" -o jsonpath='{range .status.conditions[?(@.status=="True")]}{.type}{" "}{end}' 2>/dev/null || true)"
  case " $c" in *" Complete "*) echo Complete ;; *" Failed "*) echo Failed ;; *) return 1 ;; esac
}
job_finished() { job_outcome "$1" >/dev/null; }

# verify_job RELEASE JOB WANT CODE: a Job from the release's CronJob ends in
# condition WANT (Complete or Failed) with every verify pod exiting CODE.
verify_job() {
  local release=$1 job=$2 want=$3 code=$4 cron got reason pods p codes="" first
  cron="$(k get cronjob -l "app.kubernetes.io/instance=$release" -o name)"
  [ -n "$cron" ] || fail "no CronJob in $release"
  k delete job "$job" --ignore-not-found --wait=true >/dev/null
  say "kubectl create job --from=$cron $job"
  k create job --from="$cron" "$job" >/dev/null
  wait_until "Job $job to finish" job_finished "$job"
  got="$(job_outcome "$job")"
  reason="$(k get job "$job" -o jsonpath='{.status.conditions[?(@.type=="Failed")].reason}')"
  pods="$(k get pods -l "batch.kubernetes.io/job-name=$job" --sort-by=.metadata.creationTimestamp -o jsonpath='{range .items[*]}{.metadata.name}{" "}{end}')"
  for p in $pods; do
    codes="$codes$(field "$p" '{.status.containerStatuses[?(@.name=="verify")].state.terminated.exitCode}') "
  done
  first="${pods%% *}"
  result "$job.condition" "$got"
  result "$job.reason" "$reason"
  result "$job.pods" "$(echo "$pods" | wc -w)"
  result "$job.exitCodes" "${codes% }"
  result "$job.message" "$(field "$first" '{.status.containerStatuses[?(@.name=="verify")].state.terminated.message}')"
  [ "$got" = "$want" ] || { diagnose; fail "Job $job ended $got ($reason), expected $want"; }
  for p in $codes; do [ "$p" = "$code" ] || fail "Job $job: a verify pod exited $p, expected $code (all: $codes)"; done
  pass "Job $job: $got${reason:+ ($reason)}; verify exited ${codes% }"
}

cmd_verify() {
  local release=${1:?release} case=${2:?case} job pods reason
  need CREDENTIALS_SECRET GOOD_PREFIX CORRUPT_PREFIX
  job="$release-now"
  case "$case" in
    good)
      install "$release" "$GOOD_PREFIX" "$CREDENTIALS_SECRET" --set replicaCount=0 --set verifyCronJob.enabled=true
      verify_job "$release" "$job" Complete 0 ;;
    corrupt)
      install "$release" "$CORRUPT_PREFIX" "$CREDENTIALS_SECRET" --set replicaCount=0 --set verifyCronJob.enabled=true
      verify_job "$release" "$job" Failed 65 ;;
    unreachable)
      # Nothing listens there: each attempt retries for a second, then exits 75.
      install "$release" "$GOOD_PREFIX" "$CREDENTIALS_SECRET" --set replicaCount=0 --set verifyCronJob.enabled=true \
        --set "restore.s3.endpoint=${UNREACHABLE_ENDPOINT:-http://127.0.0.1:9}" --set restore.retryWindowSeconds=1 \
        --set restore.verifyJob.backoffLimit=1
      verify_job "$release" "$job" Failed 75 ;;
    *) fail "unknown case $case (good, corrupt, unreachable)" ;;
  esac
  reason="$(k get job "$job" -o jsonpath='{.status.conditions[?(@.type=="Failed")].reason}')"
  pods="$(k get pods -l "batch.kubernetes.io/job-name=$job" -o name | wc -l)"
  case "$case" in
    good) [ "$pods" = 1 ] || fail "the good backup's Job ran $pods pods" ;;
    corrupt)
      [ "$reason" = PodFailurePolicy ] || fail "the corrupt backup's Job failed by '$reason', not by its podFailurePolicy"
      [ "$pods" = 1 ] || fail "the corrupt backup's Job ran $pods pods: 65 must not be retried"
      pass "exit 65 failed the Job at once (PodFailurePolicy, one pod)" ;;
    unreachable)
      [ "$reason" = BackoffLimitExceeded ] || fail "the unreachable store's Job failed by '$reason', not at its backoff limit"
      [ "$pods" = 2 ] || fail "the unreachable store's Job ran $pods pods, expected 2 (75 retried once: backoffLimit 1)"
      pass "exit 75 was retried by a new pod; then the Job failed at its backoff limit" ;;
  esac
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
  cmd_irsa_setup
  cmd_irsa irsa
  cmd_uninstall irsa
  for c in wrong-audience bad-signature; do
    cmd_irsa_fail "irsa-$c" "$c"
    cmd_uninstall "irsa-$c"
  done
  cmd_irsa_down
  local loop="${LOOP_PREFIX:-loop-$RANDOM$RANDOM}"
  cmd_loop loop-v3 "$loop/v0.3" "${LITESTREAM_V3_IMAGE:-litestream/litestream:0.3.13}" v0.3
  cmd_uninstall loop-v3
  cmd_loop loop-v5 "$loop/v0.5" "${LITESTREAM_V5_IMAGE:-litestream/litestream:0.5.18}" v0.5
  cmd_uninstall loop-v5
  for c in good corrupt unreachable; do
    cmd_verify "verify-$c" "$c"
    cmd_uninstall "verify-$c"
  done
  say "all checks passed"
}

case "${1:-}" in
  restore) cmd_restore "${2:-}" ;;
  restart) cmd_restart "${2:-}" ;;
  fresh-volume) cmd_fresh_volume "${2:-}" ;;
  fail) cmd_fail "${2:-}" "${3:-}" ;;
  irsa-setup) cmd_irsa_setup ;;
  irsa) cmd_irsa "${2:-}" ;;
  irsa-fail) cmd_irsa_fail "${2:-}" "${3:-}" ;;
  irsa-down) cmd_irsa_down ;;
  loop) cmd_loop "${2:-}" "${3:-}" "${4:-}" "${5:-}" ;;
  verify) cmd_verify "${2:-}" "${3:-}" ;;
  uninstall) cmd_uninstall "${2:-}" ;;
  all) cmd_all ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d' >&2; exit 2 ;;
esac
