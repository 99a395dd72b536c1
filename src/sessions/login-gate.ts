import type { Logger } from 'pino'
import type { FailedLoginsRead } from '../salesforce/failed-logins.ts'
import type { ClassifiedFailure, ConnectionDefinition, LoginOutcome, SalesforceSession } from '../salesforce/types.ts'
import { circuitBlocks, openCircuit, opensCircuit, type CircuitPolicy } from './circuit.ts'
import { underLease } from './lease.ts'
import { BUDGET_WINDOW_MS, budgetDecision, type LoginPurpose } from './login-budget.ts'
import { candidateRetryAt, guardDecision, mergeGuards, sameGuard, withFailure, withReset, type GuardDecision, type GuardPolicy, type GuardState } from './login-guard.ts'
import { credentialHash, loginIdentity } from './login-identity.ts'
import type { CircuitState, SharedState } from '../shared-state/shared-state.ts'
import { loginBudgetWindow, loginGuardAskedDoc, loginGuardDoc, loginGuardTruthDoc, loginRateHoldDoc, loginUserLease, orgSessionDoc, salesforceUserDoc } from '../shared-state/state-names.ts'

/** The Salesforce login core (src/salesforce/login.ts, or a test's replacement): never throws by contract. */
export type LoginCore = (definition: ConnectionDefinition) => Promise<LoginOutcome>

export interface LoginObserver {
  loginAttempt? (connection: string, flow: string, classification: string, durationMs: number): void
  loginBudget? (connection: string, used: number, limit: number): void
  /** a failed login left the user's failure guard with no room: no password login goes out until a success or an admin's reset */
  guardTripped? (connection: string, failures: number, threshold: number): void
}

export interface LoginGateOptions {
  core: LoginCore
  state: SharedState
  logger: Logger
  circuit: CircuitPolicy
  guard: GuardPolicy
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
  /**
   * Reads Salesforce's own failed-login count and lock of a user through a working session of the
   * same org (src/salesforce/failed-logins.ts); absent: the broker relies on its own count only.
   */
  readFailedLogins?: (session: SalesforceSession, apiVersion: string, userId: string) => Promise<FailedLoginsRead>
}

/** What Salesforce said of the user's count, when the broker could ask it. */
export interface GuardTruth {
  failedLogins: number
  locked: boolean
  readAt: number
  /** the connection whose session asked */
  via: string
}

/** Salesforce is asked at most this often per user, fleet-wide, while the guard holds its logins back. */
const TRUTH_INTERVAL_MS = 60_000

export interface GateRequest {
  definition: ConnectionDefinition
  purpose: LoginPurpose
  /** the connection the login is for (metrics, logs, the circuit) */
  connection: string
  /** set when the definition is this stored secret version of the connection: its circuit applies. Unset: a candidate. */
  storedVersion?: number
}

/** Why the gate sent nothing to Salesforce. */
export type LoginRefusal =
  | { kind: 'guarded', failures: number, threshold: number }
  /** the fleet-wide failure count cannot be read (Redis down): a password login could add to failures other replicas make */
  | { kind: 'guard_unavailable' }
  | { kind: 'candidate_failed', safeAt: number }
  | { kind: 'circuit_open', circuit: CircuitState }
  | { kind: 'budget', reason: 'exhausted' | 'reserved' | 'rate_exceeded', used: number, limit: number, retryAt: number }
  | { kind: 'busy', retryAt: number }

export type GateOutcome =
  | { ok: true, session: SalesforceSession }
  /**
   * Salesforce refused, or no answer came; `circuit` is the circuit this failure opened (stored
   * secrets only); `counted`: the failure guard counted it as a failed login of the user (a
   * password flow's refusal, or its timeout): never retry it automatically.
   */
  | { ok: false, failure: ClassifiedFailure, circuit?: CircuitState, counted?: boolean }
  | { ok: false, refusal: LoginRefusal }

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

/**
 * The one door to Salesforce: every login the broker makes — a caller's session, a background
 * refresh, the scheduler's and an admin's checks, an admin's candidate — goes through `attempt`.
 * Before anything is sent it applies, per Salesforce user and fleet-wide:
 *  - the login budget (all logins per rolling hour, the last 20 % kept for what cannot wait, and a
 *    hold after Salesforce answered LOGIN_RATE_EXCEEDED);
 *  - the failure guard (never the failed login that would lock the user out; never the same
 *    failing candidate twice);
 *  - the circuit of a stored secret (no login with a secret Salesforce just refused, until its cool-down).
 * Logins of one user are serialised under a lease, so the counts they are checked against are exact.
 */
