import type { Logger } from 'pino'
import type { DomainError } from '../errors.ts'
import type { BrokerMetrics } from '../metrics/metrics.ts'
import type { ClassifiedFailure, ConnectionDefinition, SalesforceSession, SessionCheckOutcome } from '../salesforce/types.ts'
import { SecretStoreUnavailableError, type StoredConnection } from '../secrets/store.ts'
import { circuitBlocks, pausedMessage } from '../sessions/circuit.ts'
import type { LoginPurpose } from '../sessions/login-budget.ts'
import type { LoginGate, LoginPolicy, LoginRefusal } from '../sessions/login-gate.ts'
import { GUARD_HINT, GUARD_UNAVAILABLE_HINT, refusalProblem } from '../sessions/login-refusal.ts'
import type { SessionService } from '../sessions/session-service.ts'
import type { BatchReads, CachedSession, CircuitState, Documents } from '../shared-state/shared-state.ts'
import { healthDoc } from '../shared-state/state-names.ts'
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
  state: Documents & BatchReads
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
  /** lifetime of the login lease between renewals: a dead holder's lease ends within it */
  leaseTtlMs: number
  /** health warns this many days before a declared password expiry (PASSWORD_EXPIRY_WARN_DAYS) */
  passwordExpiryWarnDays?: number
  /** told every recorded result with the one it replaced (status-change notifications) */
  onRecorded?: (previous: StoredHealth | null, next: StoredHealth) => void
  /** the refusal of a connection whose flow Salesforce has retired (src/sessions/stored-login.ts): reported failing, no login */
  retired?: (name: string, definition: ConnectionDefinition) => DomainError | undefined
  /** the stored-login policy: a full check after a certificate upload completes the pending rotation instead of opening the circuit */
  storedLogin?: LoginPolicy
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

/**
 * Failures of the session's API calls, found after a login that worked (API Access Control, the
 * org's daily API limit, a retired API version): another login does not change them.
 */
