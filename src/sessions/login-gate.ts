import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import { DomainError } from '../errors.ts'
import { INTERNAL_LOGIN_ERROR, type ClassifiedFailure, type ConnectionDefinition, type LoginOutcome, type SalesforceSession } from '../salesforce/types.ts'
import type { CachedSession, CircuitState, SharedState, StateRead } from '../shared-state/shared-state.ts'
import { loginBudgetWindow, loginGuardTruthDoc, loginInFlightDoc, loginRateHoldDoc, loginUserLease, orgSessionDoc, salesforceUserDoc, transientHoldOffDoc } from '../shared-state/state-names.ts'
import { ChangeWaiters } from './change-waiters.ts'
import { circuitBlocks, openCircuit, opensCircuit, type CircuitPolicy } from './circuit.ts'
import { GuardStore, type GuardStoreOptions, type GuardTruth } from './guard-store.ts'
import { endedHoldOff, HOLD_OFF_KEEP_MS, holdsOff, nextHoldOff } from './hold-off.ts'
import { underLease } from './lease.ts'
import { BUDGET_WINDOW_MS, budgetCap, budgetDecision, type LoginPurpose } from './login-budget.ts'
import { candidateRetryAt, countsUnanswered, freeStamp, guardDecision, refusesCandidate, withFailure, withReset, type GuardDecision, type GuardPolicy, type GuardState, type SentLogin } from './login-guard.ts'
import { credentialHash, loginIdentity } from './login-identity.ts'
import { LoginStateReader, type LoginState, type OrgSession } from './login-state.ts'
import { toCachedSession, type LifetimePolicy } from './session-lifetime.ts'

export type { GuardTruth } from './guard-store.ts'
export type { GateRequest, LoginAttempt, LoginPolicy, ObtainRequest, LoginRefusal, GateOutcome, ObtainOutcome, LoginView, LoginListener } from './login-request.ts'
import type { GateRequest, LoginAttempt, ObtainRequest, GateOutcome, ObtainOutcome, LoginView, LoginListener, GuardStop } from './login-request.ts'

/** The Salesforce login core (src/salesforce/login.ts, or a test's replacement): never throws by contract. */
export type LoginCore = (definition: ConnectionDefinition) => Promise<LoginOutcome>

export interface LoginObserver {
  loginAttempt? (connection: string, flow: string, classification: string, durationMs: number): void
  /** `at`: the gate's time of the login */
  loginBudget? (connection: string, used: number, limit: number, at: number): void
  /**
   * a failed login left the user's failure guard with no room: no password login goes out until a
   * success or an admin's reset. `since`: the first failure counted since the last reset, the same
   * on every replica for one run of failures and new after a reset (what tells one trip from the next)
   */
  guardTripped? (connection: string, failures: number, threshold: number, since: number): void
}

export interface LoginGateOptions {
  core: LoginCore
  state: SharedState
  logger: Logger
  circuit: CircuitPolicy
  guard: GuardPolicy
  /** how long a session obtained with a stored secret is cached and handed out */
  lifetime: LifetimePolicy
  /** Salesforce's logins per user per rolling hour (SALESFORCE_LOGINS_PER_HOUR) */
  loginsPerHour: number
  /** lifetime of the per-user lease between renewals */
  leaseTtlMs: number
  /** how long a login waits for another login of the same user */
  waitTimeoutMs: number
  /** key of the hash that recognises a failing candidate without storing it */
  hashKey: Buffer
  observer?: LoginObserver
  /** the clock (tests run hours of cool-downs in milliseconds); default Date.now */
  now?: () => number
  readFailedLogins?: GuardStoreOptions['readFailedLogins']
}

/**
 * Flows that send a password, whose failures Salesforce counts toward "Maximum invalid login
 * attempts". A JWT bearer or client credentials login sends none: its failures (app unknown,
 * certificate not uploaded, user not pre-authorized) are Setup's to fix, lock nobody out, and the
 * same candidate may rightly go again once Setup changed — a migration's validate does exactly
 * that. The simulator locks the same way (packages/simulator/src/login-policy.ts recordBadPassword). The
 * circuit of a stored secret and the login budget still hold every flow back.
 */
