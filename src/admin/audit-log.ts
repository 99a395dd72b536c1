import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import { DomainError } from '../errors.ts'
import type { AuditEvent } from '../schemas/connection.ts'
import type { Streams } from '../shared-state/shared-state.ts'
import { auditStream } from '../shared-state/state-names.ts'
import { decodeCursor, encodeCursor, type AuditOrder, type AuditStream } from './audit-cursor.ts'
import type { AuditSinkRecord, AuditSinks } from './audit-sink.ts'

export type { AuditOrder, AuditStream } from './audit-cursor.ts'
export type AuditInput = Omit<AuditEvent, 'id' | 'time'>

/** How much of a stream the shared state keeps: about the newest `maxEntries`, none older than `maxAgeMs`. */
export interface AuditRetention { maxEntries: number, maxAgeMs?: number }

/** An admin write about to be acted on (the request record, written to the sinks first). */
export interface AuditRequest {
  actor: string
  requestId: string
  method: string
  /** the route's pattern, e.g. /v1/admin/connections/:name/credentials (never a query string) */
  route: string
  connection?: string
}

export interface AuditQuery {
  stream?: AuditStream
  order?: AuditOrder
  limit: number
  /** the `next` of an earlier page: continues it (stream and order come from it) */
  cursor?: string
  sinceMs?: number
  untilMs?: number
  connection?: string
  actor?: string
  action?: string
}

export interface AuditPage {
  stream: AuditStream
  order: AuditOrder
  events: AuditEvent[]
  /** continues after this page; in `asc` order always present (the place to poll from later) */
  next?: string
  /** more matching events exist now: ask for `next` at once */
  more: boolean
}

const DEFAULT_RETENTION: AuditRetention = { maxEntries: 10_000 }
/** entries read per round trip, and at most per page: filters that match little end a page early (with `more`) */
const CHUNK = 500
const SCAN_BUDGET = 10_000
/**
 * A record's `time` is taken before it is sent; its place in the stream is Redis' clock when it
 * arrived (later, or off by the replicas' clock skew). Ranges read this much further each way and
 * then compare `time` itself, so `since`/`until` mean the record's time exactly.
 */
const CLOCK_SLACK_MS = 60_000

/**
 * Every admin action and every session handed out (`session.issued`), each in its own stream of
 * the shared state (Redis: `<prefix>audit` and `<prefix>audit-handouts`) with its own retention,
 * so hand-outs never push admin actions out. Each record is also a pino `audit` line and, when
 * configured, goes to durable sinks (a file, syslog): an admin record is written there before the
 * answer, a hand-out in the next batch. While Redis is down the shared state keeps this replica's
 * own recent events. Events carry names of changed fields, never their values.
 */
export class AuditLog {
  private readonly logger: Logger
  private readonly state: Pick<Streams, 'appendToStreamWithin' | 'readStreamRange'>
  private readonly retention: Record<AuditStream, AuditRetention>
  private readonly sinks: AuditSinks | undefined
  private readonly batches: Record<AuditStream, { entries: string[], written: Promise<void> } | undefined> = { admin: undefined, handouts: undefined }

  constructor (opts: { logger: Logger, state: Pick<Streams, 'appendToStreamWithin' | 'readStreamRange'>, retention?: Partial<Record<AuditStream, AuditRetention>>, sinks?: AuditSinks }) {
    this.logger = opts.logger.child({ audit: true })
    this.state = opts.state
    this.retention = { admin: opts.retention?.admin ?? DEFAULT_RETENTION, handouts: opts.retention?.handouts ?? DEFAULT_RETENTION }
    this.sinks = opts.sinks && opts.sinks.sinks.length > 0 ? opts.sinks : undefined
  }

  /** Whether admin writes are refused when their request record cannot be written durably. */
  get refusesUnaudited (): boolean {
    return this.sinks?.requireForAdminWrites === true
  }

  /**
   * Before an admin write is acted on: its request record, written to the sinks. Throws
   * `audit_unavailable` when no sink could write it and the sinks are required (Vault's rule).
   */
  async admit (request: AuditRequest): Promise<void> {
    if (!this.sinks) return
    const record = { stream: 'admin' as const, stage: 'request' as const, id: randomUUID(), time: new Date().toISOString(), ...request }
    const line: Partial<typeof record> = { ...record }
    delete line.time
    this.logger.info({ event: 'audit-request', ...line }, `audit request ${request.method} ${request.route}`)
    try {
      await this.sinks.write({ stream: 'admin', stage: 'request', time: record.time, json: JSON.stringify(record), failed: false }, false)
    } catch (err) {
      if (this.sinks.requireForAdminWrites) throw err
      this.logger.warn({ auditId: record.id }, 'admin write not refused although no audit sink took its request record (AUDIT_SINK_REQUIRED=false)')
    }
  }

  async record (input: AuditInput): Promise<AuditEvent> {
    const event: AuditEvent = { id: randomUUID(), time: new Date().toISOString(), ...input }
    const stream: AuditStream = event.action === 'session.issued' ? 'handouts' : 'admin'
    // the line's own `time` (pino's) is the record's time: one `time` per line
    const line: Partial<AuditEvent> = { ...event }
    delete line.time
    this.logger.info({ event: 'audit', ...line }, `audit ${event.action} ${event.outcome}`)
    const sink = this.toSinks(stream, event)
    const shared = this.append(stream, JSON.stringify(event))
      .catch((err: unknown) => {
        // the log line and the sinks hold it; the stream is what the API lists
        this.logger.warn({ err: { message: (err as Error).message }, auditId: event.id }, 'audit event not written to the shared stream')
      })
    // a hand-out does not wait for the sink (it goes in the next batch); an admin record does
    await Promise.all([shared, stream === 'admin' ? sink : undefined])
    return event
  }

