import { DomainError } from '../errors.ts'
import type { BrokerMetrics } from '../metrics/metrics.ts'
import type { FlowSunsetTable } from '../salesforce/flow-sunset.ts'
import { SecretStoreUnavailableError, type StoredConnection } from '../secrets/store.ts'
import { circuitBlocks, circuitView, pausedMessage } from '../sessions/circuit.ts'
import type { LoginGate } from '../sessions/login-gate.ts'
import type { SessionService } from '../sessions/session-service.ts'
import type { StoredApiUsage } from '../proxy/accounting.ts'
import type { CachedSession, CircuitState, SharedState } from '../shared-state/shared-state.ts'
import { apiUsageDoc, healthDoc, orgIdentityDoc } from '../shared-state/state-names.ts'
import { hintFor, overallStatus, type StoredHealth } from './health-result.ts'
import { certificateHealth, certificateVerdict, updateCertificateGauge } from './certificate-view.ts'
import { flowSunsetView, removeFlowSunsetGauge, sunsetVerdict, updateFlowSunsetGauge } from './flow-sunset-view.ts'
import { readinessView } from './readiness-view.ts'
import { apiUsageVerdict, latestApiUsage } from './api-usage-view.ts'
import { definitionDrift, driftVerdict, identityDrift, observeOrgIdentity, unpwFlowDrift, type OrgIdentity } from './drift-view.ts'
import { setValidationStatus } from './gauges.ts'
import type { ConnectionHealth, SalesforceHealth } from './schemas.ts'

export interface HealthReporterOptions {
  secrets: {
    list (): Promise<string[]>
    read (name: string): Promise<StoredConnection | null>
  }
  sessions: SessionService
  state: SharedState
  /** the login gate: the Salesforce user's login budget and failure guard */
  gate?: Pick<LoginGate, 'loginView' | 'now'>
  lockoutThreshold?: number
  /** a result older than this says more about the scheduler than about Salesforce */
  staleAfterMs: number
  /** announced ends of login flows, and how many days ahead a connection on one is warn */
  flowSunsets: FlowSunsetTable
  flowSunsetWarnDays: number
  /** CERT_EXPIRY_WARN_DAYS: a JWT bearer certificate this close to its end makes the connection warn */
  certificateWarnDays?: number
  /** the calendar the sunsets are counted with (only them: staleness is real time) */
  now: () => number
  /** the time staleness, sessions and circuits are judged at (the scheduler's); default Date.now */
  clock?: () => number
  /** keeps sfb_connection_flow_sunset_timestamp_seconds in step with what is reported */
  metrics?: BrokerMetrics
  /** API_USAGE_WARN_RATIO: daily API usage above this share of the allocation makes an ok connection warn */
  apiUsageWarnRatio?: number
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString())

/**
 * Puts together what /health/salesforce shows: the last validation every replica shares, with
 * the live circuit (a caller's failed login opens it between two validations) and cached session.
 */
export class HealthReporter {
  private readonly opts: HealthReporterOptions

  constructor (opts: HealthReporterOptions) {
    this.opts = opts
  }

  async report (): Promise<SalesforceHealth & { connections: ConnectionHealth[] }> {
    const names = [...new Set(await storeCall(() => this.opts.secrets.list()))].sort()
    const rows = await Promise.all(names.map(n => this.connection(n)))
    const connections = rows.filter((r): r is ConnectionHealth => r !== null)
    return { view: 'full', status: overallStatus(connections.map(c => c.status)), checkedAt: new Date().toISOString(), connections }
  }

