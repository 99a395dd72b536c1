import type { IncomingMessage, ServerResponse } from 'node:http'
import { readBody, sendJson } from './http.ts'
import type { SimSession } from './sessions.ts'
import { runSoql } from './soql.ts'
import type { SimOrgState } from './types.ts'

/**
 * POST /services/data/vXX.X/composite: several subrequests in one call that "counts as a single
 * call toward your API limits" (REST API Developer Guide, "Send Multiple Requests Using Composite";
 * response shape from "Composite Response Body"). The simulator runs the Query and QueryAll
 * subrequests; any other resource answers that subrequest 404 as the simulator does outside one.
 */

interface Answer { status: number, body: unknown }

/** One query resource answer: the result, or Salesforce's error array with 400. */
export function queryAnswer (org: SimOrgState, session: SimSession, soql: string, version: string): Answer {
  const result = runSoql(org, soql, version, session.userId)
  return 'errorCode' in result ? { status: 400, body: [result] } : { status: 200, body: result }
}

const SUBREQUEST_URL = /^\/services\/data\/v(\d+\.\d+)\/(query|queryAll)\/?(\?.*)?$/
const MAX_SUBREQUESTS = 25
const MAX_QUERIES = 5
const HALTED = [{ errorCode: 'PROCESSING_HALTED', message: 'The transaction was rolled back since another operation in the same transaction failed.' }]

interface Subrequest { method?: unknown, url?: unknown, referenceId?: unknown }

function parse (raw: string): { allOrNone: boolean, subrequests: Subrequest[] } | undefined {
  try {
    const body = JSON.parse(raw) as { allOrNone?: unknown, compositeRequest?: unknown }
    if (!Array.isArray(body.compositeRequest)) return undefined
    return { allOrNone: body.allOrNone === true, subrequests: body.compositeRequest as Subrequest[] }
  } catch {
    return undefined
  }
}

function runSubrequest (org: SimOrgState, session: SimSession, sub: Subrequest): Answer {
  const match = typeof sub.url === 'string' ? SUBREQUEST_URL.exec(sub.url) : null
  if (sub.method !== 'GET' || !match) return { status: 404, body: [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }] }
  return queryAnswer(org, session, new URLSearchParams(match[3] ?? '').get('q') ?? '', match[1])
}

export async function handleComposite (org: SimOrgState, session: SimSession, req: IncomingMessage, res: ServerResponse, headers: Record<string, string>): Promise<void> {
  const request = parse(await readBody(req))
  if (!request) {
    return sendJson(res, 400, [{ message: 'Json Deserialization failed on token \'null\' and has left off in the middle of parsing a row. Will go to end of row to begin parsing the next row', errorCode: 'JSON_PARSER_ERROR' }], headers)
  }
  const { subrequests, allOrNone } = request
  const queries = subrequests.filter(s => typeof s.url === 'string' && /\/(query|queryAll)\b/.test(s.url)).length
  if (subrequests.length > MAX_SUBREQUESTS || queries > MAX_QUERIES) {
    return sendJson(res, 400, [{ message: `Limit Exceeded. Composite requests can contain at most ${MAX_SUBREQUESTS} subrequests, of which at most ${MAX_QUERIES} queries.`, errorCode: 'LIMIT_EXCEEDED' }], headers)
  }
  const answers = subrequests.map(sub => runSubrequest(org, session, sub))
  const failed = answers.some(a => a.status >= 400)
  const compositeResponse = answers.map((answer, i) => ({
    body: allOrNone && failed && answer.status < 400 ? HALTED : answer.body,
    httpHeaders: {},
    httpStatusCode: allOrNone && failed ? 400 : answer.status,
    referenceId: String(subrequests[i].referenceId ?? ''),
  }))
  sendJson(res, 200, { compositeResponse }, headers)
}
