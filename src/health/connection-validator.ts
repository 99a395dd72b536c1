import type { Logger } from 'pino'
import type { DomainError } from '../errors.ts'
import type { BrokerMetrics } from '../metrics/metrics.ts'
import type { ClassifiedFailure, ConnectionDefinition, SalesforceSession, SessionCheckOutcome } from '../salesforce/types.ts'
import { SecretStoreUnavailableError, type StoredConnection } from '../secrets/store.ts'
import { circuitBlocks, pausedMessage } from '../sessions/circuit.ts'
import { underLease } from '../sessions/lease.ts'
import type { LoginPurpose } from '../sessions/login-budget.ts'
import type { LoginGate, LoginRefusal } from '../sessions/login-gate.ts'
import { GUARD_HINT, GUARD_UNAVAILABLE_HINT, refusalProblem } from '../sessions/login-refusal.ts'
import type { SessionService } from '../sessions/session-service.ts'
import type { StoredLogin, StoredLoginOutcome } from '../sessions/stored-login.ts'
import type { CachedSession, CircuitState, Documents, Leases } from '../shared-state/shared-state.ts'
import { connectionLoginLease, healthDoc } from '../shared-state/state-names.ts'
import { updateHealthGauges } from './gauges.ts'
import { failureOutcome, nextHealth, type CheckOutcome, type StoredHealth } from './health-result.ts'
import { afterFullLogin, defaultReadinessReader } from './readiness-check.ts'
import type { TokenBucket } from './token-bucket.ts'
import { defaultUnpwFlowReader, readUnpwFlowFor, type UnpwFlowReader } from './unpw-flow-check.ts'

/** Asks Salesforce whether a session still works (and reads the org's API usage on the way). */
export type SessionChecker = (session: SalesforceSession, apiVersion: string) => Promise<SessionCheckOutcome>

export interface ConnectionValidatorOptions {
  secrets: { read (name: string): Promise<StoredConnection | null> }
  sessions: SessionService
  state: Documents & Leases
  /** the one door to Salesforce */
  gate: LoginGate
  checkSession: SessionChecker
  /** every call to Salesforce takes a token */
  bucket: TokenBucket
  metrics: BrokerMetrics
  logger: Logger
  /** a full login validates the secret itself at least this often */
  fullIntervalMs: number
  /** upper bound of one login: sizes the wait for someone else's login */
  loginTimeoutMs: number
  /** lifetime of the login lease between renewals */
  leaseTtlMs: number
  /** health warns this many days before a declared password expiry (PASSWORD_EXPIRY_WARN_DAYS) */
  passwordExpiryWarnDays?: number
  /** told every recorded result with the one it replaced (status-change notifications) */
  onRecorded?: (previous: StoredHealth | null, next: StoredHealth) => void
  /** the refusal of a connection whose flow Salesforce has retired (src/sessions/stored-login.ts): reported failing, no login */
  retired?: (name: string, definition: ConnectionDefinition) => DomainError | undefined
  /** the stored-login policy: a full check after a certificate upload completes the pending rotation instead of opening the circuit */
  storedLogin?: Pick<StoredLogin, 'attempt'>
  /** reads the org's username-password flow setting (oauth_password connections); default: the Metadata API */
  readUnpwFlow?: UnpwFlowReader
  /** the time checks are recorded at and a full check falls due by (the scheduler's); default Date.now */
  clock?: () => number
}

export interface ValidateOptions {
  /** log in with the secret even if a cheap check would do (a forced check) */
  forceFull?: boolean
  /**
   * an admin's explicit probe of the stored secret after fixing the cause in Salesforce: logs in
   * now even while the circuit pauses logins, if the failure guard still leaves room
   */
  probe?: boolean
}

/** how long a stored result outlives its connection's last check (a deleted connection's result fades) */
const RESULT_TTL_MS = 7 * 24 * 3600_000

/**
 * Validates one connection against Salesforce and records the result in shared state.
 *
 * The lockout guard comes first: while the circuit forbids logins with this secret version no
 * login is made, the circuit's own classification is reported. A full login holds the same
 * `login:` lease as the session service, so a validation and a caller's login (or a half-open
 * probe) never both spend a failed attempt at Salesforce.
 */
