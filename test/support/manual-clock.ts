import type { Clock, Timer } from '../../src/clock.ts'

/** `origin`: where the timer was set (a stack), named when it fires and nothing sets the next one */
interface Pending { at: number, seq: number, fn: () => void, origin: string }

/**
 * How long (real time) untilRearmed waits for the next timer before it fails and names the timer
 * that fired: the work between is local I/O of milliseconds, even on a loaded machine, and a timer
 * that never sets another would otherwise hang the test until tap's 30-minute timeout.
 */
const REARM_WITHIN_MS = 60_000

/** One turn of the event loop: promise callbacks run, and I/O that is ready is handled. */
export const settle = (): Promise<void> => new Promise(resolve => setImmediate(resolve))

export interface AdvanceOptions {
  /**
   * After each timer fires, wait for the next timer to be set before going on (an event, not a
   * guess): for work that does I/O and then arms its next timer, e.g. a token renewal that asks
   * Vault and schedules the next one from the answer. Every timer firing inside the advance must
   * set one: if none is set within a minute, the advance fails, naming where the timer was set.
   */
  untilRearmed?: boolean
  /** with untilRearmed: how long (real time) to wait for the next timer; default a minute */
  rearmWithinMs?: number
}

/**
 * A Clock that moves only when a test says so. advance() fires the timers that fall due in time
 * order, each at its own moment, and lets the event loop turn after each one so the promise work a
 * timer starts can run before time moves on.
 */
export class ManualClock implements Clock {
  private time: number
  private seq = 0
  private readonly timers = new Set<Pending>()
  private armed: (() => void)[] = []

  /** `start`: epoch ms; default the real time now (Redis TTLs and log time stamps stay plausible) */
  constructor (start = Date.now()) {
    this.time = start
  }

  now (): number {
    return this.time
  }

  setTimer (delayMs: number, fn: () => void): Timer {
    const origin = (new Error().stack ?? '').split('\n').slice(2, 6).map(l => l.trim()).join(' < ')
    const entry: Pending = { at: this.time + Math.max(0, delayMs), seq: this.seq++, fn, origin }
    this.timers.add(entry)
    const waiting = this.armed
    this.armed = []
    for (const resolve of waiting) resolve()
    return { cancel: () => { this.timers.delete(entry) } }
  }

  /** Timers set and not yet fired or cancelled. */
  get pending (): number {
    return this.timers.size
  }

  /** When the earliest pending timer falls due; undefined when none is set. */
  get nextAt (): number | undefined {
    return this.earliest()?.at
  }

  /** Resolves the next time a timer is set. */
  timerSet (): Promise<void> {
    return new Promise(resolve => { this.armed.push(resolve) })
  }

  /** Resolves once a timer is pending: now if one is, else when the next one is set. */
  async untilTimer (): Promise<void> {
    await this.untilPending(1)
  }

  /** Resolves once at least `count` timers are pending (e.g. a round planned its slots after listing connections). */
  async untilPending (count: number): Promise<void> {
    while (this.timers.size < count) await this.timerSet()
  }

  /** Moves time forward by `ms`, firing every timer due on the way (those set meanwhile included). */
  async advance (ms: number, opts: AdvanceOptions = {}): Promise<void> {
    if (ms < 0) throw new RangeError('time does not go back')
    const end = this.time + ms
    await settle()
    for (let next = this.earliest(); next !== undefined && next.at <= end; next = this.earliest()) {
      this.timers.delete(next)
      this.time = Math.max(this.time, next.at)
      const rearmed = opts.untilRearmed === true ? this.timerSet() : undefined
      next.fn()
      await settle()
      if (rearmed) await rearmedWithin(rearmed, next, opts.rearmWithinMs ?? REARM_WITHIN_MS)
    }
    this.time = end
    await settle()
  }

  /** Moves time to `epochMs` (advance() to a moment rather than by a span). */
  advanceTo (epochMs: number, opts?: AdvanceOptions): Promise<void> {
    return this.advance(Math.max(0, epochMs - this.time), opts)
  }

  /** Fires the earliest pending timer (moving time to it) and returns its moment; undefined when none is set. */
  async runNext (opts?: AdvanceOptions): Promise<number | undefined> {
    const at = this.nextAt
    if (at === undefined) return undefined
    await this.advanceTo(at, opts)
    return at
  }

  private earliest (): Pending | undefined {
    let first: Pending | undefined
    for (const t of this.timers) {
      if (first === undefined || t.at < first.at || (t.at === first.at && t.seq < first.seq)) first = t
    }
    return first
  }
}

async function rearmedWithin (rearmed: Promise<void>, fired: Pending, withinMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`untilRearmed: a timer fired and no timer was set within ${withinMs} ms; it had been set at ${fired.origin}`)), withinMs)
  })
  try {
    await Promise.race([rearmed, late])
  } finally {
    clearTimeout(timer)
  }
}
