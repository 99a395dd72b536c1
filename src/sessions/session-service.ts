import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import { HttpProblem } from '../errors.ts'
import type { ClassifiedFailure, ConnectionDefinition, LoginOutcome } from '../salesforce/types.ts'
import type { StoredConnection } from '../secrets/store.ts'
import { SecretStoreUnavailableError } from '../secrets/store.ts'
import { circuitBlocks, openCircuit, opensCircuit, retryAfterSeconds, type CircuitPolicy } from './circuit.ts'
import { callerExpiry, needsRefresh, toCachedSession, type LifetimePolicy } from './session-lifetime.ts'
import type { CachedSession, CircuitState, SharedState } from './shared-state.ts'

/** What the session service needs from the secret store: the current secret, and its last known version while the store is down. */
export interface SecretReader {
  read (name: string): Promise<StoredConnection | null>
  /** the cached secret without waiting, when the reader has it in memory */
  peek? (name: string): Readonly<StoredConnection> | null | undefined
  lastKnown? (name: string): { name: string, version: number } | null
}

/** Optional observer, fed to metrics. */
export interface SessionObserver {
  loginAttempt? (connection: string, flow: string, classification: string, durationMs: number): void
  sessionServed? (connection: string, outcome: 'hit' | 'miss' | 'stale' | 'error'): void
}

export interface SessionServiceOptions {
  secrets: SecretReader
  state: SharedState
  login: (definition: ConnectionDefinition) => Promise<LoginOutcome>
  logger: Logger
  lifetime: LifetimePolicy
  circuit: CircuitPolicy
  /** how long a request waits for a login done by another request or replica */
  loginWaitTimeoutMs: number
  /** upper bound of one login, used to size the login lease */
  loginTimeoutMs: number
  loginRetries: number
  observer?: SessionObserver
}

export interface IssuedSession {
  connection: string
  entry: CachedSession
  /** epoch ms told to the caller */
  expiresAt: number
  apiVersion: string
  cache: 'hit' | 'miss'
}

/** How long an in-process copy is trusted without asking Redis (pub/sub tells us about changes sooner). */
const L1_FRESH_MS = 5_000

const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms))

/** Pause after a login failed transiently (after its own retries): 1 s, doubling to 30 s, ±20 %. */
const HOLD_OFF_BASE_MS = 1_000
const HOLD_OFF_MAX_MS = 30_000

interface HoldOff {
  failures: number
  /** epoch ms before which nobody logs in for the connection */
  until: number
  classification: string
  message: string
  hint: string
}

const shuttingDown = (connection: string) =>
  new HttpProblem('shutting_down', 'this replica is stopping before the Salesforce login finished', { connection, retryable: true }, 1)

const holdOffKey = (connection: string) => `holdoff:${connection}`

/** A cached session may be handed out: obtained with this secret version, not yet past validUntil, and not the token the caller reports dead. */
function servable (e: CachedSession | null | undefined, version: number, rejectedToken: string | undefined, now = Date.now()): e is CachedSession {
  return !!e && e.secretVersion === version && e.validUntil > now && e.session.accessToken !== rejectedToken
}

/**
 * Hands out Salesforce sessions: one login serves every caller and replica, a credential failure
 * stops all logins for that secret (fleet-wide, via the circuit in shared state), and a caller's
 * report of a dead token causes at most one new login however many callers report it.
 */
export class SessionService {
  private readonly opts: SessionServiceOptions
  private readonly l1 = new Map<string, { entry: CachedSession, checkedAt: number }>()
  private readonly flights = new Map<string, Promise<CachedSession>>()
  private readonly waiters = new Map<string, Set<() => void>>()
  /** aborted at the shutdown deadline (stopBy): every login wait ends then */
  private readonly stopping = new AbortController()
  /** what the shutdown cut short, for its log line */
  readonly shutdownTally = { cutShort: 0, abandonedLogins: 0 }

  constructor (opts: SessionServiceOptions) {
    this.opts = opts
    opts.state.onEvent((event) => {
      if (event.type === 'session' || event.type === 'purge') this.l1.delete(event.connection)
      this.wake(event.connection)
    })
  }

