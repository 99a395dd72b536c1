import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import { systemClock, type Clock, type Timer } from '../clock.ts'
import type { Leases } from '../shared-state/shared-state.ts'
import { validateLease } from '../shared-state/state-names.ts'
import type { StoredHealth } from './health-result.ts'

export interface ValidationSchedulerOptions {
  intervalMs: number
  /** every connection's name (the secret store's list) */
  listConnections: () => Promise<string[]>
  /** validates one connection and records its result; null when it no longer exists */
  validate: (name: string) => Promise<StoredHealth | null>
  /** called for a connection another replica validates this interval (to refresh local gauges) */
  validatedElsewhere?: (name: string) => Promise<void>
  /** called with the names that disappeared from the store since the last round */
  removed?: (names: string[]) => void
  /** true when the connection has no recorded result yet: after a start it is validated without waiting a whole round */
  neverChecked?: (name: string) => Promise<boolean>
  state: Leases
  logger: Logger
  random?: () => number
  /** the time rounds are aligned to and their timers set on; default the system clock */
  clock?: Clock
}

/** Share of the interval the connections' slots are spread over; the rest absorbs rate limiting. */
const SPREAD = 0.8
/** Largest random delay of one replica's slot, as a share of the interval. */
const MAX_JITTER = 0.05

/**
 * Re-validates every connection once per interval, fleet-wide.
 *
 * Rounds are aligned to the clock (epoch multiples of the interval) and each connection has a
 * fixed slot in its round (sorted by name, evenly spread over 80 % of the interval), so every
 * replica aims at the same moment and the first to take the connection's lease for that round
 * (state-names.ts validateLease) does the work. The lease is never released: it marks "done this
 * round" for the other replicas. Its name carries the round, so the next round's lease is another
 * key whatever the clock does (a test moving it by hand, a replica's clock a little off); its TTL
 * only tidies Redis up.
 */
export class ValidationScheduler {
  private readonly opts: ValidationSchedulerOptions
  private readonly random: () => number
  private readonly owner = randomBytes(16).toString('hex')
  private readonly clock: Clock
  private readonly timers = new Set<Timer>()
  private readonly running = new Map<string, Promise<void>>()
  private known = new Set<string>()
  private stopped = true

  constructor (opts: ValidationSchedulerOptions) {
    this.opts = opts
    this.random = opts.random ?? Math.random
    this.clock = opts.clock ?? systemClock
  }

  start (): void {
    if (!this.stopped) return
    this.stopped = false
    const now = this.clock.now()
    // the current round's slots that are still ahead run now; the next round follows on its boundary
    this.round(this.roundOf(now), true)
  }

  /** Clears every timer and waits for the validations already under way. */
  async stop (): Promise<void> {
    this.stopped = true
    for (const t of this.timers) t.cancel()
    this.timers.clear()
    await this.idle()
  }

  /**
   * Resolves once no validation is running, the work after each result included (gauges, date
   * thresholds, a due rotation). A slot that finds its connection still running skips that round, so
   * a test moving a manual clock waits for this before starting the next round.
   */
  async idle (): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running.values()])
  }

  /** A round's lease outlives every replica's attempt in that round; then Redis drops it. */
  get leaseTtlMs (): number {
    return Math.max(1, this.opts.intervalMs)
  }

  private roundOf (time: number): number {
    return time - (time % this.opts.intervalMs)
  }

  private round (roundStart: number, first = false): void {
    if (this.stopped) return
    this.later(roundStart + this.opts.intervalMs - this.clock.now(), () => this.round(roundStart + this.opts.intervalMs))
    this.opts.listConnections().then(
      names => this.plan(roundStart, [...new Set(names)].sort(), first),
      (err: unknown) => this.opts.logger.warn({ err: { message: (err as Error).message } }, 'health scheduler: connections could not be listed; trying again next interval')
    )
  }

  private plan (roundStart: number, names: string[], first: boolean): void {
    if (this.stopped) return
    const gone = [...this.known].filter(n => !names.includes(n))
    this.known = new Set(names)
    if (gone.length > 0) this.opts.removed?.(gone)
    const spacing = (this.opts.intervalMs * SPREAD) / Math.max(1, names.length)
    const maxJitter = Math.min(this.opts.intervalMs * MAX_JITTER, spacing / 2)
    names.forEach((name, i) => {
      const at = roundStart + i * spacing + this.random() * maxJitter
      const delay = at - this.clock.now()
      if (delay >= -spacing / 2) this.later(delay, () => this.slot(name, roundStart))
      // A slot already past (the partial round after a start) waits for the next round, unless
      // the connection was never checked: then it goes now, spread like a round would spread it.
      else if (first) this.later(i * spacing * (1 - SPREAD) + this.random() * maxJitter, () => { this.catchUp(name) })
    })
  }

  private catchUp (name: string): void {
    if (this.stopped || !this.opts.neverChecked) return
    this.opts.neverChecked(name).then(
      // in the round it runs in (late in a round a catch-up may fall into the next): that round's lease
      unchecked => { if (unchecked) this.slot(name, this.roundOf(this.clock.now())) },
      () => {}
    )
  }

  private slot (name: string, roundStart: number): void {
    // still busy from the previous round (rate limited, slow Salesforce): don't queue a second one
    if (this.stopped || this.running.has(name)) return
    const run = this.validateOnce(name, roundStart).finally(() => this.running.delete(name))
    this.running.set(name, run)
  }

  private async validateOnce (name: string, roundStart: number): Promise<void> {
    try {
      if (await this.opts.state.acquireLease(validateLease(name, roundStart), this.owner, this.leaseTtlMs)) {
        await this.opts.validate(name)
      } else {
        await this.opts.validatedElsewhere?.(name)
      }
    } catch (err) {
      if (this.stopped) return // shutting down: the queued validation was dropped on purpose
      this.opts.logger.warn({ connection: name, err: { message: (err as Error).message } }, 'health scheduler: validation did not complete')
    }
  }

  private later (delayMs: number, fn: () => void): void {
    const timer = this.clock.setTimer(delayMs, () => {
      this.timers.delete(timer)
      fn()
    })
    this.timers.add(timer)
  }
}
