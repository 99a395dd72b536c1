import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import { DomainError } from '../errors.ts'
import type { ClassifiedFailure, ConnectionDefinition } from '../salesforce/types.ts'
import type { StoredConnection } from '../secrets/store.ts'
import { SecretStoreUnavailableError } from '../secrets/store.ts'
import { circuitBlocks, retryAfterSeconds } from './circuit.ts'
import { endHoldOff, startHoldOff, throwIfHeldOff, type HoldOff } from './hold-off.ts'
import { underLease } from './lease.ts'
import { BUDGET_WINDOW_MS, type LoginPurpose } from './login-budget.ts'
import type { LoginGate } from './login-gate.ts'
import { refusalProblem } from './login-refusal.ts'
import type { RejectionCheck } from './rejection-check.ts'
import { ChangeWaiters } from './change-waiters.ts'
import { LocalSessions, servable } from './local-sessions.ts'
import { StopSignal } from './stop-signal.ts'
import type { StoredLogin, StoredLoginOutcome } from './stored-login.ts'
import { callerExpiry, needsRefresh, toCachedSession, type LifetimePolicy } from './session-lifetime.ts'
import type { CachedSession, CircuitState, SharedState } from '../shared-state/shared-state.ts'
import { connectionLoginLease, orgSessionDoc, reloginFloorLease, revokedDoc } from '../shared-state/state-names.ts'

/** What the session service needs from the secret store: the current secret, and its last known version while the store is down. */
export interface SecretReader {
  read (name: string): Promise<StoredConnection | null>
  /** the cached secret without waiting, when the reader has it in memory */
  peek? (name: string): Readonly<StoredConnection> | null | undefined
  lastKnown? (name: string): { name: string, version: number } | null
  /** the store's current version, bypassing the cache (version metadata only) */
  currentVersion? (name: string): Promise<number | null>
  /** forgets the cached secret */
  invalidate? (name: string): void
}

/** The secret this replica holds is no longer the store's current version: read it again, log in with that. */
class StaleSecretError extends Error {}

/** Optional observer, fed to metrics (logins are observed by the login gate). */
export interface SessionObserver {
  sessionServed? (connection: string, outcome: 'hit' | 'miss' | 'stale' | 'error'): void
}

export interface SessionServiceOptions {
  secrets: SecretReader
  state: SharedState
  /** the one door to Salesforce */
  gate: LoginGate
  /** verifies a caller's claim that the cached session is dead before a login is spent on it */
  rejections: RejectionCheck
  logger: Logger
  lifetime: LifetimePolicy
  /** how long a request waits for a login done by another request or replica */
  loginWaitTimeoutMs: number
  /** lifetime of the connection's login lease between renewals */
  leaseTtlMs: number
  loginRetries: number
  /**
   * Fewest ms between two logins that replace a session Salesforce confirmed dead, per connection
   * and fleet-wide (REVOKED_SESSION_LOGIN_INTERVAL_SECONDS), for an hour after such a confirmation.
   */
  reloginIntervalMs?: number
  observer?: SessionObserver
  /** the clock of circuits and logins; default Date.now */
  now?: () => number
  /** stored-login policy: retired flows answered without a login, a pending certificate rotation's key tried (src/sessions/stored-login.ts) */
  storedLogin?: StoredLogin
}

/** After a session was confirmed dead, logins replacing it are rationed this long (the login budget's hour). */
const REVOKED_WATCH_MS = 3_600_000

export interface IssuedSession {
  connection: string
  entry: CachedSession
  /** epoch ms told to the caller */
  expiresAt: number
  apiVersion: string
  cache: 'hit' | 'miss'
  /** whether handing it out is audited (the connection's auditSessions, default true) */
  auditSessions?: boolean
}

/**
 * Hands out Salesforce sessions: one login serves every caller and replica (through the login gate,
 * which applies the circuit, the failure guard and the login budget), and a caller's report of a
 * dead token is verified with Salesforce first, then causes at most one new login however many
 * callers report it.
 */
