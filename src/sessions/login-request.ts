import type { ClassifiedFailure, ConnectionDefinition, SalesforceSession } from '../salesforce/types.ts'
import type { CachedSession, CircuitState } from '../shared-state/shared-state.ts'
import type { GuardTruth } from './guard-store.ts'
import type { HoldOff } from './hold-off.ts'
import type { LoginPurpose } from './login-budget.ts'
import type { GuardDecision } from './login-guard.ts'

/** The login gate's vocabulary (login-gate.ts): what is asked of the funnel, and what it answers. */

export interface GateRequest {
  definition: ConnectionDefinition
  purpose: LoginPurpose
  /** the connection the login is for (metrics, logs, the circuit) */
  connection: string
  /** set when the definition is this stored secret version of the connection: its circuit applies. Unset: a candidate. */
  storedVersion?: number
}

/** Sends one login through the gate's guards, under the lease the funnel already holds. */
export type LoginAttempt = (req: GateRequest) => Promise<GateOutcome>

/**
 * A policy that decides which login(s) a stored secret's request sends (src/sessions/stored-login.ts:
 * a retired flow sends none, a pending certificate rotation's key may go second): it sends them
 * through the attempt it is given, under the funnel's one lease.
 */
export interface LoginPolicy {
  attempt (req: GateRequest & { storedVersion: number }, send: LoginAttempt): Promise<GateOutcome & { switched?: { version: number, definition: ConnectionDefinition } }>
}

export interface ObtainRequest extends GateRequest {
  /**
   * A cached session of the stored version that answers the request without a login: asked of
   * the cache as read under the lease and after every wait for someone else's login.
   */
  answeredBy?: (cached: CachedSession) => boolean
  /** epoch ms on the system clock (it bounds real waiting, whatever the gate's clock reads): the wait for another login of the same user ends then; default now + waitTimeoutMs */
  deadline?: number
  /** the caller is stopping (shutdown): its lease is handed on at once, no new login starts */
  signal?: AbortSignal
  /** transient failures tried again under the lease (jittered backoff, inside the deadline) */
  retries?: number
  /** documents read with the login state and handed to beforeLogin */
  docs?: readonly string[]
  /** the caller's own policy, under the lease, right before the first login goes; it may throw (the caller's answer) */
  beforeLogin?: (docs: Record<string, unknown>) => Promise<void>
  /** the stored-login policy (stored versions) */
  via?: LoginPolicy
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
  /** a transient failure paused the connection's logins for callers, fleet-wide, briefly */
  | { kind: 'held_off', holdOff: HoldOff }

export type GateOutcome =
  | { ok: true, session: SalesforceSession }
  /**
   * Salesforce refused, or no answer came; `circuit` is the circuit this failure opened (stored
   * secrets only); `counted`: the failure guard counted it as a failed login of the user (a
   * password flow's refusal, or its timeout): never retry it automatically; `holdOff`: the pause
   * this transient failure started for the connection's callers.
   */
  | { ok: false, failure: ClassifiedFailure, circuit?: CircuitState, counted?: boolean, holdOff?: HoldOff, guardStopped?: GuardStop }
  | { ok: false, refusal: LoginRefusal }

/**
 * What the funnel answers. A success of a stored version carries the session as cached for every
 * caller and replica (`entry`); `fromCache`: someone else's login answered (no login was sent).
 */
export type ObtainOutcome =
  | { ok: true, session: SalesforceSession, entry?: CachedSession, fromCache?: true, switched?: { version: number, definition: ConnectionDefinition }, /** internal: this request's login (listeners are told) */ loggedIn?: true }
  | Exclude<GateOutcome, { ok: true }>

/** A Salesforce user's logins as health shows them. */
export interface LoginView {
  budget: { used: number, limit: number }
  guard: GuardDecision & { unavailable?: true, truth?: GuardTruth }
}

/** Told of every login the gate sent that succeeded with a stored secret (health records it as a check). */
export type LoginListener = (event: { connection: string, version: number, purpose: LoginPurpose }) => Promise<void>

/** The guard's count after a counted failure that leaves no room for another password login of the user. */
export interface GuardStop { failures: number, threshold: number }