const SPENDS_LOGIN_ATTEMPTS: ReadonlySet<string> = new Set(['soap', 'oauth_password'])

/** Whether a flow's failed logins count toward the user's lockout. */
export function spendsLoginAttempts (flow: string): boolean {
  return SPENDS_LOGIN_ATTEMPTS.has(flow)
}

/** Polled between events while another replica's login of the same user runs. */
const WAIT_POLL_MS = 250

/**
 * The one door to Salesforce, and the one funnel around it: every login the broker makes — a
 * caller's session, a background refresh, the scheduler's and an admin's checks, an admin's
 * candidate — goes through `obtain`:
 *  1. one lease per login identity (a Salesforce user, or a client-credentials app), fleet-wide;
 *  2. one read of all of the login's state under it (login-state.ts): the cached session, the
 *     circuit, the transient hold-off, the rate hold, the budget and the failure guard;
 *  3. a cached session that answers the request ends it without a login (someone else's login,
 *     made while this one waited, serves it);
 *  4. the guards: the circuit of a stored secret, the failure guard (never the failed login that
 *     would lock the user out; never the same failing candidate twice), the login budget (all
 *     logins per rolling hour, the last 20 % kept for what cannot wait, the hold after
 *     LOGIN_RATE_EXCEEDED), and for callers the brief hold-off after a transient failure;
 *  5. the login, and its outcome written once: the session cached for every replica, or the
 *     failure counted, the circuit opened, the hold-off started; listeners (health) told.
 */
export class LoginGate {
  private readonly opts: LoginGateOptions
  /** the gate's clock: its refusal times are read on it (refusalProblem's `now`) */
  readonly now: () => number
  private readonly guards: GuardStore
  private readonly reader: LoginStateReader
  /** waiters by login identity: a login of any connection of the same Salesforce user may be what they wait for */
  private readonly waiters = new ChangeWaiters()
  /** the login identity of every connection this replica asked the gate about (events name the connection) */
  private readonly identities = new Map<string, string>()
  private readonly listeners: LoginListener[] = []

  constructor (opts: LoginGateOptions) {
    this.opts = opts
    this.now = opts.now ?? Date.now
    this.guards = new GuardStore({ state: opts.state, logger: opts.logger, guard: opts.guard, now: this.now, readFailedLogins: opts.readFailedLogins })
    this.reader = new LoginStateReader(opts.state)
    // a session stored, purged or a circuit changed anywhere in the fleet: whoever waits looks again
    opts.state.onEvent((event) => {
      if (event.type === 'guard') return
      const identity = this.identities.get(event.connection)
      if (identity) this.waiters.wake(identity)
    })
  }

  get loginsPerHour (): number {
    return this.opts.loginsPerHour
  }

  /** Told of every successful login with a stored secret (health subscribes: no call up from sessions/ into health/). */
  onLogin (listener: LoginListener): void {
    this.listeners.push(listener)
  }

  async obtain (req: ObtainRequest): Promise<ObtainOutcome> {
    const identity = loginIdentity(req.definition)
    this.identities.set(req.connection, identity)
    // a password login still in flight when the caller stops (shutdown): counted before the lease is handed on
    const inFlight: InFlightLogin = {}
    const result = await underLease<ObtainOutcome>({
      state: this.opts.state,
      name: loginUserLease(identity),
      ttlMs: this.opts.leaseTtlMs,
      // a deadline bounds real waiting (timers, the lease's ttl in Redis): system time, not the gate's clock
      deadline: req.deadline ?? Date.now() + this.opts.waitTimeoutMs,
      logger: this.opts.logger,
      signal: req.signal,
      onAbandon: async () => { await inFlight.abandon?.() },
      // the note of a password login (noteSent) goes with the lease once its answer is accounted for, by
      // this holder or, for a holder that died, by this one counting it; any other note stays
      ...(spendsLoginAttempts(req.definition.flow) ? { notes: () => inFlight.noteSettled === true ? [loginInFlightDoc(identity)] : [] } : {}),
      askFirst: false,
      waitForChange: ms => this.waiters.wait(identity, Math.min(ms, WAIT_POLL_MS)),
      // after a wait: did the login someone else held answer this request, or forbid it?
      settled: async () => {
        if (req.storedVersion === undefined) return undefined
        const state = await this.read(identity, req, false)
        return this.settledBy(state, req)
      },
    }, async () => {
      const state = await this.read(identity, req, spendsLoginAttempts(req.definition.flow))
      return await this.settledBy(state, req) ?? await this.underLease(identity, state, req, inFlight)
    })
    // this replica's waiters for the same user, whatever their connection: the lease is free now
    this.waiters.wake(identity)
    if (result.kind === 'timeout') return { ok: false, refusal: { kind: 'busy', retryAt: this.now() + 1000 } }
    const outcome = result.value
    if (outcome.ok && outcome.loggedIn && outcome.entry) {
      // told after the lease is released: a listener's bookkeeping never holds the user's logins back
      for (const listener of this.listeners) {
        await listener({ connection: req.connection, version: outcome.entry.secretVersion, purpose: req.purpose }).catch((err: unknown) => this.opts.logger.warn({ connection: req.connection, err }, 'a login listener failed'))
      }
      delete outcome.loggedIn
    }
    return outcome
  }

