import type { Logger } from 'pino'
import { MemorySharedState } from './memory-state.ts'
import { timedOut } from './redis-client.ts'
import type { BrokerEvent, CachedSession, Confirmations, CircuitState, OnceClaim, Quota, SharedState, StateReach, StateRead, StateReadValue, StreamEntry, StreamRange, StreamRetention } from './shared-state.ts'

/**
 * Redis first, process memory when Redis fails. Writes go to both, so when Redis drops the
 * process still holds the sessions and circuits it knew about: it keeps serving cached sessions,
 * keeps honouring open circuits, and single-flights logins per process until Redis returns.
 */
export class FallbackSharedState implements SharedState {
  readonly kind: 'redis' | 'memory'
  readonly primary: SharedState
  readonly local = new MemorySharedState()
  private readonly logger: Logger
  private degraded = false
  /**
   * Connections whose purge did not reach Redis, with when the latest was made: replayed (purge +
   * event) when it is back, taking only the sessions stored before then
   */
  private readonly pendingPurges = new Map<string, number>()
  /**
   * Entries of the shared logs (the audit streams, dead letters) that did not reach Redis, per log, in
   * order: appended there when it is back, so what a replica recorded during an outage does not
   * vanish from the lists every replica reads. At most the log's own retention, and HELD_MAX, is held.
   */
  private readonly pendingAppends = new Map<string, { entries: string[], retention: StreamRetention }>()
  private replaying = false
  private readonly recoveredListeners: Array<() => void> = []
  /**
   * Purges of each connection made or heard so far: a session read from Redis before a purge and
   * answered after it is not copied into process memory, where an outage would hand it out again.
   */
  private readonly purges = new Map<string, number>()
  /**
   * Changes of each connection's circuit made or heard so far: a circuit read from Redis before a
   * change and answered after it is stale; copied here, the next read would write it back to Redis
   * (followCircuit) and undo, fleet-wide, a clear another replica made.
   */
  private readonly circuitChanges = new Map<string, number>()

  constructor (primary: SharedState, logger: Logger) {
    this.primary = primary
    this.kind = primary.kind
    this.logger = logger
    // back at once, not at this replica's next call to Redis: another replica may be about to read
    // what this one kept in memory meanwhile. Whenever the connection is made again, too, even if no
    // call of this replica failed while it was lost: it may now reach a Redis that restarted empty, or a
    // replica promoted before it held every write, and either lost what this replica keeps (the guard's counts)
    primary.onReady?.(() => { this.markHealthy(true) })
    primary.onEvent((e) => {
      if (e.type === 'purge') this.purged(e.connection)
      if (e.type === 'circuit') this.circuitChanged(e.connection)
      // keep the local copy of circuits in step with the fleet, so an outage starts from the truth; and
      // what a purge took back anywhere (the kill switch, a rotation, a dead token) leaves this replica's
      // copy too, or an outage would serve it again from here
      const sync = e.type === 'purge'
        ? this.local.purgeSessions(e.connection)
        : e.type !== 'circuit' ? Promise.resolve() : e.state ? this.local.putCircuit(e.connection, e.state) : this.local.clearCircuit(e.connection)
      // memory operations don't fail; the chain only orders the copy before waking local waiters
      sync.then(() => this.local.publish(e)).catch(() => {})
    })
  }

  get tiers (): { fleet: SharedState, local: SharedState } {
    return { fleet: this.primary, local: this.local }
  }

  /** true while the last call to the primary failed */
  get isDegraded (): boolean {
    return this.degraded
  }

  /**
   * `askAgain` false: the call adds something (an event to a window, a quota's count), and one that
   * timed out was sent and lands late, so it is not asked twice (that would count it twice).
   */
  private async read<T> (op: string, primary: () => Promise<T>, fallback: () => Promise<T>, askAgain = true): Promise<T> {
    try {
      const value = await primary()
      this.markHealthy()
      return value
    } catch (err) {
      // connected but slow (a command timeout under load): ask once more before answering from
      // process memory, whose "nothing cached" would cost a login another replica already made
      if (askAgain && this.slowNotRefused(err)) {
        try {
          const value = await primary()
          this.markHealthy()
          return value
        } catch {}
      }
      this.markDegraded(op, err)
      return fallback()
    }
  }

