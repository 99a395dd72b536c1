import { readFileSync } from 'node:fs'
import { Type, type Static } from 'typebox'
import Value from 'typebox/value'
import { ConfigError, ConfigProblems } from './config/config-error.ts'
import { readFileVariants, readLowerCaseProxyVariables } from './config/env-sources.ts'
import { describeSchemaError, EXPECTED } from './config/schema-error.ts'
import { unknownVariables } from './config/unknown-variables.ts'
import { parseSunsetDate } from './salesforce/flow-sunset.ts'
import { createLoginUrlPolicy } from './salesforce/login-url.ts'

export { ConfigError }

/**
 * The broker's whole configuration, from environment variables. This is the only file that reads
 * process.env. Every variable is listed here once, with its default and meaning (the README's
 * configuration table is generated from these descriptions).
 */
/**
 * Marks a secret setting that may instead be read from a file named by `<VARIABLE>_FILE` (a
 * mounted Kubernetes or Docker secret), so the value never sits in the process environment.
 */
export const FROM_FILE = 'x-from-file'

/** host:port[,host:port…] (IPv6 in brackets) */
const HOST_PORT_LIST = '^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]+):[0-9]{1,5}(,\\s*(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]+):[0-9]{1,5})*$'
/** redis[s]://host:port[,…] */
const CLUSTER_SEEDS = '^rediss?://[^,\\s]+(,\\s*rediss?://[^,\\s]+)*$'

const Base64Key = Type.String({ pattern: '^[A-Za-z0-9+/]{43}=$', [EXPECTED]: '32 random bytes, base64 (openssl rand -base64 32)', description: '32 random bytes, base64 (openssl rand -base64 32)' })