export class SessionService {
  private readonly opts: SessionServiceOptions
  private readonly l1 = new LocalSessions()
  private readonly flights = new Map<string, Promise<CachedSession>>()
  private readonly waiters = new ChangeWaiters()
  private readonly loginListeners: Array<(connection: string, version: number) => Promise<void>> = []
  /** the shutdown deadline (stopBy): every login wait ends then */
  private readonly stop = new StopSignal()

  /** Told of every successful login for a caller: health (a higher layer) records it like a check of its own. */
  onLogin (listener: (connection: string, version: number) => Promise<void>): void {
    this.loginListeners.push(listener)
  }

  private readonly now: () => number

  constructor (opts: SessionServiceOptions) {
    this.opts = opts
    this.now = opts.now ?? Date.now
    opts.state.onEvent((event) => {
      if (event.type === 'session' || event.type === 'purge') this.l1.forget(event.connection)
      this.waiters.wake(event.connection)
    })
  }

  /**
   * The cache hit, synchronously, when the secret and a usable session are both in process memory
   * (the common case); undefined when anything needs I/O — then call getSession().
   */
  cachedInProcess (connection: string, rejectedToken?: string): IssuedSession | undefined {
    const stored = this.opts.secrets.peek?.(connection)
    const entry = stored ? this.l1.fresh(connection, stored.version, rejectedToken) : undefined
    if (!stored || !entry) return undefined
    const issued = this.issue(connection, entry, stored.definition, 'hit')
    this.opts.observer?.sessionServed?.(connection, 'hit')
    return issued
  }

  async getSession (connection: string, rejectedToken?: string, caller = 'unknown'): Promise<IssuedSession> {
    try {
      const issued = await this.obtainFor(connection, rejectedToken, caller).catch((err: unknown) => {
        if (!(err instanceof StaleSecretError)) throw err
        // a rotation this replica did not hear of (Redis down): once more, with the current secret
        return this.obtainFor(connection, rejectedToken, caller)
      })
      this.opts.observer?.sessionServed?.(connection, issued.cache)
      return issued
    } catch (err) {
      this.opts.observer?.sessionServed?.(connection, 'error')
      if (err instanceof DomainError && err.code === 'shutting_down') this.stop.tally.cutShort++
      throw err
    }
  }

  /**
   * The shutdown seam (the app calls it when it starts closing): logins and waits in progress go on
   * until `deadline`; then every request still waiting is answered 503 shutting_down, a login still
   * running here is abandoned and its lease released at once (another replica takes over instead of
   * waiting for the lease to expire), and no new login starts.
   */
  stopBy (deadline: number): void {
    this.stop.stopBy(deadline, () => this.waiters.wakeAll())
  }

  /** what the shutdown cut short, for its log line */
  get shutdownTally (): { cutShort: number, abandonedLogins: number } {
    return this.stop.tally
  }

  private async obtainFor (connection: string, claimedDead: string | undefined, caller: string): Promise<IssuedSession> {
    const stored = await this.readSecret(connection)
    if (stored.kind === 'unavailable') return this.serveWhileStoreDown(connection, stored.version, claimedDead)
    const { version, definition } = stored.value
    const rejectedToken = claimedDead === undefined ? undefined : await this.confirmRejected(connection, version, claimedDead, caller)
    const local = this.l1.fresh(connection, version, rejectedToken)
    if (local) return this.issue(connection, local, definition, 'hit')
    const shared = await this.opts.state.getSession(connection, version)
    if (servable(shared, version, rejectedToken)) {
      this.l1.remember(connection, shared)
      return this.issue(connection, shared, definition, 'hit')
    }
    const fresh = await this.singleFlight(connection, version, definition, rejectedToken)
    return this.issue(connection, fresh, definition, 'miss')
  }

  /**
   * A claimed-dead token counts only when it is the session cached now and Salesforce confirms it is
   * dead; otherwise the claim is dropped and the cached session served, without a login.
   */
  private async confirmRejected (connection: string, version: number, token: string, caller: string): Promise<string | undefined> {
    const local = this.l1.last(connection)
    const current = local && local.secretVersion === version && local.session.accessToken === token ? local : await this.opts.state.getSession(connection, version)
    if (!current || current.session.accessToken !== token) return undefined
    return await this.opts.rejections.isDead(connection, current, caller, () => this.dropDead(connection)) ? token : undefined
  }

