import { createHash } from 'node:crypto'
import type { ChainableCommander } from 'ioredis'
import type { Logger } from 'pino'
import type { Clock } from '../clock.ts'
import { createRedisClient, redisTopology, timedOut, type BrokerRedisOptions, type RedisClient, type RedisSettings } from './redis-client.ts'
import { RedisKeys } from './redis-keys.ts'
import { isRedisRefusal, redisReason, RefusalRecord } from './redis-refusal.ts'
import { ReplicaRoll, type ConfirmAnswer, type ConfirmRequest } from './replica-roll.ts'
import { SessionSealer } from './session-crypto.ts'
import type { BrokerEvent, CachedSession, Confirmations, CircuitState, OnceClaim, Quota, SharedState, StateReach, StateRead, StateReadValue, StreamEntry, StreamRange, StreamRetention } from './shared-state.ts'

export interface RedisStateOptions {
  /** which Redis (one server, Sentinel or Cluster), with credentials and TLS */
  redis: RedisSettings
  keyPrefix: string
  sealer: SessionSealer
  logger: Logger
  /** with Sentinel or Cluster: how long awaitFailover() waits (REDIS_FAILOVER_WAIT_MS) */
  failoverWaitMs?: number
  /** for tests: faster reconnects */
  redisOptions?: Partial<BrokerRedisOptions>
  /** the roll call's heartbeat timer (src/shared-state/replica-roll.ts) */
  clock?: Clock
}

/** the lease (KEYS[1]) and its notes (KEYS[2..]), all of one owner's slot, deleted only by the lease's holder */
const RELEASE_IF_OWNER = 'if redis.call(\'get\', KEYS[1]) == ARGV[1] then for i = 2, #KEYS do redis.call(\'del\', KEYS[i]) end return redis.call(\'del\', KEYS[1]) else return 0 end'
const RENEW_IF_OWNER = 'if redis.call(\'get\', KEYS[1]) == ARGV[1] then return redis.call(\'pexpire\', KEYS[1], ARGV[2]) else return 0 end'
/**
 * A rolling window as a sorted set of event times: old members trimmed, then, if it holds fewer than
 * ARGV[4] events, one added and the rest counted, atomically; else -1 and nothing added.
 */
const ADD_TO_WINDOW_BELOW = `
redis.call('zremrangebyscore', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('zcard', KEYS[1]) >= tonumber(ARGV[4]) then return -1 end
redis.call('zadd', KEYS[1], ARGV[1], ARGV[3])
redis.call('pexpire', KEYS[1], ARGV[2])
return redis.call('zcard', KEYS[1])`

/** Fixed-window counters: if every one is below its limit (ARGV 2i-1), each is incremented (ttl ARGV 2i from its first event); else the 0-based index of the first full one. */
const TAKE_QUOTAS = `
for i = 1, #KEYS do
  if tonumber(redis.call('get', KEYS[i]) or '0') >= tonumber(ARGV[2 * i - 1]) then return i - 1 end
end
for i = 1, #KEYS do
  if redis.call('incr', KEYS[i]) == 1 then redis.call('pexpire', KEYS[i], ARGV[2 * i]) end
end
return -1`

/**
 * A session just obtained, in one round trip: cached under its version (KEYS[1], ttl ARGV[2]),
 * indexed for purges (KEYS[2], kept at least a day), and remembered for the kill switch in the
 * connection's hash of issued sessions (KEYS[3], field ARGV[3] = ARGV[4], living as long as its
 * longest-lived session: ARGV[5]). All three keys carry the connection's hash tag. A field ends in
 * `:<realEnd>` (issuedField): those Salesforce has ended by now (ARGV[6]) go, or the hash of a
 * connection that logs in every few hours, never expiring, would keep every session ever obtained.
 */
