/**
 * Per-caller request budget, per replica, in a fixed one-minute window. Kept in process on purpose:
 * the session hot path must not wait on Redis, and the limit exists to stop one runaway caller
 * from starving the others, not to meter exactly.
 */
const ALLOWED = Object.freeze({ allowed: true as const })

export class CallerRateLimiter {
  private readonly windows = new Map<string, { start: number, count: number }>()
  private readonly windowMs: number

  constructor (windowMs = 60_000) {
    this.windowMs = windowMs
  }

  /** Takes one request from the caller's budget; returns the seconds to wait when there is none left. */
  take (callerId: string, limit: number, now = Date.now()): { allowed: true } | { allowed: false, retryAfterSeconds: number } {
    let w = this.windows.get(callerId)
    if (!w || now - w.start >= this.windowMs) {
      w = { start: now, count: 0 }
      this.windows.set(callerId, w)
    }
    if (w.count >= limit) {
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((w.start + this.windowMs - now) / 1000)) }
    }
    w.count++
    return ALLOWED
  }
}
