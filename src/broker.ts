import type { Logger } from 'pino'
import { decodeKey, webhookUrls, type Config } from './config.ts'
import { createLogger } from './logger.ts'
import type { Clock } from './clock.ts'
import { useEgressProxy } from './egress.ts'
import { principalsFromConfig } from './auth/principals-config.ts'
import type { PrincipalDirectory } from './auth/principals.ts'
import { createJwtVerifier, type JwtVerifier } from './auth/jwt.ts'
import { randomBytes } from 'node:crypto'
import { PrincipalsReloader } from './auth/principals-reload.ts'
import { checkSession, createLoginUrlPolicy, login as salesforceLogin, revokeSession, type LoginUrlPolicy } from './salesforce/index.ts'
import type { ConnectionDefinition, LoginOutcome, SalesforceSession } from './salesforce/types.ts'
import { flowSunsetTable, type FlowSunsetTable } from './salesforce/flow-sunset.ts'
import { assessUserReadiness } from './salesforce/readiness.ts'
import { readFailedLogins } from './salesforce/failed-logins.ts'
import type { AuditLog } from './admin/audit-log.ts'
import { createAuditLog } from './admin/audit-setup.ts'
import { ConnectionAdmin } from './admin/connection-admin.ts'
import { MigrationService } from './admin/migration.ts'
import { ConsumerRotationService } from './admin/consumer-rotation.ts'
import { storeCustody, transitCustody } from './admin/migration-keys.ts'
import { CertificateRotation } from './admin/certificate-rotation.ts'
import { StoredLogin } from './sessions/stored-login.ts'
import { SessionHandoutAudit } from './admin/session-handouts.ts'
import { BrokerMetrics } from './metrics/metrics.ts'
import { notifyFromAudit } from './notifications/admin-events.ts'
import { WebhookCourier } from './notifications/courier.ts'
import { DeadLetters } from './notifications/dead-letters.ts'
import { allObservers, loginEvents } from './notifications/login-events.ts'
import { Notifier } from './notifications/notifier.ts'
import { ProxyAccounting } from './proxy/accounting.ts'
import type { SecretStore } from './secrets/store.ts'
import { createSecretStore } from './secrets/create-store.ts'
import { CachingSecretStore } from './secrets/caching-store.ts'
import { VaultSecretStore } from './secrets/vault-store.ts'
import { TransitKeys } from './secrets/vault-transit.ts'
import { FallbackSharedState } from './shared-state/fallback-state.ts'
import { MemorySharedState } from './shared-state/memory-state.ts'
import { redisTopology } from './shared-state/redis-client.ts'
import { RedisSharedState } from './shared-state/redis-state.ts'
import { SessionSealer } from './shared-state/session-crypto.ts'
import { LoginGate } from './sessions/login-gate.ts'
import { RejectionCheck, type SessionChecker } from './sessions/rejection-check.ts'
import { SessionService } from './sessions/session-service.ts'
import { buildHealth, type HealthServices } from './health/health-services.ts'
import type { SharedState } from './shared-state/shared-state.ts'

/** Everything a broker process runs on. Built once per app; closed with it. */
export interface Broker {
  logger: Logger
  principals: PrincipalDirectory
  jwtVerifier?: JwtVerifier
  /** the store itself (Vault or file), no cache: every read asks it */
  uncachedSecretStore: SecretStore
  /** the store through its short in-memory cache (SECRET_CACHE_TTL_SECONDS): what the hot path reads */
  cachingSecretStore: CachingSecretStore
  sharedState: SharedState
  loginUrlPolicy: LoginUrlPolicy
  sessions: SessionService
  /** credential health: the routes' service, and the re-validation scheduler's lifecycle (the app starts it when ready) */
  health: HealthServices
  audit: AuditLog
  /** audit of the sessions handed out */
  handouts: SessionHandoutAudit
  admin: ConnectionAdmin
  /** moves connections to jwt_bearer or client_credentials (and rotates JWT keys) */
  migrations: MigrationService
  /** rotates consumer keys and secrets (client credentials, JWT bearer's consumer key) */
  consumerRotations: ConsumerRotationService
  /** key and certificate rotation of JWT bearer connections (a migration to the same flow) */
  certificateRotation: CertificateRotation
  metrics: BrokerMetrics
  /** raises the events webhooks deliver and /status lists (src/notifications/) */
  notifier: Notifier
  /** events no webhook receiver took after every attempt */
  deadLetters: DeadLetters
  /** the Salesforce proxy's counts: per caller and connection, API usage, callers' caps */
  proxyAccounting: ProxyAccounting
  /** the secret store's start-up: rejects when Vault stayed unusable for VAULT_STARTUP_TIMEOUT_SECONDS */
  startup: Promise<void>
  /** the announced ends of login flows (config over the table in src/salesforce/flow-sunset.ts) */
  flowSunsets: FlowSunsetTable
  /** the calendar the sunset dates are compared with (injectable: tests live at any date) */
  now: () => number
  close (): Promise<void>
}

