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
# cluster; deploy MinIO; seed backups by uploading the Litestream replica kept
# in demo/replica, once as it is and once with its snapshot truncated (a Job
# running node + the AWS SDK from the image itself); then run every check of
# deploy/e2e/checks.sh, the script the project's own cluster test
# (test/e2e/k8s.test.ts) runs too: install deploy/helm/example-app, the restore
# exits 0 and the app starts after it and reads the restored rows, marker and
# logical digest (demo/expected.json) checked inside the pod; the pod restarted
# with its volume (restore skipped) and with a fresh volume (restored again);
# releases with wrong keys (77), no backup (66) and a corrupt backup (65), whose
# exit code and termination message are read from the pod status while the app
# never starts; IRSA with no static key (an STS pod trusting the cluster's own
# OIDC issuer, deploy/e2e/sts.cjs: restored with web identity; a token for
# another audience or re-signed with another key: 77); the whole loop with the
# chart's Litestream sidecar, Litestream 0.3 and 0.5 images from Docker Hub
# (the app writes, the sidecar replicates, the pod and its volume go, the next
# pod restores the same data, twice); the chart's verify CronJob run as a Job
# (good: Complete; corrupt: 65 fails it at once; store unreachable: 75 retried).
#
# Environment:
#   KIND_CLUSTER     cluster name (default sqlite-s3-restore-e2e); reused if it exists
#   KIND_NODE_IMAGE  kindest/node image for a new cluster (default: kind's)
#   IMAGE            tag to build and load (default sqlite-s3-restore:e2e)
#   MINIO_IMAGE      default minio/minio:RELEASE.2025-09-07T16-13-09Z
#   KEEP_CLUSTER=1   keep a cluster this script created (default: delete it)
#   SKIP_BUILD=1     use an IMAGE already loaded into the cluster
#   LITESTREAM_V3_IMAGE, LITESTREAM_V5_IMAGE   the sidecar images of the loop
#                    checks (default litestream/litestream:0.3.13 and :0.5.18)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CLUSTER="${KIND_CLUSTER:-sqlite-s3-restore-e2e}"
IMAGE="${IMAGE:-sqlite-s3-restore:e2e}"
MINIO_IMAGE="${MINIO_IMAGE:-minio/minio:RELEASE.2025-09-07T16-13-09Z}"
NS="sqlite-restore-e2e"
BUCKET="backups"
PREFIX="example-app/notes.db"
CORRUPT_PREFIX="example-app/corrupt.db"
EMPTY_PREFIX="example-app/none.db"
MINIO_USER="e2eadmin"
MINIO_PASSWORD="$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"

log() { printf '\n==> %s\n' "$*"; }
die() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }
for tool in docker kind kubectl helm openssl; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is required (this script needs Docker, kind, kubectl, helm and openssl)"
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
                  const rel = name.split('__').join('/');
                  const body = fs.readFileSync('/replica/' + name);
                  await s3.send(new PutObjectCommand({ Bucket: '$BUCKET', Key: '$PREFIX/' + rel, Body: body }));
                  // the damaged copy: its snapshot cut to half its length (restore: exit 65)
                  const damaged = rel.endsWith('.snapshot.lz4') ? body.subarray(0, body.length >> 1) : body;
                  await s3.send(new PutObjectCommand({ Bucket: '$BUCKET', Key: '$CORRUPT_PREFIX/' + rel, Body: damaged }));
                  console.log('uploaded ' + rel);
                }
              })().catch((e) => { console.error(e); process.exit(1); });
          envFrom: [{secretRef: {name: minio-credentials}}]
          volumeMounts: [{name: replica, mountPath: /replica}]
      volumes: [{name: replica, configMap: {name: demo-replica}}]
EOF
k wait --for=condition=complete job/seed --timeout=180s
k logs job/seed

# --- the checks (shared with the project's own cluster test) -----------------------
log "helm dependency build deploy/helm/example-app"
helm dependency build "$ROOT/deploy/helm/example-app"
expected_digest="$(sed -n 's/.*"logicalDigest": *"\([0-9a-f]*\)".*/\1/p' "$ROOT/demo/expected.json")"
[ -n "$expected_digest" ] || die "demo/expected.json has no logicalDigest"
log "deploy/e2e/checks.sh all"
KUBECTL="kubectl --context kind-$CLUSTER" \
HELM="helm --kube-context kind-$CLUSTER" \
NAMESPACE="$NS" \
CHART="$ROOT/deploy/helm/example-app" \
IMAGE_REPOSITORY="$IMAGE_REPO" IMAGE_TAG="$IMAGE_TAG" IMAGE_PULL_POLICY=IfNotPresent \
S3_ENDPOINT="$ENDPOINT" BUCKET="$BUCKET" \
GOOD_PREFIX="$PREFIX" EMPTY_PREFIX="$EMPTY_PREFIX" CORRUPT_PREFIX="$CORRUPT_PREFIX" \
CREDENTIALS_SECRET=minio-credentials WRONG_CREDENTIALS_SECRET=wrong-credentials \
EXPECTED_DIGEST="$expected_digest" DB_PATH=/data/notes.db \
LITESTREAM_V3_IMAGE="${LITESTREAM_V3_IMAGE:-litestream/litestream:0.3.13}" \
LITESTREAM_V5_IMAGE="${LITESTREAM_V5_IMAGE:-litestream/litestream:0.5.18}" \
  bash "$ROOT/deploy/e2e/checks.sh" all

log "kind e2e: all checks passed"
