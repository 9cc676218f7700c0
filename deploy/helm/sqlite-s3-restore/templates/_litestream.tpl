{{/*
The Litestream backup sidecar (litestream.enabled): `litestream replicate` as a
native sidecar, i.e. an init container with restartPolicy: Always that you
list after the restore init container, so it starts once the database is in
place, runs beside the app, and is stopped after the app (Litestream syncs a
last time on SIGTERM). It replicates to the replica the restore reads:
replicaUrl (bucket and path, or a file:// directory), s3.endpoint, s3.region,
s3.forcePathStyle, and the same credentials (credentials.existingSecret, or
IRSA); the role or keys need write access for it.

Its litestream.yml is rendered here (v0.3 or v0.5 format:
litestream.configVersion) and reaches the container through a pod annotation
projected as a file by a downwardAPI volume, so the pod needs no ConfigMap
whose name the library would have to know, and a changed configuration
changes the pod template (a rollout). The pod template therefore needs:

  {{- $restore := dict "values" .Values.restore "context" $ }}
  metadata:
    annotations:
      {{- include "sqlite-s3-restore.podAnnotations" $restore | nindent 6 }}
  spec:
    initContainers:
      {{- include "sqlite-s3-restore.initContainer" $restore | nindent 6 }}
      {{- include "sqlite-s3-restore.litestreamSidecar" $restore | nindent 6 }}
    volumes:
      {{- include "sqlite-s3-restore.volumes" $restore | nindent 6 }}
*/}}

{{- define "sqlite-s3-restore.litestreamAnnotation" -}}
sqlite-s3-restore/litestream.yml
{{- end -}}

{{/* litestream.yml for the merged values' replica and database. */}}
{{- define "sqlite-s3-restore.litestreamConfig" -}}
{{- $v := include "sqlite-s3-restore.values" . | fromYaml -}}
{{- $l := $v.litestream -}}
{{- $replica := dict -}}
{{- if hasPrefix "file://" $v.replicaUrl -}}
{{- $_ := set $replica "type" "file" -}}
{{- $_ := set $replica "path" (trimPrefix "file://" $v.replicaUrl) -}}
{{- else -}}
{{- $url := urlParse $v.replicaUrl -}}
{{- $_ := set $replica "type" "s3" -}}
{{- $_ := set $replica "bucket" $url.host -}}
{{- $_ := set $replica "path" (trimPrefix "/" $url.path) -}}
{{- with $v.s3.endpoint }}{{ $_ := set $replica "endpoint" . }}{{ end -}}
{{- with $v.s3.region }}{{ $_ := set $replica "region" . }}{{ end -}}
{{- /* null: Litestream's own default, which is the restore's (path style with an endpoint) */ -}}
{{- if kindIs "bool" $v.s3.forcePathStyle }}{{ $_ := set $replica "force-path-style" $v.s3.forcePathStyle }}{{ end -}}
{{- end -}}
{{- with $l.syncInterval }}{{ $_ := set $replica "sync-interval" . }}{{ end -}}
{{- $db := dict "path" $v.database.path -}}
{{- $config := dict -}}
{{- if eq $l.configVersion "v0.5" -}}
{{- /* v0.5: one replica per database; snapshots are configured for all databases */ -}}
{{- $_ := set $db "replica" $replica -}}
{{- $snapshot := dict -}}
{{- with $l.snapshotInterval }}{{ $_ := set $snapshot "interval" . }}{{ end -}}
{{- with $l.retention }}{{ $_ := set $snapshot "retention" . }}{{ end -}}
{{- if $snapshot }}{{ $_ := set $config "snapshot" $snapshot }}{{ end -}}
{{- else -}}
{{- with $l.snapshotInterval }}{{ $_ := set $replica "snapshot-interval" . }}{{ end -}}
{{- with $l.retention }}{{ $_ := set $replica "retention" . }}{{ end -}}
{{- $_ := set $db "replicas" (list $replica) -}}
{{- end -}}
{{- $_ := set $config "dbs" (list $db) -}}
{{- toYaml $config -}}
{{- end -}}

{{- define "sqlite-s3-restore.podAnnotations" -}}
{{- include "sqlite-s3-restore.podAnnotations.items" . | trim -}}
{{- end -}}

{{- define "sqlite-s3-restore.podAnnotations.items" -}}
{{- $v := include "sqlite-s3-restore.values" . | fromYaml -}}
{{- if $v.litestream.enabled }}
{{ include "sqlite-s3-restore.litestreamAnnotation" . }}: {{ include "sqlite-s3-restore.litestreamConfig" . | quote }}
{{- end }}
{{- end -}}

{{/* The downwardAPI volume that turns the annotation into /etc/litestream/litestream.yml (merged values). */}}
{{- define "sqlite-s3-restore.litestreamConfigVolume" -}}
{{- if .litestream.enabled }}
- name: litestream-config
  downwardAPI:
    items:
      - path: litestream.yml
        fieldRef:
          fieldPath: {{ printf "metadata.annotations['%s']" (include "sqlite-s3-restore.litestreamAnnotation" .) | quote }}
{{- end }}
{{- end -}}

{{- define "sqlite-s3-restore.litestreamSidecar" -}}
{{- $v := include "sqlite-s3-restore.values" . | fromYaml -}}
{{- $l := $v.litestream -}}
{{- if $l.enabled }}
- name: {{ $l.name }}
  {{- $global := (include "sqlite-s3-restore.fromContext" . | fromYaml).global }}
  image: {{ include "sqlite-s3-restore.imageRef" (dict "image" $l.image "registry" (get $global "imageRegistry")) | quote }}
  imagePullPolicy: {{ $l.image.pullPolicy }}
  # A native sidecar: starts after the restore, stops after the app.
  restartPolicy: Always
  args: ["replicate", "-config", "/etc/litestream/litestream.yml"]
  {{- $credentials := include "sqlite-s3-restore.credentialsEnv" $v | trim }}
  {{- if or $credentials $l.extraEnv }}
  env:
    {{- with $credentials }}
    {{- . | nindent 4 }}
    {{- end }}
    {{- with $l.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- end }}
  volumeMounts:
    - name: {{ $v.database.volumeName }}
      mountPath: {{ $v.database.mountPath }}
    - name: litestream-config
      mountPath: /etc/litestream
      readOnly: true
    {{- with (include "sqlite-s3-restore.irsaTokenMount" $v | trim) }}
    {{- . | nindent 4 }}
    {{- end }}
    {{- with $l.extraVolumeMounts }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $l.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $l.securityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  terminationMessagePolicy: FallbackToLogsOnError
{{- end }}
{{- end -}}
