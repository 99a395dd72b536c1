import type { IncomingHttpHeaders } from 'node:http'
import { Readable } from 'node:stream'
import { errors, util, type Dispatcher } from 'undici'

/** Salesforce's status and headers (names in lower case; a repeated header is an array). */
export interface UpstreamAnswer { statusCode: number, headers: IncomingHttpHeaders }

/**
 * How the route takes the answer's body once it has seen the status and headers:
 * - `whole`: read into memory, the first `keep` bytes kept (the rest read and dropped), then `done`;
 *   `broken` when Salesforce breaks off before the end;
 * - `stream`: handed on as a Readable at once (large, unknown-length or compressed answers), with
 *   backpressure: the upstream socket is paused while the caller is slow.
 * undefined: the call is aborted (the caller has gone).
 */
export type BodyTaking =
  | { whole: { keep: number, done: (body: Buffer) => void, broken: (err: Error) => void } }
  | { stream: (body: Readable) => void }
  | undefined

/**
 * One proxied call as an undici dispatch handler. undici's request() makes an async resource, a
 * Readable for every answer's body and an object of every header for each call; most proxied
 * answers are a few hundred bytes, read whole here without any stream (bench/profile-hot.ts proxy).
 *
 * `answered` sees the headers and says how to take the body; `failed` hears of an error before
 * the headers (nothing has reached the caller yet: connection refused, a timeout, an upload cut off).
 */
export class UpstreamCall implements Dispatcher.DispatchHandlers {
  private readonly answered: (answer: UpstreamAnswer) => BodyTaking
  private readonly failed: (err: Error) => void
  private abortCall: ((err?: Error) => void) | undefined
  private state: 'waiting' | 'whole' | 'stream' | 'over' = 'waiting'
  private whole: { keep: number, done: (body: Buffer) => void, broken: (err: Error) => void } | undefined
  private chunks: Buffer[] = []
  private kept = 0
  private body: UpstreamBody | undefined

  constructor (answered: (answer: UpstreamAnswer) => BodyTaking, failed: (err: Error) => void) {
    this.answered = answered
    this.failed = failed
  }

  onConnect (abort: (err?: Error) => void): void {
    this.abortCall = abort
  }

  onHeaders (statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    // 1xx (100 Continue, 103 Early Hints) are not answers
    if (statusCode < 200 || this.state !== 'waiting') return true
    let taking: BodyTaking
    try {
      taking = this.answered({ statusCode, headers: util.parseHeaders(rawHeaders) as IncomingHttpHeaders })
    } catch (err) {
      this.state = 'over'
      this.abortCall?.(err as Error)
      this.failed(err as Error)
      return false
    }
    if (taking === undefined) {
      this.state = 'over'
      this.abortCall?.(new errors.RequestAbortedError())
      return false
    }
    if ('whole' in taking) {
      this.state = 'whole'
      this.whole = taking.whole
      return true
    }
    this.state = 'stream'
    this.body = new UpstreamBody(resume, (err) => { this.abortCall?.(err) })
    taking.stream(this.body)
    return true
  }

  onData (chunk: Buffer): boolean {
    if (this.state === 'stream') return (this.body as UpstreamBody).push(chunk)
    if (this.state === 'whole' && this.kept < (this.whole as { keep: number }).keep) {
      this.chunks.push(chunk)
      this.kept += chunk.length
    }
    return true
  }

  onComplete (): void {
    if (this.state === 'stream') {
      this.state = 'over'
      ;(this.body as UpstreamBody).push(null)
      return
    }
    if (this.state !== 'whole') return
    this.state = 'over'
    const whole = this.whole as { keep: number, done: (body: Buffer) => void }
    const body = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks)
    this.chunks = []
    whole.done(body.length > whole.keep ? body.subarray(0, whole.keep) : body)
  }

  onError (err: Error): void {
    const state = this.state
    this.state = 'over'
    if (state === 'waiting') this.failed(err)
    else if (state === 'whole') (this.whole as { broken: (err: Error) => void }).broken(err)
    else if (state === 'stream' && !(this.body as UpstreamBody).destroyed) (this.body as UpstreamBody).destroy(err)
  }
}

/** An answer's body, streamed: reading resumes the upstream socket; destroying it aborts the call. */
class UpstreamBody extends Readable {
  private readonly resumeUpstream: () => void
  private readonly abortUpstream: (err: Error) => void

  constructor (resume: () => void, abort: (err: Error) => void) {
    super()
    this.resumeUpstream = resume
    this.abortUpstream = abort
  }

  override _read (): void {
    this.resumeUpstream()
  }

  override _destroy (err: Error | null, callback: (err?: Error | null) => void): void {
    // ended: the call is over; otherwise the reader went away (or the body broke): stop the call
    if (!this.readableEnded) this.abortUpstream(err ?? new errors.RequestAbortedError())
    callback(err)
  }
}