export class ConnectionValidator {
  private readonly opts: ConnectionValidatorOptions
  constructor (opts: ConnectionValidatorOptions) {
    this.opts = opts
  }

  /** The recorded result, or null when no such connection exists. */
  async validate (name: string, opts: ValidateOptions = {}): Promise<StoredHealth | null> {
    const previous = await this.opts.state.getJson<StoredHealth>(healthDoc(name))
    let stored: StoredConnection | null
    try {
      stored = await this.opts.secrets.read(name)
    } catch (err) {
      if (!(err instanceof SecretStoreUnavailableError)) throw err
      return this.record(name, previous?.secretVersion ?? 0, {
        status: 'degraded',
        classification: 'secret_store_unavailable',
        message: 'the secret store cannot be read, so the secret could not be validated',
        hint: 'check the secret store (Vault sealed or unreachable, or the broker lacks read permission)',
        checkKind: 'none',
      }, previous)
    }
    if (!stored) return null
    const purpose: LoginPurpose = opts.probe ? 'probe' : opts.forceFull ? 'forced_check' : 'scheduled'
    const outcome = await this.check(name, stored, previous, opts.forceFull === true || opts.probe === true, purpose)
    return this.record(name, stored.version, outcome, previous)
  }

  private async check (name: string, stored: StoredConnection, previous: StoredHealth | null, forceFull: boolean, purpose: LoginPurpose): Promise<CheckOutcome> {
    const retired = this.opts.retired?.(name, stored.definition)
    if (retired) return { status: 'failing', classification: 'flow_retired', message: retired.message, hint: retired.extensions.hint, checkKind: 'none' }
    const circuit = await this.opts.sessions.circuit(name)
    if (purpose !== 'probe' && circuitBlocks(circuit, stored.version)) return blockedOutcome(circuit)
    const cached = await this.usableSession(name, stored.version)
    let held = cached?.session
    if (cached && !forceFull && !this.fullDue(stored.version, previous, circuit, cached)) {
      const cheap = await this.cheapCheck(stored.definition, cached)
      if (cheap.status === 'ok') return { ...cheap, ...await this.unpwFlow(stored.definition, cached.session) }
      if (cheap.classification !== 'session_invalid') return cheap
      // Salesforce ended the session early (logout, admin action): no caller may be handed it again
      await this.opts.sessions.purge(name)
      this.opts.logger.info({ connection: name }, 'health check: cached session no longer valid, purged')
      held = undefined
    }
    // the session in hand reads the org's flow setting before a login it may doom; without one, the login's session does (once per check)
    const before = held ? await this.unpwFlow(stored.definition, held) : {}
    const outcome = await this.fullCheck(name, stored, cached?.session.accessToken, purpose, before.unpwFlow !== undefined)
    return before.unpwFlow && !outcome.unpwFlow ? { ...outcome, unpwFlow: before.unpwFlow } : outcome
  }

  private unpwFlow (definition: ConnectionDefinition, session: SalesforceSession): ReturnType<typeof readUnpwFlowFor> {
    return readUnpwFlowFor(definition, session, { read: this.opts.readUnpwFlow ?? defaultUnpwFlowReader(this.opts.loginTimeoutMs), bucket: this.opts.bucket })
  }

  private fullDue (version: number, previous: StoredHealth | null, circuit: CircuitState | null, cached: CachedSession): boolean {
    // past its cool-down, a circuit of this version allows one probe: the full login is that probe
    if (circuit && circuit.secretVersion === version) return true
    // any successful login with this secret version proves it, whoever made it (a caller, an admin's rotation)
    const lastFull = Math.max(cached.session.issuedAt, previous?.secretVersion === version ? previous.lastFullAt ?? 0 : 0)
    return this.now() - lastFull >= this.opts.fullIntervalMs
  }

  private now (): number {
    return (this.opts.clock ?? Date.now)()
  }

  private async usableSession (name: string, version: number): Promise<CachedSession | null> {
    const entry = await this.opts.sessions.cachedInSharedState(name, version)
    return entry && entry.validUntil > this.now() ? entry : null
  }