export const ConfigSchema = Type.Object({
  HOST: Type.String({ default: '0.0.0.0', description: 'Listen address (0.0.0.0 so Kubernetes probes reach the pod)' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000, description: 'Listen port' }),
  LOG_LEVEL: Type.Union([Type.Literal('fatal'), Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'), Type.Literal('debug'), Type.Literal('trace'), Type.Literal('silent')], { default: 'info', description: 'pino log level' }),
  TRUST_PROXY: Type.Boolean({ default: false, description: 'Trust X-Forwarded-* from a proxy in front of the broker' }),
  BODY_LIMIT_BYTES: Type.Integer({ minimum: 1024, default: 65536, description: 'Largest accepted request body' }),
  MAX_HEADER_BYTES: Type.Integer({ minimum: 4096, maximum: 1048576, default: 16384, description: 'Largest request line plus headers (Node\'s maxHeaderSize); larger answers 431 headers_too_large. Raise it for callers with long JWTs or Sforce-Call-Options' }),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({ minimum: 1000, default: 10000, description: 'Longest a SIGTERM shutdown takes; requests still waiting for a Salesforce login near its end are answered 503 shutting_down (keep terminationGracePeriodSeconds above it)' }),
  TLS_CERT_FILE: Type.Optional(Type.String({ minLength: 1, description: 'PEM certificate chain: the broker serves HTTPS (with TLS_KEY_FILE); reloaded when the file changes, no restart' })),
  TLS_KEY_FILE: Type.Optional(Type.String({ minLength: 1, description: 'PEM private key of TLS_CERT_FILE (both or neither)' })),
  TLS_RELOAD_SECONDS: Type.Integer({ minimum: 1, maximum: 3600, default: 10, description: 'How often TLS_CERT_FILE and TLS_KEY_FILE are checked for a renewed certificate' }),
  DOCS_ENABLED: Type.Boolean({ default: true, description: 'Serve Swagger UI at /docs' }),

  SECRET_STORE: Type.Union([Type.Literal('vault'), Type.Literal('file')], { default: 'vault', description: 'Where connection secrets live: Vault KV v2, or an encrypted local file (single node, demo)' }),
  SECRET_CACHE_TTL_SECONDS: Type.Integer({ minimum: 0, maximum: 600, default: 30, description: 'How long a secret read from the store may be held in memory' }),
  VAULT_ADDR: Type.Optional(Type.String({ pattern: '^https?://', description: 'Vault address, e.g. https://vault.internal:8200' })),
  VAULT_AUTH_METHOD: Type.Union([Type.Literal('token'), Type.Literal('approle'), Type.Literal('kubernetes')], { default: 'kubernetes', description: 'How the broker logs in to Vault' }),
  VAULT_TOKEN: Type.Optional(Type.String({ minLength: 1, description: 'Vault token (VAULT_AUTH_METHOD=token); or VAULT_TOKEN_FILE' })),
  VAULT_TOKEN_FILE: Type.Optional(Type.String({ minLength: 1, description: 'File holding the Vault token, e.g. a Vault Agent sink (VAULT_AUTH_METHOD=token): re-read when it changes, no restart; the Agent renews it' })),
  VAULT_NAMESPACE: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*/?$', description: 'Vault Enterprise namespace of the broker\'s auth method and KV mount (sent as X-Vault-Namespace), e.g. team-a or org/team-a' })),
  VAULT_APPROLE_MOUNT: Type.String({ default: 'approle', pattern: '^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$', description: 'Mount path of the AppRole auth method' }),
  VAULT_CACERT: Type.Optional(Type.String({ minLength: 1, description: 'PEM CA bundle that signs Vault\'s certificate (a private CA); default: the system CAs' })),
  VAULT_CLIENT_CERT: Type.Optional(Type.String({ minLength: 1, description: 'PEM client certificate presented to Vault (mutual TLS, with VAULT_CLIENT_KEY)' })),
  VAULT_CLIENT_KEY: Type.Optional(Type.String({ minLength: 1, description: 'PEM private key of VAULT_CLIENT_CERT' })),
  VAULT_STARTUP_TIMEOUT_SECONDS: Type.Integer({ minimum: 0, maximum: 3600, default: 120, description: 'At start, how long the broker retries (with backoff, not ready meanwhile) while Vault is unreachable or refuses the login before it exits; 0 = exit at the first failure' }),
  VAULT_ROLE_ID: Type.Optional(Type.String({ minLength: 1, [FROM_FILE]: true, description: 'AppRole role_id (VAULT_AUTH_METHOD=approle)' })),
  VAULT_SECRET_ID: Type.Optional(Type.String({ minLength: 1, [FROM_FILE]: true, description: 'AppRole secret_id (VAULT_AUTH_METHOD=approle)' })),
  VAULT_KUBERNETES_ROLE: Type.Optional(Type.String({ minLength: 1, description: 'Vault role for Kubernetes auth' })),
  VAULT_KUBERNETES_MOUNT: Type.String({ default: 'kubernetes', description: 'Mount path of the Kubernetes auth method' }),
  VAULT_KUBERNETES_TOKEN_PATH: Type.String({ default: '/var/run/secrets/kubernetes.io/serviceaccount/token', description: 'Service-account token file' }),
  VAULT_KV_MOUNT: Type.String({ default: 'secret', pattern: '^[A-Za-z0-9_-]+$', description: 'KV v2 mount' }),
  VAULT_PATH_PREFIX: Type.String({ default: 'sf-broker', pattern: '^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$', description: 'Path under the mount; each connection is {prefix}/{name}' }),
  VAULT_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 5000, description: 'Timeout of one Vault request' }),
  FILE_STORE_PATH: Type.String({ default: './data/connections.enc', description: 'Encrypted secret file (SECRET_STORE=file)' }),
  FILE_STORE_KEY: Type.Optional({ ...Base64Key, [FROM_FILE]: true, description: 'AES-256-GCM key of the secret file (SECRET_STORE=file)' }),

  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://', description: 'Redis shared by all replicas (one server); one of REDIS_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES is required unless SHARED_STATE=memory' })),
  SHARED_STATE: Type.Optional(Type.Union([Type.Literal('redis'), Type.Literal('memory')], { description: 'memory = no Redis: sessions, the lockout guard and the login budget live in this process only (one replica; said loudly at start). Unset or redis = a Redis setting is required' })),
  REDIS_SENTINELS: Type.Optional(Type.String({ pattern: HOST_PORT_LIST, [EXPECTED]: 'host:port of each sentinel, comma-separated (e.g. redis-sentinel-0:26379,redis-sentinel-1:26379)', description: 'Redis Sentinel: comma-separated host:port of the sentinels (instead of REDIS_URL; needs REDIS_SENTINEL_NAME)' })),
  REDIS_SENTINEL_NAME: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]+$', [EXPECTED]: 'the name of a "sentinel monitor" line: letters, digits, . _ - (e.g. mymaster)', description: 'Name of the primary the sentinels monitor (sentinel monitor <name> …)' })),
  REDIS_CLUSTER_NODES: Type.Optional(Type.String({ pattern: CLUSTER_SEEDS, [EXPECTED]: 'redis:// or rediss:// URLs of some cluster nodes, comma-separated (e.g. redis://redis-0:6379,redis://redis-1:6379)', description: 'Redis Cluster: comma-separated redis:// or rediss:// seed nodes (instead of REDIS_URL); the rest of the cluster is discovered' })),
  REDIS_USERNAME: Type.Optional(Type.String({ minLength: 1, description: 'Redis ACL user (also used for the sentinels); a user in REDIS_URL takes precedence' })),
  REDIS_PASSWORD: Type.Optional(Type.String({ minLength: 1, [FROM_FILE]: true, description: 'Password of REDIS_USERNAME (or of the default user; also used for the sentinels); a password in REDIS_URL takes precedence' })),
  REDIS_TLS_CA_FILE: Type.Optional(Type.String({ minLength: 1, description: 'PEM file of the CA that signed the Redis servers\' certificates; setting any REDIS_TLS_* file turns TLS on (Sentinel: to the sentinels and the primary), as rediss:// does' })),
  REDIS_TLS_CERT_FILE: Type.Optional(Type.String({ minLength: 1, description: 'PEM client certificate for Redis servers that require one (tls-auth-clients yes); needs REDIS_TLS_KEY_FILE' })),
  REDIS_TLS_KEY_FILE: Type.Optional(Type.String({ minLength: 1, description: 'PEM private key of REDIS_TLS_CERT_FILE' })),
  REDIS_FAILOVER_WAIT_MS: Type.Integer({ minimum: 0, maximum: 60000, default: 5000, description: 'With Sentinel or Cluster: how long a login that finds Redis unreachable waits for the failover before logging in on its own (each replica would); set it to your failover time (Sentinel: down-after-milliseconds plus about 2 s) below LOGIN_WAIT_TIMEOUT_MS (a request waiting behind another request\'s login gives up after that long, and during a failover that login waits first: the broker refuses to start otherwise); 0 = never wait' }),
  REDIS_KEY_PREFIX: Type.String({ default: 'sfb:', pattern: '^[^{}]*$', [EXPECTED]: 'a prefix without { or } (e.g. sfb:)', description: 'Prefix of every Redis key (no braces: the hash tag that keeps a connection\'s keys in one Cluster slot follows it)' }),
  SESSION_ENCRYPTION_KEY: Type.Optional({ ...Base64Key, [FROM_FILE]: true, description: 'AES-256-GCM key for sessions cached in Redis (required with any Redis); new sessions are sealed with it' }),
  SESSION_ENCRYPTION_KEY_PREVIOUS: Type.Optional({ ...Base64Key, [FROM_FILE]: true, description: 'The key being rotated out: sessions it sealed are still opened until they expire (the connections\' session timeout), none are sealed with it' }),
  SESSION_MAX_TTL_SECONDS: Type.Integer({ minimum: 30, default: 900, description: 'Longest a handed-out session may be used before the caller comes back' }),
  SESSION_SAFETY_MARGIN_SECONDS: Type.Integer({ minimum: 0, default: 120, description: 'Stop handing out a session this long before the org timeout ends it' }),
  LOGIN_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 10000, description: 'Timeout of one Salesforce login' }),
  LOGIN_WAIT_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 20000, description: 'How long a request waits for a login another request or replica is doing' }),
  LOGIN_RETRIES: Type.Integer({ minimum: 0, maximum: 5, default: 2, description: 'Retries (jittered backoff) of a login that failed transiently' }),
  CIRCUIT_COOLDOWN_SECONDS: Type.Integer({ minimum: 1, default: 300, description: 'Pause after a credential failure before one probe login (doubles each time)' }),
  CIRCUIT_MAX_COOLDOWN_SECONDS: Type.Integer({ minimum: 1, default: 3600, description: 'Longest pause between probe logins' }),
  LOCKOUT_THRESHOLD: Type.Integer({ minimum: 2, maximum: 100, default: 3, description: "The org's \"Maximum invalid login attempts\" (Salesforce allows 3, 5 or 10; 3 is the lowest): the broker stops at one failed login less per Salesforce user" }),
  LOCKOUT_WINDOW_SECONDS: Type.Optional(Type.Integer({ minimum: 60, description: 'Deprecated, ignored: Salesforce\'s failed-login count does not expire with time, so the lockout guard\'s lasts until a successful login of the user or an admin\'s reset (accepted so existing deployments still start)' })),
  SALESFORCE_LOGINS_PER_HOUR: Type.Integer({ minimum: 1, default: 3600, description: 'Logins Salesforce allows per user per rolling hour, all flows; above 80 % only session misses and admin actions log in' }),
  LOGIN_LEASE_TTL_MS: Type.Integer({ minimum: 300, default: 5000, description: 'Lifetime of a login lease between renewals: a replica that dies mid-login is replaced after this long' }),
  REVOKED_SESSION_LOGIN_INTERVAL_SECONDS: Type.Integer({ minimum: 0, default: 10, description: 'After Salesforce confirmed a cached session dead (revoked, or ended early), the fewest seconds between two logins that replace it, per connection and fleet-wide, for the next hour: whoever can revoke sessions cannot spend the user\'s login budget (0 = no floor)' }),
  FORCED_REFRESH_PER_CALLER_PER_MINUTE: Type.Integer({ minimum: 1, default: 30, description: 'rejectedToken claims one caller may make per minute, fleet-wide (each is verified with Salesforce before any login)' }),
  LOGIN_URL_ALLOWLIST: Type.String({ default: '', description: 'Comma-separated extra login origins allowed besides Salesforce hosts (e.g. http://127.0.0.1:* for the simulator)' }),
  REVOKE_ON_ROTATION: Type.Boolean({ default: false, description: 'Revoke old sessions at Salesforce when a secret is rotated or deleted' }),

  HTTPS_PROXY: Type.Optional(Type.String({ pattern: '^https?://', description: 'Proxy of outbound https calls (Salesforce, JWKS, Vault, webhooks), tunnelled with CONNECT; https_proxy works too' })),
  HTTP_PROXY: Type.Optional(Type.String({ pattern: '^https?://', description: 'Proxy of outbound plain-http calls (and of https ones when HTTPS_PROXY is unset); http_proxy works too' })),
  NO_PROXY: Type.Optional(Type.String({ description: 'Comma-separated hosts reached directly (host, .domain, host:port, * for all), e.g. the in-cluster Vault; no_proxy works too' })),

  PRINCIPALS_FILE: Type.Optional(Type.String({ minLength: 1, description: 'JSON file of callers and admins (API key hashes, JWT subjects, grants)' })),
  PRINCIPALS_RELOAD_SECONDS: Type.Integer({ minimum: 1, maximum: 300, default: 5, description: 'How often PRINCIPALS_FILE is checked for changes; a changed file (or SIGHUP) loads the new callers without a restart, a broken one is refused and logged' }),
  PRINCIPALS_JSON: Type.Optional(Type.String({ minLength: 2, description: 'The same document inline (takes precedence over PRINCIPALS_FILE)' })),
  JWKS_URL: Type.Optional(Type.String({ pattern: '^https?://', description: 'JWKS for caller JWTs (e.g. the Kubernetes service-account issuer); https unless loopback; needs JWT_AUDIENCE and JWT_ISSUER' })),
  JWT_ISSUER: Type.Optional(Type.String({ minLength: 1, description: 'Required iss of caller JWTs (required with JWKS_URL)' })),
  JWT_AUDIENCE: Type.Optional(Type.String({ minLength: 1, description: 'Required aud of caller JWTs, e.g. sf-broker (required with JWKS_URL)' })),
  JWT_MAX_TTL_SECONDS: Type.Integer({ minimum: 60, maximum: 86400, default: 3600, description: 'Longest caller JWT lifetime accepted (exp - iat and exp - now; an iat in the future is refused); exp is required' }),
  HEALTH_DETAILS: Type.Union([Type.Literal('admin'), Type.Literal('public')], { default: 'admin', description: 'Who sees messages, hints, API usage and circuit detail in GET /health/salesforce (everybody else sees statuses only)' }),
  METRICS_TOKEN: Type.Optional(Type.String({ minLength: 16, [FROM_FILE]: true, description: 'Bearer token GET /metrics requires (compared in constant time); unset = /metrics is open (restrict it at the network)' })),
  CALLER_RATE_LIMIT_PER_MINUTE: Type.Integer({ minimum: 1, default: 600, description: 'Requests per caller per minute per replica (a principal may override)' }),
  PROXY_BODY_LIMIT_BYTES: Type.Integer({ minimum: 1024, default: 157286400, description: 'Largest request body the Salesforce proxy forwards, streamed (default 150 MiB, a Bulk API 2.0 upload); larger answers 413' }),
  PROXY_REPLAY_BUFFER_BYTES: Type.Integer({ minimum: 0, default: 1048576, description: 'Proxied bodies up to this size (with a Content-Length) are held in memory so they can be sent again after Salesforce ends the session; larger ones stream and get 503 session_renewed instead' }),
  REQUEST_TIMEOUT_SECONDS: Type.Integer({ minimum: 1, maximum: 86400, default: 600, description: 'The longest a request may take to arrive, head and body (Node\'s requestTimeout; 408 after it): a proxied Bulk upload must fit in it (150 MiB in the default 10 minutes needs 0.26 MB/s); an idle one is cut off sooner (PROXY_UPLOAD_IDLE_TIMEOUT_MS)' }),
  SOCKET_IDLE_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 30000, description: 'A connection on which nothing moves for this long is closed when the caller is the one keeping it waiting (a request that stopped arriving, an answer it stopped reading, an idle keep-alive); never while the broker is still working on an answer, which its own limits end (PROXY_UPSTREAM_TIMEOUT_MS, LOGIN_WAIT_TIMEOUT_MS)' }),
  PROXY_UPLOAD_IDLE_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 10000, description: 'A proxied upload that stops arriving for this long is cut off (408)' }),
  PROXY_UPSTREAM_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 120000, description: 'How long Salesforce may take to start a proxied answer, and between two of its chunks (504)' }),
  API_USAGE_WARN_RATIO: Type.Number({ minimum: 0, maximum: 1, default: 0.8, description: "Health warns when an org's daily API usage (Sforce-Limit-Info of proxied answers, or the last validation) is above this share of its allocation" }),

  VALIDATION_INTERVAL_SECONDS: Type.Integer({ minimum: 1, default: 300, description: 'Cheap re-validation of every connection (cached session)' }),
  FULL_VALIDATION_INTERVAL_SECONDS: Type.Integer({ minimum: 1, default: 3600, description: 'Full login re-validation of every connection' }),
  VALIDATION_MAX_PER_SECOND: Type.Number({ exclusiveMinimum: 0, default: 5, description: 'Ceiling on validation calls to Salesforce per replica' }),
  SCHEDULER_ENABLED: Type.Boolean({ default: true, description: 'Run the re-validation scheduler' }),
  FLOW_SUNSET_OAUTH_PASSWORD_DATE: Type.Optional(Type.String({ description: 'Day (YYYY-MM-DD, UTC) Salesforce stops the OAuth username-password flow for connected apps; default the announced 2027-02-20 (src/salesforce/flow-sunset.ts)' })),
  FLOW_SUNSET_SOAP_DATE: Type.Optional(Type.String({ description: "Day (YYYY-MM-DD, UTC) SOAP login() is retired; default 2027-05-14, an assumption for \"Summer '27\" (the first production wave): set your instance's date" })),
  FLOW_SUNSET_WARN_DAYS: Type.Integer({ minimum: 0, maximum: 3650, default: 90, description: 'Health warns this many days before the sunset of a connection\'s login flow (soap, oauth_password)' }),
  PASSWORD_EXPIRY_WARN_DAYS: Type.Integer({ minimum: 0, maximum: 365, default: 14, description: 'Health warns this many days before a password expires (connections that declare passwordExpiresAfterDays)' }),
  JWT_KEY_CUSTODY: Type.Union([Type.Literal('store'), Type.Literal('vault-transit')], { default: 'store', description: 'Where the private key of a JWT bearer migration lives: store = a secret field of the connection, encrypted like the others; vault-transit = created inside Vault Transit (exportable=false), every assertion signed there (needs SECRET_STORE=vault)' }),
  VAULT_TRANSIT_MOUNT: Type.String({ default: 'transit', pattern: '^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$', description: 'Transit secrets engine mount (JWT_KEY_CUSTODY=vault-transit)' }),
  JWT_CERT_VALIDITY_DAYS: Type.Integer({ minimum: 1, maximum: 3650, default: 730, description: 'Validity of the self-signed certificate a JWT bearer migration or key rotation creates' }),
  ALLOW_UNKNOWN_VARIABLES: Type.Boolean({ default: false, description: 'true = a variable that looks like a setting but is none (REDIS_ULR) is a warning; default: a configuration error naming the closest setting' }),
  CERT_EXPIRY_WARN_DAYS: Type.Integer({ minimum: 0, maximum: 365, default: 30, description: 'Health warns this many days before a JWT bearer connection\'s certificate expires' }),

  WEBHOOK_URLS: Type.Optional(Type.String({ minLength: 1, description: 'Comma-separated URLs every notification is POSTed to, signed with WEBHOOK_SECRET (https, or http on a loopback address; no user:password@: receivers check the signature); unset = no webhooks (events still show on /status)' })),
  WEBHOOK_SECRET: Type.Optional(Type.String({ minLength: 32, [FROM_FILE]: true, [EXPECTED]: 'at least 32 characters (openssl rand -hex 32)', description: 'HMAC-SHA256 key of the Sfb-Signature header (required with WEBHOOK_URLS); give receivers the same value' })),
  WEBHOOK_SECRET_PREVIOUS: Type.Optional(Type.String({ minLength: 32, [FROM_FILE]: true, [EXPECTED]: 'at least 32 characters', description: 'The webhook secret being rotated out: deliveries carry a second v1 signature made with it until it is unset' })),
  WEBHOOK_MAX_ATTEMPTS: Type.Integer({ minimum: 1, maximum: 30, default: 10, description: 'Attempts per event and URL before it becomes a dead letter (GET /v1/admin/notifications/dead-letters)' }),
  WEBHOOK_RETRY_BASE_MS: Type.Integer({ minimum: 10, maximum: 600000, default: 1000, description: 'Wait after the first failed attempt; doubled after each (with jitter) up to WEBHOOK_RETRY_MAX_MS' }),
  WEBHOOK_RETRY_MAX_MS: Type.Integer({ minimum: 10, maximum: 3600000, default: 300000, description: 'Longest wait between two attempts' }),
  WEBHOOK_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 60000, default: 5000, description: 'A receiver that has not answered within this long has failed the attempt' }),
  WEBHOOK_DEAD_LETTER_MAX: Type.Integer({ minimum: 10, maximum: 100000, default: 1000, description: 'Dead letters kept (fleet-wide, newest); older ones are dropped' }),
  CERT_ROTATION_START_DAYS: Type.Integer({ minimum: 0, maximum: 365, default: 0, description: 'A JWT bearer connection\'s key and certificate rotation starts by itself (at its health check) this many days before the certificate expires; the admin then only uploads the new certificate. 0: never' }),

  AUDIT_ADMIN_MAX_ENTRIES: Type.Integer({ minimum: 100, maximum: 10_000_000, default: 100_000, description: 'Admin actions kept in the shared audit stream (<prefix>audit) that GET /v1/admin/audit reads; about 400 bytes of Redis memory each' }),
  AUDIT_ADMIN_MAX_AGE_DAYS: Type.Integer({ minimum: 0, maximum: 3650, default: 400, description: 'Admin actions older than this leave the shared stream (0 = kept until AUDIT_ADMIN_MAX_ENTRIES pushes them out)' }),
  AUDIT_HANDOUTS_MAX_ENTRIES: Type.Integer({ minimum: 100, maximum: 10_000_000, default: 100_000, description: 'Sessions handed out (session.issued) kept in their own shared stream (<prefix>audit-handouts): one per caller, session and replica' }),
  AUDIT_HANDOUTS_MAX_AGE_HOURS: Type.Integer({ minimum: 0, maximum: 87_600, default: 168, description: 'Hand-out records older than this leave the shared stream (0 = kept until AUDIT_HANDOUTS_MAX_ENTRIES pushes them out); keep it above the longest session timeout, so the kill switch knows every session still alive' }),
  AUDIT_FILE: Type.Optional(Type.String({ minLength: 1, description: 'Durable audit sink: JSON lines appended to this file, fsync\'d before an admin write is answered (one file per replica; the broker rotates it)' })),
  AUDIT_FILE_MAX_BYTES: Type.Integer({ minimum: 4096, default: 104_857_600, description: 'AUDIT_FILE is rotated (to .1, .2 …) before it grows past this size' }),
  AUDIT_FILE_KEEP: Type.Integer({ minimum: 1, maximum: 1000, default: 10, description: 'Rotated audit files kept (AUDIT_FILE.1 … .N); the oldest is overwritten' }),
  AUDIT_SYSLOG_URL: Type.Optional(Type.String({ pattern: '^(tcp|udp)://(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$', [EXPECTED]: 'tcp://host:port or udp://host:port (e.g. tcp://siem-collector:6514)', description: 'Durable audit sink: RFC 5424 syslog messages to this receiver, tcp:// (octet-counted frames) or udp:// (one datagram each; delivery unknown)' })),
  AUDIT_SINK_REQUIRED: Type.Optional(Type.Boolean({ description: 'Refuse (503 audit_unavailable) an admin write whose audit record no sink can write; default true when AUDIT_FILE or AUDIT_SYSLOG_URL is set' })),
})