  /**
   * A session Salesforce confirmed dead (revoked, or ended early) is never handed out again: it
   * leaves every replica's cache at once. Logins that replace it are rationed from now on
   * (rationRelogin): whoever can revoke sessions cannot spend the user's login budget with it.
   */
  private async dropDead (connection: string): Promise<void> {
    // runs once per dead token fleet-wide, before the verdict is published, so no login made for the
    // callers who reported it can have been stored yet
    await this.purge(connection)
    await this.opts.state.putJson(revokedDoc(connection), { at: this.now() }, REVOKED_WATCH_MS)
  }

  /**
   * Within the hour after a session was confirmed dead, a login for the connection's callers takes
   * the connection's relogin floor first: one per interval, fleet-wide, whatever path asks.
   */
  private async rationRelogin (connection: string): Promise<void> {
    const interval = this.opts.reloginIntervalMs ?? 0
    if (interval <= 0) return
    if (!await this.opts.state.getJson(revokedDoc(connection))) return
    if (await this.opts.state.acquireLease(reloginFloorLease(connection), randomUUID(), interval)) return
    throw new DomainError('session_renewal_throttled',
      'the connection\'s session was confirmed dead and replaced moments ago; sessions revoked this often are replaced at most once per interval',
      { connection, retryable: true, hint: 'Something is revoking this connection\'s sessions (Salesforce Setup > Session Management, or a caller calling /services/oauth2/revoke); find it in the broker\'s audit (session.issued by caller) and in Login History.' },
      Math.ceil(interval / 1000))
  }

  private issue (connection: string, entry: CachedSession, definition: ConnectionDefinition, cache: 'hit' | 'miss'): IssuedSession {
    if (cache === 'hit' && needsRefresh(entry, this.opts.lifetime)) this.refreshInBackground(connection, entry, definition)
    return { connection, entry, expiresAt: callerExpiry(entry, this.opts.lifetime), apiVersion: entry.apiVersion, cache, auditSessions: definition.auditSessions !== false }
  }

  private async readSecret (connection: string): Promise<{ kind: 'ok', value: StoredConnection } | { kind: 'unavailable', version: number | null }> {
    try {
      const value = await this.opts.secrets.read(connection)
      if (!value) throw new DomainError('not_found', `no connection named "${connection}"`)
      return { kind: 'ok', value }
    } catch (err) {
      if (!(err instanceof SecretStoreUnavailableError)) throw err
      this.opts.logger.warn({ connection, reason: err.reason }, 'secret store unavailable: serving cached sessions only')
      return { kind: 'unavailable', version: this.opts.secrets.lastKnown?.(connection)?.version ?? null }
    }
  }

  /** Without the secret no login is possible; a still-valid cached session of the last known version is served. */
  private async serveWhileStoreDown (connection: string, version: number | null, rejectedToken?: string): Promise<IssuedSession> {
    if (version !== null) {
      const entry = this.l1.last(connection) ?? await this.opts.state.getSession(connection, version)
      if (servable(entry, version, rejectedToken)) {
        return { connection, entry, expiresAt: callerExpiry(entry, this.opts.lifetime), apiVersion: entry.apiVersion, cache: 'hit', auditSessions: true }
      }
    }
    throw new DomainError('secret_store_unavailable', 'the secret store cannot be read and no valid cached session exists', { connection, retryable: true }, 5)
  }

  /** One login per connection per process at a time; the shared lease makes it one per fleet. */
  private singleFlight (connection: string, version: number, definition: ConnectionDefinition, rejectedToken?: string, refresh = false): Promise<CachedSession> {
    const key = `${connection}\u0000${version}\u0000${refresh ? 'refresh' : ''}\u0000${rejectedToken ?? ''}`
    let flight = this.flights.get(key)
    if (!flight) {
      flight = this.obtainViaLease(connection, version, definition, rejectedToken, refresh).finally(() => this.flights.delete(key))
      this.flights.set(key, flight)
    }
    return flight
  }