/** Dependencies a test, the demo or a benchmark may provide instead of building them from config. */
export interface BrokerOverrides {
  logger?: Logger
  secretStore?: SecretStore
  sharedState?: SharedState
  principals?: PrincipalDirectory
  jwtVerifier?: JwtVerifier
  /** replaces the Salesforce login core; the login gate wraps it like the real one */
  login?: (definition: ConnectionDefinition) => Promise<LoginOutcome>
  checkSession?: SessionChecker
  revoke?: (session: SalesforceSession) => Promise<boolean>
  /** the calendar for flow sunsets; default Date.now */
  now?: () => number
  /** the clock of webhook signatures' time stamps; default Date.now */
  webhookClock?: () => number
  /**
   * The clock of logins: the circuit's cool-downs and the failure guard (tests run hours of them
   * in milliseconds); default Date.now. Apart from `now`, which tests pin to a date.
   * A Clock (src/clock.ts; tests use test/support/manual-clock.ts) also runs the validation
   * scheduler's rounds, health's judgement of time and Vault's token renewals, so a test moves
   * logins and rounds together; a bare function leaves those on real time.
   */
  clock?: (() => number) | Clock
  /** the calendar of the rotation policies (rotateEveryDays, CERT_ROTATION_START_DAYS): when one is due; default Date.now */
  rotationCalendar?: () => number
}

