import type { SalesforceSession, Classification } from '../salesforce/types.ts'

/** A Salesforce session as the broker caches it. */
export interface CachedSession {
  session: SalesforceSession
  /** secret version the session was obtained with: rotation makes older entries unusable */
  secretVersion: number
  /** REST API version of the connection, told to callers */
  apiVersion: string
  /** epoch ms when Salesforce will consider the session dead (issuedAt + org timeout) */
  realEnd: number
  /** epoch ms after which the broker stops handing the session out (realEnd - safety margin) */
  validUntil: number
}

/** Fleet-wide memory of a credential failure: while it says so, nobody logs in with that secret version. */
export interface CircuitState {
  secretVersion: number
  classification: Exclude<Classification, 'ok'>
  message: string
  hint: string
  /** consecutive credential failures with this secret version */
  failures: number
  openedAt: number
  /** epoch ms when one probe login is allowed */
  retryAt: number
}

export type BrokerEvent =
  | { type: 'session', connection: string, secretVersion: number }
  | { type: 'purge', connection: string }
  /** carries the new state so every replica's local copy follows (null = cleared) */
  | { type: 'circuit', connection: string, state: CircuitState | null }
  /**
   * a login identity's failure guard as just written (sessions/login-guard.ts), so every replica's
   * memory holds the count too, should Redis lose it (a restart without persistence, a failover)
   */
  | { type: 'guard', identity: string, state: unknown }
  /**
   * a connection's health result was recorded (src/health/): every other replica's gauges follow it
   * (`from`: the recording replica's random id; it updated its own gauges as it recorded)
   */
  | { type: 'health', connection: string, from: string }

export interface StreamEntry { id: string, entry: string }

/** What a shared log keeps: about the newest `maxLen` entries, none added more than `maxAgeMs` ago. */
export interface StreamRetention { maxLen: number, maxAgeMs?: number }

/**
 * A slice of a stream in time order. Entry ids start with the millisecond the entry was added, so
 * `sinceMs`/`untilMs` bound by that time (both inclusive); `after` is an id from an earlier slice
 * read in the same order: the slice continues past it (exclusive) instead of starting at the bound.
 */
export interface StreamRange {
  order: 'asc' | 'desc'
  count: number
  after?: string
  sinceMs?: number
  untilMs?: number
}

/** Sealed sessions of a connection: the cache, its purge, and the kill switch's list of what was handed out. */
export interface SessionCache {
  getSession (connection: string, secretVersion: number): Promise<CachedSession | null>
  /**
   * A session just obtained: cached under its secret version, and remembered (sealed like the
   * cache) until Salesforce ends it, in one round trip. Whoever received it may still use it, so
   * the kill switch must reach it even after a rotation or an adopted session replaced it in the cache.
   */
  storeSession (connection: string, entry: CachedSession): Promise<void>
  /**
   * Drops every cached session of the connection (all secret versions) and returns them (for
   * revocation); with `storedBefore` (epoch ms), only those stored by then: a purge made again
   * after Redis failed it, which must not take what the fleet cached since.
   */
  purgeSessions (connection: string, storedBefore?: number): Promise<CachedSession[]>
  /** Every remembered session of the connection still alive (before its realEnd), forgotten as it is returned. */
  takeIssued (connection: string): Promise<CachedSession[]>
}

/** The circuit of each connection: the fleet-wide memory of a credential failure. */
export interface CircuitStore {
  getCircuit (connection: string): Promise<CircuitState | null>
  putCircuit (connection: string, state: CircuitState): Promise<void>
  clearCircuit (connection: string): Promise<void>
}

/**
 * Named leases with an owner token (names: state-names.ts). A lease never released is a marker
 * that lives its ttl: a cool-down, or "only the first replica does this".
 */
