import { CliError, EXIT, type Call } from '../broker-api.ts'
import { table } from '../output.ts'
import type { CommandContext } from '../context.ts'

export interface AuditOptions {
  stream?: string
  connection?: string
  actor?: string
  action?: string
  since?: string
  until?: string
  limit?: number
}

type Event = Record<string, unknown>
interface Page { events: Event[], next?: string, more: boolean }

/** Pages a --since listing asks for at most: a runaway loop ends, and --limit N says how many to show. */
const MAX_PAGES = 1000

/**
 * Without --since: the newest events (one page, newest first). With --since: every event from then
 * on, oldest first, page after page (as a SIEM pulls), up to --limit events.
 */
export async function audit (ctx: CommandContext, call: Call, opts: AuditOptions, now = Date.now()): Promise<number> {
  const query = new URLSearchParams()
  if (opts.stream) query.set('stream', opts.stream)
  if (opts.connection) query.set('connection', opts.connection)
  if (opts.actor) query.set('actor', opts.actor)
  if (opts.action) query.set('action', opts.action)
  if (opts.until) query.set('until', pointInTime(opts.until, '--until', now))
  let events: Event[]
  let next: string | undefined
  if (opts.since === undefined) {
    if (opts.limit) query.set('limit', String(opts.limit))
    const page = (await call('GET /v1/admin/audit', { query })).body as Page
    if (ctx.json) return ctx.print(page)
    events = page.events
  } else {
    query.set('since', pointInTime(opts.since, '--since', now))
    query.set('order', 'asc')
    const wanted = opts.limit ?? Number.POSITIVE_INFINITY
    events = []
    for (let n = 0; n < MAX_PAGES && events.length < wanted; n++) {
      query.set('limit', String(Math.min(1000, wanted - events.length)))
      const page = (await call('GET /v1/admin/audit', { query })).body as Page
      events.push(...page.events)
      next = page.next
      if (!page.more || !page.next) break
      // a cursor carries the stream, order and position; the filters and `until` go along again
      query.delete('since')
      query.delete('stream')
      query.delete('order')
      query.set('cursor', page.next)
    }
    if (ctx.json) return ctx.print({ events, ...(next ? { next } : {}) })
  }
  ctx.out(table(['TIME', 'ACTOR', 'ACTION', 'CONNECTION', 'OUTCOME', 'VERSION', 'DETAIL'], events.map(e => [
    e.time as string, e.actor as string, e.action as string, e.connection as string | undefined, e.outcome as string,
    e.version as number | undefined,
    [
      e.classification === 'ok' ? undefined : e.classification as string | undefined,
      Array.isArray(e.fields) ? `fields: ${e.fields.join(',')}` : undefined,
      e.fromVersion !== undefined ? `from v${e.fromVersion as number}` : undefined,
      e.targetVersion !== undefined ? `content of v${e.targetVersion as number}` : undefined,
      e.tokenFingerprint !== undefined ? `token ${e.tokenFingerprint as string}, until ${e.expiresAt as string}` : undefined,
    ].filter(Boolean).join('; '),
  ])))
  return EXIT.ok
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** RFC 3339 as is, or a span back from now: 90s, 30m, 12h, 7d. */
export function pointInTime (text: string, flag: string, now: number): string {
  const span = /^(\d{1,6})([smhd])$/.exec(text)
  if (span) return new Date(now - Number(span[1]) * UNITS[span[2]]).toISOString()
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i.test(text) && !Number.isNaN(Date.parse(text))) {
    return new Date(Date.parse(text)).toISOString()
  }
  if (/^\d{4}-\d{2}-\d{2}$/.test(text) && !Number.isNaN(Date.parse(text))) return new Date(`${text}T00:00:00Z`).toISOString()
  throw new CliError(EXIT.usage, `${flag} wants a time such as 2026-12-01T09:00:00Z, 2026-12-01 (UTC midnight) or a span back from now such as 30m, 12h, 7d (got "${text}")`)
}
