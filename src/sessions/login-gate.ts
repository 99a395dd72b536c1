import type { Logger } from 'pino'
import type { ClassifiedFailure, ConnectionDefinition, LoginOutcome, SalesforceSession } from '../salesforce/types.ts'
import { circuitBlocks, openCircuit, opensCircuit, type CircuitPolicy } from './circuit.ts'
import { underLease } from './lease.ts'
import { BUDGET_WINDOW_MS, budgetDecision, type LoginPurpose } from './login-budget.ts'
import { candidateRetryAt, guardDecision, withFailure, withSuccess, type GuardPolicy, type GuardState } from './login-guard.ts'
import { credentialHash, loginIdentity } from './login-identity.ts'
import type { CircuitState, SharedState } from '../shared-state/shared-state.ts'

/** The Salesforce login core (src/salesforce/login.ts, or a test's replacement): never throws by contract. */
export type LoginCore = (definition: ConnectionDefinition) => Promise<LoginOutcome>

export interface LoginObserver {
  loginAttempt? (connection: string, flow: string, classification: string, durationMs: number): void
  loginBudget? (connection: string, used: number, limit: number): void
  /** the failure guard stopped logins of the connection's Salesforce user one short of its lockout */
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
}

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
  | { kind: 'guarded', failures: number, threshold: number, safeAt: number }
  | { kind: 'candidate_failed', safeAt: number }
  | { kind: 'circuit_open', circuit: CircuitState }
  | { kind: 'budget', reason: 'exhausted' | 'reserved' | 'rate_exceeded', used: number, limit: number, retryAt: number }
  | { kind: 'busy', retryAt: number }

export type GateOutcome =
  | { ok: true, session: SalesforceSession }
  /** Salesforce refused; `circuit` is the circuit this failure opened (stored secrets only) */
  | { ok: false, failure: ClassifiedFailure, circuit?: CircuitState }
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

