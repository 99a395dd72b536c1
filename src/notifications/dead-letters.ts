import { Type, type Static } from 'typebox'
import type { Streams } from '../shared-state/shared-state.ts'
import { deadLettersStream } from '../shared-state/state-names.ts'
import { NotificationEventSchema, type NotificationEvent } from './events.ts'

export const DeadLetterSchema = Type.Object({
  id: Type.String({ description: 'Position in the dead-letter list (pass as `before` for the next page)' }),
  failedAt: Type.String({ format: 'date-time' }),
  target: Type.Object({
    id: Type.String({ description: 'First 12 hex digits of the SHA-256 of the webhook URL (the URL itself may hold a token)' }),
    origin: Type.String({ description: 'Scheme, host and port of the webhook URL' }),
  }, { additionalProperties: false }),
  attempts: Type.Integer({ minimum: 0 }),
  lastError: Type.String({ description: 'HTTP status the receiver answered (e.g. "HTTP 503"), or what failed (timeout, connection refused, broker stopped)' }),
  event: NotificationEventSchema,
}, { $id: 'DeadLetter', additionalProperties: false })
export type DeadLetter = Static<typeof DeadLetterSchema>

export interface WebhookTarget {
  id: string
  origin: string
}

/**
 * Events a receiver did not take after every attempt, in a capped list of the shared state
 * (Redis: `<prefix>notification-dead-letters`), newest first: bounded so an endless outage
 * cannot fill Redis; an admin reads them (GET /v1/admin/notifications/dead-letters) and
 * replays what still matters.
 */
export class DeadLetters {
  private readonly state: Pick<Streams, 'appendToStream' | 'readStream'>
  private readonly maxLen: number

  constructor (opts: { state: Pick<Streams, 'appendToStream' | 'readStream'>, maxLen: number }) {
    this.state = opts.state
    this.maxLen = opts.maxLen
  }

  async add (letter: { target: WebhookTarget, attempts: number, lastError: string, event: NotificationEvent, failedAt: number }): Promise<void> {
    const { target, attempts, lastError, event, failedAt } = letter
    await this.state.appendToStream(deadLettersStream(), JSON.stringify({ failedAt: new Date(failedAt).toISOString(), target, attempts, lastError, event }), this.maxLen)
  }

  /** Newest first; `before` is the id of the last letter of the previous page. */
  async list (limit: number, before?: string): Promise<DeadLetter[]> {
    const rows = await this.state.readStream(deadLettersStream(), limit, before)
    return rows.map(({ id, entry }) => ({ id, ...JSON.parse(entry) as Omit<DeadLetter, 'id'> }))
  }
}
