/**
 * Time as a dependency: what reads the time or waits for it takes a Clock, so a test can move time
 * itself (test/support/manual-clock.ts) instead of sleeping through token TTLs and validation rounds.
 */

/** A timer set on a Clock; cancel() is harmless once it fired. */
export interface Timer {
  cancel (): void
}

export interface Clock {
  /** epoch milliseconds */
  now (): number
  /** runs `fn` once, `delayMs` from now (a negative delay counts as 0) */
  setTimer (delayMs: number, fn: () => void): Timer
}

/**
 * The real clock. Its timers are unref'd: a renewal or a validation round scheduled for later never
 * keeps the process alive on its own (shutdown closes the services that set them).
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer (delayMs, fn) {
    const timer = setTimeout(fn, Math.max(0, delayMs))
    timer.unref()
    return { cancel: () => clearTimeout(timer) }
  },
}