const guardKey = (identity: string) => `login-guard:${identity}`
const holdKey = (identity: string) => `login-hold:${identity}`
const budgetKey = (identity: string) => `logins:${identity}`

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

  constructor (opts: LoginGateOptions) {
    this.opts = opts
  }

  get loginsPerHour (): number {
    return this.opts.loginsPerHour
  }

  /** `signal`: the caller is stopping (shutdown): the user's lease is handed on at once. */
  async attempt (req: GateRequest, signal?: AbortSignal): Promise<GateOutcome> {
    const identity = loginIdentity(req.definition)
    const early = await this.budgetRefusal(identity, req.purpose)
    if (early) return { ok: false, refusal: early }
    const result = await underLease({
      state: this.opts.state,
      name: `login-user:${identity}`,
      ttlMs: this.opts.leaseTtlMs,
      deadline: Date.now() + this.opts.waitTimeoutMs,
      logger: this.opts.logger,
      signal,
    }, () => this.underUserLease(identity, req))
    if (result.kind === 'timeout') return { ok: false, refusal: { kind: 'busy', retryAt: Date.now() + 1000 } }
    return result.value
  }

  private async underUserLease (identity: string, req: GateRequest): Promise<GateOutcome> {
    const { connection, definition, storedVersion } = req
    const circuit = storedVersion === undefined ? null : await this.opts.state.getCircuit(connection)
    // an explicit probe may go before the cool-down ends; the failure guard below still decides
    if (req.purpose !== 'probe' && storedVersion !== undefined && circuitBlocks(circuit, storedVersion)) {
      return { ok: false, refusal: { kind: 'circuit_open', circuit } }
    }
    const spendsAttempts = SPENDS_LOGIN_ATTEMPTS.has(definition.flow)
    const guard = await this.opts.state.getJson<GuardState>(guardKey(identity))
    const decision = guardDecision(guard, this.opts.guard)
    if (spendsAttempts && decision.blocked) return { ok: false, refusal: { kind: 'guarded', failures: decision.failures, threshold: decision.threshold, safeAt: decision.safeAt } }
    const hash = storedVersion === undefined && spendsAttempts ? credentialHash(definition, this.opts.hashKey) : undefined
    const again = hash === undefined ? undefined : candidateRetryAt(guard, hash, this.opts.guard)
    if (again !== undefined) return { ok: false, refusal: { kind: 'candidate_failed', safeAt: again } }
    // re-checked under the lease: another replica may have spent the budget meanwhile
    const late = await this.budgetRefusal(identity, req.purpose)
    if (late) return { ok: false, refusal: late }

    const used = await this.opts.state.addToWindow(budgetKey(identity), BUDGET_WINDOW_MS)
    this.opts.observer?.loginBudget?.(connection, used, this.opts.loginsPerHour)
    const started = Date.now()
    const outcome = await this.opts.core(definition).catch((err: unknown): LoginOutcome => unexpected(this.opts.logger, err))
    this.opts.observer?.loginAttempt?.(connection, definition.flow, outcome.ok ? 'ok' : outcome.failure.classification, Date.now() - started)

    if (outcome.ok) {
      if (spendsAttempts && guard && guard.failures.length > 0) await this.opts.state.putJson(guardKey(identity), withSuccess(guard, this.opts.guard), this.opts.guard.windowMs)
      if (storedVersion !== undefined && circuit) await this.clearCircuit(connection)
      return outcome
    }
    const failure = outcome.failure
    if (failure.classification === 'login_rate_exceeded') {
      // Salesforce refuses every login of this user for the rest of its hour: asking again only extends the wait
      await this.opts.state.putJson(holdKey(identity), { until: Date.now() + BUDGET_WINDOW_MS }, BUDGET_WINDOW_MS)
      this.opts.logger.warn({ connection }, 'salesforce answered LOGIN_RATE_EXCEEDED: logins for this user held for an hour')
      return { ok: false, failure }
    }
    if (!opensCircuit(failure)) return { ok: false, failure }
    if (!spendsAttempts) {
      if (storedVersion === undefined) return { ok: false, failure }
      return { ok: false, failure, circuit: await this.openCircuit(connection, storedVersion, failure, circuit) }
    }
    const next = withFailure(guard, this.opts.guard, hash)
    await this.opts.state.putJson(guardKey(identity), next, this.opts.guard.windowMs)
    this.opts.logger.warn({ connection, purpose: req.purpose, classification: failure.classification, failuresInWindow: next.failures.length, lockoutThreshold: this.opts.guard.threshold }, 'salesforce login failed: counted by the failure guard')
    if (storedVersion === undefined) return { ok: false, failure }
    return { ok: false, failure, circuit: await this.openCircuit(connection, storedVersion, failure, circuit) }
  }

  private async budgetRefusal (identity: string, purpose: LoginPurpose): Promise<LoginRefusal | undefined> {
    const hold = await this.opts.state.getJson<{ until: number }>(holdKey(identity))
    const limit = this.opts.loginsPerHour
    if (hold && hold.until > Date.now()) return { kind: 'budget', reason: 'rate_exceeded', used: limit, limit, retryAt: hold.until }
    const used = await this.opts.state.countWindow(budgetKey(identity), BUDGET_WINDOW_MS)
    const decision = budgetDecision(used, limit, purpose)
    if (decision.allowed) return undefined
    return { kind: 'budget', reason: decision.reason, used, limit, retryAt: Date.now() + 60_000 }
  }

  /** Logins spent for the definition's user in the rolling hour. */
  async budget (definition: ConnectionDefinition): Promise<{ used: number, limit: number }> {
    return { used: await this.opts.state.countWindow(budgetKey(loginIdentity(definition)), BUDGET_WINDOW_MS), limit: this.opts.loginsPerHour }
  }

  /** What the failure guard knows of the definition's user now. */
  async guardState (definition: ConnectionDefinition) {
    return guardDecision(await this.opts.state.getJson<GuardState>(guardKey(loginIdentity(definition))), this.opts.guard)
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
    const opened = openCircuit(previous, version, failure, this.opts.circuit)
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
