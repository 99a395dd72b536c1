import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { Broker } from '../broker.ts'
import salesforceHealthRoutes from '../routes/salesforce-health.ts'
import { ConnectionValidator, type SessionChecker } from './connection-validator.ts'
import { removeFlowSunsetGauge } from './flow-sunset-view.ts'
import { removeHealthGauges, updateHealthGauges } from './gauges.ts'
import { HealthReporter } from './health-report.ts'
import { healthKey } from './health-result.ts'
import { ValidationScheduler } from './scheduler.ts'
import { ConnectionHealthSchema, SalesforceHealthSchema, SalesforceHealthSummarySchema } from './schemas.ts'
import { TokenBucket } from './token-bucket.ts'

export interface HealthPluginOptions {
  broker: Broker
  /** defaults to the Salesforce core's checkSession with LOGIN_TIMEOUT_MS */
  checkSession?: SessionChecker
  /** fleet-wide pause between two forced checks of one connection, default 10 s */
  forcedCheckCooldownMs?: number
}

/**
 * Salesforce credential health: the re-validation scheduler (started when the app is ready,
 * stopped before it closes) and the /health/salesforce routes.
 */
async function healthPlugin (app: FastifyInstance, opts: HealthPluginOptions): Promise<void> {
  const { broker } = opts
  const { config, metrics } = broker
  const intervalMs = config.VALIDATION_INTERVAL_SECONDS * 1000
  const logger = broker.logger.child({ component: 'health' })

  // capacity 1: a ceiling per second, not a rate with a second's worth of burst on top after a quiet spell
  const bucket = new TokenBucket(config.VALIDATION_MAX_PER_SECOND, 1)
  const validator = new ConnectionValidator({
    secrets: broker.secretStore,
    sessions: broker.sessions,
    state: broker.sharedState,
    gate: broker.gate,
    checkSession: opts.checkSession ?? broker.checkSession,
    bucket,
    metrics,
    logger,
    fullIntervalMs: config.FULL_VALIDATION_INTERVAL_SECONDS * 1000,
    loginTimeoutMs: config.LOGIN_TIMEOUT_MS,
    passwordExpiryWarnDays: config.PASSWORD_EXPIRY_WARN_DAYS,
    leaseTtlMs: config.LOGIN_LEASE_TTL_MS,
  })
  broker.admin.onWritten(async (name, version) => { await validator.recordSuccess(name, version) })
  const reporter = new HealthReporter({
    secrets: broker.secretStore,
    sessions: broker.sessions,
    state: broker.sharedState,
    gate: broker.gate,
    lockoutThreshold: config.LOCKOUT_THRESHOLD,
    // a few missed rounds, and never less than a minute (a slow Salesforce, a replica restart)
    staleAfterMs: Math.max(3 * intervalMs, intervalMs + 60_000),
    flowSunsets: broker.flowSunsets,
    flowSunsetWarnDays: config.FLOW_SUNSET_WARN_DAYS,
    certificateWarnDays: config.CERT_EXPIRY_WARN_DAYS,
    now: broker.now,
    metrics,
  })

  app.addSchema(ConnectionHealthSchema)
  app.addSchema(SalesforceHealthSchema)
  app.addSchema(SalesforceHealthSummarySchema)
  await app.register(salesforceHealthRoutes, {
    reporter,
    forceCheck: async (name, probe) => {
      const health = await validator.validate(name, { forceFull: true, probe })
      if (!health) return null
      // the audit record names where the login went
      const stored = await broker.secretStore.read(name).catch(() => null)
      return { ...health, ...(stored ? { target: new URL(stored.definition.loginUrl).origin } : {}) }
    },
    state: broker.sharedState,
    audit: broker.audit,
    forcedCheckCooldownMs: opts.forcedCheckCooldownMs,
    publicDetails: config.HEALTH_DETAILS === 'public',
  })

  if (!config.SCHEDULER_ENABLED) {
    logger.info('salesforce re-validation scheduler disabled (SCHEDULER_ENABLED=false)')
    return
  }
  const scheduler = new ValidationScheduler({
    intervalMs,
    listConnections: () => broker.secretStore.list(),
    validate: async name => {
      const result = await validator.validate(name)
      await reporter.refreshSunsetGauge(name)
      return result
    },
    // this replica's gauges follow the result another replica recorded
    validatedElsewhere: async (name) => {
      const view = await reporter.connection(name)
      if (view) updateHealthGauges(metrics, name, { status: view.status, circuitOpen: view.circuit.state === 'open', apiUsage: view.apiUsage, readiness: view.readiness })
    },
    removed: names => {
      for (const n of names) {
        removeHealthGauges(metrics, n)
        removeFlowSunsetGauge(metrics, n)
        metrics.certificateExpiry.remove({ connection: n })
      }
    },
    neverChecked: async name => (await broker.sharedState.getJson(healthKey(name))) === null,
    state: broker.sharedState,
    logger,
  })
  const stop = async () => {
    // validations queued for a token are dropped, not waited for; the ones calling Salesforce finish
    bucket.close()
    await scheduler.stop()
  }
  app.addHook('onReady', async () => { scheduler.start() })
  // preClose: stop before the broker's onClose closes Redis under a running validation
  app.addHook('preClose', stop)
  app.addHook('onClose', stop)
}

export default fp(healthPlugin, { name: 'sf-broker-health', fastify: '5.x' })
