import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import type { FailedLoginsRead } from '../salesforce/failed-logins.ts'
import type { ConnectionDefinition, SalesforceSession } from '../salesforce/types.ts'
import type { SharedState } from '../shared-state/shared-state.ts'
import { loginGuardAskedDoc, loginGuardDoc, loginGuardTruthDoc, loginInFlightDoc, loginUserLease, orgSessionDoc, salesforceUserDoc } from '../shared-state/state-names.ts'
import { guardDecision, mergeGuards, sameCount, sameGuard, withFailure, withLateSuccess, withReset, type GuardDecision, type GuardPolicy, type GuardState, type SentLogin } from './login-guard.ts'
import { loginIdentity } from './login-identity.ts'

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
/** a count Redis did not take is tried again this often until it is written (besides at once when Redis is back) */
const WRITE_BACK_RETRY_MS = 1_000
/** how long a write-back may hold the user's login lease (a read, a write and an event) */
const WRITE_BACK_LEASE_MS = 5_000

export interface GuardStoreOptions {
  state: SharedState
  logger: Logger
  guard: GuardPolicy
  now: () => number
  /**
   * Reads Salesforce's own failed-login count and lock of a user through a working session of the
   * same org (src/salesforce/failed-logins.ts); absent: the broker relies on its own count only.
   */
  readFailedLogins?: (session: SalesforceSession, apiVersion: string, userId: string) => Promise<FailedLoginsRead>
}

/**
 * Where the failure guard's count of each Salesforce user lives: in Redis for the fleet, and in
 * this replica's memory (the failures it counted while Redis was unreachable, or before Redis
 * restarted empty); the larger truth is written back to both. The login gate reads it with the
 * rest of a login's state (login-state.ts) and writes it through here.
 */
export class GuardStore {
  private readonly opts: GuardStoreOptions
  /** users whose count this replica wrote while Redis could not take it: merged into Redis when it answers again */
  private readonly unwritten = new Set<string>()
  /** users whose count in this replica's memory holds failures (written or heard): what a Redis that lost its data would lose */
  private readonly counting = new Set<string>()
  /** the write-back running, if one is: close() waits for it */
  private writingBack: Promise<void> | undefined
  private closed = false
  private retry: NodeJS.Timeout | undefined

  constructor (opts: GuardStoreOptions) {
    this.opts = opts
    // Redis answers again, perhaps restarted empty or failed over to a replica that had not caught
    // up: every count this replica holds is merged into it (under each user's lease), not only those
    // it could not write
    opts.state.onRecovered?.(() => {
      for (const identity of this.counting) this.unwritten.add(identity)
      this.writeBack().catch(() => {})
    })
    // every replica keeps the fleet's count in memory as it is written, not only what it counted itself:
    // if Redis comes back empty, whichever replica is asked next still stops short of the lockout
    if (opts.state.tiers) {
      opts.state.onEvent((e) => {
        if (e.type === 'guard' && isGuardState(e.state)) this.heard(e.identity, e.state).catch(() => {})
      })
    }
  }

  /** Another replica's (or this one's) write, merged into this replica's memory. */
  private async heard (identity: string, state: GuardState): Promise<void> {
    const local = this.opts.state.tiers?.local
    if (!local) return
    const key = loginGuardDoc(identity)
    const known = await local.getJson<GuardState>(key)
    const merged = mergeGuards(known, state)
    this.noteCounting(identity, merged)
    if (!sameGuard(merged, known)) await local.putJson(key, merged)
  }

  private noteCounting (identity: string, state: GuardState | null): void {
    if ((state?.failures.length ?? 0) > 0) this.counting.add(identity)
    else this.counting.delete(identity)
  }

