import { setTimeout as sleep } from 'node:timers/promises'
import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import type { Leases } from '../shared-state/shared-state.ts'

export interface LeaseLoopOptions<T> {
  state: Leases
  /** lease name (state-names.ts), e.g. `login:acme` */
  name: string
  /**
   * Lifetime of the lease between renewals. Short on purpose: the holder renews it while its work
   * runs, so a holder that dies is replaced within one ttl, not after the longest possible login.
   */
  ttlMs: number
  /** epoch ms: past it, waiting for someone else's lease ends with `{ kind: 'timeout' }` */
  deadline: number
  /**
   * Asked before each attempt to take the lease (and after each wait): a value means the work is
   * no longer needed (someone else did it, or a guard now forbids it) and is returned as settled.
   */
  settled?: () => Promise<T | undefined>
  /**
   * false: `settled` is asked only after a wait for someone else's lease, not before the first
   * take nor under the lease — the work reads the state itself, once, under the lease.
   */
  askFirst?: boolean
  /** waits until something may have changed (an event from another replica) or `ms` passed */
  waitForChange?: (ms: number) => Promise<void>
  logger?: Logger
  /**
   * Asked at release: documents of the lease's owner (state-names.ts) that noted the work and are
   * settled by now, taken back with the lease in the same step (a holder that lost its lease takes
   * back none). Only the work knows which: a note it neither wrote nor accounted for stays.
   */
  notes?: () => readonly string[]
  /** aborted (shutdown): the lease is released once `onAbandon` is done, without waiting for the work to end */
  signal?: AbortSignal
  /**
   * Run when the signal aborts while the work runs, before the lease is released: what the next
   * holder must know of work that goes on unowned (a login still in flight counts as failed).
   */
  onAbandon?: () => Promise<void>
}

export type LeaseResult<T> =
  | { kind: 'ran', value: T }
  | { kind: 'settled', value: T }
  | { kind: 'timeout' }

const POLL_MS = 250

/**
 * The one lease loop of the broker: runs `work` while holding a fleet-wide lease, renewed every
 * third of its ttl for as long as the work runs, released only by its owner. Everyone else waits
 * (woken by events, polling as a fallback) until the work is settled for them or the deadline.
 * `settled()` is asked again right after taking the lease: another process may have finished
 * between our last look and our taking it.
 */
export async function underLease<T> (opts: LeaseLoopOptions<T>, work: () => Promise<T>): Promise<LeaseResult<T>> {
  const owner = randomBytes(16).toString('hex')
  const wait = opts.waitForChange ?? sleep
  const askFirst = opts.askFirst !== false
  for (let waited = false; ; waited = true) {
    if (askFirst || waited) {
      const before = await opts.settled?.()
      if (before !== undefined) return { kind: 'settled', value: before }
    }
    if (opts.signal?.aborted) return { kind: 'timeout' }
    if (await opts.state.acquireLease(opts.name, owner, opts.ttlMs)) {
      const renewal = keepRenewed(opts, owner)
      try {
        const again = askFirst ? await opts.settled?.() : undefined
        if (again !== undefined) return { kind: 'settled', value: again }
        return { kind: 'ran', value: await untilAborted(work(), opts.signal, opts.onAbandon) }
      } finally {
        clearInterval(renewal)
        await opts.state.releaseLease(opts.name, owner, opts.notes?.()).catch(() => false)
      }
    }
    const left = opts.deadline - Date.now()
    if (left <= 0) return { kind: 'timeout' }
    await wait(Math.max(1, Math.min(POLL_MS, left)))
  }
}

/** The work's result, or a rejection as soon as the signal aborts and `onAbandon` is done (the work itself runs on, unowned). */
function untilAborted<T> (work: Promise<T>, signal: AbortSignal | undefined, onAbandon?: () => Promise<void>): Promise<T> {
  if (!signal) return work
  return new Promise((resolve, reject) => {
    const abort = () => {
      const abandoned = () => reject(new Error('lease work abandoned: stopping'))
      if (!onAbandon) return abandoned()
      onAbandon().then(abandoned, abandoned)
    }
    if (signal.aborted) return abort()
    signal.addEventListener('abort', abort, { once: true })
    work.then(
      (value) => { signal.removeEventListener('abort', abort); resolve(value) },
      (err: unknown) => { signal.removeEventListener('abort', abort); reject(err) })
  })
}

function keepRenewed (opts: LeaseLoopOptions<unknown>, owner: string): NodeJS.Timeout {
  const timer = setInterval(() => {
    opts.state.renewLease(opts.name, owner, opts.ttlMs).then((held) => {
      // lost (Redis restarted empty, or a pause longer than the ttl): the work goes on; at worst
      // another process starts the same work, which the guards in that work still bound
      if (!held) opts.logger?.warn({ lease: opts.name }, 'lease lost while its work was running')
    }, () => {})
  }, Math.max(50, Math.floor(opts.ttlMs / 3)))
  timer.unref()
  return timer
}