  /**
   * Both tiers; `onOutage` keeps what is left to do in Redis when it could not be sent. A command
   * that only timed out is not left to do: it was sent, and Redis runs a connection's commands in
   * order, so it lands late (doing it again would write it twice).
   */
  private async write (op: string, primary: () => Promise<unknown>, local: () => Promise<unknown>, onOutage?: () => void): Promise<void> {
    await local()
    try {
      await primary()
      this.markHealthy()
    } catch (err) {
      this.markDegraded(op, err)
      if (!timedOut(err)) onOutage?.()
    }
  }

  /** Connected, and the error is not Redis refusing the broker: a command that timed out under load. */
  private slowNotRefused (err: unknown): boolean {
    return this.primary.connected === true && this.primary.refuses?.(err) !== true
  }

  private markDegraded (op: string, err: unknown): void {
    if (!this.degraded) {
      this.logger.warn({ op, err: { message: (err as Error).message } }, 'shared state unavailable: serving from process memory')
    }
    this.degraded = true
  }

  onRecovered (listener: () => void): void {
    this.recoveredListeners.push(listener)
  }

  /** `reconnected`: the connection to Redis was made (again), so the recovered listeners run even if no call failed */
  private markHealthy (reconnected = false): void {
    const recovered = this.degraded || reconnected
    if (this.degraded) this.logger.info('shared state available again')
    this.degraded = false
    if (recovered) for (const listener of this.recoveredListeners) listener()
    if ((this.pendingPurges.size > 0 || this.pendingAppends.size > 0) && !this.replaying) this.replayPending().catch(() => {})
  }

  /**
   * Completes what was done while Redis was down: the purges, so every replica drops the old
   * sessions, and the log entries, so every replica lists them.
   */
  private async replayPending (): Promise<void> {
    this.replaying = true
    try {
      for (const [c, madeAt] of [...this.pendingPurges]) {
        // not what the fleet cached since: a login's session, or the adopted one of the rotation that purged
        await this.primary.purgeSessions(c, madeAt)
        await this.primary.publish({ type: 'purge', connection: c })
        // a purge made again meanwhile stays pending
        if (this.pendingPurges.get(c) === madeAt) this.pendingPurges.delete(c)
        this.logger.info({ connection: c }, 'purge made while redis was down completed fleet-wide')
      }
      for (const [name, held] of [...this.pendingAppends]) {
        this.pendingAppends.delete(name)
        // in bounded round trips, each dropped once Redis took it (or only timed out: it lands late)
        for (let i = 0; i < held.entries.length; i += REPLAY_CHUNK) {
          try {
            await this.primary.appendToStreamWithin(name, held.entries.slice(i, i + REPLAY_CHUNK), held.retention)
          } catch (err) {
            // entries that failed meanwhile came after these
            const rest = held.entries.slice(timedOut(err) ? i + REPLAY_CHUNK : i)
            if (rest.length > 0) this.holdAppends(name, rest, held.retention, true)
            throw err
          }
        }
        this.logger.info({ stream: name, entries: held.entries.length }, 'log entries recorded while redis was down written to the shared log')
      }
    } finally {
      this.replaying = false
    }
  }

  /** Keeps entries that did not reach Redis for the replay: the newest the log keeps, at most HELD_MAX. */
  private holdAppends (name: string, entries: string[], retention: StreamRetention, first = false): void {
    const held = this.pendingAppends.get(name)
    const all = held === undefined ? entries : first ? [...entries, ...held.entries] : [...held.entries, ...entries]
    const dropped = all.length - Math.min(retention.maxLen, HELD_MAX)
    if (dropped > 0) this.logger.warn({ stream: name, dropped }, 'log entries recorded while redis is down exceed what is held for the shared log (its retention, at most 10,000): the oldest will not reach it')
    this.pendingAppends.set(name, { entries: dropped > 0 ? all.slice(dropped) : all, retention })
  }

