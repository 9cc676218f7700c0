{{/*
sqlite-s3-restore library chart.

Calling convention: every public template takes one argument, in either form:

  (dict "values" .Values.restore "context" $)
      The restore values dict and your chart's root context ($, or . at the
      top of a template). Recommended: the context is where Helm's globals
      live. global.imageRegistry is put in front of image.repository and
      litestream.image.repository unless they name a registry already (a
      first path component with a dot or a colon, or localhost);
      sqlite-s3-restore.imagePullSecrets reads global.imagePullSecrets and
      your chart's own top-level imagePullSecrets.
  .Values.restore
      The values dict alone (the original form, still supported): no global
      is read, and sqlite-s3-restore.imagePullSecrets is empty.

The values dict has the structure of this chart's values.yaml (validated by
its values.schema.json) and is merged over the defaults below, so a caller
sets only what differs:

  spec:
    {{- with include "sqlite-s3-restore.imagePullSecrets" (dict "values" .Values.restore "context" $) }}
    imagePullSecrets:
      {{- . | nindent 6 }}
    {{- end }}
    initContainers:
      {{- include "sqlite-s3-restore.initContainer" (dict "values" .Values.restore "context" $) | nindent 6 }}

Public templates:
  sqlite-s3-restore.initContainer             the init container, as a list item
  sqlite-s3-restore.env                       its env entries (list items)
  sqlite-s3-restore.volumeMounts              its volumeMounts (list items)
  sqlite-s3-restore.volumes                   pod volumes it and the Litestream sidecar need (list items; may be empty)
  sqlite-s3-restore.imagePullSecrets          the pod's imagePullSecrets: global's, then your chart's (list items; may be empty)
  sqlite-s3-restore.podAnnotations            pod annotations (map; may be empty): the sidecar's Litestream configuration
  sqlite-s3-restore.litestreamSidecar         the Litestream backup sidecar (list item; empty unless litestream.enabled)
  sqlite-s3-restore.litestreamConfig          its litestream.yml (v0.3 or v0.5 format)
  sqlite-s3-restore.verifyContainer           the container of a Job that runs `verify` (list item)
  sqlite-s3-restore.verifyVolumes             that Job's pod volumes (list items)
  sqlite-s3-restore.verifyJobSpec             that Job's retry policy: backoffLimit, activeDeadlineSeconds, podFailurePolicy (map)
  sqlite-s3-restore.serviceAccountAnnotations IRSA annotations for the pod's ServiceAccount (map; may be empty)
  sqlite-s3-restore.image                     the image reference (with global.imageRegistry)
  sqlite-s3-restore.values                    the merged values, as YAML (for your own checks)
*/}}

{{/* Defaults; deploy/helm/sqlite-s3-restore/values.yaml documents the same (a test keeps them equal). */}}
{{- define "sqlite-s3-restore.defaults" -}}
name: restore
image:
  repository: sqlite-s3-restore
  tag: "0.1.0"
  digest: ""
  pullPolicy: IfNotPresent
replicaUrl: ""
layout: ""
database:
  volumeName: data
  mountPath: /data
  path: /data/app.db
  volume: {}
ifExists: skip
ifNoBackup: fail
verify: quick
markerPath: ""
timeoutSeconds: 900
idleTimeoutSeconds: null
concurrency: null
maxAttempts: null
retryWindowSeconds: null
fileMode: "0644"
fileUid: null
fileGid: null
logLevel: info
progressSeconds: null
maxAge: ""
target:
  time: ""
  generation: ""
  index: ""
  txid: ""
  match: ""
verifyDir: ""
s3:
  endpoint: ""
  forcePathStyle: null
  region: ""
  checksums: ""
credentials:
  existingSecret: ""
  accessKeyIdKey: AWS_ACCESS_KEY_ID
  secretAccessKeyKey: AWS_SECRET_ACCESS_KEY
  sessionTokenKey: ""
irsa:
  roleArn: ""
  stsRegionalEndpoints: true
  tokenProjection:
    enabled: false
    audience: sts.amazonaws.com
    expirationSeconds: 86400
