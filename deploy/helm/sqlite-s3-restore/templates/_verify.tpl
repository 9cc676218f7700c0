{{/*
A Job (usually from a CronJob) that tests the backup: `sqlite-s3-restore
verify` restores the replica the init container reads into a scratch emptyDir
(verifyDir, default /scratch), runs PRAGMA integrity_check, reports, and
deletes it. Nothing touches the app's volume. Same image, replica settings,
credentials (static keys or IRSA) and hardening as the restore. In your chart:

  {{- $restore := dict "values" .Values.restore "context" $ }}
  jobTemplate:
    spec:
      {{- include "sqlite-s3-restore.verifyJobSpec" $restore | nindent 6 }}
      template:
        spec:
          restartPolicy: Never
          {{- with include "sqlite-s3-restore.imagePullSecrets" $restore }}
          imagePullSecrets:
            {{- . | nindent 12 }}
          {{- end }}
          containers:
            {{- include "sqlite-s3-restore.verifyContainer" $restore | nindent 12 }}
          volumes:
            {{- include "sqlite-s3-restore.verifyVolumes" $restore | nindent 12 }}
*/}}

{{- define "sqlite-s3-restore.verifyDir" -}}
{{- .verifyDir | default "/scratch" -}}
{{- end -}}

{{- define "sqlite-s3-restore.verifyContainer" -}}
{{- $v := include "sqlite-s3-restore.values" . | fromYaml -}}
{{- $job := $v.verifyJob -}}
{{- /* what only a restore reads is left out; the timeout and the scratch directory are the Job's */ -}}
{{- $restoreOnly := list "SQLITE_RESTORE_IF_EXISTS" "SQLITE_RESTORE_IF_NO_BACKUP" "SQLITE_RESTORE_VERIFY" "SQLITE_RESTORE_MARKER_PATH" "SQLITE_RESTORE_FILE_MODE" "SQLITE_RESTORE_FILE_UID" "SQLITE_RESTORE_FILE_GID" "SQLITE_RESTORE_TIMEOUT_SECONDS" "SQLITE_RESTORE_VERIFY_DIR" "SQLITE_RESTORE_MAX_AGE" -}}
- name: {{ $job.name }}
  image: {{ include "sqlite-s3-restore.image" . | quote }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  args: ["verify"]
  env:
    {{- include "sqlite-s3-restore.settingsEnv" (dict "v" $v "except" $restoreOnly) | trim | nindent 4 }}
    - name: SQLITE_RESTORE_VERIFY_DIR
      value: {{ include "sqlite-s3-restore.verifyDir" $v | quote }}
    {{- with $job.maxAge }}
    # A backup that restores but stopped being written fails with 69.
    - name: SQLITE_RESTORE_MAX_AGE
      value: {{ . | quote }}
    {{- end }}
    # Below the Job's activeDeadlineSeconds: the tool reports the timeout itself (exit 75).
    - name: SQLITE_RESTORE_TIMEOUT_SECONDS
      value: {{ $job.timeoutSeconds | int64 | toString | quote }}
    {{- with (include "sqlite-s3-restore.credentialsEnv" $v | trim) }}
    {{- . | nindent 4 }}
    {{- end }}
    {{- with $v.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $v.extraEnvFrom }}
  envFrom:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  volumeMounts:
    - name: scratch
      mountPath: {{ include "sqlite-s3-restore.verifyDir" $v }}
    {{- with (include "sqlite-s3-restore.irsaTokenMount" $v | trim) }}
    {{- . | nindent 4 }}
    {{- end }}
    {{- with $v.extraVolumeMounts }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
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

{{- define "sqlite-s3-restore.verifyVolumes" -}}
{{- $v := include "sqlite-s3-restore.values" . | fromYaml -}}
- name: scratch
  emptyDir:
    # Room for the restored database plus the pages spilled while applying
    # the WAL: about twice the database size.
    sizeLimit: {{ $v.verifyJob.scratchSizeLimit | quote }}
{{- include "sqlite-s3-restore.irsaTokenVolume" $v }}
{{- with $v.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
The Job's retry policy. A verify that exits with one of failFastExitCodes
(65 corrupt backup, 66 no backup, 77 access denied, 78 configuration) fails
the Job at once: retrying cannot change the finding, and a failed Job is the
alert. Any other failure, above all 75 (storage unavailable, timed out), is
retried up to backoffLimit times with the Job controller's back-off. A pod
evicted or preempted (condition DisruptionTarget) is not counted.
*/}}
{{- define "sqlite-s3-restore.verifyJobSpec" -}}
{{- $v := include "sqlite-s3-restore.values" . | fromYaml -}}
{{- $job := $v.verifyJob -}}
backoffLimit: {{ $job.backoffLimit | int64 }}
activeDeadlineSeconds: {{ $job.activeDeadlineSeconds | int64 }}
podFailurePolicy:
  rules:
    - action: FailJob
      onExitCodes:
        containerName: {{ $job.name }}
        operator: In
        values:
          {{- range $job.failFastExitCodes }}
          - {{ . | int64 }}
          {{- end }}
    - action: Ignore
      onPodConditions:
        - type: DisruptionTarget
          status: "True"
{{- end -}}
