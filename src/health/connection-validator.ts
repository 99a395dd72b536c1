import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import type { BrokerMetrics } from '../metrics/metrics.ts'
import type { ClassifiedFailure, ConnectionDefinition, LoginOutcome, SalesforceSession, SessionCheckOutcome } from '../salesforce/types.ts'
import { SecretStoreUnavailableError, type StoredConnection } from '../secrets/store.ts'
import { circuitBlocks } from '../sessions/circuit.ts'
import type { SessionObserver, SessionService } from '../sessions/session-service.ts'
import type { CachedSession, CircuitState, SharedState } from '../sessions/shared-state.ts'
import { updateHealthGauges } from './gauges.ts'
import { failureOutcome, healthKey, nextHealth, type CheckOutcome, type StoredHealth } from './health-result.ts'
import { afterFullLogin, defaultReadinessReader, type ReadinessReader } from './readiness-check.ts'
import type { TokenBucket } from './token-bucket.ts'

/** Asks Salesforce whether a session still works (and reads the org's API usage on the way). */
export type SessionChecker = (session: SalesforceSession, apiVersion: string) => Promise<SessionCheckOutcome>

export interface ConnectionValidatorOptions {
  secrets: { read (name: string): Promise<StoredConnection | null> }
  sessions: SessionService
  state: SharedState
  login: (definition: ConnectionDefinition) => Promise<LoginOutcome>
  checkSession: SessionChecker
  /** every call to Salesforce takes a token */
  bucket: TokenBucket
  metrics: BrokerMetrics
  logger: Logger
  /** a full login validates the secret itself at least this often */
  fullIntervalMs: number
  /** upper bound of one login: sizes the login lease and the wait for someone else's login */
  loginTimeoutMs: number
  /** how long a stored result outlives its connection's last check (a deleted connection's result fades) */
  resultTtlMs?: number
  /** health warns this many days before a declared password expiry (PASSWORD_EXPIRY_WARN_DAYS) */
  passwordExpiryWarnDays?: number
  /** defaults to the composite readiness read with loginTimeoutMs */
  readReadiness?: ReadinessReader
}

export interface ValidateOptions {
  /** log in with the secret even if a cheap check would do (a forced check) */
  forceFull?: boolean
}

const LOGIN_LEASE_MARGIN_MS = 5_000
const LEASE_POLL_MS = 250
const DEFAULT_RESULT_TTL_MS = 7 * 24 * 3600_000

const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms))

/**
 * Validates one connection against Salesforce and records the result in shared state.
 *
 * The lockout guard comes first: while the circuit forbids logins with this secret version no
 * login is made, the circuit's own classification is reported. A full login holds the same
 * `login:` lease as the session service, so a validation and a caller's login (or a half-open
 * probe) never both spend a failed attempt at Salesforce.
 */
export class ConnectionValidator {
  private readonly o: ConnectionValidatorOptions
  private readonly observer: SessionObserver

  constructor (opts: ConnectionValidatorOptions) {
    this.o = opts
    this.observer = opts.metrics.sessionObserver()
  }

