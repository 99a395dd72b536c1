import type { IncomingMessage, ServerResponse } from 'node:http'
import { handleBulkIngest } from './bulk-ingest.ts'
import { collectionsAnswer } from './collections.ts'
import { readBody, sendEmpty, sendJson } from './http.ts'
import { batchSize, queryAnswer, queryMoreAnswer } from './query-api.ts'
import { sobjectsAnswer, type Answer } from './sobjects.ts'
import type { SimOrgState } from './types.ts'

/**
 * The data resources under /services/data/vXX.X/ beyond limits and composite: query and queryAll
 * with paging (query-api.ts), sObject rows and describes (sobjects.ts), sObject Collections
 * (collections.ts) and Bulk API 2.0 ingest (bulk-ingest.ts). The caller has checked the session
 * and charged the call; `headers` carry Sforce-Limit-Info. Returns false for any other resource.
 */

const JSON_PARSER_ERROR: Answer = { status: 400, body: [{ message: 'Unexpected character (\'<\' (code 60)): expected a valid value (number, String, array, object, \'true\', \'false\' or \'null\')', errorCode: 'JSON_PARSER_ERROR' }] }

async function jsonBody (req: IncomingMessage): Promise<{ body: unknown } | undefined> {
  const raw = await readBody(req)
  if (raw.trim() === '') return { body: undefined }
  try {
    return { body: JSON.parse(raw) }
  } catch {
    return undefined
  }
}

function send (res: ServerResponse, answer: Answer, headers: Record<string, string>): void {
  if (answer.body === undefined) sendEmpty(res, answer.status, headers)
  else sendJson(res, answer.status, answer.body, headers)
}

export async function handleDataResource (
  org: SimOrgState, userId: string, req: IncomingMessage, res: ServerResponse, url: URL, version: string, resource: string, headers: Record<string, string>, baseUrl: string
): Promise<boolean> {
  const method = req.method ?? 'GET'
  const parts = resource.split('/')
  if (parts[0] === 'jobs' && parts[1] === 'ingest') {
    await handleBulkIngest(org, userId, req, res, parts.slice(2), version, headers)
    return true
  }
  if ((parts[0] === 'query' || parts[0] === 'queryAll') && method === 'GET') {
    const answer = parts.length > 1
      ? queryMoreAnswer(org, parts.slice(1).join('/'), version, batchSize(req))
      : queryAnswer(org, userId, url.searchParams.get('q') ?? '', version, parts[0] === 'queryAll', batchSize(req))
    send(res, answer, headers)
    return true
  }
  const collections = parts[0] === 'composite' && parts[1] === 'sobjects'
  if (parts[0] !== 'sobjects' && !collections) return false
  const parsed = method === 'POST' || method === 'PATCH' ? await jsonBody(req) : { body: undefined }
  if (!parsed) {
    send(res, JSON_PARSER_ERROR, headers)
    return true
  }
  const answer = collections
    ? collectionsAnswer(org, userId, method, parts.slice(2), url.searchParams, parsed.body, version)
    : sobjectsAnswer(org, userId, method, parts.slice(1), url.searchParams, parsed.body, version, baseUrl)
  send(res, answer, headers)
  return true
}