extraEnv: []
extraEnvFrom: []
extraVolumeMounts: []
extraVolumes: []
resources:
  requests:
    cpu: 100m
    memory: 128Mi
  limits:
    cpu: "1"
    memory: 384Mi
securityContext:
  runAsNonRoot: true
  runAsUser: 65532
  runAsGroup: 65532
  readOnlyRootFilesystem: true
  allowPrivilegeEscalation: false
  privileged: false
  capabilities:
    drop: [ALL]
  seccompProfile:
    type: RuntimeDefault
litestream:
  enabled: false
  name: litestream
  image:
    repository: litestream/litestream
    tag: "0.3.13"
    digest: ""
    pullPolicy: IfNotPresent
  configVersion: v0.3
  syncInterval: ""
  snapshotInterval: ""
  retention: ""
  extraEnv: []
  extraVolumeMounts: []
  resources:
    requests:
      cpu: 50m
      memory: 64Mi
    limits:
      memory: 256Mi
  securityContext:
    runAsNonRoot: true
    runAsUser: 65532
    runAsGroup: 65532
    readOnlyRootFilesystem: true
    allowPrivilegeEscalation: false
    privileged: false
    capabilities:
      drop: [ALL]
    seccompProfile:
      type: RuntimeDefault
verifyJob:
  name: verify
  timeoutSeconds: 3000
  activeDeadlineSeconds: 3600
  backoffLimit: 2
  failFastExitCodes: [65, 66, 69, 77, 78]
  maxAge: 26h
  scratchSizeLimit: 2Gi
{{- end -}}

