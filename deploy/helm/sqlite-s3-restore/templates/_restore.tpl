{{/*
sqlite-s3-restore library chart.

Every public template takes the restore values dict (the structure of this
chart's values.yaml, validated by its values.schema.json) and merges it over
the defaults below, so a caller sets only what differs:

  initContainers:
    {{- include "sqlite-s3-restore.initContainer" .Values.restore | nindent 4 }}

Public templates:
  sqlite-s3-restore.initContainer             the init container, as a list item
  sqlite-s3-restore.env                       its env entries (list items)
  sqlite-s3-restore.volumeMounts              its volumeMounts (list items)
  sqlite-s3-restore.volumes                   pod volumes it needs (list items; may be empty)
  sqlite-s3-restore.serviceAccountAnnotations IRSA annotations for the pod's ServiceAccount (map; may be empty)
  sqlite-s3-restore.image                     the image reference
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
concurrency: 8
maxAttempts: null
retryWindowSeconds: null
fileMode: "0644"
fileUid: null
fileGid: null
logLevel: info
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

{{/* The caller's values merged over the defaults, checked, as YAML. */}}
{{- define "sqlite-s3-restore.values" -}}
{{- $caller := . | default dict -}}
{{- if not (kindIs "map" $caller) -}}
{{- fail "sqlite-s3-restore: pass the restore values dict, e.g. (include \"sqlite-s3-restore.initContainer\" .Values.restore)" -}}
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
{{- toYaml $v -}}
{{- end -}}

{{- define "sqlite-s3-restore.image" -}}
{{- $v := include "sqlite-s3-restore.values" . | fromYaml -}}
{{- if $v.image.digest -}}
{{- printf "%s@%s" $v.image.repository $v.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $v.image.repository (toString $v.image.tag) -}}
{{- end -}}
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
{{- include "sqlite-s3-restore.envVar" (dict "name" "SQLITE_RESTORE_REPLICA_URL" "value" $v.replicaUrl) }}
{{- include "sqlite-s3-restore.envVar" (dict "name" "SQLITE_RESTORE_LAYOUT" "value" $v.layout) }}
{{- include "sqlite-s3-restore.envVar" (dict "name" "SQLITE_RESTORE_DB_PATH" "value" $v.database.path) }}
{{- include "sqlite-s3-restore.envVar" (dict "name" "SQLITE_RESTORE_S3_ENDPOINT" "value" $v.s3.endpoint) }}
{{- include "sqlite-s3-restore.envVar" (dict "name" "SQLITE_RESTORE_S3_FORCE_PATH_STYLE" "value" $v.s3.forcePathStyle) }}
{{- include "sqlite-s3-restore.envVar" (dict "name" "SQLITE_RESTORE_S3_REGION" "value" $v.s3.region) }}
{{- include "sqlite-s3-restore.envVar" (dict "name" "SQLITE_RESTORE_S3_CHECKSUMS" "value" $v.s3.checksums) }}
{{- include "sqlite-s3-restore.envVar" (dict "name" "SQLITE_RESTORE_IF_EXISTS" "value" $v.ifExists) }}
{{- include "sqlite-s3-restore.envVar" (dict "name" "SQLITE_RESTORE_IF_NO_BACKUP" "value" $v.ifNoBackup) }}
{{- include "sqlite-s3-restore.envVar" (dict "name" "SQLITE_RESTORE_VERIFY" "value" $v.verify) }}
{{- include "sqlite-s3-restore.envVar" (dict "name" "SQLITE_RESTORE_MARKER_PATH" "value" $v.markerPath) }}
{{- include "sqlite-s3-restore.envVar" (dict "name" "SQLITE_RESTORE_TIMEOUT_SECONDS" "value" $v.timeoutSeconds) }}
{{- include "sqlite-s3-restore.envVar" (dict "name" "SQLITE_RESTORE_IDLE_TIMEOUT_SECONDS" "value" $v.idleTimeoutSeconds) }}
{{- include "sqlite-s3-restore.envVar" (dict "name" "SQLITE_RESTORE_CONCURRENCY" "value" $v.concurrency) }}
{{- include "sqlite-s3-restore.envVar" (dict "name" "SQLITE_RESTORE_MAX_ATTEMPTS" "value" $v.maxAttempts) }}
{{- include "sqlite-s3-restore.envVar" (dict "name" "SQLITE_RESTORE_RETRY_WINDOW_SECONDS" "value" $v.retryWindowSeconds) }}
{{- include "sqlite-s3-restore.envVar" (dict "name" "SQLITE_RESTORE_FILE_MODE" "value" $v.fileMode) }}
{{- include "sqlite-s3-restore.envVar" (dict "name" "SQLITE_RESTORE_FILE_UID" "value" $v.fileUid) }}
{{- include "sqlite-s3-restore.envVar" (dict "name" "SQLITE_RESTORE_FILE_GID" "value" $v.fileGid) }}
{{- include "sqlite-s3-restore.envVar" (dict "name" "SQLITE_RESTORE_LOG_LEVEL" "value" $v.logLevel) }}
{{- include "sqlite-s3-restore.envVar" (dict "name" "SQLITE_RESTORE_TARGET_TIME" "value" $v.target.time) }}
{{- include "sqlite-s3-restore.envVar" (dict "name" "SQLITE_RESTORE_TARGET_GENERATION" "value" $v.target.generation) }}
{{- include "sqlite-s3-restore.envVar" (dict "name" "SQLITE_RESTORE_TARGET_INDEX" "value" $v.target.index) }}
{{- include "sqlite-s3-restore.envVar" (dict "name" "SQLITE_RESTORE_TARGET_TXID" "value" $v.target.txid) }}
{{- include "sqlite-s3-restore.envVar" (dict "name" "SQLITE_RESTORE_TARGET_MATCH" "value" $v.target.match) }}
{{- include "sqlite-s3-restore.envVar" (dict "name" "SQLITE_RESTORE_VERIFY_DIR" "value" $v.verifyDir) }}
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
{{- with $v.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "sqlite-s3-restore.volumeMounts" -}}
{{- $v := include "sqlite-s3-restore.values" . | fromYaml -}}
- name: {{ $v.database.volumeName }}
  mountPath: {{ $v.database.mountPath }}
{{- with $v.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
Volumes the init container needs besides what the pod already has: the data
volume when database.volume is set (e.g. emptyDir: {} or
persistentVolumeClaim: {claimName: x}; leave it empty with a StatefulSet
volumeClaimTemplate), then extraVolumes (e.g. the directory of a file:// replica).
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
