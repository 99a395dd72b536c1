import { systemClock, type Clock, type Timer } from '../clock.ts'

/** take() after close(): the process is shutting down, the call must not be made. */
export class TokenBucketClosedError extends Error {
  constructor () {
    super('token bucket closed')
    this.name = 'TokenBucketClosedError'
  }
}

/**
 * A token bucket for calls to Salesforce: `take()` resolves when a token is free, so validations
 * queue instead of bursting. Per replica; the fleet-wide bound comes from each connection being
 * validated by only one replica per interval.
 */
export class TokenBucket {
  private readonly ratePerMs: number
  private readonly capacity: number
  private tokens: number
  private updatedAt: number
  /** the tail of the queue: each taker waits for the one before it, so tokens go out in order */
  private tail: Promise<void> = Promise.resolve()
  private closed = false
  private wakeUp: (() => void) | null = null
  private readonly clock: Clock

  /** `clock`: where refills are timed and waits are set (tests move a ManualClock instead of waiting) */
  constructor (ratePerSecond: number, capacity = Math.max(1, Math.floor(ratePerSecond)), clock: Clock = systemClock) {
    if (!(ratePerSecond > 0)) throw new RangeError('ratePerSecond must be > 0')
    this.ratePerMs = ratePerSecond / 1000
    this.capacity = capacity
    this.tokens = capacity
    this.clock = clock
    this.updatedAt = clock.now()
  }

  take (): Promise<void> {
    const turn = this.tail.then(() => this.waitForToken())
    // a rejected turn must not stop the takers behind it
    this.tail = turn.catch(() => {})
    return turn
  }

  /** Every waiting and future take() rejects with TokenBucketClosedError (shutdown must not wait for the queue). */
  close (): void {
    this.closed = true
    this.wakeUp?.()
  }

  private async waitForToken (): Promise<void> {
    for (;;) {
      if (this.closed) throw new TokenBucketClosedError()
      this.refill()
      if (this.tokens >= 1) {
        this.tokens -= 1
        return
      }
      const waitMs = Math.ceil((1 - this.tokens) / this.ratePerMs)
      await new Promise<void>((resolve) => {
        // the system clock's timers are unref'd: a queue of validations never holds the process open
        const done = () => {
          timer.cancel()
          this.wakeUp = null
          resolve()
        }
        const timer: Timer = this.clock.setTimer(waitMs, done)
        this.wakeUp = done
      })
    }
  }

  private refill (): void {
    const now = this.clock.now()
    this.tokens = Math.min(this.capacity, this.tokens + (now - this.updatedAt) * this.ratePerMs)
    this.updatedAt = now
  }
}
