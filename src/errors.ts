/**
 * Every error the broker answers with is RFC 9457 application/problem+json with a stable `type`.
 * Clients switch on `type` (or `code`), never on `title`/`detail` wording.
 * A 5xx never carries an internal error message: only the fixed title of its code.
 */

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

export const PROBLEMS = {
  bad_request: { status: 400, title: 'The request is malformed or fails validation' },
  malformed_json: { status: 400, title: 'The request body is not acceptable JSON' },
  malformed_url: { status: 400, title: 'The request path is not a valid URL' },
  malformed_request: { status: 400, title: 'The request is not valid HTTP' },
  unauthenticated: { status: 401, title: 'Missing or invalid credentials' },
  forbidden: { status: 403, title: 'Not allowed for this caller' },
  proxy_only: { status: 403, title: 'This caller may call Salesforce only through the proxy: it gets no sessions' },
  policy_denied: { status: 403, title: "No rule of this caller's grant allows this Salesforce call" },
  not_found: { status: 404, title: 'No such resource' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  conflict: { status: 409, title: 'The resource changed since it was read' },
  request_timeout: { status: 408, title: 'The request took too long to arrive' },
  payload_too_large: { status: 413, title: 'Request body too large' },
  uri_too_long: { status: 414, title: 'A path segment is too long' },
  unsupported_media_type: { status: 415, title: 'Unsupported content type' },
  expectation_failed: { status: 417, title: 'The request expects what the broker does not do (only Expect: 100-continue is met)' },
  credentials_rejected: { status: 422, title: 'Salesforce rejected the candidate credentials' },
  permissions_missing: { status: 422, title: 'The integration user lacks permissions the connection requires' },
  rate_limited: { status: 429, title: 'Too many requests' },
  headers_too_large: { status: 431, title: 'Request headers too large' },
  login_guarded: { status: 429, title: 'Logins for this Salesforce user are stopped before they could lock it out' },
  login_budget_exhausted: { status: 429, title: "The Salesforce user's hourly login budget is spent" },
  session_renewal_throttled: { status: 429, title: 'The session was confirmed dead and was replaced moments ago: not replaced again yet' },
  proxy_quota_exceeded: { status: 429, title: "This caller's proxied Salesforce calls for the period are used up" },
  internal: { status: 500, title: 'Internal error' },
  salesforce_login_failed: { status: 503, title: 'Salesforce refused the stored credentials' },
  flow_retired: { status: 503, title: 'Salesforce has retired this login flow' },
  circuit_open: { status: 503, title: 'Logins for this connection are paused after a credential failure' },
  salesforce_unavailable: { status: 503, title: 'Salesforce could not be reached or is limiting requests' },
  login_guard_unavailable: { status: 503, title: 'The fleet-wide lockout guard cannot be read: password logins are paused' },
  login_wait_timeout: { status: 503, title: 'A login for this connection is taking too long' },
  secret_store_unavailable: { status: 503, title: 'The secret store is unavailable' },
  audit_unavailable: { status: 503, title: 'The action was not done: its audit record cannot be written' },
  not_ready: { status: 503, title: 'The service is not ready' },
  shutting_down: { status: 503, title: 'This replica is shutting down: retry (another replica will answer)' },
  session_renewed: { status: 503, title: 'Salesforce ended the session while the body was streamed: the session is renewed, send the request again' },
  bad_gateway: { status: 502, title: 'Salesforce could not be reached or answered unreadably' },
  gateway_timeout: { status: 504, title: 'Salesforce did not answer in time' },
} as const

export type ProblemCode = keyof typeof PROBLEMS

export function problemType (code: ProblemCode): string {
  return `urn:sf-broker:problem:${code}`
}

/** Extra members a problem may carry (RFC 9457 extensions). Never secrets. */
export interface ProblemExtensions {
  classification?: string
  hint?: string
  retryable?: boolean
  connection?: string
  currentVersion?: number
  /** credentials_rejected after a rotation: the fields it sent (names only) */
  changedFields?: string[]
  errors?: Array<{ path: string, message: string }>
  /** permissions_missing: each declared permission the user lacks, and where to grant it */
  missingPermissions?: Array<{ permission: string, label: string, grantIn: string }>
  /** permissions_missing: a declared name Salesforce does not know */
  unknownPermission?: string
  /** login_guarded: failed logins of the user the broker counted since its last successful login (or an admin's reset) */
  failures?: number
  /** login_guarded: Salesforce's "Maximum invalid login attempts" the broker assumes */
  lockoutThreshold?: number
  /** login_budget_exhausted (and a candidate already refused): when logins are possible again (ISO 8601) */
  safeAt?: string
  /** login_budget_exhausted: logins spent in the rolling hour, and Salesforce's limit */
  loginsUsed?: number
  loginsLimit?: number
  /** forbidden on an admin operation: the least role it needs (viewer, operator, admin) */
  requiredRole?: string
  /** policy_denied: the rule that would allow the call (never the raw input: names are checked before they are quoted) */
  requiredRule?: { api: string, methods: string[], objects?: string[] }
  /** proxy_quota_exceeded: the cap that is used up */
  quota?: { period: 'minute' | 'day', limit: number }
}

/**
 * A refusal decided by domain code (sessions, admin, health): a stable code of the vocabulary above
 * and the facts for the caller, no HTTP. The edge (src/error-handler.ts) answers it as
 * problem+json, with the status the code has in PROBLEMS; domain code never picks a status.
 */
export class DomainError extends Error {
  readonly code: ProblemCode
  readonly detail: string | undefined
  readonly extensions: ProblemExtensions
  /** seconds until trying again makes sense (the edge sends it as Retry-After) */
  readonly retryAfter: number | undefined

  constructor (code: ProblemCode, detail?: string, extensions: ProblemExtensions = {}, retryAfter?: number) {
    super(detail ?? PROBLEMS[code].title)
    this.name = 'DomainError'
    this.code = code
    this.detail = detail
    this.extensions = extensions
    this.retryAfter = retryAfter
  }
}

/**
 * A refusal made at the HTTP edge itself (auth, the app's hooks): a DomainError by another name, so
 * the lint rule that keeps domain code to DomainError can tell the two apart. The edge answers both
 * the same way, with the status PROBLEMS gives the code.
 */
export class HttpProblem extends DomainError {
  constructor (code: ProblemCode, detail?: string, extensions: ProblemExtensions = {}, retryAfter?: number) {
    super(code, detail, extensions, retryAfter)
    this.name = 'HttpProblem'
  }
}

export interface ProblemBody extends ProblemExtensions {
  type: string
  title: string
  status: number
  code: ProblemCode
  detail?: string
  instance?: string
}

export function problemBody (code: ProblemCode, detail?: string, extensions: ProblemExtensions = {}, instance?: string): ProblemBody {
  const { status, title } = PROBLEMS[code]
  const body: ProblemBody = { type: problemType(code), title, status, code, ...extensions }
  // A 5xx detail is only ever a message we wrote ourselves for that case, never an exception's text.
  if (detail !== undefined) body.detail = detail
  if (instance !== undefined) body.instance = instance
  return body
}