export class LoginGate {
  private readonly opts: LoginGateOptions
  private readonly now: () => number

  constructor (opts: LoginGateOptions) {
    this.opts = opts
    this.now = opts.now ?? Date.now
  }

  get loginsPerHour (): number {
    return this.opts.loginsPerHour
  }

  /** `signal`: the caller is stopping (shutdown): the user's lease is handed on at once. */
  async attempt (req: GateRequest, signal?: AbortSignal): Promise<GateOutcome> {
    const identity = loginIdentity(req.definition)
    const owner = await this.budgetOwner(identity)
    const early = await this.budgetRefusal(owner, req.purpose)
    if (early) return { ok: false, refusal: early }
    const result = await underLease({
      state: this.opts.state,
      name: loginUserLease(identity),
      ttlMs: this.opts.leaseTtlMs,
      deadline: this.now() + this.opts.waitTimeoutMs,
      logger: this.opts.logger,
      signal,
    }, () => this.underUserLease(identity, owner, req))
    if (result.kind === 'timeout') return { ok: false, refusal: { kind: 'busy', retryAt: this.now() + 1000 } }
    return result.value
  }

  private async underUserLease (identity: string, owner: string, req: GateRequest): Promise<GateOutcome> {
    const { connection, definition, storedVersion } = req
    const now = this.now()
    const circuit = storedVersion === undefined ? null : await this.opts.state.getCircuit(connection)
    // an explicit probe may go before the cool-down ends; the failure guard below still decides
    if (req.purpose !== 'probe' && storedVersion !== undefined && circuitBlocks(circuit, storedVersion, now)) {
      return { ok: false, refusal: { kind: 'circuit_open', circuit } }
    }
    const spendsAttempts = SPENDS_LOGIN_ATTEMPTS.has(definition.flow)
    let guard: GuardState | null = null
    if (spendsAttempts) {
      const read = await this.readGuard(identity)
      if (read === 'unavailable') return { ok: false, refusal: { kind: 'guard_unavailable' } }
      guard = read
      let decision = guardDecision(guard, this.opts.guard)
      if (decision.blocked) {
        // the user may have been unlocked or its password reset since: where Salesforce can say so, it decides
        guard = await this.reconcile(identity, guard)
        decision = guardDecision(guard, this.opts.guard)
      }
      if (decision.blocked) return { ok: false, refusal: { kind: 'guarded', failures: decision.failures, threshold: decision.threshold } }
    }
    const hash = storedVersion === undefined && spendsAttempts ? credentialHash(definition, this.opts.hashKey) : undefined
    const again = hash === undefined ? undefined : candidateRetryAt(guard, hash, now)
    if (again !== undefined) return { ok: false, refusal: { kind: 'candidate_failed', safeAt: again } }
    // re-checked under the lease: another replica may have spent the budget meanwhile
    const late = await this.budgetRefusal(owner, req.purpose)
    if (late) return { ok: false, refusal: late }

    const used = await this.opts.state.addToWindow(loginBudgetWindow(owner), BUDGET_WINDOW_MS)
    this.opts.observer?.loginBudget?.(connection, used, this.opts.loginsPerHour)
    const started = this.now()
    const outcome = await this.opts.core(definition).catch((err: unknown): LoginOutcome => unexpected(this.opts.logger, err))
    this.opts.observer?.loginAttempt?.(connection, definition.flow, outcome.ok ? 'ok' : outcome.failure.classification, this.now() - started)

    if (outcome.ok) {
      await this.learnUser(identity, owner, outcome.session)
      if (spendsAttempts && guard && (guard.failures.length > 0 || guard.resetAt === undefined || guard.truthReadAt !== undefined)) await this.writeGuard(identity, withReset(guard, this.now()))
      if (storedVersion !== undefined && circuit) await this.clearCircuit(connection)
      return outcome
    }
    const failure = outcome.failure
    if (failure.classification === 'login_rate_exceeded') {
      // Salesforce refuses every login of this user for the rest of its hour: asking again only extends the wait
      await this.opts.state.putJson(loginRateHoldDoc(owner), { until: this.now() + BUDGET_WINDOW_MS }, BUDGET_WINDOW_MS)
      this.opts.logger.warn({ connection }, 'salesforce answered LOGIN_RATE_EXCEEDED: logins for this user held for an hour')
      return { ok: false, failure }
    }
    // a password login the broker gave up on may have been judged by Salesforce: it counts as failed
    const counts = spendsAttempts && (opensCircuit(failure) || failure.outcomeUnknown === true)
    if (counts) await this.countFailure(identity, guard, hash, req, failure)
    if (!opensCircuit(failure)) return { ok: false, failure, ...(counts ? { counted: true } : {}) }
    if (storedVersion === undefined) return { ok: false, failure, ...(counts ? { counted: true } : {}) }
    return { ok: false, failure, circuit: await this.openCircuit(connection, storedVersion, failure, circuit), ...(counts ? { counted: true } : {}) }
  }