{{/*
Recursive merge of .values over .defaults: a key the caller set wins, even when
false, 0 or "" (sprig's merge functions treat those as unset); maps merge key
by key; lists are replaced whole.
*/}}
{{- define "sqlite-s3-restore.merge" -}}
{{- $out := dict -}}
{{- $values := .values | default dict -}}
{{- range $key, $default := .defaults -}}
{{- if hasKey $values $key -}}
{{- $value := index $values $key -}}
{{- if and (kindIs "map" $default) (kindIs "map" $value) -}}
{{- $_ := set $out $key (include "sqlite-s3-restore.merge" (dict "defaults" $default "values" $value) | fromYaml) -}}
{{- else -}}
{{- $_ := set $out $key $value -}}
{{- end -}}
{{- else -}}
{{- $_ := set $out $key $default -}}
{{- end -}}
{{- end -}}
{{- range $key, $value := $values -}}
{{- if not (hasKey $out $key) -}}
{{- $_ := set $out $key $value -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* The caller's values (either form of the call) merged over the defaults, checked, as YAML. */}}
{{- define "sqlite-s3-restore.values" -}}
{{- $usage := "pass (dict \"values\" .Values.restore \"context\" $) or the restore values dict alone" -}}
{{- $arg := . | default dict -}}
{{- if not (kindIs "map" $arg) -}}
{{- fail (printf "sqlite-s3-restore: %s, not a %s" $usage (kindOf $arg)) -}}
{{- end -}}
{{- $caller := $arg -}}
{{- if or (hasKey $arg "values") (hasKey $arg "context") -}}
{{- range $key, $_ := $arg -}}
{{- if not (has $key (list "values" "context")) -}}
{{- fail (printf "sqlite-s3-restore: unknown key %q in the call: %s" $key $usage) -}}
{{- end -}}
{{- end -}}
{{- $caller = get $arg "values" | default dict -}}
{{- if not (kindIs "map" $caller) -}}
{{- fail (printf "sqlite-s3-restore: \"values\" must be the restore values dict: %s" $usage) -}}
{{- end -}}
{{- $context := get $arg "context" -}}
{{- if and $context (not (and (kindIs "map" $context) (hasKey $context "Values"))) -}}
{{- fail (printf "sqlite-s3-restore: \"context\" must be your chart's root context: %s" $usage) -}}
{{- end -}}
{{- else if and (hasKey $arg "Values") (hasKey $arg "Release") -}}
{{- fail (printf "sqlite-s3-restore: got the root context alone: %s" $usage) -}}
{{- end -}}
{{- $v := include "sqlite-s3-restore.merge" (dict "defaults" (include "sqlite-s3-restore.defaults" . | fromYaml) "values" $caller) | fromYaml -}}
{{- if not $v.replicaUrl -}}
{{- fail "sqlite-s3-restore: replicaUrl is required (s3://bucket/path or file:///dir)" -}}
{{- end -}}
{{- if not (regexMatch "^(s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?|file:///.*)$" $v.replicaUrl) -}}
{{- fail (printf "sqlite-s3-restore: replicaUrl %q must be s3://bucket/path or file:///dir" $v.replicaUrl) -}}
{{- end -}}
{{- if not (hasPrefix (printf "%s/" (trimSuffix "/" $v.database.mountPath)) $v.database.path) -}}
{{- fail (printf "sqlite-s3-restore: database.path %q must be inside database.mountPath %q" $v.database.path $v.database.mountPath) -}}
{{- end -}}
{{- $targets := list -}}
{{- if $v.target.time }}{{ $targets = append $targets "target.time" }}{{ end -}}
{{- if or $v.target.generation $v.target.index }}{{ $targets = append $targets "target.generation/index" }}{{ end -}}
{{- if $v.target.txid }}{{ $targets = append $targets "target.txid" }}{{ end -}}
{{- if gt (len $targets) 1 -}}
{{- fail (printf "sqlite-s3-restore: set only one kind of restore target, got %s" (join " and " $targets)) -}}
{{- end -}}
{{- if and $v.target.index (not $v.target.generation) -}}
{{- fail "sqlite-s3-restore: target.index needs target.generation (WAL indexes restart in every generation)" -}}
{{- end -}}
{{- if and $v.target.match (eq (len $targets) 0) -}}
{{- fail "sqlite-s3-restore: target.match is set but no target is" -}}
{{- end -}}
{{- if and $v.credentials.existingSecret $v.irsa.roleArn -}}
{{- fail "sqlite-s3-restore: set either credentials.existingSecret (static keys) or irsa.roleArn, not both: static AWS keys silently win over IRSA" -}}
{{- end -}}
{{- if and $v.irsa.tokenProjection.enabled (not $v.irsa.roleArn) -}}
{{- fail "sqlite-s3-restore: irsa.tokenProjection.enabled needs irsa.roleArn (the role the token is exchanged for)" -}}
{{- end -}}
{{- if and $v.litestream.enabled (not (regexMatch "^s3://[^/]+(/.*)?$|^file:///" $v.replicaUrl)) -}}
{{- fail (printf "sqlite-s3-restore: the Litestream sidecar replicates to s3:// or file:// replicas; replicaUrl is %q" $v.replicaUrl) -}}
{{- end -}}
{{- if ge (int64 $v.verifyJob.timeoutSeconds) (int64 $v.verifyJob.activeDeadlineSeconds) -}}
{{- fail (printf "sqlite-s3-restore: verifyJob.timeoutSeconds (%d) must be below verifyJob.activeDeadlineSeconds (%d), so that the tool reports a timeout (75) before Kubernetes kills the Job" (int64 $v.verifyJob.timeoutSeconds) (int64 $v.verifyJob.activeDeadlineSeconds)) -}}
{{- end -}}
{{- if and $v.litestream.enabled (eq $v.layout "zlayer") -}}
{{- fail "sqlite-s3-restore: layout zlayer is written by zlayer-storage, not by the Litestream sidecar: set litestream.enabled=false or the layout Litestream writes" -}}
{{- end -}}
{{- if and $v.litestream.enabled $v.layout (ne $v.layout "auto") (ne $v.layout (printf "litestream-%s" $v.litestream.configVersion)) -}}
{{- fail (printf "sqlite-s3-restore: layout %s does not match the Litestream sidecar's litestream.configVersion %s" $v.layout $v.litestream.configVersion) -}}
{{- end -}}
{{- toYaml $v -}}
{{- end -}}

{{/*
What the library reads from the context of a (dict "values" ... "context" $)
call, as YAML: Helm's global (imageRegistry, imagePullSecrets) and the
calling chart's own imagePullSecrets; empty maps and lists otherwise.
*/}}
{{- define "sqlite-s3-restore.fromContext" -}}
{{- $global := dict -}}
{{- $pullSecrets := list -}}
{{- if and (kindIs "map" .) (hasKey . "context") -}}
{{- $context := get . "context" | default dict -}}
{{- $chartValues := dict -}}
{{- if and (kindIs "map" $context) (hasKey $context "Values") -}}
{{- $chartValues = get $context "Values" | default dict -}}
{{- end -}}
{{- $global = get $chartValues "global" | default dict -}}
{{- $pullSecrets = get $chartValues "imagePullSecrets" | default list -}}
{{- end -}}
{{- toYaml (dict "global" $global "imagePullSecrets" $pullSecrets) -}}
{{- end -}}

{{/*
An image reference from .image (repository, tag, digest: the digest wins) with
.registry (global.imageRegistry) in front of a repository that names no
registry; Docker's rule: the first path component names a registry when it has
a dot or a colon, or is localhost.
*/}}
{{- define "sqlite-s3-restore.imageRef" -}}
{{- $repository := .image.repository -}}
{{- $registry := .registry | default "" | toString | trimSuffix "/" -}}
{{- $parts := splitList "/" $repository -}}
{{- $first := first $parts -}}
{{- $namesRegistry := and (gt (len $parts) 1) (or (contains "." $first) (contains ":" $first) (eq $first "localhost")) -}}
{{- if and $registry (not $namesRegistry) -}}
{{- $repository = printf "%s/%s" $registry $repository -}}
{{- end -}}
{{- if .image.digest -}}
{{- printf "%s@%s" $repository .image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repository (toString .image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "sqlite-s3-restore.image" -}}
{{- $v := include "sqlite-s3-restore.values" . | fromYaml -}}
{{- $global := (include "sqlite-s3-restore.fromContext" . | fromYaml).global -}}
{{- include "sqlite-s3-restore.imageRef" (dict "image" $v.image "registry" (get $global "imageRegistry")) -}}
{{- end -}}

{{/*
The pod's imagePullSecrets, as list items (may be empty): global.imagePullSecrets,
then the calling chart's own top-level imagePullSecrets (the `helm create`
convention), each a name or {name: ...}, without duplicates. Both come from the
context: with the values dict alone there are none.
*/}}
{{- define "sqlite-s3-restore.imagePullSecrets" -}}
{{- include "sqlite-s3-restore.imagePullSecrets.items" . | trim -}}
{{- end -}}

{{- define "sqlite-s3-restore.imagePullSecrets.items" -}}
{{- $_ := include "sqlite-s3-restore.values" . -}}
{{- $context := include "sqlite-s3-restore.fromContext" . | fromYaml -}}
{{- $names := list -}}
{{- range list (list "global.imagePullSecrets" (get $context.global "imagePullSecrets")) (list "imagePullSecrets" $context.imagePullSecrets) -}}
{{- $source := index . 0 -}}
{{- $entries := index . 1 | default list -}}
{{- if not (kindIs "slice" $entries) -}}
{{- fail (printf "sqlite-s3-restore: %s must be a list of names or {name: ...}" $source) -}}
{{- end -}}
{{- range $entries -}}
{{- $name := . -}}
{{- if kindIs "map" . }}{{ $name = get . "name" }}{{ end -}}
{{- if not (and (kindIs "string" $name) $name) -}}
{{- fail (printf "sqlite-s3-restore: %s: each entry is a secret name or {name: ...}, got %v" $source .) -}}
{{- end -}}
{{- if not (has $name $names) }}{{ $names = append $names $name }}{{ end -}}
{{- end -}}
{{- end -}}
{{- range $names }}
- name: {{ . | quote }}
{{- end }}
{{- end -}}

{{/* An env entry with a string value; nothing when the value is unset (nil or ""). */}}
{{- define "sqlite-s3-restore.envVar" -}}
{{- if not (or (kindIs "invalid" .value) (and (kindIs "string" .value) (eq .value ""))) }}
- name: {{ .name }}
  value: {{ (kindIs "float64" .value) | ternary (.value | int64 | toString) (.value | toString) | quote }}
{{- end -}}
{{- end -}}

{{- define "sqlite-s3-restore.env" -}}
{{- include "sqlite-s3-restore.env.items" . | trim -}}
{{- end -}}

{{- define "sqlite-s3-restore.env.items" -}}
{{- $v := include "sqlite-s3-restore.values" . | fromYaml -}}
{{- include "sqlite-s3-restore.settingsEnv" (dict "v" $v "except" (list)) }}
{{- include "sqlite-s3-restore.credentialsEnv" $v }}
{{- with $v.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
The SQLITE_RESTORE_* variables of the merged values .v, in one fixed order,
except those named in .except (the verify Job leaves out what only a restore
reads and sets its own timeout and scratch directory).
*/}}
{{- define "sqlite-s3-restore.settingsEnv" -}}
{{- $v := .v -}}
{{- $settings := list
  (list "SQLITE_RESTORE_REPLICA_URL" $v.replicaUrl)
  (list "SQLITE_RESTORE_LAYOUT" $v.layout)
  (list "SQLITE_RESTORE_DB_PATH" $v.database.path)
  (list "SQLITE_RESTORE_S3_ENDPOINT" $v.s3.endpoint)
  (list "SQLITE_RESTORE_S3_FORCE_PATH_STYLE" $v.s3.forcePathStyle)
  (list "SQLITE_RESTORE_S3_REGION" $v.s3.region)
  (list "SQLITE_RESTORE_S3_CHECKSUMS" $v.s3.checksums)
  (list "SQLITE_RESTORE_IF_EXISTS" $v.ifExists)
  (list "SQLITE_RESTORE_IF_NO_BACKUP" $v.ifNoBackup)
  (list "SQLITE_RESTORE_VERIFY" $v.verify)
  (list "SQLITE_RESTORE_MARKER_PATH" $v.markerPath)
  (list "SQLITE_RESTORE_TIMEOUT_SECONDS" $v.timeoutSeconds)
  (list "SQLITE_RESTORE_CONCURRENCY" $v.concurrency)
  (list "SQLITE_RESTORE_MAX_ATTEMPTS" $v.maxAttempts)
  (list "SQLITE_RESTORE_RETRY_WINDOW_SECONDS" $v.retryWindowSeconds)
  (list "SQLITE_RESTORE_IDLE_TIMEOUT_SECONDS" $v.idleTimeoutSeconds)
  (list "SQLITE_RESTORE_FILE_MODE" $v.fileMode)
  (list "SQLITE_RESTORE_FILE_UID" $v.fileUid)
  (list "SQLITE_RESTORE_FILE_GID" $v.fileGid)
  (list "SQLITE_RESTORE_LOG_LEVEL" $v.logLevel)
  (list "SQLITE_RESTORE_PROGRESS_SECONDS" $v.progressSeconds)
  (list "SQLITE_RESTORE_TARGET_TIME" $v.target.time)
  (list "SQLITE_RESTORE_TARGET_GENERATION" $v.target.generation)
  (list "SQLITE_RESTORE_TARGET_INDEX" $v.target.index)
  (list "SQLITE_RESTORE_TARGET_TXID" $v.target.txid)
  (list "SQLITE_RESTORE_TARGET_MATCH" $v.target.match)
  (list "SQLITE_RESTORE_VERIFY_DIR" $v.verifyDir)
  (list "SQLITE_RESTORE_MAX_AGE" $v.maxAge)
-}}
{{- range $settings }}
{{- if not (has (index . 0) $.except) }}
{{- include "sqlite-s3-restore.envVar" (dict "name" (index . 0) "value" (index . 1)) }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
AWS credentials for every container that reaches the replica (restore,
verify, the Litestream sidecar): static keys from an existing Secret, or the
IRSA variables the EKS webhook would inject when the chart projects the token
itself (irsa.tokenProjection.enabled); nothing otherwise.
*/}}
{{- define "sqlite-s3-restore.credentialsEnv" -}}
{{- $v := . -}}
{{- with $v.credentials.existingSecret }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ . | quote }}
      key: {{ $v.credentials.accessKeyIdKey | quote }}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ . | quote }}
      key: {{ $v.credentials.secretAccessKeyKey | quote }}
{{- if $v.credentials.sessionTokenKey }}
- name: AWS_SESSION_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ . | quote }}
      key: {{ $v.credentials.sessionTokenKey | quote }}
{{- end }}
{{- end }}
{{- if $v.irsa.tokenProjection.enabled }}
- name: AWS_ROLE_ARN
  value: {{ $v.irsa.roleArn | quote }}
