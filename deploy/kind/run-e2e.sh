#!/usr/bin/env bash
# End-to-end test of the image, the Helm example chart and the restore on a
# real Kubernetes cluster (kind), with MinIO inside the cluster.
#
# THIS SCRIPT NEEDS DOCKER: kind runs the Kubernetes nodes as Docker containers.
# It cannot run on this project's development and CI machines, which have no
# Docker engine (there, test/e2e/image.test.ts runs the image with podman
# instead). It runs on GitHub-hosted runners (.github/workflows/kind-e2e.yml,
# a copy of deploy/kind/github-workflow.yml) and on any machine with Docker,
# kind, kubectl and helm (v3).
#
#   bash deploy/kind/run-e2e.sh
#
# Steps: create (or reuse) a kind cluster; build the image and load it into the
# cluster; deploy MinIO; seed a backup by uploading the Litestream replica kept
# in demo/replica (a Job running node + the AWS SDK from the image itself);
# install deploy/helm/example-app; wait for the pod; check the init container's
# exit code and termination message, the marker and the restored rows against
# demo/expected.json; restart the pod (restore skipped: a valid database is in
# place); install a second release with wrong keys and check exit code 77 and
# its termination message.
#
# Environment:
#   KIND_CLUSTER     cluster name (default sqlite-s3-restore-e2e); reused if it exists
#   KIND_NODE_IMAGE  kindest/node image for a new cluster (default: kind's)
#   IMAGE            tag to build and load (default sqlite-s3-restore:e2e)
#   MINIO_IMAGE      default minio/minio:RELEASE.2025-09-07T16-13-09Z
#   KEEP_CLUSTER=1   keep a cluster this script created (default: delete it)
#   SKIP_BUILD=1     use an IMAGE already loaded into the cluster
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CLUSTER="${KIND_CLUSTER:-sqlite-s3-restore-e2e}"
IMAGE="${IMAGE:-sqlite-s3-restore:e2e}"
MINIO_IMAGE="${MINIO_IMAGE:-minio/minio:RELEASE.2025-09-07T16-13-09Z}"
NS="sqlite-restore-e2e"
BUCKET="backups"
PREFIX="example-app/notes.db"
MINIO_USER="e2eadmin"
MINIO_PASSWORD="$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"

log() { printf '\n==> %s\n' "$*"; }
die() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }
for tool in docker kind kubectl helm; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is required (this script needs Docker, kind, kubectl and helm)"
done
docker info >/dev/null 2>&1 || die "no Docker engine is reachable: this script cannot run without Docker"

k() { kubectl --context "kind-$CLUSTER" --namespace "$NS" "$@"; }

created=0
diagnostics() {
  echo "--- diagnostics ---------------------------------------------------------" >&2
  k get pods -o wide >&2 || true
  for pod in $(k get pods -o name 2>/dev/null); do
    k describe "$pod" >&2 || true
    for c in $(k get "$pod" -o jsonpath='{.spec.initContainers[*].name} {.spec.containers[*].name}'); do
      echo "--- logs $pod -c $c" >&2
      k logs "$pod" -c "$c" --tail=50 >&2 || true
    done
  done
}
finish() {
  local rc=$?
  [ "$rc" = 0 ] || diagnostics
  if [ "$created" = 1 ] && [ "${KEEP_CLUSTER:-0}" != 1 ]; then
    log "deleting kind cluster $CLUSTER"
    kind delete cluster --name "$CLUSTER" || true
  fi
  exit "$rc"
}
trap finish EXIT

# --- cluster --------------------------------------------------------------------
if kind get clusters 2>/dev/null | grep -qxF "$CLUSTER"; then
  log "reusing kind cluster $CLUSTER"
else
  log "creating kind cluster $CLUSTER"
  created=1
  kind create cluster --name "$CLUSTER" ${KIND_NODE_IMAGE:+--image "$KIND_NODE_IMAGE"} --wait 180s
fi
kubectl --context "kind-$CLUSTER" version

# --- image ----------------------------------------------------------------------
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  log "docker build -t $IMAGE"
  docker build -t "$IMAGE" "$ROOT"
  docker image inspect --format 'image size: {{.Size}} bytes' "$IMAGE"
fi
kind load docker-image "$IMAGE" --name "$CLUSTER"
IMAGE_REPO="${IMAGE%:*}"
IMAGE_TAG="${IMAGE##*:}"

