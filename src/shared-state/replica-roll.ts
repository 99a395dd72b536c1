import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { Logger } from 'pino'
import { systemClock, type Clock, type Timer } from '../clock.ts'
import type { RedisClient } from './redis-client.ts'
import type { Confirmations } from './shared-state.ts'

/** How often a replica says it is alive, and how long the roll trusts that without hearing again. */
export const ROLL_HEARTBEAT_MS = 5_000
export const ROLL_TTL_MS = 15_000
/** How long a replica shutting down tries to leave the roll. */
const LEAVE_TIMEOUT_MS = 1_000

/**
 * The replica's entry in the roll: its expiry in Redis's own time (TIME), so replicas whose clocks
 * disagree (or a test's manual clock) still agree on who is alive; entries past their expiry go.
 */
const ANSWER_ROLL = `
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('zremrangebyscore', KEYS[1], '-inf', now)
redis.call('zadd', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('pexpire', KEYS[1], ARGV[2])
return 1`

/** The replicas alive now (expiry still ahead, in Redis's time). */
const READ_ROLL = `
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('zrangebyscore', KEYS[1], '(' .. now, '+inf')`

/** What travels with an event that asks every replica to confirm it (the confirmation travels back alone). */
export interface ConfirmRequest { id: string, from: string }
export interface ConfirmAnswer { type: 'confirmed', id: string, replica: string }

interface Waiter { missing: Set<string>, done: () => void }

/**
 * The fleet's roll call, so "a 200 means it happened everywhere" can be checked rather than
 * assumed: Redis delivers PUBLISH to another node's subscribers after the publisher's reply (a
 * Cluster's bus most of all), and a paused or partitioned replica hears nothing. Each replica keeps
 * an entry in a sorted set alive (every 5 s, trusted for 15 s); an event that must reach every
 * replica (a purge) carries an id, each replica answers once it has applied it, and the publisher
 * learns which live replicas did not answer in time. Replicas of a release without the roll are
 * not on it, so they are neither waited for nor reported.
 */
export class ReplicaRoll {
  /** the replica's name on the roll: the host name (a Kubernetes pod's name) and a random suffix */
  readonly replica = `${hostname()}-${randomBytes(3).toString('hex')}`
  private readonly waiters = new Map<string, Waiter>()
  private heartbeat: Timer | undefined
  private closed = false

  private readonly client: RedisClient
  private readonly key: string
  private readonly channel: string
  private readonly clock: Clock
  private readonly logger: Logger

  private readonly onBeat: (err?: unknown) => void

  /** onBeat: told after each heartbeat's write, with its error if it failed (a write the ACL refuses shows here first) */
  constructor (opts: { client: RedisClient, key: string, channel: string, logger: Logger, clock?: Clock, onBeat?: (err?: unknown) => void }) {
    this.client = opts.client
    this.key = opts.key
    this.channel = opts.channel
    this.logger = opts.logger
    this.clock = opts.clock ?? systemClock
    this.onBeat = opts.onBeat ?? (() => {})
  }

  /** Keeps the replica on the roll until close(), from now; a failed write is retried at the next beat. */
  start (): void {
    const loop = () => {
      if (this.closed) return
      this.beat()
      this.heartbeat = this.clock.setTimer(ROLL_HEARTBEAT_MS, loop)
    }
    loop()
  }

  /** Puts the replica on the roll now (also when Redis is back: a replica never waits a beat to be counted). */
  beat (): void {
    if (this.closed) return
    this.client.eval(ANSWER_ROLL, 1, this.key, this.replica, String(ROLL_TTL_MS)).then(() => this.onBeat(), (err: unknown) => this.onBeat(err))
  }

  /** The other replicas on the roll now. */
  async others (): Promise<string[]> {
    const live = await this.client.eval(READ_ROLL, 1, this.key) as string[]
    return live.filter(r => r !== this.replica)
  }

  /**
   * Publishes the message `build` makes with the confirmation request and, once published, returns
   * the promise of the live replicas that have not confirmed it `timeoutMs` later (none as soon as
   * all have). It never rejects: a replica that could not be asked is one that did not confirm.
   * When the roll cannot be read, or this replica cannot hear the answers (`hearing` false), the
   * event is still published, and the promise says nobody can tell (null) rather than blaming
   * replicas that may well have applied it.
   */
  async publishConfirmed (build: (confirm: ConfirmRequest) => string, timeoutMs: number, hearing: boolean): Promise<Confirmations> {
    const expected = hearing ? await this.others().catch(() => null) : null
    const id = randomBytes(8).toString('hex')
    if (expected === null || expected.length === 0) {
      await this.client.publish(this.channel, build({ id, from: this.replica }))
      return { unconfirmed: Promise.resolve(expected) }
    }
    let timer: Timer | undefined
    const answered = new Promise<void>((resolve) => {
      this.waiters.set(id, { missing: new Set(expected), done: resolve })
      timer = this.clock.setTimer(timeoutMs, resolve)
    })
    try {
      await this.client.publish(this.channel, build({ id, from: this.replica }))
    } catch (err) {
      timer?.cancel()
      this.waiters.delete(id)
      throw err
    }
    const unconfirmed = answered.then(() => {
      timer?.cancel()
      const missing = this.waiters.get(id)?.missing ?? new Set()
      this.waiters.delete(id)
      return [...missing].sort()
    })
    return { unconfirmed }
  }

  /** A replica's confirmation arrived (on the events channel). */
  confirmed (answer: ConfirmAnswer): void {
    const waiter = this.waiters.get(answer.id)
    if (!waiter) return
    waiter.missing.delete(answer.replica)
    if (waiter.missing.size === 0) waiter.done()
  }

  /**
   * An event asking for confirmation was handed to this replica's listeners: answer it (unless
   * this replica sent it) once what they queued has run — setImmediate comes after every microtask
   * the listeners queued (a purge reaches the session service through such a chain).
   */
  confirm (request: ConfirmRequest): void {
    if (request.from === this.replica) return
    const answer: ConfirmAnswer = { type: 'confirmed', id: request.id, replica: this.replica }
    setImmediate(() => {
      this.client.publish(this.channel, JSON.stringify(answer)).catch((err: Error) => {
        this.logger.warn({ err: { message: err.message } }, 'could not confirm a fleet-wide event; its sender reports this replica as pending')
      })
    })
  }

  /**
   * Leaves the roll, so a replica shutting down is not waited for. Bounded: a Redis that stalls
   * must not hold the shutdown (the entry then lapses on its own, ROLL_TTL_MS after the last beat).
   */
  async close (): Promise<void> {
    this.closed = true
    this.heartbeat?.cancel()
    for (const w of this.waiters.values()) w.done()
    let timer: Timer | undefined
    await Promise.race([
      this.client.zrem(this.key, this.replica).catch(() => {}),
      new Promise<void>((resolve) => { timer = this.clock.setTimer(LEAVE_TIMEOUT_MS, resolve) }),
    ])
    timer?.cancel()
  }
}