- name: AWS_WEB_IDENTITY_TOKEN_FILE
  value: {{ printf "%s/token" (include "sqlite-s3-restore.irsaTokenDir" .) | quote }}
{{- if $v.irsa.stsRegionalEndpoints }}
- name: AWS_STS_REGIONAL_ENDPOINTS
  value: "regional"
{{- end }}
{{- end }}
{{- end -}}

{{/* Where the EKS webhook mounts the projected token; the chart uses the same place. */}}
{{- define "sqlite-s3-restore.irsaTokenDir" -}}
/var/run/secrets/eks.amazonaws.com/serviceaccount
{{- end -}}

{{- define "sqlite-s3-restore.irsaTokenMount" -}}
{{- if .irsa.tokenProjection.enabled }}
- name: aws-iam-token
  mountPath: {{ include "sqlite-s3-restore.irsaTokenDir" . }}
  readOnly: true
{{- end }}
{{- end -}}

{{- define "sqlite-s3-restore.irsaTokenVolume" -}}
{{- if .irsa.tokenProjection.enabled }}
- name: aws-iam-token
  projected:
    sources:
      - serviceAccountToken:
          audience: {{ .irsa.tokenProjection.audience | quote }}
          expirationSeconds: {{ .irsa.tokenProjection.expirationSeconds | int64 }}
          path: token
{{- end }}
{{- end -}}