export type Config = Static<typeof ConfigSchema>

const KNOWN = new Set(Object.keys(ConfigSchema.properties))

/** The settings that accept a `<VARIABLE>_FILE` variant. */
export const FILE_VARIANTS: string[] = Object.entries(ConfigSchema.properties)
  .filter(([, schema]) => (schema as Record<string, unknown>)[FROM_FILE] === true)
  .map(([name]) => name)

/**
 * Variables that look like the broker's (VAULT_…, REDIS_…, LOGIN_…) but are not settings: a typo
 * (VAULT_ADRR) would otherwise be ignored in silence and the default used. One line each, sorted.
 */
export function unknownVariableWarnings (env: NodeJS.ProcessEnv): string[] {
  return unknownVariables(env, new Set([...KNOWN, ...FILE_VARIANTS.map(n => `${n}_FILE`)]))
}

/**
 * Parses and validates the environment. Throws one ConfigError listing every problem found (unknown
 * variables, unreadable files, bad values, missing combinations), each line naming its variable.
 */
export function loadConfig (env: NodeJS.ProcessEnv = process.env): Config {
  const problems = new ConfigProblems()
  const raw: Record<string, string> = {}
  for (const [k, v] of Object.entries(env)) {
    // An empty variable means "not set", as in most deployment tools.
    if (KNOWN.has(k) && v !== undefined && v !== '') raw[k] = v
  }
  if (raw.ALLOW_UNKNOWN_VARIABLES !== 'true') {
    for (const unknown of unknownVariableWarnings(env)) problems.add(`${unknown} (ALLOW_UNKNOWN_VARIABLES=true starts anyway)`)
  }
  readLowerCaseProxyVariables(env, raw)
  for (const name of FILE_VARIANTS) problems.check(() => readFileVariants(env, raw, [name]))
  const properties = ConfigSchema.properties as unknown as Record<string, Record<string, unknown> | undefined>
  const badValues = new Set<string>()
  // Value.Convert truncates a decimal given for an integer ("1.5" becomes 1): refused here instead,
  // before the schema sees the truncated number and lets it pass (Default and Convert change `raw` in place)
  for (const [variable, schema] of Object.entries(properties)) {
    if (schema?.type !== 'integer' || raw[variable] === undefined || /^\s*[+-]?\d+\s*$/.test(raw[variable])) continue
    badValues.add(variable)
    problems.add(`invalid ${variable}: expected a whole number${typeof schema.minimum === 'number' ? ` (at least ${schema.minimum}${typeof schema.maximum === 'number' ? `, at most ${schema.maximum}` : ''})` : ''}`)
  }
  const value = Value.Convert(ConfigSchema, Value.Default(ConfigSchema, raw))
  // each setting on its own: the validator stops after a few errors, and one union alone gives several
  const settingErrors = Object.entries(properties).flatMap(([variable, schema]) => {
    const v = (value as Record<string, unknown>)[variable]
    if (v === undefined || !schema) return []
    return Value.Errors(schema, v).slice(0, 1).map(e => ({ ...e, instancePath: `/${variable}` }))
  })
  for (const error of [...settingErrors, ...Value.Errors(ConfigSchema, value)]) {
    const variable = error.instancePath.replace(/^\//, '')
    if (badValues.has(variable)) continue // one line per variable, not one per branch of a union
    badValues.add(variable)
    const message = describeSchemaError(error, properties)
    // the value came from <VARIABLE>_FILE: that is the variable to fix (the content is never quoted)
    problems.add(env[`${variable}_FILE`] && FILE_VARIANTS.includes(variable) ? message.replace(`invalid ${variable}:`, `invalid ${variable}_FILE: the file's content is not a valid ${variable}:`) : message)
  }
  const config = value as Config
  // the combinations are checked even beside a bad value, so one start lists everything; a line about
  // a variable already named for its value would only repeat it
  const combinations = new ConfigProblems()
  combinations.check(() => checkCombinations(config, combinations))
  const mentionsBadValue = (line: string) => [...badValues].some(v => new RegExp(`\\b${v}\\b`).test(line))
  for (const line of combinations.list) if (!mentionsBadValue(line)) problems.add(line)
  problems.throwIfAny()
  return config
}

function checkCombinations (c: Config, problems: ConfigProblems): void {
  const need = (cond: boolean, variable: string, why: string) => {
    if (cond) problems.add(`missing ${variable}: required ${why}`)
  }
  if (c.SECRET_STORE === 'vault') {
    need(!c.VAULT_ADDR, 'VAULT_ADDR', 'when SECRET_STORE=vault')
    if (c.VAULT_ADDR) problems.check(() => checkServiceUrl('VAULT_ADDR', c.VAULT_ADDR as string, 'https://<vault host>:8200', 'the broker authenticates to Vault with VAULT_AUTH_METHOD'))
    need(c.VAULT_AUTH_METHOD === 'token' && !c.VAULT_TOKEN && !c.VAULT_TOKEN_FILE, 'VAULT_TOKEN', '(or VAULT_TOKEN_FILE) when VAULT_AUTH_METHOD=token')
    if (c.VAULT_TOKEN && c.VAULT_TOKEN_FILE) problems.add('invalid VAULT_TOKEN_FILE: set either VAULT_TOKEN or VAULT_TOKEN_FILE, not both')
    problems.check(() => checkVaultTlsFiles(c))
    need(c.VAULT_AUTH_METHOD === 'approle' && !c.VAULT_ROLE_ID, 'VAULT_ROLE_ID', 'when VAULT_AUTH_METHOD=approle')
    need(c.VAULT_AUTH_METHOD === 'approle' && !c.VAULT_SECRET_ID, 'VAULT_SECRET_ID', 'when VAULT_AUTH_METHOD=approle')
    need(c.VAULT_AUTH_METHOD === 'kubernetes' && !c.VAULT_KUBERNETES_ROLE, 'VAULT_KUBERNETES_ROLE', 'when VAULT_AUTH_METHOD=kubernetes')
  } else {
    need(!c.FILE_STORE_KEY, 'FILE_STORE_KEY', 'when SECRET_STORE=file')
  }
  problems.check(() => checkRedis(c))
  need(Boolean(c.SESSION_ENCRYPTION_KEY_PREVIOUS) && !c.SESSION_ENCRYPTION_KEY, 'SESSION_ENCRYPTION_KEY', 'when SESSION_ENCRYPTION_KEY_PREVIOUS is set (the previous key only opens, the new one seals)')
  need(!c.PRINCIPALS_FILE && !c.PRINCIPALS_JSON, 'PRINCIPALS_FILE', '(or PRINCIPALS_JSON): the callers and admins allowed to use the broker')
  problems.check(() => checkTlsFiles(c))
  if (c.CIRCUIT_MAX_COOLDOWN_SECONDS < c.CIRCUIT_COOLDOWN_SECONDS) {
    problems.add('invalid CIRCUIT_MAX_COOLDOWN_SECONDS: must be >= CIRCUIT_COOLDOWN_SECONDS')
  }
  for (const variable of ['FLOW_SUNSET_OAUTH_PASSWORD_DATE', 'FLOW_SUNSET_SOAP_DATE'] as const) {
    const date = c[variable]
    if (date !== undefined && parseSunsetDate(date) === undefined) {
      problems.add(`invalid ${variable}: must be a calendar date as YYYY-MM-DD (e.g. 2027-02-20); unset it to use the date Salesforce announced`)
    }
  }
  if (c.JWT_KEY_CUSTODY === 'vault-transit' && c.SECRET_STORE !== 'vault') {
    problems.add('invalid JWT_KEY_CUSTODY: vault-transit needs SECRET_STORE=vault (the keys live in its Transit engine); use JWT_KEY_CUSTODY=store with the file store')
  }
  problems.check(() => checkWebhooks(c))
  if ((c.JWT_ISSUER || c.JWT_AUDIENCE) && !c.JWKS_URL) problems.add('missing JWKS_URL: required when JWT_ISSUER or JWT_AUDIENCE is set')
  if (c.JWKS_URL) problems.check(() => checkJwtSettings(c.JWKS_URL as string, c))
  problems.check(() => checkProxyUrls(c))
  problems.check(() => checkSyslogUrl(c))
  problems.check(() => checkLoginUrlAllowlist(c))
}

/**
 * Each entry an origin, as the login URL policy reads them when the broker is built (src/salesforce/login-url.ts):
 * a bad one used to stop the start there, with exit 1 and without the variable's name.
 */
function checkLoginUrlAllowlist (c: Config): void {
  const entries = c.LOGIN_URL_ALLOWLIST.split(',').map(entry => entry.trim()).filter(Boolean)
  entries.forEach((entry, i) => {
    try {
      createLoginUrlPolicy({ extraAllowedOrigins: [entry] })
    } catch {
      throw new ConfigError(`invalid LOGIN_URL_ALLOWLIST: entry ${i + 1} is not an origin; use comma-separated origins such as http://127.0.0.1:8443 or http://127.0.0.1:* (http or https, a host, a port from 1 to 65535 or *, no path)`)
    }
  })
}

/** The proxy variables parse as URLs with a usable port: undici would otherwise throw a stack at start. */
function checkProxyUrls (c: Config): void {
  for (const variable of ['HTTPS_PROXY', 'HTTP_PROXY'] as const) {
    const value = c[variable]
    if (value !== undefined && !connectable(value)) {
      throw new ConfigError(`invalid ${variable}: not a URL with a host and a port from 1 to 65535; use http://<proxy host>:<port>, e.g. http://proxy.corp:3128`)
    }
  }
}

/**
 * A URL the broker fetches (undici's fetch): with a host, and without user:password@, which fetch refuses
 * to send ("Request cannot be constructed from a URL that includes credentials") on every request. The
 * message names the variable, never the value; answers the URL parsed.
 */
function checkServiceUrl (variable: string, value: string, example: string, why: string): URL {
  let url: URL | undefined
  try {
    url = new URL(value)
  } catch {}
  if (url === undefined || url.hostname === '') throw new ConfigError(`invalid ${variable}: not a URL with a host; use ${example}`)
  if (url.username !== '' || url.password !== '') {
    throw new ConfigError(`invalid ${variable}: ${url.protocol}//${url.host} carries a user name or password, which no request can send; remove it (${why})`)
  }
  return url
}

/** Vault's CA and client certificate files: readable at start; the client pair goes together. */
function checkVaultTlsFiles (c: Config): void {
  if (Boolean(c.VAULT_CLIENT_CERT) !== Boolean(c.VAULT_CLIENT_KEY)) {
    throw new ConfigError(`missing ${c.VAULT_CLIENT_CERT ? 'VAULT_CLIENT_KEY' : 'VAULT_CLIENT_CERT'}: VAULT_CLIENT_CERT and VAULT_CLIENT_KEY go together (mutual TLS with Vault)`)
  }
  for (const variable of ['VAULT_CACERT', 'VAULT_CLIENT_CERT', 'VAULT_CLIENT_KEY'] as const) {
    const file = c[variable]
    if (!file) continue
    try {
      readFileSync(file)
    } catch (err) {
      throw new ConfigError(`invalid ${variable}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'}); mount it at that path or unset ${variable}`)
    }
  }
}

/** HTTPS needs both files, readable at start (a renewal later is picked up without a restart). */
function checkTlsFiles (c: Config): void {
  if (Boolean(c.TLS_CERT_FILE) !== Boolean(c.TLS_KEY_FILE)) {
    const missing = c.TLS_CERT_FILE ? 'TLS_KEY_FILE' : 'TLS_CERT_FILE'
    throw new ConfigError(`missing ${missing}: TLS_CERT_FILE and TLS_KEY_FILE go together (set both to serve HTTPS, or neither for plain HTTP behind a mesh or proxy)`)
  }
  for (const variable of ['TLS_CERT_FILE', 'TLS_KEY_FILE'] as const) {
    const file = c[variable]
    if (!file) continue
    try {
      readFileSync(file)
    } catch (err) {
      throw new ConfigError(`invalid ${variable}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'}); mount the certificate Secret at that path`)
    }
  }
}

/** Redis is one server, a Sentinel set or a Cluster: exactly one of them, with what it needs. */
function checkRedis (c: Config): void {
  const topologies = (['REDIS_URL', 'REDIS_SENTINELS', 'REDIS_CLUSTER_NODES'] as const).filter(v => c[v] !== undefined)
  if (topologies.length > 1) {
    throw new ConfigError(`invalid ${topologies[1]}: set only one of REDIS_URL (one server), REDIS_SENTINELS (Sentinel) or REDIS_CLUSTER_NODES (Cluster); unset ${topologies.slice(1).join(' and ')}`)
  }
  if (c.REDIS_SENTINELS && !c.REDIS_SENTINEL_NAME) throw new ConfigError('missing REDIS_SENTINEL_NAME: required with REDIS_SENTINELS; set it to the name in the sentinels\' "sentinel monitor <name>" line (often mymaster)')
  if (c.REDIS_SENTINEL_NAME && !c.REDIS_SENTINELS) throw new ConfigError('missing REDIS_SENTINELS: required with REDIS_SENTINEL_NAME; set it to the sentinels as host:port,host:port')
  if (topologies.length > 0 && c.SHARED_STATE === 'memory') {
    throw new ConfigError(`invalid SHARED_STATE: memory keeps shared state in this process, but ${topologies[0]} is set; unset SHARED_STATE to use Redis, or unset ${topologies[0]}`)
  }
  if (topologies.length === 0) {
    const stray = (['REDIS_USERNAME', 'REDIS_PASSWORD', 'REDIS_TLS_CA_FILE', 'REDIS_TLS_CERT_FILE', 'REDIS_TLS_KEY_FILE'] as const).find(v => c[v] !== undefined)
    if (stray) throw new ConfigError(`missing REDIS_URL: ${stray} is set but no Redis is; set REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES, or unset ${stray}`)
    // a misspelt REDIS_URL used to start a replica without the fleet-wide lockout guard, in silence
    if (c.SHARED_STATE !== 'memory') {
      throw new ConfigError('missing REDIS_URL: replicas share sessions, the lockout guard and the login budget through Redis; set REDIS_URL (or REDIS_SENTINELS, REDIS_CLUSTER_NODES), or SHARED_STATE=memory to run one replica without shared state')
    }
    return
  }
  checkRedisAddresses(c)
  if (!c.SESSION_ENCRYPTION_KEY) throw new ConfigError(`missing SESSION_ENCRYPTION_KEY: required when ${topologies[0]} is set (sessions are encrypted at rest)`)
  if (Boolean(c.REDIS_TLS_CERT_FILE) !== Boolean(c.REDIS_TLS_KEY_FILE)) {
    throw new ConfigError(`missing ${c.REDIS_TLS_CERT_FILE ? 'REDIS_TLS_KEY_FILE' : 'REDIS_TLS_CERT_FILE'}: a client certificate needs both REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE`)
  }
  for (const v of ['REDIS_TLS_CA_FILE', 'REDIS_TLS_CERT_FILE', 'REDIS_TLS_KEY_FILE'] as const) {
    const file = c[v]
    if (file === undefined) continue
    try {
      // read, not only accessSync: a folder (a Secret volume mounted at the file's path) is "readable"
      // to access(2) and then failed the start with EISDIR, naming no variable (exit 1)
      readFileSync(file)
    } catch (err) {
      throw new ConfigError(`invalid ${v}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'}); mount the PEM file at that path or unset ${v}`)
    }
  }
  // a login that finds Sentinel or Cluster unreachable waits for the failover (the outage's one wait,
  // RedisSharedState.awaitFailover) while the requests queued behind it wait for that login: a wait
  // that can outlast theirs made them give up (503 login_wait_timeout) just as the login went out
  if (topologies[0] !== 'REDIS_URL' && c.REDIS_FAILOVER_WAIT_MS > 0 && c.REDIS_FAILOVER_WAIT_MS >= c.LOGIN_WAIT_TIMEOUT_MS) {
    throw new ConfigError('invalid REDIS_FAILOVER_WAIT_MS (5000 unless set): must be below LOGIN_WAIT_TIMEOUT_MS, or 0 for no wait: a request waiting behind a login gives up after LOGIN_WAIT_TIMEOUT_MS, and during a failover that login waits REDIS_FAILOVER_WAIT_MS first; raise LOGIN_WAIT_TIMEOUT_MS above it, lower REDIS_FAILOVER_WAIT_MS, or set it to 0')
  }
}

/**
 * A URL a client can connect to: it parses (WHATWG URL, as the Redis client and the syslog sink parse it),
 * has a host, and a port from 1 to 65535 when it names one (URL refuses one above; 0 it accepts).
 */
function connectable (value: string): boolean {
  try {
    const url = new URL(value)
    return url.hostname !== '' && url.port !== '0'
  } catch {
    return false
  }
}

/** A password with an unencoded @ : / ? # breaks the URL around it: say how to write one, never the value. */
const REDIS_URL_FIX = 'percent-encode any @ : / ? # in its user name and password (%40 %3A %2F %3F %23), or set the password in REDIS_PASSWORD'

/**
 * The patterns only check the scheme and the shape: a URL that does not parse used to stop the broker
 * with "failed to start: Invalid URL" (exit 1, no variable named), and a sentinel port past 65535 was
 * retried for ever.
 */
function checkRedisAddresses (c: Config): void {
  if (c.REDIS_URL !== undefined && !connectable(c.REDIS_URL)) {
    throw new ConfigError(`invalid REDIS_URL: not a URL with a host and a port from 1 to 65535; use redis://<host>:6379 (rediss:// for TLS), ${REDIS_URL_FIX}`)
  }
  if (c.REDIS_CLUSTER_NODES !== undefined && !c.REDIS_CLUSTER_NODES.split(',').every(u => connectable(u.trim()))) {
    throw new ConfigError(`invalid REDIS_CLUSTER_NODES: one entry is not a URL with a host and a port from 1 to 65535; use redis://<host>:6379 for each (rediss:// for TLS), ${REDIS_URL_FIX}`)
  }
  const ports = c.REDIS_SENTINELS?.split(',').map(entry => Number(/:(\d+)\s*$/.exec(entry)?.[1])) ?? []
  if (ports.some(port => !(port >= 1 && port <= 65535))) {
    throw new ConfigError('invalid REDIS_SENTINELS: a port is not from 1 to 65535; use host:port of each sentinel, comma-separated (e.g. redis-sentinel-0:26379,redis-sentinel-1:26379)')
  }
}

/** The pattern allows a port of five digits: one past 65535, or 0, stopped the broker with "Invalid URL". */
function checkSyslogUrl (c: Config): void {
  if (c.AUDIT_SYSLOG_URL !== undefined && !connectable(c.AUDIT_SYSLOG_URL)) {
    throw new ConfigError('invalid AUDIT_SYSLOG_URL: not a URL with a host and a port from 1 to 65535; use tcp://host:port or udp://host:port (e.g. tcp://siem-collector:6514)')
  }
}

/**
 * A JWKS alone proves only who signed a token, not whom it was for: the Kubernetes issuer signs
 * tokens for Vault, the API server and every other audience with the same keys.
 */
function checkJwtSettings (jwksUrl: string, c: Config): void {
  if (!c.JWT_AUDIENCE) {
    throw new ConfigError('missing JWT_AUDIENCE: required when JWKS_URL is set, or tokens minted for any audience (e.g. Vault) would be accepted; set JWT_AUDIENCE to the audience of the callers\' tokens (e.g. sf-broker, the audience of their projected service-account token)')
  }
  if (!c.JWT_ISSUER) {
    throw new ConfigError('missing JWT_ISSUER: required when JWKS_URL is set; set JWT_ISSUER to the iss of the callers\' tokens (e.g. https://kubernetes.default.svc.cluster.local)')
  }
  const url = checkServiceUrl('JWKS_URL', jwksUrl, 'https://<issuer>/<path to the key set>', 'a key set is public')
  if (url.protocol !== 'https:' && !isLoopback(url.hostname)) {
    // whoever can rewrite the key set in transit can mint any caller's token
    throw new ConfigError('invalid JWKS_URL: must be https:// (plain http is allowed only on a loopback address such as 127.0.0.1)')
  }
}

/** Webhook URLs go with a secret (and the other way round); each is https unless on this host. */
function checkWebhooks (c: Config): void {
  if (!c.WEBHOOK_URLS) {
    const stray = (['WEBHOOK_SECRET', 'WEBHOOK_SECRET_PREVIOUS'] as const).find(v => c[v] !== undefined)
    if (stray) throw new ConfigError(`missing WEBHOOK_URLS: ${stray} is set but no webhook is; set WEBHOOK_URLS or unset ${stray}`)
    return
  }
  if (!c.WEBHOOK_SECRET) throw new ConfigError('missing WEBHOOK_SECRET: required with WEBHOOK_URLS (every delivery is signed); set it, or WEBHOOK_SECRET_FILE, to at least 32 random characters (openssl rand -hex 32)')
  for (const text of webhookUrls(c.WEBHOOK_URLS)) {
    let url: URL
    try {
      url = new URL(text)
    } catch {
      throw new ConfigError('invalid WEBHOOK_URLS: one entry is not a URL; use comma-separated https:// URLs')
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.hostname))) {
      throw new ConfigError(`invalid WEBHOOK_URLS: ${url.protocol}//${url.host} must be https:// (plain http is allowed only on a loopback address such as 127.0.0.1)`)
    }
    // fetch refuses a URL with credentials (every delivery would fail); the receiver checks the signature instead
    if (url.username !== '' || url.password !== '') {
      throw new ConfigError(`invalid WEBHOOK_URLS: ${url.protocol}//${url.host} carries a user name or password, which no delivery can send; remove it: receivers authenticate the broker by each delivery's signature (WEBHOOK_SECRET)`)
    }
  }
  if (c.WEBHOOK_RETRY_MAX_MS < c.WEBHOOK_RETRY_BASE_MS) throw new ConfigError('invalid WEBHOOK_RETRY_MAX_MS: must be >= WEBHOOK_RETRY_BASE_MS')
}

