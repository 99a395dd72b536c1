import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { AuditEvent } from '../schemas/connection.ts'
import type { SharedState } from '../shared-state/shared-state.ts'

export type AuditInput = Omit<AuditEvent, 'id' | 'time'>

const STREAM = 'audit'
const PAGE = 500

/**
 * Every admin action, as a pino `audit` event (the durable trail, shipped with the logs) and in
 * a capped stream of the shared state (Redis: `<prefix>audit`) that GET /v1/admin/audit reads, so
 * any replica shows the fleet's history; while Redis is down the shared state keeps this replica's
 * own recent events. Events carry names of changed fields, never their values.
 */
export class AuditLog {
  private readonly logger: Logger
  private readonly state: Pick<SharedState, 'appendToStream' | 'readStream'>
  private readonly maxLen: number

  constructor (opts: { logger: Logger, state: Pick<SharedState, 'appendToStream' | 'readStream'>, maxLen?: number }) {
    this.logger = opts.logger.child({ audit: true })
    this.state = opts.state
    this.maxLen = opts.maxLen ?? 10_000
  }

  async record (input: AuditInput): Promise<AuditEvent> {
    const event: AuditEvent = { id: randomUUID(), time: new Date().toISOString(), ...input }
    this.logger.info({ event: 'audit', ...event }, `audit ${event.action} ${event.outcome}`)
    try {
      await this.state.appendToStream(STREAM, JSON.stringify(event), this.maxLen)
    } catch (err) {
      // the log line above is the durable record; the stream is a convenience view
      this.logger.warn({ err: { message: (err as Error).message }, auditId: event.id }, 'audit event not written to the shared stream')
    }
    return event
  }

  /**
   * Newest first, filtered. Without `action`, admin actions only: the sessions handed out
   * (`session.issued`, many) are listed when asked for by name.
   */
  async list (limit: number, connection?: string, actor?: string, action?: string): Promise<AuditEvent[]> {
    const matches = (e: AuditEvent) => (!connection || e.connection === connection) && (!actor || e.actor === actor) &&
      (action ? e.action === action : e.action !== 'session.issued')
    const out: AuditEvent[] = []
    let before: string | undefined
    // scan backwards in pages until enough matching events or the stream's start
    for (let page = 0; page < 20 && out.length < limit; page++) {
      const rows = await this.state.readStream(STREAM, PAGE, before)
      if (rows.length === 0) break
      for (const { id, entry } of rows) {
        const e = JSON.parse(entry) as AuditEvent
        if (matches(e)) out.push(e)
        if (out.length >= limit) break
        before = id
      }
      if (rows.length < PAGE) break
    }
    return out
  }
}