  /** The recorded result, or null when no such connection exists. */
  async validate (name: string, opts: ValidateOptions = {}): Promise<StoredHealth | null> {
    const previous = await this.o.state.getJson<StoredHealth>(healthKey(name))
    let stored: StoredConnection | null
    try {
      stored = await this.o.secrets.read(name)
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
    const outcome = await this.check(name, stored, previous, opts.forceFull === true)
    return this.record(name, stored.version, outcome, previous)
  }

  private async check (name: string, stored: StoredConnection, previous: StoredHealth | null, forceFull: boolean): Promise<CheckOutcome> {
    const circuit = await this.o.sessions.circuit(name)
    if (circuitBlocks(circuit, stored.version)) return blockedOutcome(circuit)
    const cached = await this.usableSession(name, stored.version)
    if (cached && !forceFull && !this.fullDue(stored.version, previous, circuit, cached)) {
      const cheap = await this.cheapCheck(stored.definition, cached)
      if (cheap.classification !== 'session_invalid') return cheap
      // Salesforce ended the session early (logout, admin action): no caller may be handed it again
      await this.o.sessions.purge(name)
      this.o.logger.info({ connection: name }, 'health check: cached session no longer valid, purged')
    }
    return this.fullCheck(name, stored, cached?.session.accessToken)
  }

  private fullDue (version: number, previous: StoredHealth | null, circuit: CircuitState | null, cached: CachedSession): boolean {
    // past its cool-down, a circuit of this version allows one probe: the full login is that probe
    if (circuit && circuit.secretVersion === version) return true
    // any successful login with this secret version proves it, whoever made it (a caller, an admin's rotation)
    const lastFull = Math.max(cached.session.issuedAt, previous?.secretVersion === version ? previous.lastFullAt ?? 0 : 0)
    return Date.now() - lastFull >= this.o.fullIntervalMs
  }

  private async usableSession (name: string, version: number): Promise<CachedSession | null> {
    const entry = await this.o.sessions.cached(name, version)
    return entry && entry.validUntil > Date.now() ? entry : null
  }

  private async cheapCheck (definition: ConnectionDefinition, cached: CachedSession): Promise<CheckOutcome> {
    await this.o.bucket.take()
    const started = Date.now()
    const outcome = await this.o.checkSession(cached.session, definition.apiVersion).catch(err => this.unexpected(err))
    const latencyMs = Date.now() - started
    if (!outcome.ok) return failureOutcome(outcome.failure, 'cheap', latencyMs)
    return { status: 'ok', classification: 'ok', checkKind: 'cheap', latencyMs, ...(outcome.apiUsage ? { apiUsage: outcome.apiUsage } : {}) }
  }

  /**
   * Logs in with the secret, unless someone else's login answers for it: a login another process
   * makes meanwhile (a caller's request, another replica) is this secret's answer too, and a
   * second attempt could only add a failure. `knownToken` is the cached session seen before: a
   * different one appearing means such a login succeeded.
   */
  private async fullCheck (name: string, stored: StoredConnection, knownToken: string | undefined): Promise<CheckOutcome> {
    const lease = `login:${name}`
    const owner = randomBytes(16).toString('hex')
    const leaseTtl = this.o.loginTimeoutMs + LOGIN_LEASE_MARGIN_MS
    const started = Date.now()
    const deadline = started + leaseTtl
    const loggedInMeanwhile = async (): Promise<CheckOutcome | null> => {
      const fresh = await this.usableSession(name, stored.version)
      if (!fresh || fresh.session.accessToken === knownToken) return null
      return { status: 'ok', classification: 'ok', checkKind: 'full', latencyMs: Date.now() - started, ...await this.afterLogin(fresh.session, stored.definition) }
    }
    for (;;) {
      if (await this.o.state.acquireLease(lease, owner, leaseTtl)) {
        try {
          // re-read under the lease: another process may have just opened the circuit or logged in
          const circuit = await this.o.sessions.circuit(name)
          if (circuitBlocks(circuit, stored.version)) return blockedOutcome(circuit)
          return await loggedInMeanwhile() ?? await this.login(name, stored, circuit)
        } finally {
          await this.o.state.releaseLease(lease, owner).catch(() => false)
        }
      }
      await sleep(LEASE_POLL_MS)
      const circuit = await this.o.sessions.circuit(name)
      if (circuitBlocks(circuit, stored.version)) return blockedOutcome(circuit)
      const meanwhile = await loggedInMeanwhile()
      if (meanwhile) return meanwhile
      if (Date.now() >= deadline) {
        return {
          status: 'degraded',
          classification: 'unknown',
          message: 'another login for this connection did not finish in time; not checked',
          hint: 'the next check will try again',
          checkKind: 'none',
        }
      }
    }
  }

  private async login (name: string, stored: StoredConnection, circuit: CircuitState | null): Promise<CheckOutcome> {
    const { definition, version } = stored
    await this.o.bucket.take()
    const started = Date.now()
    const outcome = await this.o.login(definition).catch((err: unknown): LoginOutcome => this.unexpected(err))
    const latencyMs = Date.now() - started
    this.observer.loginAttempt?.(name, definition.flow, outcome.ok ? 'ok' : outcome.failure.classification, latencyMs)
    if (outcome.ok) {
      // the validation's session serves callers too: one login instead of two
      await this.o.sessions.adopt(name, version, definition, outcome.session)
      return { status: 'ok', classification: 'ok', checkKind: 'full', latencyMs, ...await this.afterLogin(outcome.session, definition) }
    }
    // the session service decides whether this failure pauses logins with the secret
    await this.o.sessions.recordLoginFailure(name, version, outcome.failure, circuit)
    return failureOutcome(outcome.failure, 'full', latencyMs)
  }

  /** A login reports neither API usage nor the user's readiness; one REST call right after it does. Best effort. */
  private async afterLogin (session: SalesforceSession, definition: ConnectionDefinition): Promise<Pick<CheckOutcome, 'apiUsage' | 'readiness'>> {
    return afterFullLogin(session, definition, {
      checkSession: this.o.checkSession,
      readReadiness: this.o.readReadiness ?? defaultReadinessReader(this.o.loginTimeoutMs),
      bucket: this.o.bucket,
      passwordExpiryWarnDays: this.o.passwordExpiryWarnDays ?? 14,
      onError: err => this.unexpected(err),
    })
  }

  private unexpected (err: unknown): { ok: false, failure: ClassifiedFailure } {
    this.o.logger.error({ err }, 'health check failed unexpectedly')
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

  private async record (name: string, version: number, outcome: CheckOutcome, previous: StoredHealth | null): Promise<StoredHealth> {
    const health = nextHealth(name, version, outcome, previous)
    await this.o.state.putJson(healthKey(name), health, this.o.resultTtlMs ?? DEFAULT_RESULT_TTL_MS)
    const circuit = await this.o.sessions.circuit(name)
    updateHealthGauges(this.o.metrics, name, { status: health.status, circuitOpen: circuitBlocks(circuit, version), apiUsage: health.apiUsage, readiness: health.readiness })
    if (previous?.status !== health.status || previous.classification !== health.classification) {
      const level = health.status === 'ok' ? 'info' : 'warn'
      this.o.logger[level]({ connection: name, status: health.status, classification: health.classification, checkKind: health.checkKind, secretVersion: version }, 'salesforce connection health changed')
    }
    return health
  }
}

function blockedOutcome (circuit: CircuitState): CheckOutcome {
  return {
    status: 'failing',
    classification: circuit.classification,
    message: `not attempted: logins are paused after Salesforce answered: ${circuit.message}`,
    hint: circuit.hint,
    checkKind: 'none',
  }
}