  /**
   * The cache hit, synchronously, when the secret and a usable session are both in process memory
   * (the common case); undefined when anything needs I/O — then call getSession().
   */
  tryCached (connection: string, rejectedToken?: string): IssuedSession | undefined {
    const stored = this.opts.secrets.peek?.(connection)
    const entry = stored ? this.freshLocal(connection, stored.version, rejectedToken) : undefined
    if (!stored || !entry) return undefined
    const issued = this.issue(connection, entry, stored.definition, 'hit')
    this.opts.observer?.sessionServed?.(connection, 'hit')
    return issued
  }

  async getSession (connection: string, rejectedToken?: string): Promise<IssuedSession> {
    try {
      const issued = await this.obtainFor(connection, rejectedToken)
      this.opts.observer?.sessionServed?.(connection, issued.cache)
      return issued
    } catch (err) {
      this.opts.observer?.sessionServed?.(connection, 'error')
      if (err instanceof HttpProblem && err.code === 'shutting_down') this.shutdownTally.cutShort++
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
    if (this.stopping.signal.aborted) return
    setTimeout(() => {
      this.stopping.abort()
      for (const connection of [...this.waiters.keys()]) this.wake(connection)
    }, Math.max(0, deadline - Date.now())).unref()
  }

  private throwIfStopped (connection: string): void {
    if (this.stopping.signal.aborted) throw shuttingDown(connection)
  }

  /** Waits for a step of a login, or until the shutdown deadline, whichever comes first. */
  private untilStopped<T> (connection: string, step: Promise<T>, onAbandoned?: () => void): Promise<T> {
    const signal = this.stopping.signal
    if (signal.aborted) return Promise.reject(shuttingDown(connection))
    return new Promise((resolve, reject) => {
      const abandon = () => {
        onAbandoned?.()
        reject(shuttingDown(connection))
      }
      signal.addEventListener('abort', abandon, { once: true })
      step.then(
        (value) => { signal.removeEventListener('abort', abandon); resolve(value) },
        (err: unknown) => { signal.removeEventListener('abort', abandon); reject(err) })
    })
  }

  private async obtainFor (connection: string, rejectedToken?: string): Promise<IssuedSession> {
    const stored = await this.readSecret(connection)
    if (stored.kind === 'unavailable') return this.serveWhileStoreDown(connection, stored.version, rejectedToken)
    const { version, definition } = stored.value
    const local = this.freshLocal(connection, version, rejectedToken)
    if (local) return this.issue(connection, local, definition, 'hit')
    const shared = await this.opts.state.getSession(connection, version)
    if (servable(shared, version, rejectedToken)) {
      this.l1.set(connection, { entry: shared, checkedAt: Date.now() })
      return this.issue(connection, shared, definition, 'hit')
    }
    const fresh = await this.singleFlight(connection, version, definition, rejectedToken)
    return this.issue(connection, fresh, definition, 'miss')
  }

  /** The in-process copy, when it is servable and recent enough to trust without asking Redis. */
  private freshLocal (connection: string, version: number, rejectedToken: string | undefined): CachedSession | undefined {
    const local = this.l1.get(connection)
    const now = Date.now()
    return local && now - local.checkedAt < L1_FRESH_MS && servable(local.entry, version, rejectedToken, now) ? local.entry : undefined
  }

  private issue (connection: string, entry: CachedSession, definition: ConnectionDefinition, cache: 'hit' | 'miss'): IssuedSession {
    if (cache === 'hit' && needsRefresh(entry, this.opts.lifetime)) this.refreshInBackground(connection, entry, definition)
    return { connection, entry, expiresAt: callerExpiry(entry, this.opts.lifetime), apiVersion: entry.apiVersion, cache }
  }

  private async readSecret (connection: string): Promise<{ kind: 'ok', value: StoredConnection } | { kind: 'unavailable', version: number | null }> {
    try {
      const value = await this.opts.secrets.read(connection)
      if (!value) throw new HttpProblem('not_found', `no connection named "${connection}"`)
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
      const entry = this.l1.get(connection)?.entry ?? await this.opts.state.getSession(connection, version)
      if (servable(entry, version, rejectedToken)) {
        return { connection, entry, expiresAt: callerExpiry(entry, this.opts.lifetime), apiVersion: entry.apiVersion, cache: 'hit' }
      }
    }
    throw new HttpProblem('secret_store_unavailable', 'the secret store cannot be read and no valid cached session exists', { connection, retryable: true }, 5)
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
    const leaseName = `login:${connection}`
    const leaseTtl = this.opts.loginTimeoutMs * (this.opts.loginRetries + 1) + 5_000

    for (;;) {
      const cached = await this.opts.state.getSession(connection, version)
      if (acceptable(cached)) return cached
      this.throwIfCircuitOpen(connection, await this.opts.state.getCircuit(connection), version)
      await this.throwIfHeldOff(connection)
      this.throwIfStopped(connection)

      const owner = randomBytes(16).toString('hex')
      if (await this.opts.state.acquireLease(leaseName, owner, leaseTtl)) {
        try {
          // another replica may have finished a login between our read and taking the lease
          const again = await this.opts.state.getSession(connection, version)
          if (acceptable(again)) return again
          const circuit = await this.opts.state.getCircuit(connection)
          this.throwIfCircuitOpen(connection, circuit, version)
          const holdoff = await this.throwIfHeldOff(connection)
          return await this.loginAndStore(connection, version, definition, circuit, holdoff, deadline)
        } finally {
          await this.opts.state.releaseLease(leaseName, owner).catch(() => false)
          this.wake(connection)
        }
      }
      if (Date.now() >= deadline) {
        throw new HttpProblem('login_wait_timeout', 'another login for this connection did not finish in time', { connection, retryable: true }, 2)
      }
      await this.waitForChange(connection, Math.min(250, deadline - Date.now()))
    }
  }

  private throwIfCircuitOpen (connection: string, circuit: CircuitState | null, version: number): void {
    if (circuitBlocks(circuit, version)) {
      throw new HttpProblem('circuit_open', `logins are paused after Salesforce answered: ${circuit.message}`, {
        connection, classification: circuit.classification, hint: circuit.hint, retryable: false,
      }, retryAfterSeconds(circuit))
    }
  }

  /** A transient failure holds logins off fleet-wide for a short, growing pause: no herd of retries against a struggling or rate-limiting Salesforce. */
  private async throwIfHeldOff (connection: string): Promise<HoldOff | null> {
    const h = await this.opts.state.getJson<HoldOff>(holdOffKey(connection))
    if (h && Date.now() < h.until) {
      throw new HttpProblem('salesforce_unavailable', `Salesforce answered: ${h.message}`, {
        connection, classification: h.classification, hint: h.hint, retryable: true,
      }, Math.max(1, Math.ceil((h.until - Date.now()) / 1000)))
    }
    return h
  }

  private async loginAndStore (connection: string, version: number, definition: ConnectionDefinition, circuit: CircuitState | null, holdoff: HoldOff | null, deadline: number): Promise<CachedSession> {
    let failure: ClassifiedFailure | undefined
    for (let attempt = 0; attempt <= this.opts.loginRetries; attempt++) {
      if (attempt > 0) {
        // jittered exponential backoff, never past the caller's wait budget
        const backoff = Math.min(200 * 2 ** (attempt - 1) * (0.5 + Math.random()), deadline - Date.now() - 100)
        if (backoff <= 0) break
        await this.untilStopped(connection, sleep(backoff))
      }
      const started = Date.now()
      const outcome = await this.untilStopped(connection, this.opts.login(definition), () => { this.shutdownTally.abandonedLogins++ })
      this.opts.observer?.loginAttempt?.(connection, definition.flow, outcome.ok ? 'ok' : outcome.failure.classification, Date.now() - started)
      if (outcome.ok) {
        const entry = toCachedSession(outcome.session, version, definition, this.opts.lifetime)
        await this.store(connection, entry, circuit !== null)
        if (holdoff && holdoff.failures > 0) await this.opts.state.putJson(holdOffKey(connection), { ...holdoff, failures: 0, until: 0 }, 1_000)
        this.opts.logger.info({ connection, flow: definition.flow, secretVersion: version, orgId: entry.session.orgId }, 'salesforce login succeeded')
        return entry
      }
      failure = outcome.failure
      // Retrying with the same secret can only add failed logins and lock the user out: stop everyone.
      const opened = await this.recordLoginFailure(connection, version, failure, circuit)
      if (opened) {
        throw new HttpProblem('salesforce_login_failed', `Salesforce answered: ${failure.message}`, {
          connection, classification: failure.classification, hint: failure.hint, retryable: false,
        }, retryAfterSeconds(opened))
      }
      this.opts.logger.warn({ connection, classification: failure.classification, attempt }, 'salesforce login failed transiently')
    }
    const f = failure as ClassifiedFailure
    const failures = (holdoff?.failures ?? 0) + 1
    const pause = Math.round(Math.min(HOLD_OFF_BASE_MS * 2 ** (failures - 1), HOLD_OFF_MAX_MS) * (0.8 + Math.random() * 0.4))
    const next: HoldOff = { failures, until: Date.now() + pause, classification: f.classification, message: f.message, hint: f.hint }
    await this.opts.state.putJson(holdOffKey(connection), next, HOLD_OFF_MAX_MS * 10)
    throw new HttpProblem('salesforce_unavailable', `Salesforce answered: ${f.message}`, {
      connection, classification: f.classification, hint: f.hint, retryable: true,
    }, Math.max(1, Math.ceil(pause / 1000)))
  }

  private async store (connection: string, entry: CachedSession, clearCircuit: boolean): Promise<void> {
    await this.opts.state.putSession(connection, entry)
    if (clearCircuit) {
      await this.opts.state.clearCircuit(connection)
      await this.opts.state.publish({ type: 'circuit', connection, state: null })
    }
    await this.opts.state.publish({ type: 'session', connection, secretVersion: entry.secretVersion })
    // set after publishing: our own event drops the connection's in-process copy
    this.l1.set(connection, { entry, checkedAt: Date.now() })
  }

  /**
   * Records a failed login made with this secret version by anyone (a caller, the health check, an
   * admin's validation): a failure that opens the circuit opens (or extends) it, fleet-wide, and the
   * new state is returned; a transient one leaves it alone (null).
   */
  async recordLoginFailure (connection: string, version: number, failure: ClassifiedFailure, known?: CircuitState | null): Promise<CircuitState | null> {
    if (!opensCircuit(failure)) return null
    const previous = known === undefined ? await this.opts.state.getCircuit(connection) : known
    const opened = openCircuit(previous, version, failure, this.opts.circuit)
    await this.opts.state.putCircuit(connection, opened)
    await this.opts.state.publish({ type: 'circuit', connection, state: opened })
    this.opts.logger.warn({ connection, secretVersion: version, classification: failure.classification, failures: opened.failures, retryAt: new Date(opened.retryAt).toISOString() }, 'salesforce login failed: circuit opened')
    return opened
  }

  /** Caches a session obtained elsewhere (the admin API's validation login) and clears the circuit. */
  async adopt (connection: string, version: number, definition: ConnectionDefinition, session: CachedSession['session']): Promise<CachedSession> {
    const entry = toCachedSession(session, version, definition, this.opts.lifetime)
    await this.store(connection, entry, true)
    return entry
  }

  /** Drops every cached session of the connection, fleet-wide; returns them so the caller can revoke them. */
  async purge (connection: string): Promise<CachedSession[]> {
    this.l1.delete(connection)
    const removed = await this.opts.state.purgeSessions(connection)
    await this.opts.state.publish({ type: 'purge', connection })
    return removed
  }

  async clearCircuit (connection: string): Promise<void> {
    await this.opts.state.clearCircuit(connection)
    await this.opts.state.publish({ type: 'circuit', connection, state: null })
  }

  circuit (connection: string): Promise<CircuitState | null> {
    return this.opts.state.getCircuit(connection)
  }

  /** The cached session of the current secret version, if any (health checks use it). */
  cached (connection: string, version: number): Promise<CachedSession | null> {
    return this.opts.state.getSession(connection, version)
  }

  private waitForChange (connection: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiters.get(connection)
      if (!set) {
        set = new Set()
        this.waiters.set(connection, set)
      }
      const done = () => {
        clearTimeout(timer)
        set.delete(done)
        resolve()
      }
      const timer = setTimeout(done, Math.max(1, ms))
      set.add(done)
    })
  }

  private wake (connection: string): void {
    const set = this.waiters.get(connection)
    if (set) for (const w of [...set]) w()
  }
}