  private purged (c: string): void {
    this.purges.set(c, (this.purges.get(c) ?? 0) + 1)
  }

  private circuitChanged (c: string): void {
    this.circuitChanges.set(c, (this.circuitChanges.get(c) ?? 0) + 1)
  }

  /** A session read from Redis, copied into process memory unless the connection was purged since `before` (purges.get). */
  private async keepCopy (c: string, entry: CachedSession, before: number | undefined): Promise<void> {
    if (this.purges.get(c) === before) await this.local.putSession(c, entry)
  }

  getSession (c: string, v: number): Promise<CachedSession | null> {
    return this.read('getSession', async () => {
      const before = this.purges.get(c)
      const entry = await this.primary.getSession(c, v)
      // keep the local copy warm so an outage can be ridden out
      if (entry) await this.keepCopy(c, entry, before)
      return entry
    }, () => this.local.getSession(c, v))
  }

  storeSession (c: string, e: CachedSession): Promise<void> {
    return this.write('storeSession', () => this.primary.storeSession(c, e), () => this.local.storeSession(c, e))
  }

  /**
   * The batch from Redis, keeping this replica's copies in step as getSession and getCircuit do;
   * from process memory while Redis is down, unless `strict` (then it throws, after waiting for a
   * Sentinel or Cluster failover).
   */
  async readMany<const R extends readonly StateRead[]> (reads: R, opts: { strict?: boolean } = {}): Promise<{ -readonly [K in keyof R]: StateReadValue<R[K]> }> {
    const fromLocal = () => this.local.readMany(reads)
    const fromFleet = async () => {
      const before = new Map(reads.flatMap(read => read.kind === 'session' ? [[read.connection, this.purges.get(read.connection)] as const] : []))
      const circuitsBefore = new Map(reads.flatMap(read => read.kind === 'circuit' ? [[read.connection, this.circuitChanges.get(read.connection)] as const] : []))
      const values = await this.primary.readMany(reads)
      await Promise.all(reads.map(async (read, i) => {
        if (read.kind === 'session' && values[i]) await this.keepCopy(read.connection, values[i] as CachedSession, before.get(read.connection))
        if (read.kind === 'circuit') values[i] = await this.followCircuit(read.connection, values[i] as CircuitState | null, circuitsBefore.get(read.connection))
      }))
      return values
    }
    if (!opts.strict) return this.read('readMany', fromFleet, fromLocal)
    try {
      const values = await fromFleet()
      this.markHealthy()
      return values
    } catch (err) {
      if (!await this.primary.awaitFailover?.().catch(() => false)) throw err
      return fromFleet()
    }
  }

  purgeSessions (c: string, storedBefore?: number): Promise<CachedSession[]> {
    const madeAt = Date.now()
    this.purged(c)
    return this.takeFromBoth('purgeSessions', s => s.purgeSessions(c, storedBefore), () => { this.pendingPurges.set(c, storedBefore ?? madeAt) })
  }

  /**
   * Takes sessions out of both tiers (what only this replica held counts too), each once; when
   * Redis fails, `onOutage` records what is left to do there.
   */
  private async takeFromBoth (op: string, take: (tier: SharedState) => Promise<CachedSession[]>, onOutage?: () => void): Promise<CachedSession[]> {
    const local = await take(this.local)
    try {
      const remote = await take(this.primary)
      this.markHealthy()
      const seen = new Set(remote.map(s => s.session.accessToken))
      return [...remote, ...local.filter(s => !seen.has(s.session.accessToken))]
    } catch (err) {
      this.markDegraded(op, err)
      onOutage?.()
      return local
    }
  }