# --- MinIO ----------------------------------------------------------------------
log "deploying MinIO ($MINIO_IMAGE)"
kubectl --context "kind-$CLUSTER" create namespace "$NS" --dry-run=client -o yaml | kubectl --context "kind-$CLUSTER" apply -f -
k create secret generic minio-credentials \
  --from-literal=AWS_ACCESS_KEY_ID="$MINIO_USER" --from-literal=AWS_SECRET_ACCESS_KEY="$MINIO_PASSWORD" \
  --dry-run=client -o yaml | k apply -f -
k create secret generic wrong-credentials \
  --from-literal=AWS_ACCESS_KEY_ID="$MINIO_USER" --from-literal=AWS_SECRET_ACCESS_KEY=not-the-password \
  --dry-run=client -o yaml | k apply -f -
k apply -f - <<EOF
apiVersion: apps/v1
kind: Deployment
metadata:
  name: minio
spec:
  replicas: 1
  selector:
    matchLabels: {app: minio}
  template:
    metadata:
      labels: {app: minio}
    spec:
      containers:
        - name: minio
          image: $MINIO_IMAGE
          args: [server, /data, --address, ":9000"]
          env:
            - name: MINIO_ROOT_USER
              valueFrom: {secretKeyRef: {name: minio-credentials, key: AWS_ACCESS_KEY_ID}}
            - name: MINIO_ROOT_PASSWORD
              valueFrom: {secretKeyRef: {name: minio-credentials, key: AWS_SECRET_ACCESS_KEY}}
          ports: [{containerPort: 9000}]
          readinessProbe:
            httpGet: {path: /minio/health/ready, port: 9000}
            periodSeconds: 2
          volumeMounts: [{name: data, mountPath: /data}]
      volumes: [{name: data, emptyDir: {}}]
---
apiVersion: v1
kind: Service
metadata:
  name: minio
spec:
  selector: {app: minio}
  ports: [{port: 9000, targetPort: 9000}]
EOF
k rollout status deployment/minio --timeout=180s
ENDPOINT="http://minio.$NS.svc.cluster.local:9000"

# --- seed the backup ------------------------------------------------------------
log "seeding s3://$BUCKET/$PREFIX with demo/replica"
args=()
while IFS= read -r file; do
  rel="${file#"$ROOT/demo/replica/"}"
  args+=("--from-file=${rel//\//__}=$file")
done < <(find "$ROOT/demo/replica" -type f | sort)
k create configmap demo-replica "${args[@]}" --dry-run=client -o yaml | k apply -f -
k delete job seed --ignore-not-found
k apply -f - <<EOF
apiVersion: batch/v1
kind: Job
metadata:
  name: seed
