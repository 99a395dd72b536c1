import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import { DomainError } from '../errors.ts'
import type { ConnectionDefinition, SalesforceSession } from '../salesforce/types.ts'
import type { StoredConnection } from '../secrets/store.ts'
import { SecretStoreUnavailableError } from '../secrets/store.ts'
import { retryAfterSeconds } from './circuit.ts'
import { distinctSessions } from './distinct-sessions.ts'
import type { LoginPurpose } from './login-budget.ts'
import type { LoginGate } from './login-gate.ts'
import { failedLoginText, guardStoppedProblem, refusalProblem, unjudgedFailureProblem } from './login-refusal.ts'
import type { RejectionCheck } from './rejection-check.ts'
import { LocalSessions, servable } from './local-sessions.ts'
import { StopSignal } from './stop-signal.ts'
import type { StoredLogin } from './stored-login.ts'
import { callerExpiry, needsRefresh, type LifetimePolicy } from './session-lifetime.ts'
import type { CachedSession, CircuitState, SharedState } from '../shared-state/shared-state.ts'
import { reloginFloorLease, revokedDoc } from '../shared-state/state-names.ts'

/** The metric label of a request for a connection that does not exist. */
const UNKNOWN_CONNECTION = '(unknown)'

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
  /** Salesforce's revoke (the admin API's): a session logged in for a connection deleted meanwhile is taken back */
  revoke?: (session: SalesforceSession) => Promise<boolean>
}

/**
 * How long a purge waits for every live replica to confirm it: a confirmation takes a round trip
 * through Redis (milliseconds); a replica that has not answered by then is paused or cut off.
 */
export const PURGE_CONFIRM_TIMEOUT_MS = 2_000

/** A fleet-wide purge: the cached sessions it removed, and the live replicas that did not confirm it. */
export interface Purge {
  removed: CachedSession[]
  /** never rejects; empty once every live replica confirmed (or there are no others); null when nobody can tell */
  unconfirmed: Promise<string[] | null>
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
  /** the shutdown deadline (stopBy): every login wait ends then */
  private readonly stop = new StopSignal()

  private readonly now: () => number