  private read (identity: string, req: ObtainRequest, withGuard: boolean): Promise<LoginState> {
    return this.reader.read({
      connection: req.connection,
      identity,
      storedVersion: req.storedVersion,
      withHoldOff: holdsOffFor(req.purpose) && req.storedVersion !== undefined,
      withGuard,
      docs: req.docs,
    })
  }

  /** What ends the request without a login of its own: a cached session that answers it, or a pause that forbids it. */
  private async settledBy (state: LoginState, req: ObtainRequest): Promise<ObtainOutcome | undefined> {
    const version = req.storedVersion
    if (version === undefined) return undefined
    if (state.cached && req.answeredBy?.(state.cached)) return { ok: true, session: state.cached.session, entry: state.cached, fromCache: true }
    const now = this.now()
    // an explicit probe may go before the cool-down ends; the failure guard still decides
    if (req.purpose !== 'probe' && circuitBlocks(state.circuit, version, now)) return { ok: false, refusal: { kind: 'circuit_open', circuit: state.circuit } }
    if (holdsOff(state.holdOff, now)) return { ok: false, refusal: { kind: 'held_off', holdOff: state.holdOff } }
    return undefined
  }

  private async underLease (identity: string, first: LoginState, req: ObtainRequest, inFlight: InFlightLogin): Promise<ObtainOutcome> {
    await req.beforeLogin?.(first.docs)
    let state = first
    const budget = { used: state.used }
    const send: LoginAttempt = r => this.send(identity, state, budget, r, req.signal, inFlight)
    let outcome: ObtainOutcome | undefined
    for (let attempt = 0; attempt <= (req.retries ?? 0); attempt++) {
      if (attempt > 0) {
        // jittered exponential backoff, never past the caller's wait; a stopping replica sends nothing more
        const backoff = Math.min(200 * 2 ** (attempt - 1) * (0.5 + Math.random()), (req.deadline ?? Infinity) - Date.now() - 100)
        if (backoff <= 0 || req.signal?.aborted) break
        const slept = await sleep(backoff, true, req.signal ? { signal: req.signal } : {}).catch(() => false)
        if (!slept) break
        // read again: had the lease been lost meanwhile (a pause past its ttl), another replica's count decides
        state = await this.read(identity, req, spendsLoginAttempts(req.definition.flow))
        budget.used = state.used
      }
      const version = req.storedVersion
      outcome = version !== undefined && req.via ? await req.via.attempt({ ...req, storedVersion: version }, send) : await send(req)
      if (outcome.ok || 'refusal' in outcome || !isTransient(outcome)) break
      this.opts.logger.warn({ connection: req.connection, classification: outcome.failure.classification, attempt }, 'salesforce login failed transiently')
    }
    if (outcome === undefined) return { ok: false, refusal: { kind: 'busy', retryAt: this.now() + 1000 } }
    return this.settle(state, req, outcome)
  }