  private async cheapCheck (definition: ConnectionDefinition, cached: CachedSession): Promise<CheckOutcome> {
    await this.opts.bucket.take()
    const started = Date.now()
    const outcome = await this.opts.checkSession(cached.session, definition.apiVersion).catch(err => this.unexpected(err))
    const latencyMs = Date.now() - started
    if (!outcome.ok) return failureOutcome(outcome.failure, 'cheap', latencyMs)
    return { status: 'ok', classification: 'ok', checkKind: 'cheap', latencyMs, ...(outcome.apiUsage ? { apiUsage: outcome.apiUsage } : {}) }
  }

  /**
   * Logs in with the secret, unless someone else's login answers for it: a login another process
   * makes meanwhile (a caller's request, another replica) is this secret's answer too, and a
   * second attempt could only add a failure. `knownToken` is the cached session seen before: a
   * different one appearing means such a login succeeded. The login holds the connection's
   * `login:` lease, like a caller's, and goes through the login gate like every other.
   */
  private async fullCheck (name: string, stored: StoredConnection, knownToken: string | undefined, purpose: LoginPurpose, flowSettingRead: boolean): Promise<CheckOutcome> {
    const started = Date.now()
    const result = await underLease<CheckOutcome>({
      state: this.opts.state,
      name: connectionLoginLease(name),
      ttlMs: this.opts.leaseTtlMs,
      deadline: started + this.opts.loginTimeoutMs + this.opts.leaseTtlMs,
      logger: this.opts.logger,
      settled: async () => {
        // another process may have just opened the circuit or logged in
        const circuit = await this.opts.sessions.circuit(name)
        if (purpose !== 'probe' && circuitBlocks(circuit, stored.version)) return blockedOutcome(circuit)
        const fresh = await this.usableSession(name, stored.version)
        if (!fresh || fresh.session.accessToken === knownToken) return undefined
        return { status: 'ok', classification: 'ok', checkKind: 'full', latencyMs: Date.now() - started, ...await this.afterLogin(fresh.session, stored.definition, flowSettingRead) }
      },
    }, () => this.loginThroughGate(name, stored, purpose, flowSettingRead))
    if (result.kind !== 'timeout') return result.value
    return {
      status: 'degraded',
      classification: 'unknown',
      message: 'another login for this connection did not finish in time; not checked',
      hint: 'the next check will try again',
      checkKind: 'none',
    }
  }

  private async loginThroughGate (name: string, stored: StoredConnection, purpose: LoginPurpose, flowSettingRead: boolean): Promise<CheckOutcome> {
    const { definition, version } = stored
    await this.opts.bucket.take()
    const started = Date.now()
    const request = { connection: name, definition, purpose, storedVersion: version }
    const outcome: StoredLoginOutcome = await (this.opts.storedLogin ?? this.opts.gate).attempt(request)
    const latencyMs = Date.now() - started
    if ('refusal' in outcome) {
      // an admin asked for this probe: tell them plainly why it was not sent
      if (purpose === 'probe' && outcome.refusal.kind !== 'circuit_open') throw refusalProblem(outcome.refusal, name)
      return refusedOutcome(outcome.refusal)
    }
    if (outcome.ok) {
      // the validation's session serves callers too: one login instead of two
      // (the pending key's, when it replaced a refused one: the connection now stores it)
      const now = outcome.switched ?? { version, definition }
      await this.opts.sessions.adopt(name, now.version, now.definition, outcome.session)
      return { status: 'ok', classification: 'ok', checkKind: 'full', latencyMs, ...await this.afterLogin(outcome.session, now.definition, flowSettingRead) }
    }
    // the gate has counted the failure and, when it says so, opened the circuit
    return failureOutcome(outcome.failure, 'full', latencyMs)
  }

  /**
   * A login reports neither API usage nor the user's readiness; one REST call right after it does
   * (and, unless read already, one Metadata API call the org's username-password flow setting). Best effort.
   */
  private async afterLogin (session: SalesforceSession, definition: ConnectionDefinition, flowSettingRead: boolean): Promise<Partial<CheckOutcome>> {
    const { apiRefusal, ...learned } = await afterFullLogin(session, definition, {
      checkSession: this.opts.checkSession,
      readReadiness: defaultReadinessReader(this.opts.loginTimeoutMs),
      bucket: this.opts.bucket,
      passwordExpiryWarnDays: this.opts.passwordExpiryWarnDays ?? 14,
      onError: err => this.unexpected(err),
    })
    // the login succeeded, the session may not call the API: the check fails with that (a new login cannot help)
    if (apiRefusal) return { ...learned, ...failureOutcome(apiRefusal, 'full') }
    return flowSettingRead ? learned : { ...learned, ...await this.unpwFlow(definition, session) }
  }