const STORE_SESSION = `
redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('sadd', KEYS[2], KEYS[1])
redis.call('pexpire', KEYS[2], math.max(tonumber(ARGV[2]), 86400000))
local now = tonumber(ARGV[6])
for _, field in ipairs(redis.call('hkeys', KEYS[3])) do
  local ended = tonumber(string.match(field, ':(%d+)$'))
  if ended and ended <= now then redis.call('hdel', KEYS[3], field) end
end
redis.call('hset', KEYS[3], ARGV[3], ARGV[4])
if redis.call('pttl', KEYS[3]) < tonumber(ARGV[5]) then redis.call('pexpire', KEYS[3], ARGV[5]) end
return 1`

/**
 * A purge of the sessions the index (KEYS[1]) listed when it was read (KEYS[2..], all of the
 * connection's slot): each read and deleted, and only those taken out of the index, atomically.
 * With ARGV (a replayed purge), only a key whose value is still ARGV[i - 1] ('' for a key that had
 * none) goes; one written since is left as it is. Keys are passed, not looked up in the script, as
 * Redis asks of scripts on Cluster (https://redis.io/docs/latest/develop/interact/programmability/eval-intro/).
 * A key missing or left answers nil (false in Lua, so the table keeps its length).
 */
const PURGE_INDEXED = `
local out = {}
for i = 2, #KEYS do
  local value = redis.call('get', KEYS[i])
  if #ARGV == 0 or (value or '') == ARGV[i - 1] then
    out[i - 1] = value or false
    redis.call('del', KEYS[i])
    redis.call('srem', KEYS[1], KEYS[i])
  else
    out[i - 1] = false
  end
end
return out`

/** The cached copy of a session: the entry, and when it was stored (absent in copies older releases wrote). */
type StoredSession = CachedSession & { storedAt?: number }

function parseCached (plain: string): { entry: CachedSession, storedAt: number | undefined } {
  const { storedAt, ...entry } = JSON.parse(plain) as StoredSession
  return { entry, storedAt }
}

/**
 * Entries appended to a stream (KEYS[1]) in one command: each with the count limit (ARGV[1], approximate:
 * whole nodes go), then, when ARGV[2] is not empty, everything older than that id trimmed, exact (XADD
 * takes only one of MAXLEN and MINID); the entries are ARGV[3..].
 */
const APPEND_WITHIN = `
for i = 3, #ARGV do redis.call('xadd', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[i]) end
if ARGV[2] ~= '' then redis.call('xtrim', KEYS[1], 'MINID', ARGV[2]) end
return 1`

/**
 * A batch of reads in one command (readMany): KEYS[i] is a string read when ARGV[i] is empty, else
 * a rolling window counted after ARGV[i] (exclusive). A missing key answers nil (false in Lua, so
 * the table keeps its length).
 */
const READ_MANY = `
local out = {}
for i, key in ipairs(KEYS) do
  if ARGV[i] == '' then out[i] = redis.call('get', key) else out[i] = redis.call('zcount', key, '(' .. ARGV[i], '+inf') end
end
return out`

/**
 * How long a lockout-guard write waits for a replica to hold it (WAIT). Replication is
 * asynchronous: without this, a primary lost right after a write can take the write with it, and a
 * promoted replica would let a locked-out user's password be tried again.
 */
const REPLICA_ACK_TIMEOUT_MS = 250

/** Leases remembered as perhaps taken late (acquireLease): a bound, should their owners never ask again. */
const UNSURE_LEASES_MAX = 1000

/** How long after ioredis gave a client up it is started again (its own retries back off to 2 s). */
const RESTART_AFTER_END_MS = 500

/**
 * SharedState in Redis, shared by every replica. Commands fail fast while Redis is down
 * (no offline queue) so the broker falls back to process memory instead of hanging requests.
 * Keys of one connection share a hash tag, so the layout also works on Redis Cluster.
 */