  /** Both tiers: a session remembered only here (Redis was down) must be revoked too. */
  takeIssued (c: string): Promise<CachedSession[]> {
    return this.takeFromBoth('takeIssued', s => s.takeIssued(c))
  }

  /** Redis up but slow (a command timeout under load) leaves it unknown whether another replica holds the lease: not taken, the login waits and asks again. */
  async acquireLease (name: string, owner: string, ttlMs: number): Promise<boolean> {
    return await this.claimOnce(name, owner, ttlMs) === 'claimed'
  }

  async claimOnce (name: string, owner: string, ttlMs: number): Promise<OnceClaim> {
    try {
      const taken = await this.primary.acquireLease(name, owner, ttlMs)
      this.markHealthy()
      return taken ? 'claimed' : 'held'
    } catch (err) {
      // a refusal (an ACL that does not cover the broker's keys) is an outage: no wait ends it
      if (this.primary.refuses?.(err) !== true) {
        // Redis up but slow: the SET may still land, or another replica's may have; nobody knows.
        // Only an outage falls back to a local lease.
        if (this.primary.connected === true) return 'unknown'
        // Sentinel or Cluster promoting a replica: a local lease here means one login per replica
        if (await this.primary.awaitFailover?.()) {
          try {
            const taken = await this.primary.acquireLease(name, owner, ttlMs)
            this.markHealthy()
            return taken ? 'claimed' : 'held'
          } catch {}
        }
      }
      this.markDegraded('acquireLease', err)
      return await this.local.acquireLease(name, owner, ttlMs) ? 'claimed' : 'held'
    }
  }

  async releaseLease (name: string, owner: string, notes?: readonly string[]): Promise<boolean> {
    const local = await this.local.releaseLease(name, owner, notes)
    try {
      return (await this.primary.releaseLease(name, owner, notes)) || local
    } catch (err) {
      this.markDegraded('releaseLease', err)
      return local
    }
  }

  renewLease (name: string, owner: string, ttlMs: number): Promise<boolean> {
    return this.read('renewLease', () => this.primary.renewLease(name, owner, ttlMs), () => this.local.renewLease(name, owner, ttlMs))
  }

  async addToWindow (key: string, windowMs: number): Promise<number> {
    // the local window counts this replica's own events, so an outage starts from at least those
    const local = await this.local.addToWindow(key, windowMs)
    return this.read('addToWindow', () => this.primary.addToWindow(key, windowMs), async () => local, false)
  }

  /**
   * The fleet's window decides; this replica's own share is counted beside it (what an outage starts
   * from). Not asked twice when slow: a late answer may have added the event already.
   */
  async addToWindowBelow (key: string, windowMs: number, limit: number): Promise<number> {
    try {
      const count = await this.primary.addToWindowBelow(key, windowMs, limit)
      this.markHealthy()
      if (count >= 0) await this.local.addToWindow(key, windowMs)
      return count
    } catch (err) {
      this.markDegraded('addToWindowBelow', err)
      return this.local.addToWindowBelow(key, windowMs, limit)
    }
  }

  countWindow (key: string, windowMs: number): Promise<number> {
    return this.read('countWindow', () => this.primary.countWindow(key, windowMs), () => this.local.countWindow(key, windowMs))
  }

  /** The fleet's count; this replica's own share counted beside it, which is what an outage starts from. */
  takeQuotas (quotas: readonly Quota[]): Promise<number> {
    return this.read('takeQuotas', async () => {
      const full = await this.primary.takeQuotas(quotas)
      if (full < 0) await this.local.takeQuotas(quotas)
      return full
    }, () => this.local.takeQuotas(quotas), false)
  }

  getCircuit (c: string): Promise<CircuitState | null> {
    return this.read('getCircuit', async () => {
      const before = this.circuitChanges.get(c)
      return this.followCircuit(c, await this.primary.getCircuit(c), before)
    }, () => this.local.getCircuit(c))
  }