export async function createBroker (config: Config, overrides: BrokerOverrides = {}): Promise<Broker> {
  const logger = overrides.logger ?? createLogger(config.LOG_LEVEL)
  const stopProxying = useEgressProxy({ httpsProxy: config.HTTPS_PROXY, httpProxy: config.HTTP_PROXY, noProxy: config.NO_PROXY })
  const principals = overrides.principals ?? principalsFromConfig(config)
  const stopReloading = overrides.principals ? () => {} : reloadPrincipals(config, principals, logger)
  const jwtVerifier = overrides.jwtVerifier ?? (config.JWKS_URL
    ? createJwtVerifier(principals, { jwksUrl: config.JWKS_URL, issuer: config.JWT_ISSUER as string, audience: config.JWT_AUDIENCE as string, maxTtlSeconds: config.JWT_MAX_TTL_SECONDS })
    : undefined)

  const given = overrides.clock
  const clock = typeof given === 'function' ? given : given ? () => given.now() : Date.now
  const metrics = new BrokerMetrics(clock)
  const created = overrides.secretStore ? { store: overrides.secretStore, startup: Promise.resolve() } : await createSecretStore(config, logger, typeof overrides.clock === 'object' ? overrides.clock : undefined)
  // handled here so a failure is never unhandled; the server exits on it (src/server.ts)
  created.startup.catch(() => {})
  const baseStore = created.store
  // pending migrations wait beside the connections, encrypted alike (never in Redis)
  const pendingStore = baseStore.folder?.('_migrations')
  const transit = baseStore instanceof VaultSecretStore ? new TransitKeys(baseStore, config.VAULT_TRANSIT_MOUNT) : undefined
  if (config.JWT_KEY_CUSTODY === 'vault-transit' && transit === undefined) throw new Error('JWT_KEY_CUSTODY=vault-transit needs the Vault secret store')
  const uncachedSecretStore = metrics.instrument(rawStoreKind(overrides.secretStore, config), baseStore, ['list', 'read', 'write', 'versions', 'remove'])
  const cachingSecretStore = new CachingSecretStore(uncachedSecretStore, { ttlMs: config.SECRET_CACHE_TTL_SECONDS * 1000 })

  const sharedState = overrides.sharedState ?? await buildSharedState(config, logger, metrics)
  // a rotation on any replica purges the connection's sessions fleet-wide: drop our cached secret
  // with them, or this replica would log in again with the secret that was just replaced
  sharedState.onEvent((event) => { if (event.type === 'purge') cachingSecretStore.invalidate(event.connection) })
  const loginUrlPolicy = createLoginUrlPolicy({ extraAllowedOrigins: splitList(config.LOGIN_URL_ALLOWLIST) })
  const now = overrides.now ?? Date.now
  const flowSunsets = flowSunsetTable({ oauth_password: config.FLOW_SUNSET_OAUTH_PASSWORD_DATE, soap: config.FLOW_SUNSET_SOAP_DATE })
  const deadLetters = new DeadLetters({ state: sharedState, maxLen: config.WEBHOOK_DEAD_LETTER_MAX })
  const notifier = new Notifier({ state: sharedState, logger, courier: webhookCourier(config, deadLetters, logger, overrides.webhookClock) })
  const core = overrides.login ?? ((definition: ConnectionDefinition) =>
    salesforceLogin(definition, { timeoutMs: config.LOGIN_TIMEOUT_MS, allowedLoginHosts: loginUrlPolicy, logger, flowSunsets, now, transitSigner: transit ? (key: string) => transit.signer(key) : undefined }))
  const lifetime = { safetyMarginMs: config.SESSION_SAFETY_MARGIN_SECONDS * 1000, maxTtlMs: config.SESSION_MAX_TTL_SECONDS * 1000 }
  const gate = new LoginGate({
    core,
    lifetime,
    state: sharedState,
    logger,
    circuit: { baseCooldownMs: config.CIRCUIT_COOLDOWN_SECONDS * 1000, maxCooldownMs: config.CIRCUIT_MAX_COOLDOWN_SECONDS * 1000 },
    guard: { threshold: config.LOCKOUT_THRESHOLD },
    loginsPerHour: config.SALESFORCE_LOGINS_PER_HOUR,
    leaseTtlMs: config.LOGIN_LEASE_TTL_MS,
    waitTimeoutMs: config.LOGIN_WAIT_TIMEOUT_MS,
    // replicas must agree on a failing candidate's hash: the shared session key when there is one
    hashKey: config.SESSION_ENCRYPTION_KEY ? decodeKey(config.SESSION_ENCRYPTION_KEY) : randomBytes(32),
    observer: allObservers(metrics.loginObserver(), loginEvents(notifier)),
    now: clock,
    readFailedLogins: (session, apiVersion, userId) => readFailedLogins(session, userId, { apiVersion, timeoutMs: config.LOGIN_TIMEOUT_MS }),
  })
  // retired flows answered without a login; a pending certificate rotation's key tried when the current one is refused
  const storedLogin = new StoredLogin({ gate, state: sharedState, logger, flowSunsets, now, clock, circuit: { baseCooldownMs: config.CIRCUIT_COOLDOWN_SECONDS * 1000, maxCooldownMs: config.CIRCUIT_MAX_COOLDOWN_SECONDS * 1000 } })
  const checker: SessionChecker = overrides.checkSession ?? ((session, apiVersion) => checkSession(session, { apiVersion, timeoutMs: config.LOGIN_TIMEOUT_MS }))

  const revoke = overrides.revoke ?? ((session: SalesforceSession) => revokeSession(session, { timeoutMs: config.LOGIN_TIMEOUT_MS }))
  const sessions = new SessionService({
    secrets: cachingSecretStore,
    state: sharedState,
    gate,
    rejections: new RejectionCheck({
      state: sharedState,
      checkSession: checker,
      perCallerPerMinute: config.FORCED_REFRESH_PER_CALLER_PER_MINUTE,
      waitTimeoutMs: config.LOGIN_WAIT_TIMEOUT_MS,
      leaseTtlMs: config.LOGIN_LEASE_TTL_MS,
      logger,
    }),
    logger,
    lifetime,
    loginWaitTimeoutMs: config.LOGIN_WAIT_TIMEOUT_MS,
    loginRetries: config.LOGIN_RETRIES,
    reloginIntervalMs: config.REVOKED_SESSION_LOGIN_INTERVAL_SECONDS * 1000,
    observer: metrics.sessionObserver(),
    now: clock,
    storedLogin,
    revoke,
  })

  const audit = createAuditLog(config, logger, sharedState)
  notifyFromAudit(audit, notifier)
  const admin = new ConnectionAdmin({
    store: cachingSecretStore,
    sessions,
    gate,
    revoke,
    loginUrlPolicy,
    audit,
    logger,
    revokeOnRotation: config.REVOKE_ON_ROTATION,
    fleetUnreachable: () => sharedState instanceof FallbackSharedState && sharedState.isDegraded,
    readiness: (session, definition) => assessUserReadiness(session, definition, { timeoutMs: config.LOGIN_TIMEOUT_MS, warnDays: config.PASSWORD_EXPIRY_WARN_DAYS }),
  })

  const migrations = new MigrationService({
    store: cachingSecretStore,
    pending: pendingStore,
    admin,
    sessions,
    state: sharedState,
    gate,
    revoke,
    revokeOnRotation: config.REVOKE_ON_ROTATION,
    custody: config.JWT_KEY_CUSTODY === 'vault-transit' && transit ? transitCustody(transit) : storeCustody(),
    loginUrlPolicy,
    audit,
    logger,
    certificateValidityDays: config.JWT_CERT_VALIDITY_DAYS,
  })
  const certificateRotation = new CertificateRotation({ migrations, store: cachingSecretStore, logger, startDaysBeforeExpiry: config.CERT_ROTATION_START_DAYS, calendar: overrides.rotationCalendar })
  storedLogin.usePendingKeys(certificateRotation)

  const consumerRotations = new ConsumerRotationService({
    store: cachingSecretStore,
    // the staged pair waits beside the connections, encrypted alike (never in Redis)
    pending: baseStore.folder?.('_consumer-rotations'),
    admin,
    sessions,
    state: sharedState,
    gate,
    revoke,
    revokeOnRotation: config.REVOKE_ON_ROTATION,
    audit,
    logger,
    timeoutMs: config.LOGIN_TIMEOUT_MS,
    calendar: overrides.rotationCalendar,
  })

  const health = buildHealth({
    config,
    logger,
    secretStore: cachingSecretStore,
    sessions,
    sharedState,
    gate,
    checkSession: checker,
    metrics,
    flowSunsets,
    now,
    ...(typeof given === 'object' ? { clock: given } : {}),
    admin,
    notifier,
    certificateRotation,
    storedLogin,
    consumerRotations,
  })

  logger.info({
    secretStore: uncachedSecretStore.kind,
    sharedState: sharedState.kind === 'redis' ? `redis (${redisTopology(config) as string})` : 'in-memory only (no REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES: sessions are not shared between replicas)',
  }, 'broker configured')
  if (sharedState.kind !== 'redis') logger.warn('SHARED_STATE=memory: sessions, the lockout guard and the login budget are this replica\'s alone; run exactly one replica')

  return {
    logger,
    principals,
    jwtVerifier,
    uncachedSecretStore,
    cachingSecretStore,
    sharedState,
    loginUrlPolicy,
    sessions,
    audit,
    handouts: new SessionHandoutAudit(audit),
    admin,
    migrations,
    consumerRotations,
    certificateRotation,
    metrics,
    notifier,
    deadLetters,
    proxyAccounting: new ProxyAccounting({ registry: metrics.registry, state: sharedState, now: clock, logger }),
    flowSunsets,
    now,
    startup: created.startup,
    health,
    async close () {
      await health.stop()
      stopReloading()
      // undelivered events become dead letters in the shared state: before it closes; and before the
      // egress proxy's agent, whose close would wait for a delivery in flight instead of ending it
      await notifier.close()
      await stopProxying()
      await gate.close()
      await sharedState.close()
      await cachingSecretStore.close()
      await audit.close()
    },
  }
}