  /** The outcome written once: a stored version's session cached fleet-wide, or the hold-off of a transient failure. */
  private async settle (state: LoginState, req: ObtainRequest, outcome: ObtainOutcome): Promise<ObtainOutcome> {
    const { connection } = req
    const stored = outcome.ok && req.storedVersion !== undefined ? outcome.switched ?? { version: req.storedVersion, definition: req.definition } : undefined
    if (outcome.ok && stored) {
      const entry = toCachedSession(outcome.session, stored.version, stored.definition, this.opts.lifetime)
      await this.store(connection, entry, state.orgSession)
      const ended = endedHoldOff(state.holdOff)
      if (ended) await this.opts.state.putJson(transientHoldOffDoc(connection), ended, 1_000)
      this.opts.logger.info({ connection, flow: stored.definition.flow, secretVersion: stored.version, orgId: entry.session.orgId }, 'salesforce login succeeded')
      return { ...outcome, entry, loggedIn: true }
    }
    if (!outcome.ok && 'failure' in outcome && !outcome.circuit && outcome.failure.classification !== 'login_rate_exceeded' &&
        holdsOffFor(req.purpose) && req.storedVersion !== undefined) {
      // no herd of retries against a struggling Salesforce: the fleet's callers pause briefly
      const holdOff = nextHoldOff(state.holdOff, outcome.failure, this.now())
      await this.opts.state.putJson(transientHoldOffDoc(connection), holdOff, HOLD_OFF_KEEP_MS)
      return { ...outcome, holdOff }
    }
    return outcome
  }

  /**
   * A session of a stored version, for every caller and replica; its org noted (the failure guard may
   * read another user's count with it), unless the login's state read showed the same note already.
   */
  private async store (connection: string, entry: CachedSession, known?: LoginState['orgSession']): Promise<void> {
    await this.opts.state.storeSession(connection, entry)
    const orgId = entry.session.orgId
    const noted = known?.orgId === orgId && known.last?.connection === connection && known.last.version === entry.secretVersion
    if (orgId && !noted) await this.opts.state.putJson(orgSessionDoc(orgId), { connection, version: entry.secretVersion } satisfies OrgSession)
    await this.opts.state.publish({ type: 'session', connection, secretVersion: entry.secretVersion })
  }

  /**
   * Runs `work` holding the login lease of the definition's identity: an admin's write of a new
   * secret version and the adoption of its validating session happen as one step for the fleet's
   * logins, which wait for it and then find the session cached (no second login).
   */
  async exclusive<T> (definition: ConnectionDefinition, work: () => Promise<T>): Promise<T> {
    const result = await underLease<T>({
      state: this.opts.state,
      name: loginUserLease(loginIdentity(definition)),
      ttlMs: this.opts.leaseTtlMs,
      deadline: Date.now() + this.opts.waitTimeoutMs,
      logger: this.opts.logger,
      askFirst: false,
    }, work)
    this.waiters.wake(loginIdentity(definition))
    if (result.kind === 'timeout') throw new DomainError('login_wait_timeout', 'a login of the same Salesforce user did not finish in time; nothing was written', { retryable: true }, 2)
    return result.value
  }

  /** Caches a session obtained outside the funnel's own request (an admin's validating login) and closes the circuit. */
  async adopt (connection: string, version: number, definition: ConnectionDefinition, session: SalesforceSession): Promise<CachedSession> {
    const entry = toCachedSession(session, version, definition, this.opts.lifetime)
    await this.store(connection, entry)
    if (await this.circuit(connection)) await this.clearCircuit(connection)
    return entry
  }