  /**
   * The fleet's circuit as read, copied here; the local one when Redis forgot it. Changed since the
   * read began (`before`: circuitChanges), the read is stale and this replica's copy, which followed
   * the change, answers; nothing is written.
   */
  private async followCircuit (c: string, remote: CircuitState | null, before: number | undefined): Promise<CircuitState | null> {
    const local = await this.local.getCircuit(c)
    if (this.circuitChanges.get(c) !== before) return local
    // Redis restarted empty (or was down while the circuit opened): the lockout guard must not forget
    if (!remote && local) {
      await this.primary.putCircuit(c, local)
      return local
    }
    if (remote) await this.local.putCircuit(c, remote)
    else if (local) await this.local.clearCircuit(c)
    return remote
  }

  putCircuit (c: string, s: CircuitState): Promise<void> {
    this.circuitChanged(c)
    return this.write('putCircuit', () => this.primary.putCircuit(c, s), () => this.local.putCircuit(c, s))
  }

  clearCircuit (c: string): Promise<void> {
    this.circuitChanged(c)
    return this.write('clearCircuit', () => this.primary.clearCircuit(c), () => this.local.clearCircuit(c))
  }

  getJson<T> (key: string): Promise<T | null> {
    return this.read('getJson', () => this.primary.getJson<T>(key), () => this.local.getJson<T>(key))
  }

  putJson (key: string, value: unknown, ttlMs?: number): Promise<void> {
    return this.write('putJson', () => this.primary.putJson(key, value, ttlMs), () => this.local.putJson(key, value, ttlMs))
  }

  appendToStream (name: string, entry: string, maxLen: number): Promise<void> {
    return this.write('appendToStream', () => this.primary.appendToStream(name, entry, maxLen), () => this.local.appendToStream(name, entry, maxLen), () => this.holdAppends(name, [entry], { maxLen }))
  }

  readStream (name: string, count: number, before?: string): Promise<StreamEntry[]> {
    return this.read('readStream', () => this.primary.readStream(name, count, before), () => this.local.readStream(name, count, before))
  }

  appendToStreamWithin (name: string, entries: string[], retention: StreamRetention): Promise<void> {
    return this.write('appendToStreamWithin', () => this.primary.appendToStreamWithin(name, entries, retention), () => this.local.appendToStreamWithin(name, entries, retention), () => this.holdAppends(name, entries, retention))
  }

  readStreamRange (name: string, range: StreamRange): Promise<StreamEntry[]> {
    return this.read('readStreamRange', () => this.primary.readStreamRange(name, range), () => this.local.readStreamRange(name, range))
  }

  async publish (event: BrokerEvent): Promise<void> {
    try {
      await this.primary.publish(event)
    } catch (err) {
      // other replicas miss this one; their local copies expire on their own
      this.markDegraded('publish', err)
      await this.local.publish(event)
    }
  }

  async publishConfirmed (event: BrokerEvent, timeoutMs: number): Promise<Confirmations> {
    try {
      return await this.primary.publishConfirmed(event, timeoutMs)
    } catch (err) {
      // nobody was told: a purge is announced again once Redis answers, and the answer says it is pending
      this.markDegraded('publish', err)
      if (event.type === 'purge') this.pendingPurges.set(event.connection, Date.now())
      await this.local.publish(event)
      return { unconfirmed: Promise.resolve(null) }
    }
  }

  onEvent (listener: (e: BrokerEvent) => void): void {
    this.local.onEvent(listener)
  }

  probe (): Promise<StateReach> {
    return this.primary.probe()
  }

  async close (): Promise<void> {
    await this.primary.close()
    await this.local.close()
  }
}

/** Entries per round trip of a replay: a long outage's backlog is not one pipeline that times out whole. */
const REPLAY_CHUNK = 500
/**
 * Entries held per log while Redis is unreachable, as the durable audit sinks hold records: the
 * sinks and the log lines keep every record; this is what the shared list gets back.
 */
const HELD_MAX = 10_000