  /**
   * The fleet's copy as read (`fleet`), merged with this replica's own, for a view (health, an
   * admin's snapshot). A view holds no lease, so a copy it wrote could land over a failure a login
   * holding the lease counted meanwhile: when this replica knows more than Redis (Redis lost its
   * data, or missed a write), the write-back is left to writeBack, which takes the lease. Without
   * tiers (memory only, or a plain Redis state) the copy is the count.
   */
  async merged (identity: string, fleet: GuardState | null): Promise<GuardState | null> {
    const tiers = this.opts.state.tiers
    if (!tiers) return fleet
    const merged = mergeGuards(fleet, await tiers.local.getJson<GuardState>(loginGuardDoc(identity)))
    if (!sameCount(merged, fleet)) this.writeBackLater(identity)
    return merged
  }

  /**
   * As `merged`, under the user's login lease (the gate, before a password login): a difference is
   * written back to both copies, and nothing else counts a login of the user meanwhile.
   */
  async settled (identity: string, fleet: GuardState | null): Promise<GuardState | null> {
    const tiers = this.opts.state.tiers
    if (!tiers) return fleet
    const key = loginGuardDoc(identity)
    const local = await tiers.local.getJson<GuardState>(key)
    const merged = mergeGuards(fleet, local)
    if (!sameGuard(merged, fleet)) await tiers.fleet.putJson(key, merged).catch(() => { this.writeBackLater(identity) })
    this.noteCounting(identity, merged)
    if (!sameGuard(merged, local)) await tiers.local.putJson(key, merged)
    return merged
  }

  /** The count read on its own (admin views): 'unavailable' when the fleet's copy cannot be read. */
  async read (identity: string): Promise<GuardState | null | 'unavailable'> {
    try {
      const [fleet] = await this.opts.state.readMany([{ kind: 'doc', key: loginGuardDoc(identity) }] as const, { strict: true })
      return await this.merged(identity, fleet as GuardState | null)
    } catch {
      return 'unavailable'
    }
  }

  /**
   * Written to this replica's memory and to the fleet; a copy that did not reach Redis is merged
   * into it as soon as Redis answers again (writeBack), and by any read of this replica before.
   */
  async write (identity: string, state: GuardState): Promise<void> {
    const key = loginGuardDoc(identity)
    const tiers = this.opts.state.tiers
    if (!tiers) return this.opts.state.putJson(key, state)
    this.noteCounting(identity, state)
    await tiers.local.putJson(key, state)
    await tiers.fleet.putJson(key, state).catch((err: unknown) => {
      this.writeBackLater(identity)
      this.opts.logger.warn({ err: { message: (err as Error).message } }, 'failure guard not written to redis: kept in this replica until it is')
    })
    await this.opts.state.publish({ type: 'guard', identity, state }).catch(() => {})
  }

  /**
   * A password login is about to go out under the user's lease: noted for the fleet first, so that
   * if this replica dies before it accounts for the answer (killed, out of memory, its node lost)
   * the next replica to send one counts the login as failed. The note is written to Redis only (a
   * copy in this replica's memory would die with it); when Redis does not take it, this rejects
   * and nothing is sent. The lease takes the note back when it is released (lease.ts `notes`).
   */
  async noteSent (identity: string, sent: SentLogin): Promise<void> {
    await this.fleet.putJson(loginInFlightDoc(identity), sent)
  }

  /**
   * A login sent at `at`, while the count held the failures `before`, succeeded after its caller
   * stopped waiting (the lease was handed on, and is held again for this): those failures go, and
   * every one another replica counted after that login went out stays, whatever its replica's clock
   * stamped (withLateSuccess).
   */
  async resetAsOf (identity: string, at: number, before: readonly number[]): Promise<void> {
    const read = await this.read(identity)
    const current = read === 'unavailable' ? await (this.opts.state.tiers?.local ?? this.opts.state).getJson<GuardState>(loginGuardDoc(identity)) : read
    const next = await this.withLeftNote(identity, withLateSuccess(current, before, at))
    if (!sameGuard(next, current)) await this.write(identity, next)
  }