  /** One login through the guards, with the state read under the lease (`budget` follows the logins sent). */
  private async send (identity: string, state: LoginState, budget: { used: number }, req: GateRequest, signal?: AbortSignal, inFlight: InFlightLogin = {}): Promise<GateOutcome> {
    const { connection, definition, storedVersion } = req
    const now = this.now()
    // the caller stopped (shutdown): its lease is handed on, so nothing more goes out under it
    if (signal?.aborted) return { ok: false, refusal: { kind: 'busy', retryAt: now + 1000 } }
    // the lease and the state read are this identity's: a policy's login of another identity would go unguarded
    if (loginIdentity(definition) !== identity) throw new Error('a login policy sent a login of another Salesforce user under this lease')
    const circuit = storedVersion === undefined ? null : state.circuit
    if (req.purpose !== 'probe' && storedVersion !== undefined && circuitBlocks(circuit, storedVersion, now)) {
      return { ok: false, refusal: { kind: 'circuit_open', circuit } }
    }
    const spendsAttempts = spendsLoginAttempts(definition.flow)
    let guard: GuardState | null = null
    if (spendsAttempts) {
      // 'not_read': the request's flow sends no password, so its guard was not read: never a reason to send one
      if (state.guard === 'unavailable' || state.guard === 'not_read') return { ok: false, refusal: { kind: 'guard_unavailable' } }
      guard = await this.guards.settled(identity, state.guard)
      const noted = state.inFlight
      state.inFlight = null
      // this holder's own note, read again by a retry, was accounted for with its answer
      if (noted && noted.id !== inFlight.ownNote) {
        // a holder sent a password login and never accounted for its answer: it died waiting (or lost
        // its lease). Salesforce may have judged that login, so it counts as failed, as of when it went out
        if (countsUnanswered(guard, noted)) {
          guard = (await this.countFailure(identity, guard, undefined, req, UNANSWERED_LOGIN, noted.at)).next
          state.guard = guard
        }
        inFlight.noteSettled = true
      }
      let decision = guardDecision(guard, this.opts.guard)
      if (decision.blocked) {
        // the user may have been unlocked or its password reset since: where Salesforce can say so, it decides
        guard = await this.guards.reconcile(identity, guard)
        decision = guardDecision(guard, this.opts.guard)
      }
      if (decision.blocked) return { ok: false, refusal: { kind: 'guarded', failures: decision.failures, threshold: decision.threshold } }
    }
    const hash = storedVersion === undefined && spendsAttempts ? credentialHash(definition, this.opts.hashKey) : undefined
    const again = hash === undefined ? undefined : candidateRetryAt(guard, hash, now)
    if (again !== undefined) return { ok: false, refusal: { kind: 'candidate_failed', safeAt: again } }
    const limit = this.opts.loginsPerHour
    if (state.rateHoldUntil > now) return { ok: false, refusal: { kind: 'budget', reason: 'rate_exceeded', used: limit, limit, retryAt: state.rateHoldUntil } }
    const allowed = budgetDecision(budget.used, limit, req.purpose)
    if (!allowed.allowed) return { ok: false, refusal: { kind: 'budget', reason: allowed.reason, used: budget.used, limit, retryAt: now + 60_000 } }

    // taken, not read and then added: another login identity of the same Salesforce user (a password
    // connection and a client-credentials app run as that user) holds another lease and may be here too
    const taken = await this.opts.state.addToWindowBelow(loginBudgetWindow(state.owner), BUDGET_WINDOW_MS, budgetCap(limit, req.purpose))
    if (taken < 0) {
      budget.used = await this.opts.state.countWindow(loginBudgetWindow(state.owner), BUDGET_WINDOW_MS)
      const refused = budgetDecision(budget.used, limit, req.purpose)
      return { ok: false, refusal: { kind: 'budget', reason: refused.allowed ? 'exhausted' : refused.reason, used: budget.used, limit, retryAt: now + 60_000 } }
    }
    budget.used = taken
    this.opts.observer?.loginBudget?.(connection, budget.used, limit, this.now())
    // the login's stamp: its note's and, if it fails, its failure's. Not one the count holds already, or
    // the next holder would take this login's note for that failure, counted already
    const started = freeStamp(guard, this.now())
    // abandoned (the replica stops) before Salesforce answers: Salesforce may judge it yet, so it is
    // counted now, before the next holder of the lease reads the count; its answer, if it still
    // comes, resets the count (a success) or is not counted again (a failure)
    let abandoned: Promise<void> | undefined
    // stopped while the gate read the count or took the budget (awaits above): nothing goes out
    if (signal?.aborted) return { ok: false, refusal: { kind: 'busy', retryAt: now + 1000 } }
    let sent = false
    if (spendsAttempts) {
      inFlight.abandon = () => {
        const counted = sent ? this.countFailure(identity, guard, undefined, req, ABANDONED_LOGIN, started).then(({ next }) => { state.guard = next }) : Promise.resolve()
        abandoned = counted.then(() => { inFlight.noteSettled = true })
        return abandoned
      }
      // noted before it goes out: a replica killed before it accounts for the answer leaves the note to
      // the next holder that sends a password login, who counts it as failed (above)
      const note: SentLogin = { at: started, id: randomBytes(8).toString('hex'), ...(guard?.resetAt !== undefined ? { resetSeen: guard.resetAt } : {}) }
      inFlight.ownNote = note.id
      inFlight.noteSettled = false
      const taken = await this.guards.noteSent(identity, note).then(() => true, () => false)
      if (!taken) {
        // nothing goes out; a write that only timed out lands late and describes nothing: released too
        inFlight.noteSettled = true
        return { ok: false, refusal: { kind: 'guard_unavailable' } }
      }
      // stopped while the note was written: nothing goes out (the lease, handed on, took the note
      // along). From here to the login's start there is no await, so a stop after this check finds it sent
      if (signal?.aborted) return { ok: false, refusal: { kind: 'busy', retryAt: now + 1000 } }
    }
    sent = true
    const outcome = await this.opts.core(definition).catch((err: unknown): LoginOutcome => unexpected(this.opts.logger, err))
    inFlight.abandon = undefined
    this.opts.observer?.loginAttempt?.(connection, definition.flow, outcome.ok ? 'ok' : outcome.failure.classification, this.now() - started)
    if (abandoned) {
      // the lease was handed on when the caller stopped: what the next holder counted since stays.
      // A success takes back the failures this login knew of when it was sent (Salesforce judged it
      // then, before anything the next holder sent) and the failure counted for it when it was
      // abandoned (stamped `started`). A failure was counted already.
      // Taken under the user's lease again: the next holder may be counting a failure of its own, which
      // a reset written beside it would lose or be lost under. Not had in time: the count keeps those
      // failures, one login too many (the safe side), until the next success or Salesforce's own count.
      await abandoned.catch(() => {})
      if (outcome.ok || outcome.failure.loginAccepted === true) {
        const before = [...guard?.failures ?? [], started]
        await this.exclusive(definition, () => this.guards.resetAsOf(identity, started, before)).catch((err: unknown) => {
          this.opts.logger.warn({ reason: (err as Error).message }, 'failure guard: the late success of an abandoned login was not written; the count stays higher than Salesforce\'s until the next success')
        })
      }
      return outcome
    }
    const recording = this.recordAnswer(identity, state, req, { guard, hash, circuit, started }, outcome)
    // a stop while the answer is written waits for it, so the note the lease takes along is accounted for
    if (spendsAttempts) inFlight.abandon = () => recording.then(() => { inFlight.noteSettled = true }, () => {})
    const answered = await recording
    inFlight.abandon = undefined
    // accounted for: the note goes with the lease. Killed before that, the holder that finds the note
    // finds this answer's failure counted already (stamped when it was sent) or the reset a success
    // wrote; only a success that found nothing to reset leaves a note counted once too often (the
    // README says so)
    inFlight.noteSettled = true
    return answered
  }

