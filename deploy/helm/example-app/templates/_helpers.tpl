{{- define "example-app.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "example-app.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "example-app.selectorLabels" -}}
app.kubernetes.io/name: {{ include "example-app.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "example-app.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "example-app.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "example-app.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "example-app.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
A map whose values are strings (labels, annotations, a nodeSelector): --set
podLabels.tier=1 or a YAML true would otherwise reach the API server as a
number or a boolean, which it rejects.
*/}}
{{- define "example-app.stringMap" -}}
{{- $out := dict -}}
{{- range $key, $value := . -}}
{{- if and (kindIs "float64" $value) (eq $value (float64 (int64 $value))) }}{{ $value = int64 $value }}{{ end -}}
{{- $_ := set $out $key (toString $value) -}}
{{- end -}}
{{- with $out }}{{ toYaml . }}{{ end -}}
{{- end -}}

{{/* The pod's labels: podLabels, under the selector labels (which win). */}}
{{- define "example-app.podLabels" -}}
{{- $labels := include "example-app.stringMap" .Values.podLabels | fromYaml -}}
{{- toYaml (merge (include "example-app.selectorLabels" . | fromYaml) $labels) -}}
{{- end -}}

{{/*
The app's image: app.image (tag: app.image.tag or the chart's appVersion), or
the restore image when app.image.repository is empty; both through the
library, so global.imageRegistry applies as it does to the restore.
*/}}
{{- define "example-app.appImage" -}}
{{- $values := deepCopy .Values.restore -}}
{{- with .Values.app.image.repository -}}
{{- $_ := set $values "image" (dict "repository" . "tag" ($.Values.app.image.tag | default $.Chart.AppVersion | toString)) -}}
{{- end -}}
{{- include "sqlite-s3-restore.image" (dict "values" $values "context" .) -}}
{{- end -}}