{{- define "sqlite-s3-restore.volumeMounts" -}}
{{- $v := include "sqlite-s3-restore.values" . | fromYaml -}}
- name: {{ $v.database.volumeName }}
  mountPath: {{ $v.database.mountPath }}
{{- include "sqlite-s3-restore.irsaTokenMount" $v }}
{{- with $v.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
Volumes the init container (and the Litestream sidecar) need besides what the
pod already has: the data volume when database.volume is set (e.g. emptyDir:
{} or persistentVolumeClaim: {claimName: x}; leave it empty with a
StatefulSet volumeClaimTemplate), the projected IRSA token
(irsa.tokenProjection), the sidecar's configuration (litestream.enabled), then
extraVolumes (e.g. the directory of a file:// replica).
*/}}
{{- define "sqlite-s3-restore.volumes" -}}
{{- include "sqlite-s3-restore.volumes.items" . | trim -}}
{{- end -}}

{{- define "sqlite-s3-restore.volumes.items" -}}
{{- $v := include "sqlite-s3-restore.values" . | fromYaml -}}
{{- with $v.database.volume }}
- name: {{ $v.database.volumeName }}
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- include "sqlite-s3-restore.irsaTokenVolume" $v }}
{{- include "sqlite-s3-restore.litestreamConfigVolume" $v }}
{{- with $v.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "sqlite-s3-restore.serviceAccountAnnotations" -}}
{{- include "sqlite-s3-restore.serviceAccountAnnotations.items" . | trim -}}
{{- end -}}

{{- define "sqlite-s3-restore.serviceAccountAnnotations.items" -}}
{{- $v := include "sqlite-s3-restore.values" . | fromYaml -}}
{{- with $v.irsa.roleArn }}
eks.amazonaws.com/role-arn: {{ . | quote }}
{{- if $v.irsa.stsRegionalEndpoints }}
eks.amazonaws.com/sts-regional-endpoints: "true"
{{- end }}
{{- end }}
{{- end -}}

{{- define "sqlite-s3-restore.initContainer" -}}
{{- $v := include "sqlite-s3-restore.values" . | fromYaml -}}
- name: {{ $v.name }}
  image: {{ include "sqlite-s3-restore.image" . | quote }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  args: ["restore"]
  env:
    {{- include "sqlite-s3-restore.env" . | nindent 4 }}
  {{- with $v.extraEnvFrom }}
  envFrom:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  volumeMounts:
    {{- include "sqlite-s3-restore.volumeMounts" . | nindent 4 }}
  {{- with $v.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.securityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  terminationMessagePath: /dev/termination-log
  terminationMessagePolicy: FallbackToLogsOnError
{{- end -}}