/** WEBHOOK_URLS as a list (blank entries dropped). */
export function webhookUrls (value: string | undefined): string[] {
  return (value ?? '').split(',').map(s => s.trim()).filter(Boolean)
}

/** A URL host name on this machine: 127.0.0.0/8, [::1], localhost. */
export function isLoopback (hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname)
}

/**
 * A leading U+FEFF, which Windows editors write at the start of a UTF-8 file: JSON.parse refuses
 * it, and RFC 8259 §8.1 lets a parser ignore it.
 */
export function withoutByteOrderMark (text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
}

/** The principals document, from PRINCIPALS_JSON or PRINCIPALS_FILE (validated by src/auth/principals.ts). */
export function readPrincipalsSource (c: Config): unknown {
  let text = c.PRINCIPALS_JSON
  if (text === undefined) {
    try {
      text = readFileSync(c.PRINCIPALS_FILE as string, 'utf8')
    } catch (err) {
      throw new ConfigError(`invalid PRINCIPALS_FILE: cannot read ${c.PRINCIPALS_FILE as string} (${(err as NodeJS.ErrnoException).code ?? 'error'}); mount the principals document at that path or set PRINCIPALS_JSON`)
    }
  }
  try {
    return JSON.parse(withoutByteOrderMark(text))
  } catch {
    throw new ConfigError(`invalid ${c.PRINCIPALS_JSON ? 'PRINCIPALS_JSON' : 'PRINCIPALS_FILE'}: not valid JSON`)
  }
}

export function decodeKey (base64: string): Buffer {
  return Buffer.from(base64, 'base64')
}