/** PRINCIPALS_FILE is re-read when it changes and on SIGHUP; returns what stops that. */
function reloadPrincipals (config: Config, principals: PrincipalDirectory, logger: Logger): () => void {
  if (config.PRINCIPALS_JSON || !config.PRINCIPALS_FILE) return () => {}
  const reloader = new PrincipalsReloader(principals, { file: config.PRINCIPALS_FILE, logger, intervalMs: config.PRINCIPALS_RELOAD_SECONDS * 1000 })
  const onHangup = (): void => { reloader.reload().catch(() => {}) }
  reloader.start()
  process.on('SIGHUP', onHangup)
  return () => {
    reloader.stop()
    process.removeListener('SIGHUP', onHangup)
  }
}

/** Webhooks, when WEBHOOK_URLS are set (config.ts has checked them and the secret). */
function webhookCourier (config: Config, deadLetters: DeadLetters, logger: Logger, now?: () => number): WebhookCourier | undefined {
  const urls = webhookUrls(config.WEBHOOK_URLS)
  if (urls.length === 0 || !config.WEBHOOK_SECRET) return undefined
  return new WebhookCourier({
    urls,
    secrets: [config.WEBHOOK_SECRET, ...(config.WEBHOOK_SECRET_PREVIOUS ? [config.WEBHOOK_SECRET_PREVIOUS] : [])],
    maxAttempts: config.WEBHOOK_MAX_ATTEMPTS,
    baseDelayMs: config.WEBHOOK_RETRY_BASE_MS,
    maxDelayMs: config.WEBHOOK_RETRY_MAX_MS,
    timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    deadLetters,
    logger: logger.child({ component: 'webhooks' }),
    ...(now ? { now } : {}),
  })
}

