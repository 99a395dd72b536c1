import { readOneByOne } from './read-one-by-one.ts'
import type { BrokerEvent, CachedSession, Confirmations, CircuitState, OnceClaim, Quota, SharedState, StateReach, StateRead, StateReadValue, StreamEntry, StreamRange, StreamRetention } from './shared-state.ts'

interface Expiring<T> { value: T, expiresAt: number }

const idTime = (id: string): number => Number(id.slice(0, id.indexOf('-')))
/** the sequence grows with every entry of this process: it alone orders them */
const idSequence = (id: string): number => Number(id.slice(id.indexOf('-') + 1))

const MAX_STREAM_IN_MEMORY = 1000

/**
 * Process-local SharedState: the embedded default (single replica, no Redis) and the fallback a
 * Redis-backed broker uses while Redis is unreachable. Same semantics as the Redis state.
 */
export class MemorySharedState implements SharedState {
  readonly kind = 'memory' as const
  private readonly sessions = new Map<string, Map<number, CachedSession>>()
  /** when each cached entry was put here (purgeSessions' storedBefore) */
  private readonly storedAt = new WeakMap<CachedSession, number>()
  private readonly leases = new Map<string, Expiring<string>>()
  private readonly circuits = new Map<string, CircuitState>()
  private readonly docs = new Map<string, Expiring<unknown>>()
  private readonly windows = new Map<string, number[]>()
  private readonly quotas = new Map<string, Expiring<number>>()
  private quotasSweptAt = 0
  private readonly listeners: Array<(e: BrokerEvent) => void> = []
  private readonly streams = new Map<string, StreamEntry[]>()
  private streamSequence = 0
  private readonly issued = new Map<string, Map<string, CachedSession>>()
  private lastStreamMs = 0

  async getSession (connection: string, secretVersion: number): Promise<CachedSession | null> {
    const entry = this.sessions.get(connection)?.get(secretVersion)
    if (!entry) return null
    if (entry.validUntil <= Date.now()) {
      this.sessions.get(connection)?.delete(secretVersion)
      return null
    }
    return entry
  }

  /** Caches a session without remembering it as issued here: FallbackSharedState's copy of one the fleet holds. */
  async putSession (connection: string, entry: CachedSession): Promise<void> {
    let byVersion = this.sessions.get(connection)
    if (!byVersion) {
      byVersion = new Map()
      this.sessions.set(connection, byVersion)
    }
    byVersion.set(entry.secretVersion, entry)
    this.storedAt.set(entry, Date.now())
  }

  async storeSession (connection: string, entry: CachedSession): Promise<void> {
    await this.putSession(connection, entry)
    await this.rememberIssued(connection, entry)
  }

  async readMany<const R extends readonly StateRead[]> (reads: R): Promise<{ -readonly [K in keyof R]: StateReadValue<R[K]> }> {
    return await readOneByOne(this, reads) as { -readonly [K in keyof R]: StateReadValue<R[K]> }
  }

  async purgeSessions (connection: string, storedBefore?: number): Promise<CachedSession[]> {
    const byVersion = this.sessions.get(connection)
    if (!byVersion) return []
    const removed = [...byVersion.values()].filter(e => storedBefore === undefined || (this.storedAt.get(e) ?? 0) <= storedBefore)
    for (const entry of removed) byVersion.delete(entry.secretVersion)
    if (byVersion.size === 0) this.sessions.delete(connection)
    return removed
  }

  private async rememberIssued (connection: string, entry: CachedSession): Promise<void> {
    let byToken = this.issued.get(connection)
    if (!byToken) {
      byToken = new Map()
      this.issued.set(connection, byToken)
    }
    const now = Date.now()
    for (const [token, e] of byToken) if (e.realEnd <= now) byToken.delete(token)
    byToken.set(entry.session.accessToken, entry)
  }

  async takeIssued (connection: string): Promise<CachedSession[]> {
    const now = Date.now()
    const alive = [...(this.issued.get(connection)?.values() ?? [])].filter(e => e.realEnd > now)
    this.issued.delete(connection)
    return alive
  }

  async acquireLease (name: string, owner: string, ttlMs: number): Promise<boolean> {
    const now = Date.now()
    const held = this.leases.get(name)
    if (held && held.expiresAt > now) return false
    this.leases.set(name, { value: owner, expiresAt: now + ttlMs })
    return true
  }

  async claimOnce (name: string, owner: string, ttlMs: number): Promise<OnceClaim> {
    return await this.acquireLease(name, owner, ttlMs) ? 'claimed' : 'held'
  }

  async releaseLease (name: string, owner: string, notes: readonly string[] = []): Promise<boolean> {
    const held = this.leases.get(name)
    if (!held || held.value !== owner) return false
    for (const note of notes) this.docs.delete(note)
    this.leases.delete(name)
    return true
  }

  async renewLease (name: string, owner: string, ttlMs: number): Promise<boolean> {
    const held = this.leases.get(name)
    if (!held || held.value !== owner || held.expiresAt <= Date.now()) return false
    held.expiresAt = Date.now() + ttlMs
    return true
  }

  addToWindow (key: string, windowMs: number): Promise<number> {
    return this.addToWindowBelow(key, windowMs, Infinity)
  }

