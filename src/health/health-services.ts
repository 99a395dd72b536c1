import { randomBytes } from 'node:crypto'
import type { CertificateRotation } from '../admin/certificate-rotation.ts'
import type { ConnectionAdmin } from '../admin/connection-admin.ts'
import type { Config } from '../config.ts'
import type { Logger } from 'pino'
import type { Clock } from '../clock.ts'
import type { FlowSunsetTable } from '../salesforce/flow-sunset.ts'
import type { CachingSecretStore } from '../secrets/caching-store.ts'
import type { LoginGate } from '../sessions/login-gate.ts'
import type { SessionService } from '../sessions/session-service.ts'
import { retiredFlowProblem, type StoredLogin } from '../sessions/stored-login.ts'
import type { SharedState } from '../shared-state/shared-state.ts'
import { apiUsageDoc, healthDoc, orgIdentityDoc } from '../shared-state/state-names.ts'
import type { BrokerMetrics } from '../metrics/metrics.ts'
import type { Notifier } from '../notifications/notifier.ts'
import { ConnectionValidator, type SessionChecker } from './connection-validator.ts'
import { removeFlowSunsetGauge } from './flow-sunset-view.ts'
import { removeHealthGauges, updateHealthGauges } from './gauges.ts'
import { HealthEvents } from './health-events.ts'
import { HealthReporter } from './health-report.ts'
import type { HealthStatus, StoredHealth } from './health-result.ts'
import { ValidationScheduler } from './scheduler.ts'
import { TokenBucket } from './token-bucket.ts'

/** The slice of the service graph and config credential health works with (not the whole broker). */
export interface HealthServicesOptions {
  config: Pick<Config, 'VALIDATION_INTERVAL_SECONDS' | 'VALIDATION_MAX_PER_SECOND' | 'FULL_VALIDATION_INTERVAL_SECONDS' |
    'LOGIN_TIMEOUT_MS' | 'PASSWORD_EXPIRY_WARN_DAYS' | 'LOGIN_LEASE_TTL_MS' | 'LOCKOUT_THRESHOLD' | 'FLOW_SUNSET_WARN_DAYS' |
    'CERT_EXPIRY_WARN_DAYS' | 'SCHEDULER_ENABLED' | 'API_USAGE_WARN_RATIO'>
  logger: Logger
  secretStore: CachingSecretStore
  sessions: SessionService
  sharedState: SharedState
  gate: LoginGate
  checkSession: SessionChecker
  metrics: BrokerMetrics
  flowSunsets: FlowSunsetTable
  now: () => number
  /** the time validation rounds run on and checks are judged at; default the system clock */
  clock?: Clock
  /** a validated rotation, replace or rollback counts as a successful full check; a deleted connection's health goes with it */
  admin: Pick<ConnectionAdmin, 'onWritten' | 'beforeRemove'>
  /** status changes and sunset/expiry thresholds become notifications (src/notifications/) */
  notifier?: Notifier
  /** retired flows and a pending certificate rotation's key, for the full check's login (src/sessions/stored-login.ts) */
  storedLogin?: Pick<StoredLogin, 'attempt'>
  /** CERT_ROTATION_START_DAYS: after a check, a certificate that expires soon gets its rotation started */
  certificateRotation?: Pick<CertificateRotation, 'startIfDue'>
  /** rotateEveryDays: consumer-secret rotations the validation round starts when due */
  consumerRotations?: { runIfDue (name: string): Promise<unknown> }
}

/** What the /health/salesforce routes use: the report, and a forced live check. */
export interface SalesforceHealthService {
  reporter: HealthReporter
  /**
   * runs a full live check now and records it; null when there is no such connection. `probe`:
   * log in with the stored secret even while its circuit is open (the failure guard still decides);
   * `failedLoginsReset`: the admin states that Salesforce's failed-login count of the user is zero
   * again (unlocked or password reset in Setup), so the guard's count is reset before the probe
   */
  forceCheck: (name: string, probe: boolean, failedLoginsReset?: boolean) => Promise<{ status: HealthStatus, classification: string, target?: string, guardReset?: boolean } | null>
  /** the admin states that Salesforce's failed-login count of the connection's user is zero again: the guard's count goes with it (no login); false when there is no such connection */
  acknowledgeReset: (name: string) => Promise<boolean>
}