const API_REFUSALS: ReadonlySet<string> = new Set(['api_access_blocked', 'api_limit_exceeded', 'api_version_retired'])

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
    let stored: StoredConnection | null
    try {
      stored = await this.opts.secrets.read(name)
    } catch (err) {
      if (!(err instanceof SecretStoreUnavailableError)) throw err
      const previous = await this.opts.state.getJson<StoredHealth>(healthDoc(name))
      return this.record(name, previous?.secretVersion ?? 0, {
        status: 'degraded',
        classification: 'secret_store_unavailable',
        message: 'the secret store cannot be read, so the secret could not be validated',
        hint: 'check the secret store (Vault sealed or unreachable, or the broker lacks read permission)',
        checkKind: 'none',
      }, previous)
    }
    if (!stored) return null
    // one read of what the check decides on: the last result, the circuit, the cached session
    const [previous, circuit, cached] = await this.opts.state.readMany([
      { kind: 'doc', key: healthDoc(name) },
      { kind: 'circuit', connection: name },
      { kind: 'session', connection: name, secretVersion: stored.version },
    ] as const)
    const purpose: LoginPurpose = opts.probe ? 'probe' : opts.forceFull ? 'forced_check' : 'scheduled'
    const seen = { previous: previous as StoredHealth | null, circuit, cached: cached && cached.validUntil > this.now() ? cached : null }
    const { outcome, circuitAfter } = await this.check(name, stored, seen, opts.forceFull === true || opts.probe === true, purpose)
    return this.record(name, stored.version, outcome, seen.previous, circuitAfter)
  }

  private async check (name: string, stored: StoredConnection, seen: { previous: StoredHealth | null, circuit: CircuitState | null, cached: CachedSession | null }, forceFull: boolean, purpose: LoginPurpose): Promise<{ outcome: CheckOutcome, circuitAfter?: CircuitState | null }> {
    const { previous, circuit, cached } = seen
    const retired = this.opts.retired?.(name, stored.definition)
    if (retired) return { outcome: { status: 'failing', classification: 'flow_retired', message: retired.message, hint: retired.extensions.hint, checkKind: 'none' } }
    if (purpose !== 'probe' && circuitBlocks(circuit, stored.version, this.opts.gate.now())) return { outcome: blockedOutcome(circuit) }
    let held = cached?.session
    if (cached && !forceFull && !this.fullDue(stored.version, previous, circuit, cached)) {
      const cheap = await this.cheapCheck(stored.definition, cached)
      if (cheap.status === 'ok') return { outcome: { ...cheap, ...await this.unpwFlow(stored.definition, cached.session) } }
      if (cheap.classification !== 'session_invalid') return { outcome: cheap }
      // Salesforce ended the session early (logout, admin action): no caller may be handed it again
      await this.opts.sessions.purge(name)
      this.opts.logger.info({ connection: name }, 'health check: cached session no longer valid, purged')
      held = undefined
    }
    // the session in hand reads the org's flow setting before a login it may doom; without one, the login's session does (once per check)
    const before = held ? await this.unpwFlow(stored.definition, held) : {}
    const result = await this.fullCheck(name, stored, cached?.session.accessToken, purpose, before.unpwFlow !== undefined)
    const outcome = before.unpwFlow && !result.outcome.unpwFlow ? { ...result.outcome, unpwFlow: before.unpwFlow } : result.outcome
    return { outcome, circuitAfter: result.circuitAfter }
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

  private async cheapCheck (definition: ConnectionDefinition, cached: CachedSession): Promise<CheckOutcome> {
    await this.opts.bucket.take()
    const started = Date.now()
    const outcome = await this.opts.checkSession(cached.session, definition.apiVersion).catch(err => this.unexpected(err))
    const latencyMs = Date.now() - started
    if (!outcome.ok) return failureOutcome(outcome.failure, 'cheap', latencyMs)
    return { status: 'ok', classification: 'ok', checkKind: 'cheap', latencyMs, ...(outcome.apiUsage ? { apiUsage: outcome.apiUsage } : {}) }
  }

  /**
   * Logs in with the secret through the gate's funnel (the user's one lease, the guards), unless
   * someone else's login answers for it: a login another process makes meanwhile (a caller's
   * request, another replica) is this secret's answer too, and a second attempt could only add a
   * failure. `knownToken` is the cached session seen before: a different one appearing means such
   * a login succeeded. `circuitAfter`: the circuit as the login left it (known: health need not read it).
   */
  private async fullCheck (name: string, stored: StoredConnection, knownToken: string | undefined, purpose: LoginPurpose, flowSettingRead: boolean): Promise<{ outcome: CheckOutcome, circuitAfter?: CircuitState | null }> {
    const { definition, version } = stored
    const started = Date.now()
    const outcome = await this.opts.gate.obtain({
      connection: name,
      definition,
      purpose,
      storedVersion: version,
      answeredBy: e => e.validUntil > this.now() && e.session.accessToken !== knownToken,
      deadline: started + this.opts.loginTimeoutMs + this.opts.leaseTtlMs,
      // every call to Salesforce takes a token; a login answered by someone else's takes none
      beforeLogin: () => this.opts.bucket.take(),
      ...(this.opts.storedLogin ? { via: this.opts.storedLogin } : {}),
    })
    const latencyMs = Date.now() - started
    if ('refusal' in outcome) {
      // an admin asked for this probe: tell them plainly why it was not sent
      if (purpose === 'probe' && outcome.refusal.kind !== 'circuit_open') throw refusalProblem(outcome.refusal, name, this.opts.gate.now())
      return { outcome: refusedOutcome(outcome.refusal) }
    }
    if (outcome.ok) {
      // the session is cached for callers too (the pending key's, when it replaced a refused one: the connection now stores it)
      const now = outcome.switched ?? { version, definition }
      return { outcome: { status: 'ok', classification: 'ok', checkKind: 'full', latencyMs, ...await this.afterLogin(outcome.session, now.definition, flowSettingRead) }, circuitAfter: null }
    }
    // the gate has counted the failure and, when it says so, opened the circuit
    return { outcome: failureOutcome(outcome.failure, 'full', latencyMs), ...(outcome.circuit ? { circuitAfter: outcome.circuit } : {}) }
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
   * `loginOnly`: a caller's login, which proves the secret and nothing after it: a refusal of the
   * session's API calls the last check of this version found stands until a check says otherwise.
   */
  async recordSuccess (name: string, version: number, loginOnly = false): Promise<StoredHealth> {
    const previous = await this.opts.state.getJson<StoredHealth>(healthDoc(name))
    if (loginOnly && previous?.secretVersion === version && API_REFUSALS.has(previous.classification)) return previous
    // a success closed the circuit of its version
    return this.record(name, version, { status: 'ok', classification: 'ok', checkKind: 'full' }, previous, null)
  }

  /** `circuit`: the circuit as the check left it, when known (else read). */
  private async record (name: string, version: number, outcome: CheckOutcome, previous: StoredHealth | null, known?: CircuitState | null): Promise<StoredHealth> {
    const health = nextHealth(name, version, outcome, previous, this.now())
    const circuit = known !== undefined ? known : await this.opts.sessions.circuit(name)
    await this.opts.state.putJson(healthDoc(name), health, RESULT_TTL_MS)
    updateHealthGauges(this.opts.metrics, name, { status: health.status, circuitOpen: circuitBlocks(circuit, version, this.opts.gate.now()), apiUsage: health.apiUsage, readiness: health.readiness })
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
        // the failures counted may be timeouts or a gateway's 5xx: the guard's hold is what is known
        classification: 'login_guarded',
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
        // LOGIN_RATE_EXCEEDED is Salesforce's word; the broker's own budget is not
        classification: r.reason === 'rate_exceeded' ? 'login_rate_exceeded' : 'login_budget_exhausted',
        message: r.reason === 'rate_exceeded'
          ? `not attempted: Salesforce answered LOGIN_RATE_EXCEEDED; logins resume after ${new Date(r.retryAt).toISOString()}`
          : `not attempted: ${r.used} of ${r.limit} logins of this user spent in the last hour`,
        hint: 'see the login budget in /health/salesforce; another client of the same user may be logging in too often',
        checkKind: 'none',
      }
    case 'busy':
      return { status: 'degraded', classification: 'unknown', message: 'another login of the same Salesforce user did not finish in time; not checked', hint: 'the next check will try again', checkKind: 'none' }
    case 'held_off':
      return { status: 'degraded', classification: 'unknown', message: `not attempted: ${r.holdOff.message}`, hint: r.holdOff.hint, checkKind: 'none' }
  }
}