  /** Salesforce's answer to a login sent under the lease, written where the fleet reads it: the guard, the circuit, the rate hold. */
  private async recordAnswer (identity: string, state: LoginState, req: GateRequest, sent: { guard: GuardState | null, hash: string | undefined, circuit: CircuitState | null, started: number }, outcome: LoginOutcome): Promise<GateOutcome> {
    const { connection, definition, storedVersion } = req
    const { guard, hash, circuit, started } = sent
    const spendsAttempts = spendsLoginAttempts(definition.flow)
    if (outcome.ok || outcome.failure.loginAccepted === true) {
      // Salesforce took the password (even one it serves no session for): its count is back to zero
      if (spendsAttempts && guard && (guard.failures.length > 0 || guard.resetAt === undefined || guard.truthReadAt !== undefined)) {
        const reset = withReset(guard, this.now())
        await this.guards.write(identity, reset)
        state.guard = reset
      }
    }
    if (outcome.ok) {
      await this.learnUser(identity, state, outcome.session)
      if (storedVersion !== undefined && circuit) {
        await this.clearCircuit(connection)
        state.circuit = null
      }
      return outcome
    }
    const failure = outcome.failure
    if (failure.classification === 'login_rate_exceeded') {
      // Salesforce refuses every login of this user for the rest of its hour: asking again only extends the wait
      state.rateHoldUntil = this.now() + BUDGET_WINDOW_MS
      await this.opts.state.putJson(loginRateHoldDoc(state.owner), { until: state.rateHoldUntil }, BUDGET_WINDOW_MS)
      this.opts.logger.warn({ connection }, 'salesforce answered LOGIN_RATE_EXCEEDED: logins for this user held for an hour')
      return { ok: false, failure }
    }
    // a password login the broker gave up on may have been judged by Salesforce: it counts as failed.
    // Its candidate is remembered as refused only when Salesforce judged the secret (refusesCandidate):
    // sent again once Salesforce answers, or once Setup is fixed, it must go through (the count still
    // stops short of a lockout). Stamped with when it was sent: the note of it (noteSent) has the same time
    const counts = spendsAttempts && failure.loginAccepted !== true && (opensCircuit(failure) || failure.outcomeUnknown === true)
    let counted: { counted?: true, guardStopped?: GuardStop } = {}
    if (counts) {
      const { next, decision } = await this.countFailure(identity, guard, refusesCandidate(failure) ? hash : undefined, req, failure, started)
      state.guard = next
      counted = decision.blocked ? { counted: true, guardStopped: { failures: decision.failures, threshold: decision.threshold } } : { counted: true }
    }
    if (!opensCircuit(failure) || storedVersion === undefined) return { ok: false, failure, ...counted }
    state.circuit = await this.openCircuit(connection, storedVersion, failure, circuit)
    return { ok: false, failure, circuit: state.circuit, ...counted }
  }

