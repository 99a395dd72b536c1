{{/* Chart name, cut to the 63 characters of a DNS label. */}}
{{- define "sf-broker.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Name of every resource: <release>-<chart>, or the release name when it already contains the chart name. */}}
{{- define "sf-broker.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels of every resource. */}}
{{- define "sf-broker.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "sf-broker.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels that select the broker's pods (never change them: Deployment selectors are immutable). */}}
{{- define "sf-broker.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sf-broker.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The ServiceAccount the pods run as. */}}
{{- define "sf-broker.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sf-broker.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository@digest when a digest is given, else repository:tag (tag defaults to appVersion). */}}
{{- define "sf-broker.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Where the projected, audience-bound service-account token for Vault is mounted. */}}
{{- define "sf-broker.vaultTokenDir" -}}
/var/run/secrets/vault
{{- end }}

{{/* Where the principals Secret is mounted. */}}
{{- define "sf-broker.principalsDir" -}}
/etc/sf-broker/principals
{{- end }}

{{/* Where extra CA certificates are mounted. */}}
{{- define "sf-broker.caDir" -}}
/etc/sf-broker/ca
{{- end }}

{{/* Where the /metrics bearer token Secret is mounted. */}}
{{- define "sf-broker.metricsTokenDir" -}}
/etc/sf-broker/metrics
{{- end }}

{{/* Where the Redis password Secret is mounted (REDIS_PASSWORD_FILE) */}}
{{- define "sf-broker.redisPasswordDir" -}}
/etc/sf-broker/redis-auth
{{- end }}

{{/* Where the Redis TLS Secret (CA, client certificate and key) is mounted */}}
{{- define "sf-broker.redisTlsDir" -}}
/etc/sf-broker/redis-tls
{{- end }}

{{/* The name the broker's certificate is issued for: its Service's (the ServiceMonitor checks it, sfb in the pod uses it) */}}
{{- define "sf-broker.tlsServerName" -}}
{{ printf "%s.%s.svc" (include "sf-broker.fullname" .) .Release.Namespace }}
{{- end }}

{{/* Where the CA of the broker's certificate is mounted, for sfb in the pod (SFB_CA_FILE) */}}
{{- define "sf-broker.tlsCaDir" -}}
/etc/sf-broker/tls-ca
{{- end }}

{{/* Where the broker's own TLS certificate and key are mounted */}}
{{- define "sf-broker.tlsDir" -}}
/etc/sf-broker/tls
{{- end }}

{{/* Where Vault's CA and the client certificate are mounted */}}
{{- define "sf-broker.vaultTlsDir" -}}
/etc/sf-broker/vault-tls
{{- end }}

{{/* resources.limits.memory in MiB (Ki, Mi, Gi, Ti, k, M, G, T or bytes), 0 when unset. */}}
{{- define "sf-broker.memoryLimitMiB" -}}
{{- $raw := dig "limits" "memory" "" .Values.resources -}}
{{- /* a number from a values file is a float64, which toString writes as 4.02653184e+08 */ -}}
{{- $limit := ternary (printf "%.0f" $raw) (toString $raw) (kindIs "float64" $raw) -}}
{{- if $limit -}}
{{- $number := regexFind "^[0-9.]+" $limit -}}
{{- $unit := trimPrefix $number $limit -}}
{{- $factors := dict "" (divf 1 1048576) "Ki" (divf 1 1024) "Mi" 1 "Gi" 1024 "Ti" 1048576 "k" (divf 1000 1048576) "M" (divf 1000000 1048576) "G" (divf 1000000000 1048576) "T" (divf 1000000000000 1048576) -}}
{{- if not (hasKey $factors $unit) }}{{ fail (printf "resources.limits.memory %q: use Mi or Gi (or Ki, Ti, k, M, G, T, bytes)" $limit) }}{{ end -}}
{{- mulf (float64 $number) (get $factors $unit) | floor | int -}}
{{- else -}}
0
{{- end -}}
{{- end }}

{{/* Where the sfb admin key Secret is mounted (SFB_ADMIN_KEY_FILE) */}}
{{- define "sf-broker.sfbKeyDir" -}}
/etc/sf-broker/sfb
{{- end }}

{{/*
The broker's secret settings: those it also reads from <NAME>_FILE, and VAULT_TOKEN. Never a value of
this chart (config lands in a ConfigMap, an extraEnv value in the pod spec): only a Secret reference.
*/}}
{{- define "sf-broker.secretSettings" -}}
VAULT_TOKEN VAULT_ROLE_ID VAULT_SECRET_ID FILE_STORE_KEY REDIS_PASSWORD SESSION_ENCRYPTION_KEY SESSION_ENCRYPTION_KEY_PREVIOUS METRICS_TOKEN WEBHOOK_SECRET WEBHOOK_SECRET_PREVIOUS
{{- end }}
