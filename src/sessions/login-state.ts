import type { CachedSession, CircuitState, SharedState, StateRead } from '../shared-state/shared-state.ts'
import { loginBudgetWindow, loginGuardDoc, loginInFlightDoc, loginRateHoldDoc, orgSessionDoc, salesforceUserDoc, transientHoldOffDoc } from '../shared-state/state-names.ts'
import type { HoldOff } from './hold-off.ts'
import { BUDGET_WINDOW_MS } from './login-budget.ts'
import type { GuardState, SentLogin } from './login-guard.ts'

/** Everything a login decision reads, read at one moment (one command on one Redis server or Sentinel; one per key on Cluster). */
export interface LoginState {
  /** the session cached for the stored version asked about (when asked) */
  cached: CachedSession | null
  /** the connection's circuit (stored versions only) */
  circuit: CircuitState | null
  /** the connection's transient hold-off (logins for callers only) */
  holdOff: HoldOff | null
  /** whose hourly login budget a login spends: the Salesforce user, once known, else the login identity */
  owner: string
  /** Salesforce answered LOGIN_RATE_EXCEEDED for the owner: no login before then */
  rateHoldUntil: number
  /** logins of the owner in the rolling hour */
  used: number
  /** the fleet's failure count of the user (password flows); 'unavailable' when Redis cannot say; 'not_read' when not asked for */
  guard: GuardState | null | 'unavailable' | 'not_read'
  /** the note of a password login sent under the lease and not yet accounted for (read with the guard) */
  inFlight?: SentLogin | null
  /** while the fleet's count cannot be read: this replica's own copy (shown by health, never a reason to log in) */
  replicaGuard?: GuardState | null
  /** which connection and version last logged in to the owner's org, when the owner is a known Salesforce user (a login rewrites it only when it changes) */
  orgSession?: { orgId: string, last: OrgSession | null }
  /** the caller's own documents, asked for by name */
  docs: Record<string, unknown>
  /** the caller's other reads, in the order asked */
  also: unknown[]
}

/** The connection and secret version whose session answered last for an org (the failure guard reads the org's count with it). */
export interface OrgSession { connection: string, version: number }

export interface LoginStateQuery {
  connection: string
  identity: string
  /** the stored version whose cache and circuit apply; undefined for a candidate */
  storedVersion?: number
  withHoldOff: boolean
  withGuard: boolean
  docs?: readonly string[]
  /** read in the same batch, answered in `also` */
  also?: readonly StateRead[]
}

/**
 * Reads a login's state in one batch. The budget's owner is remembered per identity in process
 * memory (it never changes once Salesforce named the user), so the owner's hold and window are in
 * the same batch; only a replica that never saw the owner reads twice, once.
 */
export class LoginStateReader {
  private readonly state: SharedState
  private readonly owners = new Map<string, string>()

  constructor (state: SharedState) {
    this.state = state
  }

  /** Whose budget the identity's logins spend, as far as this replica knows (the identity until a success named the user). */
  ownerOf (identity: string): string {
    return this.owners.get(identity) ?? identity
  }

  /** Remembers whose budget the identity's logins spend (after a success named the user). */
  learnedOwner (identity: string, owner: string): void {
    this.owners.set(identity, owner)
  }

  async read (q: LoginStateQuery): Promise<LoginState> {
    const assumed = this.owners.get(q.identity) ?? q.identity
    let state: LoginState
    if (!q.withGuard) {
      state = await this.batch(q, assumed, false)
    } else {
      try {
        // the guard's count must be the fleet's: a replica's memory would let replicas add up to the lockout
        state = await this.batch(q, assumed, true)
      } catch {
        const local = await this.batch(q, assumed, false)
        state = { ...local, guard: 'unavailable', replicaGuard: local.guard as GuardState | null }
      }
    }
    if (state.owner === assumed) return state
    // a replica that had not yet seen the user's name: its hold and window, read again
    this.owners.set(q.identity, state.owner)
    const [hold, used] = await this.state.readMany([
      { kind: 'doc', key: loginRateHoldDoc(state.owner) },
      { kind: 'window', key: loginBudgetWindow(state.owner), windowMs: BUDGET_WINDOW_MS },
    ] as const)
    return { ...state, rateHoldUntil: (hold as { until: number } | null)?.until ?? 0, used }
  }

  private async batch (q: LoginStateQuery, owner: string, strict: boolean): Promise<LoginState> {
    const reads: StateRead[] = [
      { kind: 'doc', key: salesforceUserDoc(q.identity) },
      { kind: 'doc', key: loginRateHoldDoc(owner) },
      { kind: 'window', key: loginBudgetWindow(owner), windowMs: BUDGET_WINDOW_MS },
    ]
    const at = (read: StateRead): number => reads.push(read) - 1
    const stored = q.storedVersion
    const cachedAt = stored === undefined ? -1 : at({ kind: 'session', connection: q.connection, secretVersion: stored })
    const circuitAt = stored === undefined ? -1 : at({ kind: 'circuit', connection: q.connection })
    const holdOffAt = q.withHoldOff ? at({ kind: 'doc', key: transientHoldOffDoc(q.connection) }) : -1
    const guardAt = q.withGuard ? at({ kind: 'doc', key: loginGuardDoc(q.identity) }) : -1
    const inFlightAt = q.withGuard ? at({ kind: 'doc', key: loginInFlightDoc(q.identity) }) : -1
    const orgId = orgOfOwner(owner)
    const orgSessionAt = orgId === undefined ? -1 : at({ kind: 'doc', key: orgSessionDoc(orgId) })
    const docsAt = (q.docs ?? []).map(key => at({ kind: 'doc', key }))
    const alsoAt = (q.also ?? []).map(at)
    const values = await this.state.readMany(reads, { strict }) as unknown[]
    const pick = <T>(i: number): T | null => i < 0 ? null : values[i] as T | null
    return {
      owner: pick<string>(0) ?? q.identity,
      rateHoldUntil: pick<{ until: number }>(1)?.until ?? 0,
      used: values[2] as number,
      cached: pick<CachedSession>(cachedAt),
      circuit: pick<CircuitState>(circuitAt),
      holdOff: pick<HoldOff>(holdOffAt),
      guard: guardAt < 0 ? 'not_read' : pick<GuardState>(guardAt),
      ...(inFlightAt < 0 ? {} : { inFlight: pick<SentLogin>(inFlightAt) }),
      ...(orgId === undefined ? {} : { orgSession: { orgId, last: pick<OrgSession>(orgSessionAt) } }),
      docs: Object.fromEntries((q.docs ?? []).map((key, i) => [key, values[docsAt[i]]])),
      also: alsoAt.map(i => values[i]),
    }
  }
}

/** The org of a budget owner that is a known Salesforce user (`sfuser:<org>/<user>`); undefined for a login identity. */
function orgOfOwner (owner: string): string | undefined {
  if (!owner.startsWith('sfuser:')) return undefined
  return owner.slice('sfuser:'.length).split('/')[0] || undefined
}