spec:
  backoffLimit: 2
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: seed
          image: $IMAGE
          imagePullPolicy: IfNotPresent
          command:
            - /nodejs/bin/node
            - -e
            - |
              const fs = require('node:fs');
              const { S3Client, CreateBucketCommand, PutObjectCommand } = require('@aws-sdk/client-s3');
              const s3 = new S3Client({ endpoint: '$ENDPOINT', region: 'us-east-1', forcePathStyle: true,
                requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
              (async () => {
                await s3.send(new CreateBucketCommand({ Bucket: '$BUCKET' })).catch((e) => {
                  if (e.name !== 'BucketAlreadyOwnedByYou') throw e;
                });
                for (const name of fs.readdirSync('/replica').filter((n) => !n.startsWith('..')).sort()) {
                  const key = '$PREFIX/' + name.split('__').join('/');
                  await s3.send(new PutObjectCommand({ Bucket: '$BUCKET', Key: key, Body: fs.readFileSync('/replica/' + name) }));
                  console.log('uploaded ' + key);
                }
              })().catch((e) => { console.error(e); process.exit(1); });
          envFrom: [{secretRef: {name: minio-credentials}}]
          volumeMounts: [{name: replica, mountPath: /replica}]
      volumes: [{name: replica, configMap: {name: demo-replica}}]
EOF
k wait --for=condition=complete job/seed --timeout=180s
k logs job/seed

# --- install the example chart ----------------------------------------------------
log "helm install app deploy/helm/example-app"
helm dependency build "$ROOT/deploy/helm/example-app"
helm_common=(
  --kube-context "kind-$CLUSTER" --namespace "$NS"
  -f "$ROOT/deploy/helm/example-app/examples/minio.yaml"
  --set "restore.image.repository=$IMAGE_REPO" --set "restore.image.tag=$IMAGE_TAG"
  --set "restore.s3.endpoint=$ENDPOINT"
  --set "restore.replicaUrl=s3://$BUCKET/$PREFIX"
  --set "restore.database.path=/data/notes.db"
  --set "restore.verify=full"
)
helm upgrade --install app "$ROOT/deploy/helm/example-app" "${helm_common[@]}" --wait --timeout 5m
POD="app-example-app-0"
k wait --for=condition=Ready "pod/$POD" --timeout=180s

# --- checks ---------------------------------------------------------------------
expected_rows="$(sed -n 's/.*"rows": *\([0-9]*\).*/\1/p' "$ROOT/demo/expected.json")"
expected_sha="$(sed -n 's/.*"sha256": *"\([0-9a-f]*\)".*/\1/p' "$ROOT/demo/expected.json")"
expected_table="$(sed -n 's/.*"table": *"\([a-z_]*\)".*/\1/p' "$ROOT/demo/expected.json")"

init_status() { # <pod> <jsonpath below the restore container's status>
  k get pod "$1" -o jsonpath="{.status.initContainerStatuses[?(@.name==\"restore\")]$2}"
}
check_restore() { # <pod> <expected outcome>
  local code message
  code="$(init_status "$1" '.state.terminated.exitCode')"
  message="$(init_status "$1" '.state.terminated.message')"
  echo "restore init container: exit code $code, termination message: $message"
  [ "$code" = 0 ] || die "restore exited $code"
  case "$message" in "$2: /data/notes.db"*) ;; *) die "termination message should start with '$2: /data/notes.db'" ;; esac
  k exec "$1" -c app -- /nodejs/bin/node -e "
    const fs = require('node:fs');
    const crypto = require('node:crypto');
    const Database = require('better-sqlite3');
    const marker = JSON.parse(fs.readFileSync('/data/notes.db.restore.json', 'utf8'));
    if (marker.outcome !== '$2') throw new Error('marker outcome ' + marker.outcome + ', expected $2');
    const db = new Database('/data/notes.db', { readonly: true });
    const rows = db.prepare('SELECT * FROM $expected_table ORDER BY id').all();
    const sha = crypto.createHash('sha256').update(JSON.stringify(rows)).digest('hex');
    if (rows.length !== $expected_rows || sha !== '$expected_sha') throw new Error('restored rows differ: ' + rows.length + ' ' + sha);
    console.log('marker: ' + marker.outcome + ', generation ' + (marker.source ? marker.source.generation : '-') + '; $expected_table: ' + rows.length + ' rows, sha256 ' + sha + ' as expected');
  "
}
log "checking the restore"
check_restore "$POD" restored
k logs "$POD" -c app --tail=5 | grep -F "\"$expected_table\":$expected_rows" >/dev/null \
  || die "the app did not log $expected_rows rows of $expected_table"

log "restarting the pod: the init container runs again and keeps the database"
k delete pod "$POD" --wait
for _ in $(seq 1 60); do k get pod "$POD" >/dev/null 2>&1 && break; sleep 1; done
k wait --for=condition=Ready "pod/$POD" --timeout=180s
check_restore "$POD" skipped

# --- failure: wrong keys → exit 77 ---------------------------------------------------
log "a release with wrong keys: the restore must fail with exit code 77"
helm upgrade --install bad "$ROOT/deploy/helm/example-app" "${helm_common[@]}" \
  --set restore.credentials.existingSecret=wrong-credentials
BAD="bad-example-app-0"
code=""
for _ in $(seq 1 90); do
  code="$(init_status "$BAD" '.lastState.terminated.exitCode')"
  [ -n "$code" ] || code="$(init_status "$BAD" '.state.terminated.exitCode')"
  [ -n "$code" ] && break
  sleep 2
done
message="$(init_status "$BAD" '.lastState.terminated.message')"
[ -n "$message" ] || message="$(init_status "$BAD" '.state.terminated.message')"
echo "restore init container: exit code $code, termination message: $message"
[ "$code" = 77 ] || die "expected exit code 77, got '$code'"
case "$message" in auth:*) ;; *) die "the termination message should start with 'auth:'" ;; esac
phase="$(k get pod "$BAD" -o jsonpath='{.status.containerStatuses[0].state.waiting.reason}')"
echo "app container of $BAD: ${phase:-not started} (it never starts while the restore fails)"
helm uninstall bad --kube-context "kind-$CLUSTER" --namespace "$NS"

log "kind e2e: all checks passed"