/** Credential health as the broker builds it (src/broker.ts): what the routes use, and its lifecycle. */
export interface HealthServices {
  service: SalesforceHealthService
  /** starts the re-validation scheduler (when enabled): the app calls it once it is ready */
  start (): void
  /** stops it: validations queued for a token are dropped, the ones calling Salesforce finish */
  stop (): Promise<void>
  /** resolves once no scheduled validation is running (a test moves its clock to the next round after it) */
  idle (): Promise<void>
}

/**
 * Salesforce credential health: the validator (health subscribes to the login gate's successes:
 * nothing in sessions/ calls up into health/), the reporter behind /health/salesforce and /status,
 * and the re-validation scheduler.
 */
export function buildHealth (opts: HealthServicesOptions): HealthServices {
  const { config, metrics, secretStore, sharedState, clock } = opts
  const intervalMs = config.VALIDATION_INTERVAL_SECONDS * 1000
  const logger = opts.logger.child({ component: 'health' })
  /** this replica in the `health` events it publishes: it updates its own gauges as it records */
  const replica = randomBytes(8).toString('hex')

  // capacity 1: a ceiling per second, not a rate with a second's worth of burst on top after a quiet spell;
  // on the system clock: it paces real calls to Salesforce, which a test's moved clock does not
  const bucket = new TokenBucket(config.VALIDATION_MAX_PER_SECOND, 1)
  const events = opts.notifier && new HealthEvents(opts.notifier, {
    flowSunsets: opts.flowSunsets,
    flowSunsetWarnDays: config.FLOW_SUNSET_WARN_DAYS,
    certificateWarnDays: config.CERT_EXPIRY_WARN_DAYS,
    now: opts.now,
  })
  const validator = new ConnectionValidator({
    secrets: secretStore,
    sessions: opts.sessions,
    state: sharedState,
    gate: opts.gate,
    checkSession: opts.checkSession,
    bucket,
    metrics,
    logger,
    fullIntervalMs: config.FULL_VALIDATION_INTERVAL_SECONDS * 1000,
    loginTimeoutMs: config.LOGIN_TIMEOUT_MS,
    passwordExpiryWarnDays: config.PASSWORD_EXPIRY_WARN_DAYS,
    leaseTtlMs: config.LOGIN_LEASE_TTL_MS,
    ...(clock ? { clock: () => clock.now() } : {}),
    onRecorded: (previous: StoredHealth | null, next: StoredHealth) => {
      events?.statusRecorded(previous, next)
      // the replicas that did not check learn of the result now, not at their next round's slot
      sharedState.publish({ type: 'health', connection: next.connection, from: replica }).catch(() => {})
    },
    retired: (name, definition) => retiredFlowProblem(name, definition, opts.flowSunsets, opts.now()),
    ...(opts.storedLogin ? { storedLogin: opts.storedLogin } : {}),
  })
  // the optional policy: a check is when a certificate close to its end gets its rotation started
  const rotateIfDue = async (name: string) => {
    await opts.certificateRotation?.startIfDue(name).catch((err: unknown) => logger.warn({ connection: name, err: { message: (err as Error).message } }, 'certificate rotation could not be started'))
    await opts.consumerRotations?.runIfDue(name).catch((err: unknown) => logger.warn({ connection: name, err: { message: (err as Error).message } }, 'scheduled consumer-secret rotation did not complete'))
  }
  // a login that worked, on any path (a caller's session, an admin's rotation or rollback), is a success health records
  opts.admin.onWritten(async (name, version) => { await validator.recordSuccess(name, version) })
  // A connection created again under a deleted one's name starts at version 1 again (file store,
  // Vault after a metadata delete): what was recorded of the deleted one (its org, readiness, flow
  // setting, API usage) would pass for the new one's. It goes with the connection (read as absent).
  opts.admin.beforeRemove(async (name) => {
    await Promise.all([healthDoc(name), orgIdentityDoc(name), apiUsageDoc(name)].map(key => sharedState.putJson(key, null, 1)))
  })
  opts.gate.onLogin(async ({ connection, version, purpose }) => {
    // the validator records its own logins; a caller's login is a check health did not have to make
    if (purpose === 'miss' || purpose === 'refresh') await validator.recordSuccess(connection, version, true)
  })
  const reporter = new HealthReporter({
    secrets: secretStore,
    sessions: opts.sessions,
    state: sharedState,
    gate: opts.gate,
    lockoutThreshold: config.LOCKOUT_THRESHOLD,
    // a few missed rounds, and never less than a minute (a slow Salesforce, a replica restart)
    staleAfterMs: Math.max(3 * intervalMs, intervalMs + 60_000),
    flowSunsets: opts.flowSunsets,
    flowSunsetWarnDays: config.FLOW_SUNSET_WARN_DAYS,
    certificateWarnDays: config.CERT_EXPIRY_WARN_DAYS,
    now: opts.now,
    ...(clock ? { clock: () => clock.now() } : {}),
    metrics,
    apiUsageWarnRatio: config.API_USAGE_WARN_RATIO,
  })

  // Every replica exports the gauges, and alerting takes the fleet's max (the chart's PrometheusRule):
  // a replica still showing the result before the last one would hold an alert back for a round.
  const forgetGauges = (name: string) => {
    removeHealthGauges(metrics, name)
    removeFlowSunsetGauge(metrics, name)
    metrics.certificateExpiry.remove({ connection: name })
    metrics.certificateIssued.remove({ connection: name })
  }
  const followRecorded = async (name: string) => {
    const view = await reporter.connection(name)
    if (view) updateHealthGauges(metrics, name, { status: view.status, circuitOpen: view.circuit.state === 'open', apiUsage: view.apiUsage, readiness: view.readiness })
    else forgetGauges(name)
  }
  sharedState.onEvent((event) => {
    // a delete purges the connection's sessions fleet-wide: its series go with it, not at the next round
    if ((event.type === 'health' && event.from !== replica) || event.type === 'purge') followRecorded(event.connection).catch(() => {})
  })

  const service: SalesforceHealthService = {
    reporter,
    acknowledgeReset: async (name) => {
      const stored = await secretStore.read(name)
      if (!stored) return false
      await opts.gate.acknowledgeReset(stored.definition)
      return true
    },
    forceCheck: async (name, probe, failedLoginsReset) => {
      const before = failedLoginsReset === true ? await secretStore.read(name) : null
      if (before) await opts.gate.acknowledgeReset(before.definition)
      const health = await validator.validate(name, { forceFull: true, probe })
      if (!health) return null
      await rotateIfDue(name)
      // the audit record names where the login went
      const stored = await secretStore.read(name).catch(() => null)
      if (stored) events?.datesChecked(name, stored.definition)
      return { ...health, ...(stored ? { target: new URL(stored.definition.loginUrl).origin } : {}), ...(before ? { guardReset: true } : {}) }
    },
  }

  if (!config.SCHEDULER_ENABLED) {
    logger.info('salesforce re-validation scheduler disabled (SCHEDULER_ENABLED=false)')
    return { service, start: () => {}, stop: async () => { bucket.close() }, idle: async () => {} }
  }
  const scheduler = new ValidationScheduler({
    intervalMs,
    listConnections: () => secretStore.list(),
    validate: async name => {
      const result = await validator.validate(name)
      await reporter.refreshSunsetGauge(name)
      if (events) {
        const stored = await secretStore.read(name).catch(() => null)
        if (stored) events.datesChecked(name, stored.definition)
      }
      if (result) await rotateIfDue(name)
      return result
    },
    // no validatedElsewhere: at the slot the result is not recorded yet; the gauges follow its event (followRecorded)
    removed: names => { for (const n of names) forgetGauges(n) },
    neverChecked: async name => (await sharedState.getJson(healthDoc(name))) === null,
    state: sharedState,
    logger,
    clock,
  })
  return {
    service,
    start: () => scheduler.start(),
    idle: () => scheduler.idle(),
    stop: async () => {
      // validations queued for a token are dropped, not waited for; the ones calling Salesforce finish
      bucket.close()
      await scheduler.stop()
    },
  }
}