  private refreshInBackground (connection: string, entry: CachedSession, definition: ConnectionDefinition): void {
    this.singleFlight(connection, entry.secretVersion, definition, undefined, true).catch((err: unknown) => {
      // the current session is still valid until validUntil; the next request tries again
      this.opts.logger.debug({ connection, err: { message: (err as Error).message } }, 'background session refresh did not succeed')
    })
  }

  private async obtainViaLease (connection: string, version: number, definition: ConnectionDefinition, rejectedToken: string | undefined, refresh: boolean): Promise<CachedSession> {
    const deadline = Date.now() + this.opts.loginWaitTimeoutMs
    const acceptable = (e: CachedSession | null): e is CachedSession =>
      servable(e, version, rejectedToken) && !(refresh && needsRefresh(e, this.opts.lifetime))
    let holdoff: HoldOff | null = null
    const result = await underLease<CachedSession>({
      state: this.opts.state,
      name: connectionLoginLease(connection),
      ttlMs: this.opts.leaseTtlMs,
      deadline,
      logger: this.opts.logger,
      waitForChange: ms => this.waiters.wait(connection, ms),
      settled: async () => {
        const cached = await this.opts.state.getSession(connection, version)
        if (acceptable(cached)) return cached
        const circuit = await this.opts.gate.circuit(connection)
        if (circuitBlocks(circuit, version, this.now())) throw refusalProblem({ kind: 'circuit_open', circuit }, connection)
        holdoff = await throwIfHeldOff(this.opts.state, connection)
        this.stop.throwIfStopped(connection)
        return undefined
      },
    }, async () => {
      try {
        return await this.loginAndStore(connection, version, definition, holdoff, deadline, refresh ? 'refresh' : 'miss')
      } finally {
        this.waiters.wake(connection)
      }
    })
    if (result.kind === 'timeout') {
      throw new DomainError('login_wait_timeout', 'another login for this connection did not finish in time', { connection, retryable: true }, 2)
    }
    return result.value
  }

  private async loginAndStore (connection: string, version: number, definition: ConnectionDefinition, holdoff: HoldOff | null, deadline: number, purpose: LoginPurpose): Promise<CachedSession> {
    let failure: ClassifiedFailure | undefined
    for (let attempt = 0; attempt <= this.opts.loginRetries; attempt++) {
      if (attempt > 0) {
        // jittered exponential backoff, never past the caller's wait budget
        const backoff = Math.min(200 * 2 ** (attempt - 1) * (0.5 + Math.random()), deadline - Date.now() - 100)
        if (backoff <= 0) break
        await this.stop.untilStopped(connection, sleep(backoff))
      }
      if (attempt === 0) {
        await this.throwIfStale(connection, version)
        if (purpose === 'miss') await this.rationRelogin(connection)
      }
      // ── stored-login policy (src/sessions/stored-login.ts): a retired flow sends nothing; a pending rotation's key may log in instead ──
      const request = { connection, definition, purpose, storedVersion: version }
      const login: Promise<StoredLoginOutcome> = this.opts.storedLogin ? this.opts.storedLogin.attempt(request, this.stop.signal) : this.opts.gate.attempt(request, this.stop.signal)
      const outcome = await this.stop.untilStopped(connection, login, () => { this.stop.tally.abandonedLogins++ })
      if (outcome.ok && outcome.switched) ({ version, definition } = outcome.switched)
      // ── end of the stored-login policy ──
      if (outcome.ok) {
        const entry = toCachedSession(outcome.session, version, definition, this.opts.lifetime)
        await this.store(connection, entry)
        await endHoldOff(this.opts.state, connection, holdoff)
        this.opts.logger.info({ connection, flow: definition.flow, secretVersion: version, orgId: entry.session.orgId }, 'salesforce login succeeded')
        for (const listener of this.loginListeners) {
          await listener(connection, version).catch((err: unknown) => this.opts.logger.warn({ connection, err }, 'health not updated after a login'))
        }
        return entry
      }
      if ('refusal' in outcome) throw refusalProblem(outcome.refusal, connection)
      failure = outcome.failure
      // a password login the gate counted as failed (it may have been judged even if it timed out):
      // another automatic try could be the failure that locks the user out
      if (outcome.counted && !outcome.circuit) break
      // Retrying with the same secret can only add failed logins and lock the user out: stop everyone.
      if (outcome.circuit) {
        // the contract: retryable exactly when Retry-After comes with it (the circuit's pause, then one probe)
        throw new DomainError('salesforce_login_failed', `Salesforce answered: ${failure.message}`, {
          connection, classification: failure.classification, hint: failure.hint, retryable: true,
        }, retryAfterSeconds(outcome.circuit))
      }
      // LOGIN_RATE_EXCEEDED: the gate holds the user's logins for the hour; say so, not "try again in a second"
      if (failure.classification === 'login_rate_exceeded') {
        const limit = this.opts.gate.loginsPerHour
        throw refusalProblem({ kind: 'budget', reason: 'rate_exceeded', used: limit, limit, retryAt: Date.now() + BUDGET_WINDOW_MS }, connection)
      }
      this.opts.logger.warn({ connection, classification: failure.classification, attempt }, 'salesforce login failed transiently')
    }
    throw await startHoldOff(this.opts.state, connection, holdoff, failure as ClassifiedFailure)
  }