  async addToWindowBelow (key: string, windowMs: number, limit: number): Promise<number> {
    // no await between the count and the add: that is what makes it atomic here
    const now = Date.now()
    const events = (this.windows.get(key) ?? []).filter(t => now - t < windowMs)
    if (events.length >= limit) return -1
    events.push(now)
    this.windows.set(key, events)
    return events.length
  }

  async countWindow (key: string, windowMs: number): Promise<number> {
    const now = Date.now()
    const events = (this.windows.get(key) ?? []).filter(t => now - t < windowMs)
    if (events.length === 0) this.windows.delete(key)
    else this.windows.set(key, events)
    return events.length
  }

  async takeQuotas (quotas: readonly Quota[]): Promise<number> {
    const now = Date.now()
    // each window is another name: ended ones are dropped once a minute, or they would pile up
    if (now - this.quotasSweptAt >= 60_000) {
      this.quotasSweptAt = now
      for (const [key, q] of this.quotas) if (q.expiresAt <= now) this.quotas.delete(key)
    }
    const counts = quotas.map((q) => {
      const held = this.quotas.get(q.key)
      return held && held.expiresAt > now ? held : undefined
    })
    const full = quotas.findIndex((q, i) => (counts[i]?.value ?? 0) >= q.limit)
    if (full >= 0) return full
    quotas.forEach((q, i) => {
      const held = counts[i]
      if (held) held.value++
      else this.quotas.set(q.key, { value: 1, expiresAt: now + q.ttlMs })
    })
    return -1
  }

  async getCircuit (connection: string): Promise<CircuitState | null> {
    return this.circuits.get(connection) ?? null
  }

  async putCircuit (connection: string, state: CircuitState): Promise<void> {
    this.circuits.set(connection, state)
  }

  async clearCircuit (connection: string): Promise<void> {
    this.circuits.delete(connection)
  }

  async getJson<T> (key: string): Promise<T | null> {
    const doc = this.docs.get(key)
    if (!doc) return null
    if (doc.expiresAt <= Date.now()) {
      this.docs.delete(key)
      return null
    }
    return doc.value as T
  }

  async putJson (key: string, value: unknown, ttlMs?: number): Promise<void> {
    this.docs.set(key, { value, expiresAt: ttlMs ? Date.now() + ttlMs : Number.POSITIVE_INFINITY })
  }

  async appendToStream (name: string, entry: string, maxLen: number): Promise<void> {
    await this.appendToStreamWithin(name, [entry], { maxLen })
  }

  async readStream (name: string, count: number, before?: string): Promise<StreamEntry[]> {
    const stream = this.streams.get(name) ?? []
    const end = before === undefined ? stream.length : stream.findIndex((e) => e.id === before)
    return stream.slice(Math.max(0, end - count), Math.max(0, end)).reverse()
  }

  async appendToStreamWithin (name: string, entries: string[], retention: StreamRetention): Promise<void> {
    const stream = this.streams.get(name) ?? []
    // ids as Redis makes them, <ms>-<sequence>, never going back in time: ranges by time work alike
    const ms = Math.max(Date.now(), this.lastStreamMs)
    this.lastStreamMs = ms
    for (const entry of entries) stream.push({ id: `${ms}-${++this.streamSequence}`, entry })
    // process memory holds a replica's own recent entries, not the fleet's history
    const cap = Math.min(retention.maxLen, MAX_STREAM_IN_MEMORY)
    if (stream.length > cap) stream.splice(0, stream.length - cap)
    if (retention.maxAgeMs !== undefined) {
      const oldest = ms - retention.maxAgeMs
      let drop = 0
      while (drop < stream.length && idTime(stream[drop].id) < oldest) drop++
      if (drop > 0) stream.splice(0, drop)
    }
    this.streams.set(name, stream)
  }

  async readStreamRange (name: string, range: StreamRange): Promise<StreamEntry[]> {
    const stream = this.streams.get(name) ?? []
    const afterSeq = range.after === undefined ? undefined : idSequence(range.after)
    const inRange = (e: StreamEntry): boolean => {
      const ms = idTime(e.id)
      if (range.sinceMs !== undefined && ms < range.sinceMs) return false
      if (range.untilMs !== undefined && ms > range.untilMs) return false
      if (afterSeq === undefined) return true
      return range.order === 'asc' ? idSequence(e.id) > afterSeq : idSequence(e.id) < afterSeq
    }
    const ordered = range.order === 'asc' ? stream : [...stream].reverse()
    const out: StreamEntry[] = []
    for (const e of ordered) {
      if (out.length >= range.count) break
      if (inRange(e)) out.push(e)
    }
    return out
  }

  async publish (event: BrokerEvent): Promise<void> {
    for (const l of this.listeners) l(event)
  }

  /** process memory is one replica's: nobody else to confirm */
  async publishConfirmed (event: BrokerEvent): Promise<Confirmations> {
    await this.publish(event)
    return { unconfirmed: Promise.resolve([] as string[]) }
  }

  onEvent (listener: (e: BrokerEvent) => void): void {
    this.listeners.push(listener)
  }

  async probe (): Promise<StateReach> {
    return 'ok'
  }

  async close (): Promise<void> {
    this.sessions.clear()
    this.leases.clear()
  }
}
