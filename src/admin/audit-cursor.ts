import { DomainError } from '../errors.ts'

export type AuditStream = 'admin' | 'handouts'
export type AuditOrder = 'asc' | 'desc'

/** Where a page of the audit ended: the stream and order it was read in, and the last entry looked at. */
export interface AuditPosition {
  stream: AuditStream
  order: AuditOrder
  /** id of the last stream entry read (the next page continues after it) */
  after?: string
  /** no entry read yet: the next page starts at this time (ms) */
  sinceMs?: number
}

/**
 * Cursors are opaque to clients (base64url of a small JSON document): the stream's entry ids are
 * an implementation detail of Redis and may change with the store.
 */
export function encodeCursor (p: AuditPosition): string {
  const doc = { v: 1, s: p.stream, o: p.order, ...(p.after !== undefined ? { a: p.after } : {}), ...(p.sinceMs !== undefined ? { t: p.sinceMs } : {}) }
  return Buffer.from(JSON.stringify(doc)).toString('base64url')
}

export function decodeCursor (cursor: string): AuditPosition {
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    throw badCursor()
  }
  // a forged `null` is JSON too: checked before any member is read
  if (parsed === null || typeof parsed !== 'object') throw badCursor()
  const doc = parsed as Record<string, unknown>
  const stream = doc.s
  const order = doc.o
  if (doc.v !== 1 || (stream !== 'admin' && stream !== 'handouts') || (order !== 'asc' && order !== 'desc')) throw badCursor()
  if (doc.a !== undefined && (typeof doc.a !== 'string' || !/^\d{1,15}-\d{1,15}$/.test(doc.a))) throw badCursor()
  if (doc.t !== undefined && (typeof doc.t !== 'number' || !Number.isSafeInteger(doc.t) || doc.t < 0)) throw badCursor()
  return { stream, order, after: doc.a as string | undefined, sinceMs: doc.t as number | undefined }
}

function badCursor (): DomainError {
  return new DomainError('bad_request', 'cursor is not one this broker issued: pass the `next` of an earlier answer unchanged', {
    errors: [{ path: 'querystring/cursor', message: 'not a cursor of this API' }],
  })
}