  /** One failed login counted, stamped `at` (when it was sent). */
  private async countFailure (identity: string, guard: GuardState | null, hash: string | undefined, req: GateRequest, failure: ClassifiedFailure, at: number): Promise<{ next: GuardState, decision: GuardDecision }> {
    const next = withFailure(guard, at, hash, failure.outcomeUnknown === true)
    await this.guards.write(identity, next)
    const decision = guardDecision(next, this.opts.guard)
    this.opts.logger.warn({ connection: req.connection, purpose: req.purpose, classification: failure.classification, outcomeUnknown: failure.outcomeUnknown === true, failedLogins: next.failures.length, lockoutThreshold: this.opts.guard.threshold }, 'salesforce login failed: counted by the failure guard')
    if (decision.blocked) this.opts.observer?.guardTripped?.(req.connection, decision.failures, decision.threshold, next.failures[0] ?? this.now())
    return { next, decision }
  }

  /**
   * After a success the session names the Salesforce user (org and user id): from then on every
   * login identity that turned out to be this user (a password connection and the Run-As user of a
   * client-credentials app, say) spends one budget. The first such login is counted there too.
   */
  private async learnUser (identity: string, state: LoginState, session: SalesforceSession): Promise<void> {
    if (!session.orgId || !session.userId) return
    const user = `sfuser:${session.orgId}/${session.userId}`
    this.reader.learnedOwner(identity, user)
    if (user === state.owner) return
    await this.opts.state.putJson(salesforceUserDoc(identity), user)
    await this.opts.state.addToWindow(loginBudgetWindow(user), BUDGET_WINDOW_MS)
    state.owner = user
  }

  /**
   * An admin states that Salesforce's count of the definition's user is zero again (see GuardStore).
   * Under the user's lease, so no login's answer is written over the reset, nor the reset over one;
   * it drops the failures counted when the admin asked, and any counted since stays (a login under
   * way then was judged after the unlock the admin saw).
   */
  async acknowledgeReset (definition: ConnectionDefinition): Promise<GuardDecision> {
    const asked = await this.guards.read(loginIdentity(definition))
    const known = asked === 'unavailable' ? [] : asked?.failures ?? []
    return this.exclusive(definition, () => this.guards.acknowledgeReset(definition, known))
  }