export class RedisSharedState implements SharedState {
  readonly kind = 'redis' as const
  readonly client: RedisClient
  private readonly subscriber: RedisClient
  private readonly keys: RedisKeys
  /** replicas a lockout-guard write waits for: 1 with Sentinel or Cluster, none with one server */
  private readonly replicasToWait: number
  private unreplicated = false
  private readonly failoverWaitMs: number
  /** epoch ms: when the current outage's failover wait ends (awaitFailover); cleared once Redis is ready again */
  private failoverWaitEndsAt: number | undefined
  private readonly sealer: SessionSealer
  private readonly listeners: Array<(e: BrokerEvent) => void> = []
  private readonly channel: string
  private readonly logger: Logger
  /** who else is alive, and who confirmed a purge */
  readonly roll: ReplicaRoll
  /** close() was called: a client's end is ours, not ioredis giving up */
  private closing = false
  /** leases whose SET timed out, by key: the owner it was sent for (acquireLease) */
  private readonly unsureLeases = new Map<string, string>()
  /** what Redis refuses the broker now (readiness, the error log) */
  private readonly refusals: RefusalRecord
  private readonly subscribe: () => void

  constructor (opts: RedisStateOptions) {
    this.keys = new RedisKeys(opts.keyPrefix)
    this.replicasToWait = redisTopology(opts.redis) === 'standalone' ? 0 : 1
    // one server that is down stays down until someone restarts it: nothing to wait for
    this.failoverWaitMs = this.replicasToWait > 0 ? opts.failoverWaitMs ?? 5000 : 0
    this.sealer = opts.sealer
    this.logger = opts.logger
    this.refusals = new RefusalRecord({ keyPrefix: opts.keyPrefix, logger: opts.logger })
    this.channel = this.keys.events
    this.client = createRedisClient(opts.redis, 'commands', opts.redisOptions)
    // ioredis re-subscribes after a reconnect itself (autoResubscribe) without handling its SUBSCRIBE's
    // rejection: a client closed while that is in flight (a replica stopping during a Redis flap)
    // left it unhandled, which ends the process. One server and Sentinel re-subscribe here instead, on
    // every ready (test/shared-state/resubscribe.test.ts); a Cluster client keeps its own subscriber.
    const cluster = redisTopology(opts.redis) === 'cluster'
    this.subscriber = createRedisClient(opts.redis, 'subscriber', cluster ? opts.redisOptions : { autoResubscribe: false, ...opts.redisOptions })
    for (const [name, conn] of [['redis', this.client], ['redis-subscriber', this.subscriber]] as const) {
      let down = false
      conn.on('error', (err: Error) => {
        if (!down) this.logger.warn({ component: name, err: { message: redisReason(err) } }, 'redis unavailable')
        down = true
        if (conn === this.client) this.refusals.heard('connection', err)
      })
      conn.on('ready', () => {
        if (down) this.logger.info({ component: name }, 'redis reconnected')
        down = false
        if (conn === this.client) this.refusals.cleared('connection')
      })
      // ioredis gives a client up for good when a reconnect attempt is itself cut short (Redis#connect
      // sets the status to `end` when its connector rejects, ioredis built/Redis.js); with Sentinel, a
      // +switch-master announced while the client asks a sentinel for the new primary does that
      // (SentinelConnector#connect: "Connection is closed."). A replica must not lose Redis until
      // someone restarts it: start again (test/shared-state/client-end.test.ts).
      conn.on('end', () => {
        if (this.closing) return
        this.logger.warn({ component: name }, 'redis client gave up reconnecting; connecting again')
        const timer = setTimeout(() => {
          if (!this.closing) conn.connect().catch(() => {})
        }, RESTART_AFTER_END_MS)
        timer.unref()
      })
    }
    this.roll = new ReplicaRoll({
      client: this.client,
      key: this.keys.replicas,
      channel: this.channel,
      logger: this.logger,
      clock: opts.clock,
      onBeat: (err) => { if (err === undefined) this.refusals.cleared('write'); else this.refusals.heard('write', err) },
    })
    this.client.on('ready', () => {
      // the outage is over: the next one waits for its own failover
      this.failoverWaitEndsAt = undefined
      this.roll.beat()
    })
    this.roll.start()
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.channel) return
      let parsed: (BrokerEvent & { confirm?: ConfirmRequest }) | ConfirmAnswer
      try {
        parsed = JSON.parse(message) as typeof parsed
      } catch {
        return
      }
      if (parsed.type === 'confirmed') return this.roll.confirmed(parsed)
      const { confirm, ...event } = parsed
      for (const l of this.listeners) l(event as BrokerEvent)
      // answered after the listeners' work, microtasks included (ReplicaRoll.confirm)
      if (confirm) this.roll.confirm(confirm)
    })
    this.subscribe = () => {
      this.subscriber.subscribe(this.channel).then(() => this.refusals.cleared('channel'), (err: Error) => {
        // a refused channel is asked again at every readiness probe: said once, not every 10 s
        const known = this.refusals.has('channel')
        this.refusals.heard('channel', err)
        if (!known) this.logger.warn({ err: { message: redisReason(err) } }, 'redis subscribe failed; will retry on reconnect (and, while refused, at each readiness probe)')
      })
    }
    if (cluster) this.subscribe()
    else this.subscriber.on('ready', this.subscribe)
  }

  /**
   * Resolves once the first connection is up, or after `timeoutMs` (Redis down at start: the broker
   * starts anyway, on process memory). Starting before it would make the first requests of every
   * replica log in on their own. Redis refusing the broker (a wrong password, a client certificate it
   * will not take: isRedisRefusal) ends the wait at once: waiting does not change that answer.
   */
  async firstConnect (timeoutMs: number): Promise<boolean> {
    return this.untilReady(timeoutMs, isRedisRefusal)
  }

  /**
   * Sentinel or Cluster: the replica is being promoted; waiting costs less than a login per replica.
   * The wait is the outage's, counted from the first call that found Redis unreachable: a call after
   * it has run out goes on at once. Each call waiting anew (a request polling for a lease every few
   * hundred ms) kept a request waiting past its own deadline behind a login that had long finished.
   */
  async awaitFailover (): Promise<boolean> {
    if (this.failoverWaitMs === 0) return false
    if (this.client.status === 'ready') return true
    const now = Date.now()
    this.failoverWaitEndsAt ??= now + this.failoverWaitMs
    const left = this.failoverWaitEndsAt - now
    return left > 0 && this.untilReady(left)
  }

  private async untilReady (timeoutMs: number, final?: (err: Error) => boolean): Promise<boolean> {
    if (this.client.status === 'ready') return true
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer)
        this.client.off('ready', onReady)
        this.client.off('error', onError)
        resolve(ok)
      }
      const onReady = () => done(true)
      const onError = (err: Error) => { if (final?.(err) === true) done(false) }
      const timer = setTimeout(() => done(false), timeoutMs)
      timer.unref()
      this.client.on('ready', onReady)
      if (final) this.client.on('error', onError)
    })
  }

  onReady (listener: () => void): void {
    this.client.on('ready', listener)
  }

  /** true while the connection to Redis is up: a command that fails now was slow, not refused */
  get connected (): boolean {
    return this.client.status === 'ready'
  }

  private sessionKey (connection: string, version: number): string {
    return this.keys.session(connection, version)
  }

  private sessionIndexKey (connection: string): string {
    return this.keys.sessionIndex(connection)
  }

  /**
   * A write that must survive a failover (circuit, guard, budget, hold-offs): sent with WAIT on the
   * same connection (a pipeline goes to the one node serving the key's slot). Not acknowledged in
   * time — no replica in sync — the write stands on the primary alone; logged once per stretch.
   */
  private async durable (build: (p: ChainableCommander) => ChainableCommander): Promise<unknown> {
    let pipeline = build(this.client.pipeline())
    if (this.replicasToWait > 0) pipeline = pipeline.wait(this.replicasToWait, REPLICA_ACK_TIMEOUT_MS)
    const results = await pipeline.exec()
    if (!results) throw new Error('redis pipeline discarded')
    for (const [err] of results) if (err) throw err
    if (this.replicasToWait > 0) {
      const acked = Number(results[results.length - 1][1])
      if (acked < this.replicasToWait && !this.unreplicated) {
        this.logger.warn({ replicas: acked, timeoutMs: REPLICA_ACK_TIMEOUT_MS }, 'redis write not yet held by a replica: a failover now could lose lockout-guard state')
      }
      this.unreplicated = acked < this.replicasToWait
    }
    return results[0][1]
  }

  async getSession (connection: string, secretVersion: number): Promise<CachedSession | null> {
    const key = this.sessionKey(connection, secretVersion)
    return this.openSession(connection, key, await this.client.get(key))
  }

  private openSession (connection: string, key: string, sealed: string | null): CachedSession | null {
    if (!sealed) return null
    const plain = this.sealer.open(sealed, key)
    if (plain === null) {
      // written under another key (key rotation) or tampered with: unusable, so treat as a miss
      this.logger.warn({ connection }, 'cached session could not be decrypted; ignoring it')
      return null
    }
    const { entry } = parseCached(plain)
    return entry.validUntil > Date.now() ? entry : null
  }

  async storeSession (connection: string, entry: CachedSession): Promise<void> {
    const key = this.sessionKey(connection, entry.secretVersion)
    const issued = this.keys.issued(connection)
    const field = issuedField(entry)
    const now = Date.now()
    const ttl = Math.max(1, entry.validUntil - now)
    const alive = Math.max(1, entry.realEnd - now)
    const plain = JSON.stringify(entry)
    // the cached copy says when it was stored: a purge replayed after an outage takes only what it would have taken
    const cached = JSON.stringify({ ...entry, storedAt: now } satisfies StoredSession)
    await this.client.eval(STORE_SESSION, 3, key, this.sessionIndexKey(connection), issued,
      this.sealer.seal(cached, key), String(ttl), field, this.sealer.seal(plain, `${issued}#${field}`), String(alive), String(now))
  }

  /**
   * One command for the whole batch on one server or Sentinel: a script reads every string key
   * (sessions, circuits — with the key older releases used — and documents) and counts every
   * window. On Cluster the keys of one batch live in several slots, which one script cannot span:
   * each is read on its own there, in parallel.
   */
  async readMany<const R extends readonly StateRead[]> (reads: R): Promise<{ -readonly [K in keyof R]: StateReadValue<R[K]> }> {
    const keys: string[] = []
    /** per key: '' for a string read, or the window's exclusive lower bound */
    const args: string[] = []
    const now = Date.now()
    const add = (key: string, arg = '') => { args.push(arg); return keys.push(key) - 1 }
    const slots = reads.map((read) => {
      switch (read.kind) {
        case 'session': return [add(this.sessionKey(read.connection, read.secretVersion))]
        case 'circuit': return [add(this.keys.circuit(read.connection)), add(this.keys.legacyCircuit(read.connection))]
        case 'doc': return [add(this.keys.doc(read.key))]
        default: return [add(this.keys.window(read.key), String(now - read.windowMs))]
      }
    })
    const raw = (this.client.isCluster
      ? await Promise.all(keys.map((k, i) => args[i] === '' ? this.client.get(k) : this.client.zcount(k, `(${args[i]}`, '+inf')))
      : await this.client.eval(READ_MANY, keys.length, ...keys, ...args)) as Array<string | number | null>
    const text = (i: number): string | null => (raw[i] ?? null) as string | null
    const values = await Promise.all(reads.map(async (read, i) => {
      const at = slots[i]
      switch (read.kind) {
        case 'session': return this.openSession(read.connection, keys[at[0]], text(at[0]))
        case 'circuit': {
          const current = text(at[0]) ?? (text(at[1]) ? await this.adoptLegacyCircuit(read.connection) : null)
          return current ? JSON.parse(current) as CircuitState : null
        }
        case 'doc': return text(at[0]) ? JSON.parse(text(at[0]) as string) as unknown : null
        default: return Number(raw[at[0]] ?? 0)
      }
    }))
    return values as { -readonly [K in keyof R]: StateReadValue<R[K]> }
  }

  /**
   * The index's members, then one script (PURGE_INDEXED) that takes exactly those: a session another
   * replica stores meanwhile is either read and deleted by it (the same key) or stays indexed for the
   * next purge. Deleting the whole index instead left such a session cached where no purge finds it.
   */
  async purgeSessions (connection: string, storedBefore?: number): Promise<CachedSession[]> {
    const indexKey = this.sessionIndexKey(connection)
    const keys = await this.client.smembers(indexKey)
    if (keys.length === 0) return []
    if (storedBefore !== undefined) return this.purgeStoredBefore(indexKey, keys, storedBefore)
    const values = await this.client.eval(PURGE_INDEXED, 1 + keys.length, indexKey, ...keys) as Array<string | null>
    return this.openPurged(keys, values)
  }

  /**
   * A purge made again after Redis failed it (FallbackSharedState's replay): the sessions stored before
   * it was first made, each only if it is still the value read (PURGE_INDEXED with values). One stored since, by
   * a login anywhere or a rotation's adopted session, stays: it is what the fleet serves now. A copy
   * without storedAt (written by an older release), stored in the purge's own millisecond or that cannot
   * be opened counts as older. Each replica's clock stamps what it stores: a skew between them (NTP
   * keeps it to milliseconds) moves the line by as much.
   */
  private async purgeStoredBefore (indexKey: string, keys: string[], storedBefore: number): Promise<CachedSession[]> {
    const values = await this.client.mget(...keys) as Array<string | null>
    const older = keys.flatMap((key, i) => {
      const sealed = values[i]
      const plain = sealed ? this.sealer.open(sealed, key) : null
      const parsed = plain === null ? null : parseCached(plain)
      return parsed?.storedAt !== undefined && parsed.storedAt > storedBefore ? [] : [{ key, sealed: sealed ?? '', entry: parsed?.entry }]
    })
    if (older.length === 0) return []
    const taken = await this.client.eval(PURGE_INDEXED, 1 + older.length, indexKey, ...older.map(o => o.key), ...older.map(o => o.sealed)) as Array<string | null>
    // what the script took is what was read: each opened once, above
    return older.flatMap((o, i) => taken[i] !== null && o.entry !== undefined ? [o.entry] : [])
  }

  private openPurged (keys: string[], values: Array<string | null>): CachedSession[] {
    const removed: CachedSession[] = []
    keys.forEach((key, i) => {
      const sealed = values[i]
      const plain = sealed ? this.sealer.open(sealed, key) : null
      if (plain) removed.push(parseCached(plain).entry)
    })
    return removed
  }

  async takeIssued (connection: string): Promise<CachedSession[]> {
    const key = this.keys.issued(connection)
    const [[, all]] = await this.client.multi().hgetall(key).del(key).exec() as [[unknown, Record<string, string>], unknown]
    const now = Date.now()
    const alive: CachedSession[] = []
    for (const [field, sealed] of Object.entries(all ?? {})) {
      const plain = this.sealer.open(sealed, `${key}#${field}`)
      const entry = plain === null ? null : JSON.parse(plain) as CachedSession
      if (entry && entry.realEnd > now) alive.push(entry)
    }
    return alive
  }

  /**
   * A SET that timed out on a live connection was sent and may land late, taking the lease for its
   * owner, who was told nothing and asks again: that SET NX then finds the lease held — by the owner
   * itself. Redis runs a connection's commands in order, so the late SET has run by then: a renewal
   * (compare-and-expire) tells whether the lease is the owner's, instead of it waiting out its own ttl.
   */
  async acquireLease (name: string, owner: string, ttlMs: number): Promise<boolean> {
    const key = this.keys.lease(name)
    let ok: string | null
    try {
      ok = await this.client.set(key, owner, 'PX', ttlMs, 'NX')
    } catch (err) {
      if (timedOut(err)) {
        if (this.unsureLeases.size >= UNSURE_LEASES_MAX) this.unsureLeases.clear()
        this.unsureLeases.set(key, owner)
      }
      throw err
    }
    const unsure = this.unsureLeases.get(key)
    this.unsureLeases.delete(key)
    if (ok === 'OK') return true
    return unsure === owner && await this.renewLease(name, owner, ttlMs)
  }

  async claimOnce (name: string, owner: string, ttlMs: number): Promise<OnceClaim> {
    return await this.acquireLease(name, owner, ttlMs) ? 'claimed' : 'held'
  }

  async releaseLease (name: string, owner: string, notes: readonly string[] = []): Promise<boolean> {
    const n = await this.client.eval(RELEASE_IF_OWNER, 1 + notes.length, this.keys.lease(name), ...notes.map(note => this.keys.doc(note)), owner)
    return n === 1
  }

  async renewLease (name: string, owner: string, ttlMs: number): Promise<boolean> {
    const n = await this.client.eval(RENEW_IF_OWNER, 1, this.keys.lease(name), owner, String(ttlMs))
    return n === 1
  }

  addToWindow (key: string, windowMs: number): Promise<number> {
    return this.addToWindowBelow(key, windowMs, Number.MAX_SAFE_INTEGER)
  }

  async countWindow (key: string, windowMs: number): Promise<number> {
    return this.client.zcount(this.keys.window(key), `(${Date.now() - windowMs}`, '+inf')
  }

  async addToWindowBelow (key: string, windowMs: number, limit: number): Promise<number> {
    const now = Date.now()
    // the time stamp plus a random suffix: two events in the same millisecond are two members
    const member = `${now}-${Math.random().toString(36).slice(2)}`
    return Number(await this.durable(p => p.eval(ADD_TO_WINDOW_BELOW, 1, this.keys.window(key), String(now), String(windowMs), member, String(limit))))
  }

  async takeQuotas (quotas: readonly Quota[]): Promise<number> {
    if (quotas.length === 0) return -1
    const keys = quotas.map(q => this.keys.quota(q.key))
    const args = quotas.flatMap(q => [String(q.limit), String(Math.max(1, Math.ceil(q.ttlMs)))])
    return Number(await this.client.eval(TAKE_QUOTAS, keys.length, ...keys, ...args))
  }

  async getCircuit (connection: string): Promise<CircuitState | null> {
    const raw = await this.client.get(this.keys.circuit(connection)) ?? await this.adoptLegacyCircuit(connection)
    return raw ? JSON.parse(raw) as CircuitState : null
  }

  /** A circuit an older release opened under the previous key name, moved to the current one. */
  private async adoptLegacyCircuit (connection: string): Promise<string | null> {
    const legacy = this.keys.legacyCircuit(connection)
    const raw = await this.client.get(legacy)
    if (raw === null) return null
    const ttl = await this.client.pttl(legacy)
    // SET NX: a circuit this release wrote meanwhile wins over the old one
    await this.durable(p => p.set(this.keys.circuit(connection), raw, 'PX', ttl > 0 ? ttl : 7 * 86_400_000, 'NX'))
    await this.client.del(legacy)
    return raw
  }

  async putCircuit (connection: string, state: CircuitState): Promise<void> {
    // kept well past the probe time so failure counts (and the backoff) survive between probes
    await this.durable(p => p.set(this.keys.circuit(connection), JSON.stringify(state), 'PX', 7 * 86_400_000))
  }

  async clearCircuit (connection: string): Promise<void> {
    await this.durable(p => p.del(this.keys.circuit(connection)))
  }

  async getJson<T> (key: string): Promise<T | null> {
    const raw = await this.client.get(this.keys.doc(key))
    return raw ? JSON.parse(raw) as T : null
  }

  async putJson (key: string, value: unknown, ttlMs?: number): Promise<void> {
    const k = this.keys.doc(key)
    await this.durable(p => ttlMs ? p.set(k, JSON.stringify(value), 'PX', ttlMs) : p.set(k, JSON.stringify(value)))
  }

  async appendToStream (name: string, entry: string, maxLen: number): Promise<void> {
    await this.client.xadd(this.keys.stream(name), 'MAXLEN', '~', String(maxLen), '*', 'e', entry)
  }

  async readStream (name: string, count: number, before?: string): Promise<StreamEntry[]> {
    const rows = await this.client.xrevrange(this.keys.stream(name), before ? `(${before}` : '+', '-', 'COUNT', count)
    return rows.map(([id, fields]) => ({ id, entry: fields[fields.indexOf('e') + 1] }))
  }

  async appendToStreamWithin (name: string, entries: string[], retention: StreamRetention): Promise<void> {
    // one command: the entries with the count limit, then the age limit (APPEND_WITHIN)
    const minId = retention.maxAgeMs === undefined ? '' : String(Date.now() - retention.maxAgeMs)
    await this.client.eval(APPEND_WITHIN, 1, this.keys.stream(name), String(retention.maxLen), minId, ...entries)
  }

  async readStreamRange (name: string, range: StreamRange): Promise<StreamEntry[]> {
    const key = this.keys.stream(name)
    const low = range.order === 'asc' && range.after ? `(${range.after}` : range.sinceMs !== undefined ? String(range.sinceMs) : '-'
    const high = range.order === 'desc' && range.after ? `(${range.after}` : range.untilMs !== undefined ? String(range.untilMs) : '+'
    const rows = range.order === 'asc'
      ? await this.client.xrange(key, low, high, 'COUNT', range.count)
      : await this.client.xrevrange(key, high, low, 'COUNT', range.count)
    return rows.map(([id, fields]) => ({ id, entry: fields[fields.indexOf('e') + 1] }))
  }

  async publish (event: BrokerEvent): Promise<void> {
    await this.client.publish(this.channel, JSON.stringify(event))
  }

  publishConfirmed (event: BrokerEvent, timeoutMs: number): Promise<Confirmations> {
    // a replica whose subscriber is down hears no answer: it cannot tell who applied the event
    return this.roll.publishConfirmed(confirm => JSON.stringify({ ...event, confirm }), timeoutMs, this.subscriber.status === 'ready')
  }

  onEvent (listener: (e: BrokerEvent) => void): void {
    this.listeners.push(listener)
  }

  /**
   * A read of one of the broker's keys with a command it sends anyway (ZCARD, in its scripts), not a
   * PING, and what Redis refused it lately (RefusalRecord): an ACL user may reach Redis and still not
   * its keys, its writes or its channel.
   */
  async probe (): Promise<StateReach> {
    // a channel refused at the last (re)connect: ask again, so a corrected ACL makes the replica ready
    if (this.refusals.has('channel')) this.subscribe()
    try {
      await this.client.zcard(this.keys.replicas)
      this.refusals.cleared('read')
    } catch (err) {
      this.refusals.heard('read', err)
      if (!this.refusals.has()) return 'unreachable'
    }
    return this.refusals.has() ? 'refused' : 'ok'
  }

  refuses (err: unknown): boolean {
    return isRedisRefusal(err)
  }

  async close (): Promise<void> {
    this.closing = true
    await this.roll.close()
    this.client.disconnect()
    this.subscriber.disconnect()
  }
}

/**
 * The field of a session in its connection's hash of issued sessions: a hash of its token, never the
 * token, and when Salesforce ends it (STORE_SESSION drops the ended ones; fields of older releases,
 * without it, go with the hash).
 */
function issuedField (entry: CachedSession): string {
  return `${createHash('sha256').update(entry.session.accessToken).digest('hex').slice(0, 32)}:${Math.floor(entry.realEnd)}`
}