  /**
   * Records of the same moment go to the shared stream together, in one round trip (a busy replica
   * hands out many sessions at once): each batch waits for the current turn of the event loop only.
   */
  private append (stream: AuditStream, entry: string): Promise<void> {
    let batch = this.batches[stream]
    if (!batch) {
      const entries: string[] = []
      const written = new Promise(resolve => setImmediate(resolve)).then(() => {
        this.batches[stream] = undefined
        const { maxEntries, maxAgeMs } = this.retention[stream]
        return this.state.appendToStreamWithin(auditStream(stream), entries, { maxLen: maxEntries, maxAgeMs })
      })
      batch = this.batches[stream] = { entries, written }
    }
    batch.entries.push(entry)
    return batch.written
  }

  private async toSinks (stream: AuditStream, event: AuditEvent): Promise<void> {
    if (!this.sinks) return
    const record: AuditSinkRecord = {
      stream,
      stage: 'outcome',
      time: event.time,
      json: JSON.stringify({ stream, stage: 'outcome', ...event }),
      failed: event.outcome !== 'success',
    }
    await this.sinks.write(record, true).catch(() => {
      // the action happened: the record is held and written before the next admitted admin write
      this.logger.error({ auditId: event.id, stream }, 'audit record not yet written to any sink: held for a retry')
    })
  }

  /**
   * Newest first, filtered. Without `action`, admin actions only: the sessions handed out
   * (`session.issued`) are listed when asked for by name.
   */
  async list (limit: number, connection?: string, actor?: string, action?: string): Promise<AuditEvent[]> {
    return (await this.page({ limit, connection, actor, action })).events
  }

  /** A page of one stream in a time range, continued with `next`; for a SIEM pulling everything. */
  async page (q: AuditQuery): Promise<AuditPage> {
    const from = q.cursor === undefined ? undefined : decodeCursor(q.cursor)
    if (from && ((q.stream && q.stream !== from.stream) || (q.order && q.order !== from.order))) {
      throw new DomainError('bad_request', `the cursor continues the ${from.stream} stream in ${from.order} order: leave stream and order out, or start again without the cursor`, {
        errors: [{ path: 'querystring/cursor', message: 'belongs to another stream or order' }],
      })
    }
    const stream = from?.stream ?? q.stream ?? (q.action === 'session.issued' ? 'handouts' : 'admin')
    const order = from?.order ?? q.order ?? 'desc'
    const sinceMs = from?.sinceMs ?? q.sinceMs
    // the age limit is trimmed on the next append; a stream that went quiet still holds what it no longer keeps
    const maxAgeMs = this.retention[stream].maxAgeMs
    const keptSinceMs = maxAgeMs === undefined ? sinceMs : Math.max(sinceMs ?? 0, Date.now() - maxAgeMs)
    const matches = (e: AuditEvent) => (!q.connection || e.connection === q.connection) && (!q.actor || e.actor === q.actor) &&
      (q.action ? e.action === q.action : stream === 'handouts' || e.action !== 'session.issued') &&
      (keptSinceMs === undefined || Date.parse(e.time) >= keptSinceMs) && (q.untilMs === undefined || Date.parse(e.time) <= q.untilMs)
    const range = {
      sinceMs: keptSinceMs === undefined ? undefined : Math.max(0, keptSinceMs - CLOCK_SLACK_MS),
      untilMs: q.untilMs === undefined ? undefined : q.untilMs + CLOCK_SLACK_MS,
    }
    const events: AuditEvent[] = []
    let last = from?.after
    let scanned = 0
    let more = true
    while (events.length < q.limit && scanned < SCAN_BUDGET) {
      const count = Math.min(CHUNK, SCAN_BUDGET - scanned)
      const rows = await this.state.readStreamRange(auditStream(stream), { order, count, after: last, ...range })
      let read = 0
      for (const row of rows) {
        read++
        last = row.id
        const e = parse(row.entry)
        if (e && matches(e)) events.push(e)
        if (events.length >= q.limit) break
      }
      scanned += read
      if (rows.length < count && read === rows.length) {
        more = false
        break
      }
    }
    // `since` stays in the cursor: newest first it is the far end of the walk, and oldest first a record
    // within the clock slack after the position can still be older than it
    const next = order === 'asc' || more
      ? encodeCursor({ stream, order, after: last, sinceMs })
      : undefined
    return { stream, order, events, more, ...(next ? { next } : {}) }
  }

  /** Every matching event, page after page (e.g. the sessions handed out for a connection since a time). */
  async * all (q: Omit<AuditQuery, 'cursor' | 'limit'>): AsyncGenerator<AuditEvent> {
    let page = await this.page({ ...q, limit: 1000 })
    for (;;) {
      yield * page.events
      if (!page.more || !page.next) return
      page = await this.page({ limit: 1000, cursor: page.next, connection: q.connection, actor: q.actor, action: q.action, untilMs: q.untilMs })
    }
  }

  async close (): Promise<void> {
    await this.sinks?.close()
  }
}

function parse (entry: string): AuditEvent | null {
  try {
    return JSON.parse(entry) as AuditEvent
  } catch {
    return null
  }
}