  /**
   * What health shows of the definition's Salesforce user, in one read: logins spent in the
   * rolling hour, and what the failure guard knows (`unavailable`: the fleet's count cannot be
   * read, this replica's is shown; `truth`: what Salesforce said when last asked, while that is
   * the count). `also`: the caller's own reads, made in the same batch (their values in `also`).
   */
  async loginView (connection: string, definition: ConnectionDefinition, also: readonly StateRead[] = []): Promise<LoginView & { also: unknown[] }> {
    const identity = loginIdentity(definition)
    // the login's own read (login-state.ts): the owner's budget, the fleet's guard or, without Redis, this replica's
    const state = await this.reader.read({ connection, identity, withHoldOff: false, withGuard: true, also: [{ kind: 'doc', key: loginGuardTruthDoc(identity) }, ...also] })
    const [truth, ...alsoValues] = state.also as [GuardTruth | null, ...unknown[]]
    const budget = { used: state.used, limit: this.opts.loginsPerHour }
    if (state.guard === 'unavailable') return { budget, guard: { ...guardDecision(state.replicaGuard ?? null, this.opts.guard), unavailable: true }, also: alsoValues }
    const guard = await this.guards.merged(identity, state.guard as GuardState | null)
    // Salesforce's word is the count only until the broker counts or resets after it
    const current = truth && guard?.truthReadAt === truth.readAt ? truth : undefined
    return { budget, guard: { ...guardDecision(guard, this.opts.guard), ...(current ? { truth: current } : {}) }, also: alsoValues }
  }

  /** The replica stops: the failure guard's write-backs to Redis end here, before the shared state closes. */
  async close (): Promise<void> {
    await this.guards.close()
  }

  circuit (connection: string): Promise<CircuitState | null> {
    return this.opts.state.getCircuit(connection)
  }

  async clearCircuit (connection: string): Promise<void> {
    await this.opts.state.clearCircuit(connection)
    await this.opts.state.publish({ type: 'circuit', connection, state: null })
  }

  /** A failure with a stored secret opens (or extends) its circuit, fleet-wide. */
  private async openCircuit (connection: string, version: number, failure: ClassifiedFailure, previous: CircuitState | null): Promise<CircuitState> {
    const opened = openCircuit(previous, version, failure, this.opts.circuit, this.now())
    await this.opts.state.putCircuit(connection, opened)
    await this.opts.state.publish({ type: 'circuit', connection, state: opened })
    this.opts.logger.warn({ connection, secretVersion: version, classification: failure.classification, failures: opened.failures, retryAt: new Date(opened.retryAt).toISOString() }, 'salesforce login failed: circuit opened')
    return opened
  }
}

/** The password login under a lease that is in flight, while it is: how to count it when its caller stops waiting. */
interface InFlightLogin {
  abandon?: () => Promise<void>
  /** the id of the note this holder wrote for its latest password login (SentLogin) */
  ownNote?: string
  /** the note in Redis is accounted for (this holder's answered, or another's counted): released with the lease */
  noteSettled?: boolean
}

/** What the guard logs of a password login sent by a replica that died before counting its answer (counted: Salesforce may have judged it). */
const UNANSWERED_LOGIN: ClassifiedFailure = {
  classification: 'unreachable',
  retryable: true,
  credentialFailure: false,
  outcomeUnknown: true,
  message: 'a replica sent this login and stopped before it counted the answer',
  hint: 'counted as a failed login: Salesforce may have judged it',
}

/** What the guard logs of a password login given up on at shutdown (counted: Salesforce may still judge it). */
const ABANDONED_LOGIN: ClassifiedFailure = {
  classification: 'unreachable',
  retryable: true,
  credentialFailure: false,
  outcomeUnknown: true,
  message: 'the broker stopped before Salesforce answered the login',
  hint: 'counted as a failed login: Salesforce may have judged it',
}

/** The brief fleet-wide pause after a transient failure protects Salesforce from callers' herds, not from checks or admins. */
function holdsOffFor (purpose: LoginPurpose): boolean {
  return purpose === 'miss' || purpose === 'refresh'
}

/** A failure another try may fix: no circuit, not counted toward the lockout, not Salesforce's hourly limit. */
function isTransient (outcome: Exclude<GateOutcome, { ok: true }>): boolean {
  return 'failure' in outcome && !outcome.circuit && !outcome.counted && outcome.failure.classification !== 'login_rate_exceeded'
}

function unexpected (logger: Logger, err: unknown): LoginOutcome {
  logger.error({ err: { name: (err as Error)?.name } }, 'salesforce login raised unexpectedly')
  return {
    ok: false,
    failure: { classification: 'unknown', retryable: true, credentialFailure: false, message: INTERNAL_LOGIN_ERROR, hint: 'see the broker logs' },
  }
}
