import { createHash } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import { isLoopback } from '../config.ts'
import { egressFetch } from '../egress.ts'
import type { DeadLetters, WebhookTarget } from './dead-letters.ts'
import type { NotificationEvent } from './events.ts'
import { SIGNATURE_HEADER, signatureHeader } from './signature.ts'

export interface CourierOptions {
  /** WEBHOOK_URLS: every event goes to each */
  urls: readonly string[]
  /** the current secret first, then the one being rotated out */
  secrets: readonly string[]
  /** attempts per event and URL before it becomes a dead letter */
  maxAttempts: number
  /** the wait after the first failed attempt; doubled after each, up to maxDelayMs (with jitter) */
  baseDelayMs: number
  maxDelayMs: number
  /** one attempt's limit: a receiver that holds the request longer counts as failed */
  timeoutMs: number
  deadLetters: DeadLetters
  logger: Logger
  /** the clock of the signature's time stamp (tests move it) */
  now?: () => number
}

/** Deliveries waiting at once, per replica: past it, a new one becomes a dead letter at once instead of memory growing without end. */
const MAX_PENDING = 1000

interface Target extends WebhookTarget {
  url: string
  /** a receiver on this machine (http is allowed only there) is never reached through the egress proxy */
  send: (url: string, init: RequestInit) => Promise<Response>
}

/**
 * Delivers events to the webhook URLs: an HTTP POST of the event as JSON, signed, retried with
 * exponential backoff until the receiver answers 2xx, or until maxAttempts, when the event goes
 * to the dead-letter list. At least once: a receiver that took an event but answered late gets it
 * again (same `Sfb-Event-Id`). Redirects are not followed (the signed event stays with the URL it
 * was configured for). Nothing the receiver answers is logged or kept beyond its status code.
 */
export class WebhookCourier {
  private readonly opts: CourierOptions
  private readonly targets: Target[]
  private readonly pending = new Set<Promise<void>>()
  private readonly stopping = new AbortController()

  constructor (opts: CourierOptions) {
    this.opts = opts
    // through the egress proxy (HTTPS_PROXY, HTTP_PROXY, NO_PROXY) like every outbound call of the broker,
    // except to loopback: a proxy cannot reach this machine's loopback, and its own is another host's
    this.targets = opts.urls.map(url => ({ url, id: targetId(url), origin: new URL(url).origin, send: isLoopback(new URL(url).hostname) ? fetch : egressFetch }))
  }

  /** Starts delivering the event to every URL; returns at once. */
  send (event: NotificationEvent): void {
    for (const target of this.targets) {
      const delivery = this.pending.size >= MAX_PENDING
        ? this.bury(target, event, 0, 'too many deliveries waiting on this replica')
        : this.deliver(target, event)
      this.pending.add(delivery)
      delivery.finally(() => this.pending.delete(delivery)).catch(() => {})
    }
  }

  /** Deliveries now waiting for their next attempt or an answer (this replica). */
  get inFlight (): number {
    return this.pending.size
  }

  private async deliver (target: Target, event: NotificationEvent): Promise<void> {
    const body = JSON.stringify(event)
    let lastError = 'not attempted'
    let attempt = 0
    while (attempt < this.opts.maxAttempts && !this.stopping.signal.aborted) {
      attempt++
      lastError = await this.attempt(target, event, body, attempt)
      if (lastError === '') {
        if (attempt > 1) this.opts.logger.info({ event: event.id, type: event.type, target: target.origin, attempts: attempt }, 'webhook delivered after retries')
        return
      }
      this.opts.logger.warn({ event: event.id, type: event.type, target: target.origin, attempt, error: lastError }, 'webhook delivery failed')
      if (attempt < this.opts.maxAttempts) {
        try {
          await sleep(this.delayAfter(attempt), undefined, { signal: this.stopping.signal })
        } catch {
          break
        }
      }
    }
    if (this.stopping.signal.aborted && attempt < this.opts.maxAttempts) lastError = `broker stopped before delivery (last: ${lastError})`
    await this.bury(target, event, attempt, lastError)
  }

  /** '' when delivered; otherwise what went wrong, in words safe to keep. */
  private async attempt (target: Target, event: NotificationEvent, body: string, attempt: number): Promise<string> {
    const now = this.opts.now ?? Date.now
    try {
      const res = await target.send(target.url, {
        method: 'POST',
        redirect: 'manual',
        signal: AbortSignal.any([AbortSignal.timeout(this.opts.timeoutMs), this.stopping.signal]),
        headers: {
          'content-type': 'application/json',
          'user-agent': 'sf-broker-webhook/1',
          'sfb-event-id': event.id,
          'sfb-event-type': event.type,
          'sfb-delivery-attempt': String(attempt),
          [SIGNATURE_HEADER]: signatureHeader(body, this.opts.secrets, now() / 1000),
        },
        body,
      })
      // the answer's body is the receiver's and never read: cancelled, so a receiver answering a large
      // body takes no memory (the status says everything)
      await res.body?.cancel().catch(() => undefined)
      return res.status >= 200 && res.status < 300 ? '' : `HTTP ${res.status}`
    } catch (err) {
      return failureWords(err)
    }
  }

  private delayAfter (attempt: number): number {
    const ceiling = Math.min(this.opts.maxDelayMs, this.opts.baseDelayMs * 2 ** (attempt - 1))
    // jitter: receivers coming back from an outage are not hit by every replica at the same instant
    return Math.round(ceiling / 2 + Math.random() * ceiling / 2)
  }

  private async bury (target: Target, event: NotificationEvent, attempts: number, lastError: string): Promise<void> {
    this.opts.logger.error({ event: event.id, type: event.type, target: target.origin, attempts, error: lastError }, 'webhook not delivered: kept as a dead letter')
    try {
      await this.opts.deadLetters.add({ target: { id: target.id, origin: target.origin }, attempts, lastError, event, failedAt: Date.now() })
    } catch (err) {
      this.opts.logger.error({ event: event.id, err: { message: (err as Error).message } }, 'webhook dead letter could not be stored')
    }
  }

  /**
   * Shutdown: no new attempt starts, a waiting delivery ends at once, and every event not
   * delivered is kept as a dead letter (readable from any replica), never dropped in silence.
   */
  async close (): Promise<void> {
    this.stopping.abort()
    await Promise.allSettled([...this.pending])
  }
}

/** Names a URL without showing it: the path or query of a webhook URL is often its credential. */
export function targetId (url: string): string {
  return createHash('sha256').update(url).digest('hex').slice(0, 12)
}

function failureWords (err: unknown): string {
  const e = err as { name?: string, cause?: { code?: unknown } }
  if (e?.name === 'TimeoutError') return 'timeout'
  if (e?.name === 'AbortError') return 'broker stopped'
  const code = e?.cause?.code
  if (typeof code === 'string' && /^[A-Z_]{3,40}$/.test(code)) return code
  return 'network error'
}