export interface Leases {
  /** Takes the lease if nobody holds it; `owner` is a random token so only the holder can release it. */
  acquireLease (name: string, owner: string, ttlMs: number): Promise<boolean>
  /**
   * Releases the lease only if `owner` still holds it (compare-and-delete), and with it, in the same
   * step, `notes`: documents of the same owner (state-names.ts) that stand only while the work under
   * the lease runs. A holder that lost its lease takes back neither.
   */
  releaseLease (name: string, owner: string, notes?: readonly string[]): Promise<boolean>
  /** Extends the lease to `ttlMs` from now, only if `owner` still holds it (compare-and-expire). */
  renewLease (name: string, owner: string, ttlMs: number): Promise<boolean>
  /**
   * A lease taken to do something once fleet-wide (tell an event): `unknown` when Redis is connected
   * but did not answer in time, so nobody can say whether another replica holds it. A login waits
   * and asks again (acquireLease answers false then); a notification goes out rather than be lost.
   */
  claimOnce (name: string, owner: string, ttlMs: number): Promise<OnceClaim>
}

export type OnceClaim = 'claimed' | 'held' | 'unknown'

/** Small JSON documents shared by replicas: holds, guards, health results (names: state-names.ts). */
export interface Documents {
  getJson<T> (key: string): Promise<T | null>
  putJson (key: string, value: unknown, ttlMs?: number): Promise<void>
}

/** One fixed window of a quota: its count lives `ttlMs` from the first event, so its name names the window (its start). */
export interface Quota { key: string, limit: number, ttlMs: number }

/** Rolling windows of events, and fixed-window quotas (names: state-names.ts). */
export interface Windows {
  /** Adds one event now to a rolling window (e.g. logins per user per hour) and returns how many it holds. */
  addToWindow (key: string, windowMs: number): Promise<number>
  /** How many events the rolling window holds now. */
  countWindow (key: string, windowMs: number): Promise<number>
  /**
   * Adds one event now if the rolling window holds fewer than `limit`, atomically (two replicas, or
   * two leases of one Salesforce user, never both take the last one): the count with it, or -1.
   */
  addToWindowBelow (key: string, windowMs: number, limit: number): Promise<number>
  /**
   * Counts one event in every quota if each is below its limit, atomically (two replicas never
   * both take the last one); returns the index of the first quota that is full (then nothing is
   * counted), or -1 (counted in all). A counter, not a log of events: a cap of 100,000 a day costs
   * one small key. In Redis Cluster the quotas of one call share an owner (one slot).
   */
  takeQuotas (quotas: readonly Quota[]): Promise<number>
}

/** Capped logs every replica reads (names: state-names.ts). */
export interface Streams {
  /** Appends an entry to a capped log every replica reads (e.g. dead letters); about the newest `maxLen` are kept. */
  appendToStream (name: string, entry: string, maxLen: number): Promise<void>
  /** Up to `count` entries of the log, newest first, older than the entry `before` (an id from an earlier page). */
  readStream (name: string, count: number, before?: string): Promise<StreamEntry[]>
  /**
   * Appends entries to a log every replica reads (the audit streams), in order, in one round trip,
   * and trims the log to its retention: about the newest `maxLen` entries (Redis trims whole
   * blocks), none added more than `maxAgeMs` ago.
   */
  appendToStreamWithin (name: string, entries: string[], retention: StreamRetention): Promise<void>
  /** Entries of the log in the range, oldest first (`asc`) or newest first (`desc`). */
  readStreamRange (name: string, range: StreamRange): Promise<StreamEntry[]>
}

/** One read of a batch (readMany): a cached session, a circuit, a document or a rolling window's count. */
export type StateRead =
  | { kind: 'session', connection: string, secretVersion: number }
  | { kind: 'circuit', connection: string }
  | { kind: 'doc', key: string }
  | { kind: 'window', key: string, windowMs: number }