  /**
   * Under the user's lease, a note still there is a holder's that died before it accounted for its
   * login (or lost its lease): counted, unless the count has it. A reset written now lands after that
   * login went out, so the next sender would no longer count the note (countsUnanswered).
   */
  private async withLeftNote (identity: string, state: GuardState): Promise<GuardState> {
    const left = await this.sentLogin(identity)
    return left && !state.failures.includes(left.at) ? withFailure(state, left.at, undefined, true) : state
  }

  /**
   * Redis answers again (or a retry's turn came, or a view found Redis short of this replica's
   * count): the counts this replica kept meanwhile are merged into the fleet's copy (the later reset
   * wins, every failure after it counts once) and told to every replica, so the next login anywhere
   * knows them. Each under the user's login lease: no
   * login of the user is being counted anywhere while the two copies are merged (a user whose lease
   * is held is tried again later). A login another replica makes before this one is back in touch
   * cannot know them: the README says so.
   */
  private async writeBack (): Promise<void> {
    if (this.writingBack !== undefined || this.closed) return
    this.writingBack = this.writeBackEach().finally(() => {
      this.writingBack = undefined
      if (this.unwritten.size > 0) this.retryWriteBack()
    })
    return this.writingBack
  }

  private async writeBackEach (): Promise<void> {
    const tiers = this.opts.state.tiers
    if (!tiers) return
    for (const identity of [...this.unwritten]) {
      if (this.closed) return
      const owner = randomBytes(8).toString('hex')
      const lease = loginUserLease(identity)
      if (await this.opts.state.claimOnce(lease, owner, WRITE_BACK_LEASE_MS).catch(() => 'unknown') !== 'claimed') continue
      const key = loginGuardDoc(identity)
      try {
        const fleet = await tiers.fleet.getJson<GuardState>(key)
        const local = await tiers.local.getJson<GuardState>(key)
        const merged = mergeGuards(fleet, local)
        if (merged && !sameGuard(merged, fleet)) {
          await tiers.fleet.putJson(key, merged)
          await this.opts.state.publish({ type: 'guard', identity, state: merged })
          if (!sameCount(merged, fleet)) this.opts.logger.info({ failedLogins: merged.failures.length }, 'failure guard: this replica\'s count, which redis did not hold, written back to redis')
        }
        if (merged && !sameGuard(merged, local)) await tiers.local.putJson(key, merged)
        this.unwritten.delete(identity)
      } catch {
        // unreachable or slow again: tried again
      } finally {
        await this.opts.state.releaseLease(lease, owner).catch(() => false)
      }
    }
  }

  /** This replica's copy of the user's count is to reach Redis: merged into it under the user's lease, soon. */
  private writeBackLater (identity: string): void {
    this.unwritten.add(identity)
    this.writeBack().catch(() => {})
  }

  /**
   * The replica stops (before its shared state closes): no write-back starts or is tried again after
   * this, and one running ends after the user it is at (its lease released), which this waits for.
   */
  async close (): Promise<void> {
    this.closed = true
    clearTimeout(this.retry)
    this.retry = undefined
    await this.writingBack?.catch(() => {})
  }

  private retryWriteBack (): void {
    if (this.retry || this.closed) return
    this.retry = setTimeout(() => {
      this.retry = undefined
      this.writeBack().catch(() => {})
    }, WRITE_BACK_RETRY_MS)
    this.retry.unref()
  }