  private async countFailure (identity: string, guard: GuardState | null, hash: string | undefined, req: GateRequest, failure: ClassifiedFailure): Promise<void> {
    const next = withFailure(guard, this.now(), hash)
    await this.writeGuard(identity, next)
    const decision = guardDecision(next, this.opts.guard)
    this.opts.logger.warn({ connection: req.connection, purpose: req.purpose, classification: failure.classification, outcomeUnknown: failure.outcomeUnknown === true, failedLogins: next.failures.length, lockoutThreshold: this.opts.guard.threshold }, 'salesforce login failed: counted by the failure guard')
    if (decision.blocked) this.opts.observer?.guardTripped?.(req.connection, decision.failures, decision.threshold)
  }

  /**
   * The user's failure count as the fleet knows it, merged with this replica's own copy (failures
   * it counted while Redis was unreachable, or before Redis restarted empty): the larger truth is
   * written back to both. 'unavailable' when the fleet's copy cannot be read: then no replica can
   * know what the others counted, and a password login could be the one that locks the user.
   */
  private async readGuard (identity: string): Promise<GuardState | null | 'unavailable'> {
    const key = loginGuardDoc(identity)
    const tiers = this.opts.state.tiers
    if (!tiers) return this.opts.state.getJson<GuardState>(key)
    let fleet: GuardState | null
    try {
      fleet = await tiers.fleet.getJson<GuardState>(key)
    } catch {
      // Sentinel or Cluster promoting a replica: wait for it (bounded) rather than refuse
      if (!await tiers.fleet.awaitFailover?.().catch(() => false)) return 'unavailable'
      try {
        fleet = await tiers.fleet.getJson<GuardState>(key)
      } catch {
        return 'unavailable'
      }
    }
    const local = await tiers.local.getJson<GuardState>(key)
    const merged = mergeGuards(fleet, local)
    if (!sameGuard(merged, fleet)) await tiers.fleet.putJson(key, merged).catch(() => {})
    if (!sameGuard(merged, local)) await tiers.local.putJson(key, merged)
    return merged
  }

  /**
   * Salesforce's count of the user, read through another working session of the same org (any
   * connection's cached session whose user may read user administration data), replaces the
   * broker's: lower after an unlock or a password reset, higher when someone else failed too. Kept
   * (as read) for health. Unknown — no session of the org, no right to read it — leaves the count.
   */
  private async reconcile (identity: string, guard: GuardState | null): Promise<GuardState | null> {
    const read = this.opts.readFailedLogins
    if (!read) return guard
    const user = await this.opts.state.getJson<string>(salesforceUserDoc(identity))
    const [orgId, userId] = user?.replace(/^sfuser:/, '').split('/') ?? []
    if (!orgId || !userId) return guard
    const asked = await this.opts.state.getJson<{ at: number }>(loginGuardAskedDoc(identity))
    if (asked && this.now() - asked.at < TRUTH_INTERVAL_MS) return guard
    await this.opts.state.putJson(loginGuardAskedDoc(identity), { at: this.now() }, TRUTH_INTERVAL_MS)
    const where = await this.opts.state.getJson<{ connection: string, version: number }>(orgSessionDoc(orgId))
    const cached = where ? await this.opts.state.getSession(where.connection, where.version) : null
    if (!where || !cached) return guard
    const truth = await read(cached.session, cached.apiVersion, userId).catch(() => null)
    if (!truth?.ok) {
      this.opts.logger.info({ via: where.connection, reason: truth?.failure.classification }, 'failure guard: Salesforce\'s failed-login count could not be read; relying on the broker\'s')
      return guard
    }
    const now = this.now()
    await this.opts.state.putJson(loginGuardTruthDoc(identity), { failedLogins: truth.failedLogins, locked: truth.locked, readAt: now, via: where.connection } satisfies GuardTruth)
    if (truth.locked) return guard
    let next = withReset(guard, now)
    for (let i = 0; i < truth.failedLogins; i++) next = withFailure(next, now + i)
    next = { ...next, truthReadAt: now }
    await this.writeGuard(identity, next)
    this.opts.logger.info({ via: where.connection, salesforceFailedLogins: truth.failedLogins, brokerFailedLogins: guard?.failures.length ?? 0 }, 'failure guard: count taken from Salesforce')
    return next
  }

