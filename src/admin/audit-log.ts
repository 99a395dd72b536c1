import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { AuditEvent } from '../schemas/connection.ts'
import type { RedisClient } from '../sessions/redis-client.ts'

export type AuditInput = Omit<AuditEvent, 'id' | 'time'>

const MAX_LOCAL = 1000

/**
 * Every admin action, as a pino `audit` event (the durable trail, shipped with the logs) and in
 * a capped Redis stream that GET /v1/admin/audit reads, so any replica shows the fleet's history.
 * Events carry names of changed fields, never their values.
 */
export class AuditLog {
  private readonly logger: Logger
  private readonly redis: RedisClient | undefined
  private readonly streamKey: string
  private readonly maxLen: number
  private readonly local: AuditEvent[] = []

  constructor (opts: { logger: Logger, redis?: RedisClient, keyPrefix: string, maxLen?: number }) {
    this.logger = opts.logger.child({ audit: true })
    this.redis = opts.redis
    this.streamKey = `${opts.keyPrefix}audit`
    this.maxLen = opts.maxLen ?? 10_000
  }

  async record (input: AuditInput): Promise<AuditEvent> {
    const event: AuditEvent = { id: randomUUID(), time: new Date().toISOString(), ...input }
    this.logger.info({ event: 'audit', ...event }, `audit ${event.action} ${event.outcome}`)
    this.local.push(event)
    if (this.local.length > MAX_LOCAL) this.local.shift()
    if (this.redis) {
      try {
        await this.redis.xadd(this.streamKey, 'MAXLEN', '~', String(this.maxLen), '*', 'e', JSON.stringify(event))
      } catch (err) {
        // the log line above is the durable record; the stream is a convenience view
        this.logger.warn({ err: { message: (err as Error).message }, auditId: event.id }, 'audit event not written to redis stream')
      }
    }
    return event
  }

  /** Newest first. Falls back to this replica's own recent events when Redis can't be read. */
  /**
   * Newest first, filtered. Without `action`, admin actions only: the sessions handed out
   * (`session.issued`, many) are listed when asked for by name.
   */
  async list (limit: number, connection?: string, actor?: string, action?: string): Promise<AuditEvent[]> {
    const matches = (e: AuditEvent) => (!connection || e.connection === connection) && (!actor || e.actor === actor) &&
      (action ? e.action === action : e.action !== 'session.issued')
    if (this.redis) {
      try {
        const out: AuditEvent[] = []
        let end = '+'
        // scan backwards in pages until enough matching events or the stream's start
        for (let page = 0; page < 20 && out.length < limit; page++) {
          const rows = await this.redis.xrevrange(this.streamKey, end, '-', 'COUNT', 500)
          if (rows.length === 0) break
          for (const [id, fields] of rows) {
            const raw = fields[fields.indexOf('e') + 1]
            const e = JSON.parse(raw) as AuditEvent
            if (matches(e)) out.push(e)
            if (out.length >= limit) break
            end = `(${id}`
          }
          if (rows.length < 500) break
        }
        return out
      } catch (err) {
        this.logger.warn({ err: { message: (err as Error).message } }, 'audit stream unreadable: answering from local events')
      }
    }
    return this.local.filter(matches).reverse().slice(0, limit)
  }
}