  /** null when there is no such connection. */
  async connection (name: string): Promise<ConnectionHealth | null> {
    const stored = await storeCall(() => this.opts.secrets.read(name))
    if (!stored) return null
    // one read of everything shown: the connection's state (the last result, the circuit, the
    // session, what the proxy and the checks learned) and its Salesforce user's logins
    const reads = [
      { kind: 'doc', key: healthDoc(name) },
      { kind: 'circuit', connection: name },
      { kind: 'session', connection: name, secretVersion: stored.version },
      { kind: 'doc', key: apiUsageDoc(name) },
      { kind: 'doc', key: orgIdentityDoc(name) },
    ] as const
    const logins = this.opts.gate ? await this.opts.gate.loginView(name, stored.definition, reads) : undefined
    const [doc, circuit, cached, proxiedUsage, knownIdentity] = (logins?.also ?? await this.opts.state.readMany(reads)) as
      [StoredHealth | null, CircuitState | null, CachedSession | null, StoredApiUsage | null, OrgIdentity | null]
    const budget = logins?.budget
    const guard = logins?.guard
    const now = (this.opts.clock ?? Date.now)()
    // the circuit's times are the gate's (its clock opened it and lets the probe through)
    const loginsNow = this.opts.gate?.now() ?? now
    const view: ConnectionHealth = {
      connection: name,
      ...verdict(doc, stored.version, cached !== null && cached.validUntil > now, now, this.opts.staleAfterMs),
      secretVersion: stored.version,
      consecutiveFailures: doc?.consecutiveFailures ?? 0,
      circuit: circuitView(circuit, stored.version, loginsNow),
    }
    if (doc) {
      view.lastCheckedAt = iso(doc.checkedAt)
      if (doc.lastSuccessAt !== undefined) view.lastSuccessAt = iso(doc.lastSuccessAt)
      if (doc.lastFullAt !== undefined && doc.secretVersion === stored.version) view.lastFullCheckAt = iso(doc.lastFullAt)
      if (doc.latencyMs !== undefined) view.latencyMs = Math.round(doc.latencyMs)
      if (doc.apiUsage) view.apiUsage = { used: Math.round(doc.apiUsage.used), max: Math.round(doc.apiUsage.max) }
      if (doc.readiness && doc.secretVersion === stored.version) view.readiness = readinessView(doc.readiness)
    }
    if (cached && cached.validUntil > now) view.sessionValidUntil = iso(cached.validUntil)
    if (budget) view.loginBudget = budget
    if (guard) {
      view.loginGuard = {
        failures: guard.failures,
        lockoutThreshold: this.opts.lockoutThreshold ?? 3,
        blocked: guard.blocked,
        source: guard.unavailable ? 'replica' : 'fleet',
        reliedOn: guard.truth ? 'salesforce' : 'broker',
        ...(guard.truth ? { salesforce: { failedLogins: guard.truth.failedLogins, locked: guard.truth.locked, readAt: new Date(guard.truth.readAt).toISOString(), via: guard.truth.via } } : {}),
      }
    }
    // The circuit is fresher than the last validation: a caller's login may have opened it since.
    if (circuitBlocks(circuit, stored.version, loginsNow)) {
      Object.assign(view, {
        status: 'failing',
        classification: circuit.classification,
        message: pausedMessage(circuit),
        hint: hintFor(circuit.classification, circuit.hint, doc?.secretVersion === stored.version ? doc.readiness : undefined),
      })
    }
    const sunset = flowSunsetView(stored.definition.flow, this.opts.flowSunsets, this.opts.now())
    if (sunset) Object.assign(view, sunsetVerdict(view, sunset, this.opts.flowSunsetWarnDays), { flowSunset: sunset })
    const certificate = certificateHealth(stored.definition)
    if (certificate) Object.assign(view, certificateVerdict(view, certificate, this.opts.certificateWarnDays ?? 30), { certificate })
    const usage = latestApiUsage(proxiedUsage, view.apiUsage, doc?.checkedAt)
    if (usage) view.apiUsage = { used: Math.round(usage.used), max: Math.round(usage.max) }
    Object.assign(view, apiUsageVerdict(view, usage, this.opts.apiUsageWarnRatio ?? 0.8))
    const live = cached && cached.validUntil > now ? cached : null
    const identity = live ? await observeOrgIdentity(this.opts.state, name, stored.version, live.session, knownIdentity) : knownIdentity
    const unpw = unpwFlowDrift(stored.definition.flow, doc?.secretVersion === stored.version ? doc.unpwFlow : undefined)
    if (unpw.view) view.usernamePasswordFlow = unpw.view
    const drift = [...unpw.drift, ...definitionDrift(stored.definition), ...identityDrift(identity, stored.version)]
    if (drift.length > 0) Object.assign(view, driftVerdict(view, drift), { drift })
    if (this.opts.metrics) {
      // the gauge says what health says: a sunset or certificate warning is warn there too, not 1
      setValidationStatus(this.opts.metrics, name, view.status)
      updateFlowSunsetGauge(this.opts.metrics, name, stored.definition.flow, this.opts.flowSunsets)
      updateCertificateGauge(this.opts.metrics, name, stored.definition)
    }
    return view
  }

  /** The gauges of one connection as health shows it, after a validation on this replica (the store read is served by its cache). */
  async refreshSunsetGauge (name: string): Promise<void> {
    if (!this.opts.metrics) return
    // the view sets the sunset, certificate and validation gauges as health shows them
    if (await this.connection(name)) return
    removeFlowSunsetGauge(this.opts.metrics, name)
    updateCertificateGauge(this.opts.metrics, name, undefined)
  }
}

type Verdict = Pick<ConnectionHealth, 'status' | 'classification' | 'message' | 'hint' | 'checkKind'>

function verdict (doc: StoredHealth | null, version: number, hasSession: boolean, now: number, staleAfterMs: number): Verdict {
  if (!doc) return { status: 'degraded', classification: 'not_checked', message: 'not validated yet', checkKind: 'none' }
  if (doc.secretVersion !== version) {
    // a cached session of the new version exists only because a login with it succeeded (the rotation's own validation)
    if (hasSession) return { status: 'ok', classification: 'ok', message: `the secret changed (now version ${version}); a login with it succeeded`, checkKind: 'full' }
    return { status: 'degraded', classification: 'not_checked', message: `the secret changed (now version ${version}) since the last check`, checkKind: 'none' }
  }
  // an old failure stays a failure; an old success is no longer evidence
  if (now - doc.checkedAt > staleAfterMs && doc.status !== 'failing') {
    return {
      status: 'degraded',
      classification: 'stale',
      message: `the last check (${doc.classification}) is older than ${Math.round(staleAfterMs / 1000)} s`,
      hint: 'is the validation scheduler running (SCHEDULER_ENABLED) on some replica?',
      checkKind: doc.checkKind,
    }
  }
  return {
    status: doc.status,
    classification: doc.classification,
    ...(doc.message ? { message: doc.message } : {}),
    ...(doc.hint ? { hint: doc.hint } : {}),
    checkKind: doc.checkKind,
  }
}

async function storeCall<T> (fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (err instanceof SecretStoreUnavailableError) {
      throw new DomainError('secret_store_unavailable', 'the secret store cannot be read, so the connections cannot be listed', { retryable: true }, 5)
    }
    throw err
  }
}
