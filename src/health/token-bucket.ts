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

  constructor (ratePerSecond: number, capacity = Math.max(1, Math.floor(ratePerSecond))) {
    if (!(ratePerSecond > 0)) throw new RangeError('ratePerSecond must be > 0')
    this.ratePerMs = ratePerSecond / 1000
    this.capacity = capacity
    this.tokens = capacity
    this.updatedAt = Date.now()
  }

  take (): Promise<void> {
    const turn = this.tail.then(() => this.waitForToken())
    this.tail = turn
    return turn
  }

  private async waitForToken (): Promise<void> {
    for (;;) {
      this.refill()
      if (this.tokens >= 1) {
        this.tokens -= 1
        return
      }
      const waitMs = Math.ceil((1 - this.tokens) / this.ratePerMs)
      await new Promise<void>(resolve => setTimeout(resolve, waitMs).unref())
    }
  }

  private refill (): void {
    const now = Date.now()
    this.tokens = Math.min(this.capacity, this.tokens + (now - this.updatedAt) * this.ratePerMs)
    this.updatedAt = now
  }
}