/** What a read of a batch answers, by its kind. */
export type StateReadValue<R extends StateRead> =
  R extends { kind: 'session' } ? CachedSession | null
    : R extends { kind: 'circuit' } ? CircuitState | null
      : R extends { kind: 'window' } ? number
        : unknown

/**
 * Several reads in as few round trips as the topology allows (one command on one server or
 * Sentinel; one per key on Cluster, whose slots one command cannot span): everything one decision
 * needs, read at one moment. The login funnel reads all of a login's state this way.
 */
export interface BatchReads {
  /**
   * `strict`: a state answering from process memory while Redis is down (FallbackSharedState)
   * throws instead of answering from it (after waiting, bounded, for a failover): what must hold
   * fleet-wide is not read from one replica's memory.
   */
  readMany<const R extends readonly StateRead[]> (reads: R, opts?: { strict?: boolean }): Promise<{ -readonly [K in keyof R]: StateReadValue<R[K]> }>
}

/** The answers to an event published for confirmation (EventBus.publishConfirmed). */
export interface Confirmations {
  /**
   * never rejects: the live replicas that did not confirm in time, or null when nobody can tell
   * (the roll could not be read, this replica cannot hear answers, or the event could not be
   * published: then it is published again once Redis answers)
   */
  unconfirmed: Promise<string[] | null>
}

/** Events between replicas: a session stored, sessions purged, a circuit changed. */
export interface EventBus {
  publish (event: BrokerEvent): Promise<void>
  /**
   * Publishes an event every live replica must confirm it applied (a purge: "a 200 means it
   * happened everywhere"). Resolves once published; `unconfirmed` then tells, without ever
   * rejecting, the live replicas that had not confirmed `timeoutMs` later (none as soon as all
   * have, or when there are no others; null when that cannot be known).
   */
  publishConfirmed (event: BrokerEvent, timeoutMs: number): Promise<Confirmations>
  onEvent (listener: (event: BrokerEvent) => void): void
}

export type StateReach = 'ok' | 'unreachable' | 'refused'

/**
 * State shared by every broker replica: Redis in production, process memory when no Redis is
 * configured (one replica) or while Redis is down. A consumer that needs one role declares that
 * role (e.g. `Documents`, `Leases & Streams`), not the whole.
 */
export interface SharedState extends SessionCache, CircuitStore, Leases, Documents, Windows, Streams, EventBus, BatchReads {
  readonly kind: 'redis' | 'memory'
  /** Redis only: whether the connection is up right now */
  readonly connected?: boolean
  /**
   * Redis with a failover (Sentinel, Cluster) only: waits, bounded, for the connection to come back;
   * true when it did. A login that found Redis unreachable asks before logging in on its own.
   */
  awaitFailover? (): Promise<boolean>
  /**
   * A state that answers from process memory while Redis is down (FallbackSharedState) shows its
   * two tiers apart: what must hold fleet-wide — the lockout guard's count — reads the fleet's tier
   * and fails closed when it cannot, rather than trusting one replica's memory.
   */
  readonly tiers?: { fleet: SharedState, local: SharedState }
  /**
   * A state with tiers only: `listener` runs each time Redis answers again after it could not be
   * reached (a call failed, or the connection was lost and made again, though nothing was asked
   * meanwhile), so what was kept in process memory (the guard's counts) is written back.
   */
  onRecovered? (listener: () => void): void
  /** Redis only: `listener` runs each time the connection is up again (ioredis' ready) */
  onReady? (listener: () => void): void
  /**
   * Whether the state can be used now: `refused` while Redis turns the broker away (a wrong password,
   * or an ACL that does not cover its keys, its channel or a command it sends), which no retry changes
   */
  probe (): Promise<StateReach>
  /**
   * Redis only: whether an error is Redis refusing the broker (NOPERM, WRONGPASS, NOAUTH), not being
   * slow: a caller that would wait and ask again while connected treats it as an outage instead
   */
  refuses? (err: unknown): boolean
  close (): Promise<void>
}