  /**
   * Salesforce's count of the user, read through another working session of the same org (any
   * connection's cached session whose user may read user administration data), replaces the
   * broker's: lower after an unlock or a password reset, higher when someone else failed too. Kept
   * (as read) for health. Unknown — no session of the org, no right to read it — leaves the count.
   */
  async reconcile (identity: string, guard: GuardState | null): Promise<GuardState | null> {
    const read = this.opts.readFailedLogins
    if (!read) return guard
    const state = this.opts.state
    const user = await state.getJson<string>(salesforceUserDoc(identity))
    const [orgId, userId] = user?.replace(/^sfuser:/, '').split('/') ?? []
    if (!orgId || !userId) return guard
    const asked = await state.getJson<{ at: number }>(loginGuardAskedDoc(identity))
    if (asked && this.opts.now() - asked.at < TRUTH_INTERVAL_MS) return guard
    await state.putJson(loginGuardAskedDoc(identity), { at: this.opts.now() }, TRUTH_INTERVAL_MS)
    const where = await state.getJson<{ connection: string, version: number }>(orgSessionDoc(orgId))
    const cached = where ? await state.getSession(where.connection, where.version) : null
    if (!where || !cached) return guard
    const truth = await read(cached.session, cached.apiVersion, userId).catch(() => null)
    if (!truth?.ok) {
      this.opts.logger.info({ via: where.connection, reason: truth?.failure.classification }, 'failure guard: Salesforce\'s failed-login count could not be read; relying on the broker\'s')
      return guard
    }
    const now = this.opts.now()
    await state.putJson(loginGuardTruthDoc(identity), { failedLogins: truth.failedLogins, locked: truth.locked, readAt: now, via: where.connection } satisfies GuardTruth)
    if (truth.locked) return guard
    let next = withReset(guard, now)
    // Salesforce's failures, stamped before the read and apart from every other: the guard tells
    // failures apart by stamp, and a login sent after this read (under the same lease) is stamped now or later
    const taken = new Set([...guard?.unanswered ?? []])
    for (let stamp = now - 1, i = 0; i < truth.failedLogins; i++, stamp--) {
      while (taken.has(stamp)) stamp--
      next = withFailure(next, stamp)
    }
    // a login whose answer never came may be judged after this read: it stays counted besides, until
    // the next read (a minute on, TRUTH_INTERVAL_MS, longer than a login's timeout), by which time
    // Salesforce has judged it or never will
    for (const f of guard?.unanswered ?? []) next = withFailure(next, f)
    // in time order, as every other copy (mergeGuards sorts): the same count in Redis and in memory is the same JSON
    next = { ...next, failures: [...next.failures].sort((x, y) => x - y), truthReadAt: now }
    await this.write(identity, next)
    this.opts.logger.info({ via: where.connection, salesforceFailedLogins: truth.failedLogins, brokerFailedLogins: guard?.failures.length ?? 0 }, 'failure guard: count taken from Salesforce')
    return next
  }

  /**
   * An admin states that Salesforce's failed-login count of the definition's user is zero again
   * (the user was unlocked, or its password reset, in Setup): the guard's count goes with it.
   */
  async acknowledgeReset (definition: ConnectionDefinition, known: readonly number[]): Promise<GuardDecision> {
    const identity = loginIdentity(definition)
    const read = await this.read(identity)
    const current = read === 'unavailable' ? null : read
    // the failures known when the admin asked go; any counted since stays
    const next = await this.withLeftNote(identity, withLateSuccess(current, known, this.opts.now()))
    await this.write(identity, next)
    return guardDecision(next, this.opts.guard)
  }

  /** The note of a password login on its way (noteSent), as Redis holds it; null when none or unreadable. */
  async sentLogin (identity: string): Promise<SentLogin | null> {
    return await this.fleet.getJson<SentLogin>(loginInFlightDoc(identity)).catch(() => null)
  }

  /** Redis (the fleet's tier), never this replica's memory: what must outlive this replica */
  private get fleet (): SharedState {
    return this.opts.state.tiers?.fleet ?? this.opts.state
  }
}

/** An event's guard as sessions/login-guard.ts writes it (events come from other replicas, maybe of another version). */
function isGuardState (value: unknown): value is GuardState {
  const v = value as Partial<GuardState> | null
  return typeof v === 'object' && v !== null && Array.isArray(v.failures) && v.failures.every(f => typeof f === 'number') &&
    Array.isArray(v.candidates) && v.candidates.every(c => typeof c?.hash === 'string' && typeof c.at === 'number') &&
    (v.resetAt === undefined || typeof v.resetAt === 'number') &&
    (v.unanswered === undefined || (Array.isArray(v.unanswered) && v.unanswered.every(f => typeof f === 'number')))
}