  /** Written to the fleet and to this replica's memory; a copy that did not reach Redis is merged back by the next read. */
  private async writeGuard (identity: string, state: GuardState): Promise<void> {
    const key = loginGuardDoc(identity)
    const tiers = this.opts.state.tiers
    if (!tiers) return this.opts.state.putJson(key, state)
    await tiers.local.putJson(key, state)
    await tiers.fleet.putJson(key, state).catch((err: unknown) => {
      this.opts.logger.warn({ err: { message: (err as Error).message } }, 'failure guard not written to redis: kept in this replica until it is')
    })
  }

  /**
   * An admin states that Salesforce's failed-login count of the definition's user is zero again
   * (the user was unlocked, or its password reset, in Setup): the guard's count goes with it.
   */
  async acknowledgeReset (definition: ConnectionDefinition): Promise<GuardDecision> {
    const identity = loginIdentity(definition)
    const read = await this.readGuard(identity)
    const next = withReset(read === 'unavailable' ? null : read, this.now())
    await this.writeGuard(identity, next)
    return guardDecision(next, this.opts.guard)
  }

  /** Whose hourly login budget a login spends: the Salesforce user it logs in as, once known, whatever the flow. */
  private async budgetOwner (identity: string): Promise<string> {
    return (await this.opts.state.getJson<string>(salesforceUserDoc(identity)).catch(() => null)) ?? identity
  }

  /**
   * After a success the session names the Salesforce user (org and user id): from then on every
   * login identity that turned out to be this user (a password connection and the Run-As user of a
   * client-credentials app, say) spends one budget. The first such login is counted there too.
   */
  private async learnUser (identity: string, owner: string, session: SalesforceSession): Promise<void> {
    if (!session.orgId || !session.userId) return
    const user = `sfuser:${session.orgId}/${session.userId}`
    if (user === owner) return
    await this.opts.state.putJson(salesforceUserDoc(identity), user)
    await this.opts.state.addToWindow(loginBudgetWindow(user), BUDGET_WINDOW_MS)
  }

  private async budgetRefusal (owner: string, purpose: LoginPurpose): Promise<LoginRefusal | undefined> {
    const now = this.now()
    const hold = await this.opts.state.getJson<{ until: number }>(loginRateHoldDoc(owner))
    const limit = this.opts.loginsPerHour
    if (hold && hold.until > now) return { kind: 'budget', reason: 'rate_exceeded', used: limit, limit, retryAt: hold.until }
    const used = await this.opts.state.countWindow(loginBudgetWindow(owner), BUDGET_WINDOW_MS)
    const decision = budgetDecision(used, limit, purpose)
    if (decision.allowed) return undefined
    return { kind: 'budget', reason: decision.reason, used, limit, retryAt: now + 60_000 }
  }

  /** Logins spent for the definition's Salesforce user in the rolling hour. */
  async budget (definition: ConnectionDefinition): Promise<{ used: number, limit: number }> {
    const owner = await this.budgetOwner(loginIdentity(definition))
    return { used: await this.opts.state.countWindow(loginBudgetWindow(owner), BUDGET_WINDOW_MS), limit: this.opts.loginsPerHour }
  }

  /**
   * What the failure guard knows of the definition's user now (`unavailable`: the fleet's count
   * cannot be read; `truth`: what Salesforce said when last asked, if that is what the count is).
   */
  async guardState (definition: ConnectionDefinition): Promise<GuardDecision & { unavailable?: true, truth?: GuardTruth }> {
    const identity = loginIdentity(definition)
    const read = await this.readGuard(identity)
    if (read === 'unavailable') return { ...guardDecision(await this.opts.state.getJson<GuardState>(loginGuardDoc(identity)), this.opts.guard), unavailable: true }
    const truth = await this.opts.state.getJson<GuardTruth>(loginGuardTruthDoc(identity))
    // Salesforce's word is the count only until the broker counts or resets after it
    const current = truth && read?.truthReadAt === truth.readAt ? truth : undefined
    return { ...guardDecision(read, this.opts.guard), ...(current ? { truth: current } : {}) }
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

function unexpected (logger: Logger, err: unknown): LoginOutcome {
  logger.error({ err: { name: (err as Error)?.name } }, 'salesforce login raised unexpectedly')
  return {
    ok: false,
    failure: { classification: 'unknown', retryable: true, credentialFailure: false, message: 'the login failed inside the broker', hint: 'see the broker logs' },
  }
}