  constructor (opts: SessionServiceOptions) {
    this.opts = opts
    this.now = opts.now ?? Date.now
    opts.state.onEvent((event) => {
      if (event.type === 'purge') this.l1.forget(event.connection)
      else if (event.type === 'session') this.l1.drop(event.connection)
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
      // a name that is no connection is the caller's to choose: one label for all of them, not a series each
      const known = !(err instanceof DomainError && err.code === 'not_found')
      this.opts.observer?.sessionServed?.(known ? connection : UNKNOWN_CONNECTION, 'error')
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
    this.stop.stopBy(deadline)
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
    const readAt = this.l1.generation(connection)
    const shared = await this.opts.state.getSession(connection, version)
    if (servable(shared, version, rejectedToken)) {
      this.l1.remember(connection, shared, readAt)
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
   * Within the hour after a session was confirmed dead (the gate read its mark with the login's
   * state), a login for the connection's callers takes
   * the connection's relogin floor first: one per interval, fleet-wide, whatever path asks.
   */
  private async rationRelogin (connection: string): Promise<void> {
    const interval = this.opts.reloginIntervalMs ?? 0
    if (interval <= 0) return
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
      flight = this.loginFor(connection, version, definition, rejectedToken, refresh).finally(() => this.flights.delete(key))
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

  /**
   * The login for callers, through the gate's funnel (one lease per Salesforce user, fleet-wide):
   * a session someone else's login cached meanwhile answers it; the caller's own policies — the
   * store's current version, the relogin floor after a confirmed-dead session — run under the
   * lease, right before a login would go.
   */
  private async loginFor (connection: string, version: number, definition: ConnectionDefinition, rejectedToken: string | undefined, refresh: boolean): Promise<CachedSession> {
    const purpose: LoginPurpose = refresh ? 'refresh' : 'miss'
    const revoked = revokedDoc(connection)
    // a purge heard while the login runs (the kill switch, a rotation on another replica) may take
    // back the very session it stores: generation() tells whether one was
    const purgedBefore = this.l1.generation(connection)
    const obtained = this.opts.gate.obtain({
      connection,
      definition,
      purpose,
      storedVersion: version,
      answeredBy: e => servable(e, version, rejectedToken) && !(refresh && needsRefresh(e, this.opts.lifetime)),
      deadline: Date.now() + this.opts.loginWaitTimeoutMs,
      signal: this.stop.signal,
      retries: this.opts.loginRetries,
      docs: [revoked],
      beforeLogin: async (docs) => {
        this.stop.throwIfStopped(connection)
        await this.throwIfStale(connection, version)
        if (purpose === 'miss' && docs[revoked]) await this.rationRelogin(connection)
      },
      via: this.opts.storedLogin,
    })
    const outcome = await this.stop.untilStopped(connection, obtained, () => { this.stop.tally.abandonedLogins++ })
    if (outcome.ok) {
      // kept after the gate published it: that event, heard later, only drops the in-process copy
      if (outcome.entry) {
        const kept = await this.keptAfterPurges(connection, outcome.entry, purgedBefore)
        await this.throwIfDeleted(connection)
        // asked again, the request gets whatever the fleet holds now, or one new login
        if (!kept) throw new StaleSecretError('the session this login stored was purged before it was handed out')
      }
      return outcome.entry as CachedSession
    }
    if ('refusal' in outcome) {
      if (outcome.refusal.kind === 'busy') throw new DomainError('login_wait_timeout', 'another login for this connection did not finish in time', { connection, retryable: true }, 2)
      throw refusalProblem(outcome.refusal, connection, this.now())
    }
    const failure = outcome.failure
    // the failure that left the guard no room: no pause makes the next login safe, say so
    if (outcome.guardStopped) throw guardStoppedProblem(connection, failure, outcome.guardStopped)
    // Retrying with the same secret can only add failed logins and lock the user out: stop everyone.
    if (outcome.circuit) {
      // the contract: retryable exactly when Retry-After comes with it (the circuit's pause, then one probe)
      throw new DomainError('salesforce_login_failed', failedLoginText(failure), {
        connection, classification: failure.classification, hint: failure.hint, retryable: true,
      }, retryAfterSeconds(outcome.circuit, this.now()))
    }
    throw unjudgedFailureProblem(connection, failure, this.opts.gate.loginsPerHour, this.now(), outcome.holdOff)
  }

  /**
   * Keeps a session a login stored in the in-process cache, unless a purge heard since `purgedBefore`
   * (generation()) took it back: the kill switch or a rotation on any replica may have found it in
   * Redis and revoked it while the login was finishing. Then it is handed out only if Redis still
   * holds it (stored after that purge); false means it was taken back.
   */
  private async keptAfterPurges (connection: string, entry: CachedSession, purgedBefore: number): Promise<boolean> {
    const readAt = this.l1.generation(connection)
    if (readAt === purgedBefore) {
      this.l1.remember(connection, entry)
      return true
    }
    const cached = await this.opts.state.getSession(connection, entry.secretVersion)
    if (cached?.session.accessToken !== entry.session.accessToken) return false
    this.l1.remember(connection, entry, readAt)
    return true
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

  /**
   * After a login, its session stored and recorded as issued: was the connection deleted meanwhile?
   * A delete removes the secret, then purges and revokes the sessions it finds; a login that read the
   * secret before the removal and was stored after the purge is found by neither, and once the
   * connection is gone the kill switch cannot reach it. Stored first and checked here second, every
   * session is caught by one side or the other: this side drops and revokes it, and the caller gets 404.
   */
  private async throwIfDeleted (connection: string): Promise<void> {
    const current = await this.opts.secrets.currentVersion?.(connection).catch(() => undefined)
    if (current !== null) return
    const { removed } = await this.purge(connection)
    const taken = distinctSessions([...removed, ...await this.takeIssued(connection)])
    await Promise.all(taken.map(s => this.opts.revoke?.(s).catch(() => false)))
    throw new DomainError('not_found', `no connection named "${connection}"`)
  }

  /**
   * Whether `token` is the connection's cached session of `version`: SOAP login() hands every client
   * of a user the session it already has while it is valid (SOAP API Developer Guide, "Choosing a User
   * for an Integration"), so an admin's validating login may return the very session callers hold.
   */
  async holds (connection: string, version: number, token: string): Promise<boolean> {
    return (await this.opts.state.getSession(connection, version))?.session.accessToken === token
  }

  /** Caches a session obtained elsewhere (the admin API's validation login) and clears the circuit. */
  async adopt (connection: string, version: number, definition: ConnectionDefinition, session: CachedSession['session']): Promise<CachedSession> {
    const entry = await this.opts.gate.adopt(connection, version, definition, session)
    this.l1.remember(connection, entry)
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

  /**
   * Drops every cached session of the connection, fleet-wide; returns them so the caller can revoke
   * them, and the replicas that have not confirmed dropping their in-process copies (a promise: the
   * caller may first finish what it holds a lease for).
   */
  async purge (connection: string): Promise<Purge> {
    this.l1.forget(connection)
    const removed = await this.opts.state.purgeSessions(connection)
    const { unconfirmed } = await this.opts.state.publishConfirmed({ type: 'purge', connection }, PURGE_CONFIRM_TIMEOUT_MS)
    return { removed, unconfirmed }
  }

  clearCircuit (connection: string): Promise<void> {
    return this.opts.gate.clearCircuit(connection)
  }

  circuit (connection: string): Promise<CircuitState | null> {
    return this.opts.gate.circuit(connection)
  }
}
