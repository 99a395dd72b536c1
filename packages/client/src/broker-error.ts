/**
 * The one error type the client throws for anything the broker (or the way to it) answered.
 * Built from the broker's RFC 9457 problem+json; callers switch on `code` or `type`, never on `message`.
 * The message is made from the problem's title and detail only, which the broker guarantees are free
 * of secrets; the client never adds a credential or an access token to it.
 */

import type { BrokerErrorCode, ClientErrorCode } from './problem-codes.ts'

const CLIENT_PROBLEM_PREFIX = 'urn:sf-broker:client:'

export interface BrokerErrorFields {
  status: number
  type: string
  code: BrokerErrorCode
  title: string
  detail?: string
  classification?: string
  hint?: string
  retryable?: boolean
  retryAfterSeconds?: number
  connection?: string
  /** the answer's JSON body as the broker sent it, extension members included */
  problem?: Readonly<Record<string, unknown>>
}

export class BrokerError extends Error {
  /** HTTP status; 0 when no answer arrived (unreachable, timeout, closed client) */
  readonly status: number
  /** `urn:sf-broker:problem:<code>` from the broker, `urn:sf-broker:client:<code>` for client-side failures */
  readonly type: string
  /** the problem's code (a union: a switch over it is checked); a newer broker may add codes, see BROKER_PROBLEM_CODES */
  readonly code: BrokerErrorCode
  readonly title: string
  readonly detail: string | undefined
  /** why a Salesforce login failed, e.g. invalid_credentials, locked_out */
  readonly classification: string | undefined
  /** what an admin should do about it */
  readonly hint: string | undefined
  /**
   * whether asking again later may succeed. The broker's contract: true whenever it sends Retry-After
   * (then wait retryAfterSeconds), false when waiting alone does not help (someone must act first)
   */
  readonly retryable: boolean | undefined
  /** from Retry-After, when the broker sent it: comes with retryable true */
  readonly retryAfterSeconds: number | undefined
  readonly connection: string | undefined
  /**
   * the answer's JSON body as sent (the problem+json document, with members the fields above do not
   * name, e.g. `requiredRole`); undefined when the answer was not JSON or no answer arrived
   */
  readonly problem: Readonly<Record<string, unknown>> | undefined

  constructor (fields: BrokerErrorFields, options?: { cause?: unknown }) {
    super(fields.detail ? `${fields.title}: ${fields.detail}` : fields.title, options)
    this.name = 'BrokerError'
    this.status = fields.status
    this.type = fields.type
    this.code = fields.code
    this.title = fields.title
    this.detail = fields.detail
    this.classification = fields.classification
    this.hint = fields.hint
    this.retryable = fields.retryable
    this.retryAfterSeconds = fields.retryAfterSeconds
    this.connection = fields.connection
    this.problem = fields.problem
  }
}

/** A failure on the client's side of the wire; no HTTP answer to build from. */
export function clientError (code: ClientErrorCode, title: string, connection?: string, cause?: unknown): BrokerError {
  return new BrokerError({
    status: 0,
    type: CLIENT_PROBLEM_PREFIX + code,
    code,
    title,
    connection,
    retryable: code === 'broker_unreachable' || code === 'timeout' || code === 'invalid_response',
  }, cause === undefined ? undefined : { cause })
}

/** Retry-After is either delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter (value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined
  if (/^\d+$/.test(value.trim())) return Number(value.trim())
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000))
}

const optionalString = (v: unknown): string | undefined => typeof v === 'string' ? v : undefined

/** Turns a non-2xx answer into a BrokerError, whether or not it is problem+json (a proxy may answer HTML). */
export async function errorFromResponse (res: Response, connection?: string): Promise<BrokerError> {
  let body: unknown
  if (/^application\/(problem\+)?json/i.test(res.headers.get('content-type') ?? '')) {
    try {
      body = await res.json()
    } catch {
      // an unparseable body is reported like any other non-problem answer
    }
  }
  if (!res.bodyUsed) await res.body?.cancel()
  return errorFromBody(res, body, connection)
}

/** The broker's problem document: RFC 9457 with the broker's `code` beside `type`. */
export function isProblem (body: unknown): body is Record<string, unknown> & { type: string, code: string } {
  return body !== null && typeof body === 'object' && typeof (body as Record<string, unknown>).type === 'string' && typeof (body as Record<string, unknown>).code === 'string'
}

/** A BrokerError from a non-2xx answer whose body has been read (`body`: the parsed JSON, if it was JSON). */
export function errorFromBody (res: Response, body: unknown, connection?: string): BrokerError {
  const retryAfterSeconds = parseRetryAfter(res.headers.get('retry-after'))
  const problem = body !== null && typeof body === 'object' && !Array.isArray(body) ? body as Record<string, unknown> : undefined
  if (isProblem(problem)) {
    return new BrokerError({
      status: res.status,
      type: problem.type,
      // what the broker sent, as it sent it: a newer broker's code is passed on, not hidden
      code: problem.code as BrokerErrorCode,
      title: optionalString(problem.title) ?? `HTTP ${res.status}`,
      detail: optionalString(problem.detail),
      classification: optionalString(problem.classification),
      hint: optionalString(problem.hint),
      retryable: typeof problem.retryable === 'boolean' ? problem.retryable : undefined,
      retryAfterSeconds,
      connection: optionalString(problem.connection) ?? connection,
      problem,
    })
  }
  return new BrokerError({
    status: res.status,
    // RFC 9457 §4.2.1: no type means about:blank, the status code says it all
    type: 'about:blank',
    code: `http_${res.status}`,
    title: `The broker answered HTTP ${res.status}${res.statusText ? ' ' + res.statusText : ''}`,
    retryable: res.status >= 500 || res.status === 429,
    retryAfterSeconds,
    connection,
    problem,
  })
}