  /**
   * Before a login is spent: is this still the store's current version? A rotation made while Redis
   * was down reaches no other replica, which would otherwise log in with the replaced password (a
   * failed login toward the user's lockout). One metadata read per login, not per request.
   */
  private async throwIfStale (connection: string, version: number): Promise<void> {
    const current = await this.opts.secrets.currentVersion?.(connection).catch(() => undefined)
    if (current === undefined || current === null || current === version) return
    this.opts.secrets.invalidate?.(connection)
    this.l1.forget(connection)
    this.opts.logger.info({ connection, cachedVersion: version, currentVersion: current }, 'secret changed in the store: reading it again before logging in')
    throw new StaleSecretError(`secret version ${version} is no longer current`)
  }

  private async store (connection: string, entry: CachedSession): Promise<void> {
    await this.opts.state.putSession(connection, entry)
    // whoever receives it may use it until Salesforce ends it: the kill switch must be able to reach it
    await this.opts.state.rememberIssued(connection, entry)
    // a working session of this org: the failure guard may read another user's count of it with it
    if (entry.session.orgId) await this.opts.state.putJson(orgSessionDoc(entry.session.orgId), { connection, version: entry.secretVersion })
    await this.opts.state.publish({ type: 'session', connection, secretVersion: entry.secretVersion })
    // set after publishing: our own event drops the connection's in-process copy
    this.l1.remember(connection, entry)
  }

  /** Caches a session obtained elsewhere (the admin API's validation login) and clears the circuit. */
  async adopt (connection: string, version: number, definition: ConnectionDefinition, session: CachedSession['session']): Promise<CachedSession> {
    const entry = toCachedSession(session, version, definition, this.opts.lifetime)
    await this.store(connection, entry)
    if (await this.opts.gate.circuit(connection)) await this.opts.gate.clearCircuit(connection)
    return entry
  }

  /**
   * Every session obtained for the connection that may still be alive at Salesforce, cached or not
   * (replaced by a rotation or an adopted validation session), forgotten as returned: what the kill
   * switch revokes.
   */
  takeIssued (connection: string): Promise<CachedSession[]> {
    return this.opts.state.takeIssued(connection)
  }

  /** Drops every cached session of the connection, fleet-wide; returns them so the caller can revoke them. */
  async purge (connection: string): Promise<CachedSession[]> {
    this.l1.forget(connection)
    const removed = await this.opts.state.purgeSessions(connection)
    await this.opts.state.publish({ type: 'purge', connection })
    return removed
  }

  clearCircuit (connection: string): Promise<void> {
    return this.opts.gate.clearCircuit(connection)
  }

  circuit (connection: string): Promise<CircuitState | null> {
    return this.opts.gate.circuit(connection)
  }

  /** The session of this secret version in the shared state (Redis, fleet-wide), if any: what health checks read. */
  cachedInSharedState (connection: string, version: number): Promise<CachedSession | null> {
    return this.opts.state.getSession(connection, version)
  }
}
