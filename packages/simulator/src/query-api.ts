import type { IncomingMessage } from 'node:http'
import { randomBase62 } from './ids.ts'
import type { Answer } from './sobjects.ts'
import { orgNow } from './org-state.ts'
import { runSoql } from './soql.ts'
import type { SimOrgState } from './types.ts'

/**
 * The Query and QueryAll resources with Salesforce's paging (REST API Developer Guide, "Query",
 * "QueryAll", "Query More Results", "Execute a SOQL Query"): a result larger than the batch size
 * answers its first batch with `done: false` and `nextRecordsUrl`
 * (/services/data/vXX.X/query/01gD0000002HU6KIAW-2000); GET on that URL answers the next batch.
 * The batch size is 2,000, or what the `Sforce-Query-Options: batchSize=n` header asks for within
 * 200..2,000 ("Query Options Header"). An unknown or expired locator is 400 INVALID_QUERY_LOCATOR;
 * Salesforce keeps a locator 15 minutes after its last use (SOQL and SOSL Reference, "queryMore").
 */

const DEFAULT_BATCH = 2000
const MIN_BATCH = 200
const LOCATOR_IDLE_MS = 15 * 60 * 1000
/** more open cursors than this and the least recently used one goes (Salesforce limits them per user too) */
const MAX_CURSORS = 50

interface Cursor { records: unknown[], lastUsed: number, size: number }

const cursors = new WeakMap<SimOrgState, Map<string, Cursor>>()

function cursorsOf (org: SimOrgState): Map<string, Cursor> {
  let map = cursors.get(org)
  if (!map) cursors.set(org, map = new Map())
  return map
}

/** The batch size the request asks for, if it asks (a query-more without the header keeps its query's). */
export function batchSize (req: IncomingMessage | undefined): number | undefined {
  const header = req?.headers['sforce-query-options']
  const asked = /batchSize\s*=\s*(\d+)/i.exec(Array.isArray(header) ? header.join(',') : header ?? '')
  if (!asked) return undefined
  return Math.min(DEFAULT_BATCH, Math.max(MIN_BATCH, Number(asked[1])))
}

function page (org: SimOrgState, locator: string, cursor: Cursor, offset: number, size: number, version: string): Answer {
  const records = cursor.records.slice(offset, offset + size)
  const next = offset + size
  const done = next >= cursor.records.length
  // the locator stays until it idles out: a client (or a proxy) may ask for a batch again
  cursor.lastUsed = orgNow(org)
  return {
    status: 200,
    body: {
      totalSize: cursor.records.length,
      done,
      ...(done ? {} : { nextRecordsUrl: `/services/data/v${version}/query/${locator}-${next}` }),
      records,
    },
  }
}

/** GET query?q= or queryAll?q= (`includeDeleted`). */
export function queryAnswer (org: SimOrgState, userId: string, soql: string, version: string, includeDeleted = false, size = DEFAULT_BATCH): Answer {
  const result = runSoql(org, soql, version, userId, includeDeleted)
  if ('errorCode' in result) return { status: 400, body: [result] }
  if (result.records.length <= size) return { status: 200, body: result }
  const open = cursorsOf(org)
  const now = orgNow(org)
  for (const [key, cursor] of open) if (now - cursor.lastUsed > LOCATOR_IDLE_MS) open.delete(key)
  while (open.size >= MAX_CURSORS) open.delete(open.keys().next().value as string)
  const locator = `01g${randomBase62(15)}`
  const cursor = { records: result.records, lastUsed: now, size }
  open.set(locator, cursor)
  return page(org, locator, cursor, 0, size, version)
}

const INVALID_LOCATOR: Answer = { status: 400, body: [{ errorCode: 'INVALID_QUERY_LOCATOR', message: 'invalid query locator' }] }

/** GET query/{locator}-{offset} (or queryAll/…): the next batch. */
export function queryMoreAnswer (org: SimOrgState, locatorAndOffset: string, version: string, size?: number): Answer {
  const match = /^(01g\w+)-(\d+)$/.exec(locatorAndOffset)
  const cursor = match ? cursorsOf(org).get(match[1]) : undefined
  if (!match || !cursor || orgNow(org) - cursor.lastUsed > LOCATOR_IDLE_MS) return INVALID_LOCATOR
  return page(org, match[1], cursor, Number(match[2]), size ?? cursor.size, version)
}
