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

{{/*
Every variable the broker reads (src/config.ts: each setting, and <NAME>_FILE of the secret ones). A test holds
this list to the broker's. The broker refuses to start (exit 78) on a variable with one of their prefixes that
is none of them, unless it is a Kubernetes service link or one of a few other programs' variables.
*/}}
{{- define "sf-broker.settingNames" -}}
HOST PORT LOG_LEVEL TRUST_PROXY BODY_LIMIT_BYTES MAX_HEADER_BYTES SHUTDOWN_TIMEOUT_MS TLS_CERT_FILE TLS_KEY_FILE TLS_RELOAD_SECONDS DOCS_ENABLED SECRET_STORE SECRET_CACHE_TTL_SECONDS VAULT_ADDR VAULT_AUTH_METHOD VAULT_TOKEN VAULT_TOKEN_FILE VAULT_NAMESPACE VAULT_APPROLE_MOUNT VAULT_CACERT VAULT_CLIENT_CERT VAULT_CLIENT_KEY VAULT_STARTUP_TIMEOUT_SECONDS VAULT_ROLE_ID VAULT_SECRET_ID VAULT_KUBERNETES_ROLE VAULT_KUBERNETES_MOUNT VAULT_KUBERNETES_TOKEN_PATH VAULT_KV_MOUNT VAULT_PATH_PREFIX VAULT_TIMEOUT_MS FILE_STORE_PATH FILE_STORE_KEY REDIS_URL SHARED_STATE REDIS_SENTINELS REDIS_SENTINEL_NAME REDIS_CLUSTER_NODES REDIS_USERNAME REDIS_PASSWORD REDIS_TLS_CA_FILE REDIS_TLS_CERT_FILE REDIS_TLS_KEY_FILE REDIS_FAILOVER_WAIT_MS REDIS_KEY_PREFIX SESSION_ENCRYPTION_KEY SESSION_ENCRYPTION_KEY_PREVIOUS SESSION_MAX_TTL_SECONDS SESSION_SAFETY_MARGIN_SECONDS LOGIN_TIMEOUT_MS LOGIN_WAIT_TIMEOUT_MS LOGIN_RETRIES CIRCUIT_COOLDOWN_SECONDS CIRCUIT_MAX_COOLDOWN_SECONDS LOCKOUT_THRESHOLD LOCKOUT_WINDOW_SECONDS SALESFORCE_LOGINS_PER_HOUR LOGIN_LEASE_TTL_MS REVOKED_SESSION_LOGIN_INTERVAL_SECONDS FORCED_REFRESH_PER_CALLER_PER_MINUTE LOGIN_URL_ALLOWLIST REVOKE_ON_ROTATION HTTPS_PROXY HTTP_PROXY NO_PROXY PRINCIPALS_FILE PRINCIPALS_RELOAD_SECONDS PRINCIPALS_JSON JWKS_URL JWT_ISSUER JWT_AUDIENCE JWT_MAX_TTL_SECONDS HEALTH_DETAILS METRICS_TOKEN CALLER_RATE_LIMIT_PER_MINUTE PROXY_BODY_LIMIT_BYTES PROXY_REPLAY_BUFFER_BYTES REQUEST_TIMEOUT_SECONDS SOCKET_IDLE_TIMEOUT_MS PROXY_UPLOAD_IDLE_TIMEOUT_MS PROXY_UPSTREAM_TIMEOUT_MS API_USAGE_WARN_RATIO VALIDATION_INTERVAL_SECONDS FULL_VALIDATION_INTERVAL_SECONDS VALIDATION_MAX_PER_SECOND SCHEDULER_ENABLED FLOW_SUNSET_OAUTH_PASSWORD_DATE FLOW_SUNSET_SOAP_DATE FLOW_SUNSET_WARN_DAYS PASSWORD_EXPIRY_WARN_DAYS JWT_KEY_CUSTODY VAULT_TRANSIT_MOUNT JWT_CERT_VALIDITY_DAYS ALLOW_UNKNOWN_VARIABLES CERT_EXPIRY_WARN_DAYS WEBHOOK_URLS WEBHOOK_SECRET WEBHOOK_SECRET_PREVIOUS WEBHOOK_MAX_ATTEMPTS WEBHOOK_RETRY_BASE_MS WEBHOOK_RETRY_MAX_MS WEBHOOK_TIMEOUT_MS WEBHOOK_DEAD_LETTER_MAX CERT_ROTATION_START_DAYS AUDIT_ADMIN_MAX_ENTRIES AUDIT_ADMIN_MAX_AGE_DAYS AUDIT_HANDOUTS_MAX_ENTRIES AUDIT_HANDOUTS_MAX_AGE_HOURS AUDIT_FILE AUDIT_FILE_MAX_BYTES AUDIT_FILE_KEEP AUDIT_SYSLOG_URL AUDIT_SINK_REQUIRED VAULT_ROLE_ID_FILE VAULT_SECRET_ID_FILE FILE_STORE_KEY_FILE REDIS_PASSWORD_FILE SESSION_ENCRYPTION_KEY_FILE SESSION_ENCRYPTION_KEY_PREVIOUS_FILE METRICS_TOKEN_FILE WEBHOOK_SECRET_FILE WEBHOOK_SECRET_PREVIOUS_FILE
{{- end }}