  private unexpected (err: unknown): { ok: false, failure: ClassifiedFailure } {
    this.opts.logger.error({ err }, 'health check failed unexpectedly')
    return {
      ok: false,
      failure: {
        classification: 'unknown',
        retryable: true,
        credentialFailure: false,
        message: 'the check failed unexpectedly',
        hint: 'see the broker logs; the next check will try again',
      },
    }
  }

  /**
   * A login made elsewhere (an admin's validated rotation, rollback or migration) succeeded with this
   * secret version: recorded as a full check, so counters reset and lastSuccessAt moves on every path.
   */
  async recordSuccess (name: string, version: number): Promise<StoredHealth> {
    const previous = await this.opts.state.getJson<StoredHealth>(healthDoc(name))
    return this.record(name, version, { status: 'ok', classification: 'ok', checkKind: 'full' }, previous)
  }

  private async record (name: string, version: number, outcome: CheckOutcome, previous: StoredHealth | null): Promise<StoredHealth> {
    const health = nextHealth(name, version, outcome, previous, this.now())
    await this.opts.state.putJson(healthDoc(name), health, RESULT_TTL_MS)
    const circuit = await this.opts.sessions.circuit(name)
    updateHealthGauges(this.opts.metrics, name, { status: health.status, circuitOpen: circuitBlocks(circuit, version), apiUsage: health.apiUsage, readiness: health.readiness })
    if (previous?.status !== health.status || previous.classification !== health.classification) {
      const level = health.status === 'ok' ? 'info' : 'warn'
      this.opts.logger[level]({ connection: name, status: health.status, classification: health.classification, checkKind: health.checkKind, secretVersion: version }, 'salesforce connection health changed')
    }
    this.opts.onRecorded?.(previous, health)
    return health
  }
}

function blockedOutcome (circuit: CircuitState): CheckOutcome {
  return {
    status: 'failing',
    classification: circuit.classification,
    message: `not attempted: ${pausedMessage(circuit)}`,
    hint: circuit.hint,
    checkKind: 'none',
  }
}

/** The gate sent nothing: say why, in the health vocabulary. A guarded user is failing: an admin must act. */
function refusedOutcome (r: LoginRefusal): CheckOutcome {
  switch (r.kind) {
    case 'circuit_open':
      return blockedOutcome(r.circuit)
    case 'guarded':
      return {
        status: 'failing',
        classification: 'invalid_credentials',
        message: `not attempted: ${r.failures} failed logins of this Salesforce user since its last success, one short of its lockout; no password login is sent until an admin acts`,
        hint: GUARD_HINT,
        checkKind: 'none',
      }
    case 'candidate_failed':
      return {
        status: 'failing',
        classification: 'invalid_credentials',
        message: `not attempted: Salesforce already refused exactly these credentials; not sent again before ${new Date(r.safeAt).toISOString()}`,
        hint: GUARD_HINT,
        checkKind: 'none',
      }
    case 'guard_unavailable':
      return { status: 'degraded', classification: 'unknown', message: 'not attempted: Redis cannot be reached, so the fleet-wide failure count of this user cannot be read; password logins are paused', hint: GUARD_UNAVAILABLE_HINT, checkKind: 'none' }
    case 'budget':
      return {
        status: 'degraded',
        classification: 'login_rate_exceeded',
        message: r.reason === 'rate_exceeded'
          ? `not attempted: Salesforce answered LOGIN_RATE_EXCEEDED; logins resume after ${new Date(r.retryAt).toISOString()}`
          : `not attempted: ${r.used} of ${r.limit} logins of this user spent in the last hour`,
        hint: 'see the login budget in /health/salesforce; another client of the same user may be logging in too often',
        checkKind: 'none',
      }
    case 'busy':
      return { status: 'degraded', classification: 'unknown', message: 'another login of the same Salesforce user did not finish in time; not checked', hint: 'the next check will try again', checkKind: 'none' }
  }
}