function rawStoreKind (given: SecretStore | undefined, config: Config): string {
  return given?.kind ?? config.SECRET_STORE
}

/** How long a starting broker waits for Redis before serving from process memory. */
const REDIS_FIRST_CONNECT_MS = 5_000

async function buildSharedState (config: Config, logger: Logger, metrics: BrokerMetrics): Promise<SharedState> {
  if (!redisTopology(config)) return new MemorySharedState()
  const redis = new RedisSharedState({
    redis: config,
    keyPrefix: config.REDIS_KEY_PREFIX,
    sealer: new SessionSealer(decodeKey(config.SESSION_ENCRYPTION_KEY as string), config.SESSION_ENCRYPTION_KEY_PREVIOUS ? [decodeKey(config.SESSION_ENCRYPTION_KEY_PREVIOUS)] : []),
    logger,
    failoverWaitMs: config.REDIS_FAILOVER_WAIT_MS,
  })
  if (!await redis.firstConnect(REDIS_FIRST_CONNECT_MS)) {
    logger.warn('redis not usable at start (down, or it refused the broker: see "redis unavailable"): starting on process memory until it is')
  } else {
    // connected and authenticated, which says nothing of its keys: a refused read is logged now, with the prefix
    await redis.probe()
  }
  // the name an admin answer's `pending` uses for this replica when it did not confirm a purge
  logger.info({ replica: redis.roll.replica }, 'on the replica roll: fleet-wide purges wait for this replica to confirm them')
  metrics.instrument('redis', redis, ['getSession', 'storeSession', 'readMany', 'purgeSessions', 'acquireLease', 'releaseLease', 'renewLease', 'addToWindow', 'countWindow', 'takeQuotas', 'getCircuit', 'putCircuit', 'clearCircuit', 'getJson', 'putJson', 'publish', 'publishConfirmed'])
  return new FallbackSharedState(redis, logger)
}

export function splitList (value: string): string[] {
  return value.split(',').map(s => s.trim()).filter(Boolean)
}
