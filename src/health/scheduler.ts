import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
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
}

/** Share of the interval the connections' slots are spread over; the rest absorbs rate limiting. */
const SPREAD = 0.8
/** Largest random delay of one replica's slot, as a share of the interval. */
const MAX_JITTER = 0.05

/**
 * Re-validates every connection once per interval, fleet-wide.
 *
 * Rounds are aligned to the wall clock (epoch multiples of the interval) and each connection has
 * a fixed slot in its round (sorted by name, evenly spread over 80 % of the interval), so every
 * replica aims at the same moment and the first to take the connection's `validate:` lease does
 * the work. The lease is never released: it lasts most of an interval and so marks "done this
 * round" for the other replicas, while expiring before the connection's slot in the next round.
 */
export class ValidationScheduler {
  private readonly opts: ValidationSchedulerOptions
  private readonly random: () => number
  private readonly owner = randomBytes(16).toString('hex')
  private readonly timers = new Set<NodeJS.Timeout>()
  private readonly running = new Map<string, Promise<void>>()
  private known = new Set<string>()
  private stopped = true

  constructor (opts: ValidationSchedulerOptions) {
    this.opts = opts
    this.random = opts.random ?? Math.random
  }

  start (): void {
    if (!this.stopped) return
    this.stopped = false
    const now = Date.now()
    // the current round's slots that are still ahead run now; the next round follows on its boundary
    this.round(now - (now % this.opts.intervalMs), true)
  }

  /** Clears every timer and waits for the validations already under way. */
  async stop (): Promise<void> {
    this.stopped = true
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    await Promise.allSettled([...this.running.values()])
  }

  /** The lease lasts long enough to cover every replica's jittered attempt, short enough to be free next round. */
  get leaseTtlMs (): number {
    return Math.max(1, Math.floor(this.opts.intervalMs * (1 - 2 * MAX_JITTER)))
  }

  private round (roundStart: number, first = false): void {
    if (this.stopped) return
    this.later(roundStart + this.opts.intervalMs - Date.now(), () => this.round(roundStart + this.opts.intervalMs))
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
      const delay = at - Date.now()
      if (delay >= -spacing / 2) this.later(delay, () => this.slot(name))
      // A slot already past (the partial round after a start) waits for the next round, unless
      // the connection was never checked: then it goes now, spread like a round would spread it.
      else if (first) this.later(i * spacing * (1 - SPREAD) + this.random() * maxJitter, () => { this.catchUp(name) })
    })
  }

  private catchUp (name: string): void {
    if (this.stopped || !this.opts.neverChecked) return
    this.opts.neverChecked(name).then(
      unchecked => { if (unchecked) this.slot(name) },
      () => {}
    )
  }

  private slot (name: string): void {
    // still busy from the previous round (rate limited, slow Salesforce): don't queue a second one
    if (this.stopped || this.running.has(name)) return
    const run = this.validateOnce(name).finally(() => this.running.delete(name))
    this.running.set(name, run)
  }

  private async validateOnce (name: string): Promise<void> {
    try {
      if (await this.opts.state.acquireLease(validateLease(name), this.owner, this.leaseTtlMs)) {
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
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      fn()
    }, Math.max(0, delayMs))
    timer.unref()
    this.timers.add(timer)
  }
}
