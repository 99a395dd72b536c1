import type { IncomingMessage, ServerResponse } from 'node:http'
import { readBody, sendJson } from './http.ts'
import { queryAnswer, queryMoreAnswer } from './query-api.ts'
import type { SimSession } from './sessions.ts'
import { sobjectsAnswer, type Answer } from './sobjects.ts'
import { transaction } from './records.ts'
import type { SimOrgState } from './types.ts'

/**
 * POST /services/data/vXX.X/composite: several subrequests in one call that "counts as a single
 * call toward your API limits" (REST API Developer Guide, "Send Multiple Requests Using Composite";
 * shapes from "Composite Request Body" and "Composite Subrequest Result"). A subrequest may use an
 * earlier one's answer as @{referenceId.field} in its url or body. allOrNone: true rolls the whole
 * request back at the first error; the others then answer 400 PROCESSING_HALTED. Without it, a
 * subrequest that depends on a failed one is not run; the rest are. The simulator runs query,
 * queryAll, query-more and sObject subrequests; any other resource answers that subrequest 404.
 */

const SUBREQUEST_URL = /^\/services\/data\/v(\d+\.\d+)\/(query|queryAll|sobjects)(?:\/([\w/-]*?))?\/?(\?.*)?$/
const MAX_SUBREQUESTS = 25
const MAX_QUERIES = 5
const HALTED = [{ errorCode: 'PROCESSING_HALTED', message: 'The transaction was rolled back since another operation in the same transaction failed.' }]
const NOT_FOUND = [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }]

interface Subrequest { method?: unknown, url?: unknown, referenceId?: unknown, body?: unknown }
interface Result { answer: Answer, headers: Record<string, string> }

function parse (raw: string): { allOrNone: boolean, subrequests: Subrequest[] } | undefined {
  try {
    const body = JSON.parse(raw) as { allOrNone?: unknown, compositeRequest?: unknown }
    if (!Array.isArray(body.compositeRequest)) return undefined
    return { allOrNone: body.allOrNone === true, subrequests: body.compositeRequest as Subrequest[] }
  } catch {
    return undefined
  }
}

/** @{ref.field} / @{ref.records[0].Id}: a value from an earlier subrequest's answer. */
function lookup (done: Map<string, Result>, expression: string): unknown {
  const [ref, ...path] = expression.split(/\.|\[(\d+)\]\.?/).filter(p => p !== undefined && p !== '')
  let value: unknown = done.get(ref)?.answer.body
  for (const key of path) value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined
  return value
}

class UnresolvedReference extends Error {}

function resolve (done: Map<string, Result>, text: string): string {
  return text.replace(/@\{([\w.[\]]+)\}/g, (_, expression: string) => {
    const value = lookup(done, expression)
    if (value === undefined || value === null || typeof value === 'object') throw new UnresolvedReference(expression)
    return String(value)
  })
}

function runSubrequest (org: SimOrgState, session: SimSession, sub: Subrequest, done: Map<string, Result>, baseUrl: string): Result {
  const method = typeof sub.method === 'string' ? sub.method : ''
  let url: string
  let body: unknown
  try {
    url = typeof sub.url === 'string' ? resolve(done, sub.url) : ''
    body = sub.body === undefined ? undefined : JSON.parse(resolve(done, JSON.stringify(sub.body)))
  } catch (err) {
    if (!(err instanceof UnresolvedReference)) throw err
    const message = `Invalid reference specified. No value for ${err.message} found. Provided referenceId must match a referenceId of a previous subrequest that succeeded.`
    return { answer: { status: 400, body: [{ errorCode: 'PROCESSING_HALTED', message }] }, headers: {} }
  }
  const match = SUBREQUEST_URL.exec(url)
  if (!match) return { answer: { status: 404, body: NOT_FOUND }, headers: {} }
  const [, version, resource, rest = '', query = ''] = match
  const search = new URLSearchParams(query.slice(1))
  if (resource === 'sobjects') {
    const answer = sobjectsAnswer(org, session.userId, method, rest.split('/').filter(Boolean), search, body, version, baseUrl)
    const created = answer.status === 201 ? (answer.body as { id: string }).id : undefined
    return { answer, headers: created ? { Location: `/services/data/v${version}/sobjects/${rest.split('/')[0]}/${created}` } : {} }
  }
  if (method !== 'GET') return { answer: { status: 405, body: [{ message: `HTTP Method '${method}' not allowed. Allowed are GET`, errorCode: 'METHOD_NOT_ALLOWED' }] }, headers: {} }
  const answer = rest !== ''
    ? queryMoreAnswer(org, rest, version)
    : queryAnswer(org, session.userId, search.get('q') ?? '', version, resource === 'queryAll')
  return { answer, headers: {} }
}

export async function handleComposite (org: SimOrgState, session: SimSession, req: IncomingMessage, res: ServerResponse, headers: Record<string, string>, baseUrl: string): Promise<void> {
  const request = parse(await readBody(req))
  if (!request) {
    return sendJson(res, 400, [{ message: 'Json Deserialization failed on token \'null\' and has left off in the middle of parsing a row. Will go to end of row to begin parsing the next row', errorCode: 'JSON_PARSER_ERROR' }], headers)
  }
  const { subrequests, allOrNone } = request
  const queries = subrequests.filter(s => typeof s.url === 'string' && /\/(query|queryAll)\b/.test(s.url)).length
  if (subrequests.length > MAX_SUBREQUESTS || queries > MAX_QUERIES) {
    return sendJson(res, 400, [{ message: `Limit Exceeded. Composite requests can contain at most ${MAX_SUBREQUESTS} subrequests, of which at most ${MAX_QUERIES} queries.`, errorCode: 'LIMIT_EXCEEDED' }], headers)
  }
  const results: Array<Result | undefined> = []
  let failed = false
  transaction(() => {
    const done = new Map<string, Result>()
    for (const sub of subrequests) {
      if (allOrNone && failed) {
        results.push(undefined)
        continue
      }
      const result = runSubrequest(org, session, sub, done, baseUrl)
      results.push(result)
      if (result.answer.status >= 400) failed = true
      else done.set(String(sub.referenceId ?? ''), result)
    }
    return !(allOrNone && failed)
  })
  const compositeResponse = results.map((result, i) => {
    const halted = allOrNone && failed && (result === undefined || result.answer.status < 400)
    return {
      body: halted ? HALTED : result?.answer.body ?? null,
      httpHeaders: halted ? {} : result?.headers ?? {},
      httpStatusCode: allOrNone && failed ? 400 : result?.answer.status ?? 400,
      referenceId: String(subrequests[i].referenceId ?? ''),
    }
  })
  sendJson(res, 200, { compositeResponse }, headers)
}
