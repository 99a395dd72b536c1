/**
 * Pure mapping of Salesforce's answers (OAuth token errors, REST errors, network errors, bare
 * HTTP statuses; SOAP login faults in classify-soap.ts) onto the closed set of classifications in types.ts.
 *
 * The retryable / credentialFailure flags are a property of the classification, not of the
 * answer, so callers can rely on them: a credential-class failure opens the lockout circuit and
 * is never retried automatically; only network trouble, rate limits and 5xx are retried.
 */
import { tlsFailureOf, type TlsFailure } from '../tls-failure.ts'
import { withoutControlCharacters } from './control-characters.ts'
import { remediationHint, type FailureClassification } from './remediation.ts'
import type { ClassifiedFailure, Flow } from './types.ts'

export const CREDENTIAL_CLASSIFICATIONS: ReadonlySet<FailureClassification> = new Set<FailureClassification>([
  'invalid_credentials', 'locked_out', 'security_token_required', 'password_expired', 'invalid_client',
  'flow_not_enabled', 'user_not_approved', 'invalid_assertion', 'inactive_user', 'api_disabled', 'ip_or_hours_restricted',
  'app_not_installed', 'api_access_blocked', 'audience_mismatch',
])

export const RETRYABLE_CLASSIFICATIONS: ReadonlySet<FailureClassification> = new Set<FailureClassification>([
  'unreachable', 'login_rate_exceeded', 'api_limit_exceeded',
])

export interface FailureDetails {
  /** Salesforce's words; sanitised here */
  message: string
  sfCode?: string
  httpStatus?: number
  flow?: Flow
  /** only consulted for 'unknown' (true for 5xx answers) */
  retryable?: boolean
  /** replaces the standard hint when the situation is more specific */
  hint?: string
}

export function classifiedFailure (classification: FailureClassification, details: FailureDetails): ClassifiedFailure {
  const failure: ClassifiedFailure = {
    classification,
    retryable: classification === 'unknown' ? details.retryable === true : RETRYABLE_CLASSIFICATIONS.has(classification),
    credentialFailure: CREDENTIAL_CLASSIFICATIONS.has(classification),
    message: sanitizeMessage(details.message),
    hint: details.hint === undefined ? remediationHint(classification, details.flow) : withoutControlCharacters(details.hint),
  }
  const sfCode = details.sfCode === undefined ? '' : withoutControlCharacters(details.sfCode)
  if (sfCode !== '') failure.sfCode = sfCode
  if (details.httpStatus !== undefined) failure.httpStatus = details.httpStatus
  return failure
}

const MAX_MESSAGE = 500
/** Salesforce session ids / access tokens: 00D<org id>!<opaque> */
const SESSION_ID = /00D[A-Za-z0-9]{12,15}![A-Za-z0-9._\-+/=]+/g

/** One line, bounded, without anything that looks like a session id or a terminal control sequence. */
export function sanitizeMessage (text: string): string {
  const oneLine = withoutControlCharacters(String(text)).replace(SESSION_ID, '[redacted]').replace(/\s+/g, ' ').trim()
  return oneLine.length > MAX_MESSAGE ? `${oneLine.slice(0, MAX_MESSAGE - 1)}…` : oneLine
}

/**
 * A 429 without Salesforce's error in the body. Salesforce names its login rate limit (OAuth
 * `rate_limit_exceeded` with HTTP 400, a SOAP fault with its exception code), and that limit holds
 * the user's logins for the rest of the hour; a bare 429 comes from something in between.
 */
const THROTTLED_HINT = 'Something between the broker and Salesforce (an egress proxy, a gateway, a WAF) answered HTTP 429 ' +
  'Too Many Requests without a Salesforce error: it is limiting the broker\'s requests. Salesforce\'s own login rate limit ' +
  'names itself in its answer. Logins are tried again after a short pause; check that proxy\'s limits.'

interface StatusVerdict { classification: FailureClassification, retryable: boolean, hint?: string, outcomeUnknown?: true }

/**
 * What a bare HTTP status says on its own (5xx, 429); undefined when it says nothing. A 5xx without
 * Salesforce's error may come from a gateway that passed the login on and gave up waiting for the
 * answer (502, 504): whether Salesforce judged it is unknown, as after a timeout, so a password
 * login counts as failed and is not sent again. A throttling 429 is answered before anything is passed on.
 */
export function fromStatus (status: number | undefined): StatusVerdict | undefined {
  if (status === undefined) return undefined
  if (status === 502 || status === 503 || status === 504) return { classification: 'unreachable', retryable: true, outcomeUnknown: true }
  if (status >= 500) return { classification: 'unknown', retryable: true, outcomeUnknown: true }
  if (status === 429) return { classification: 'unreachable', retryable: true, hint: THROTTLED_HINT }
  return undefined
}

/** A login's failure from a bare status (see fromStatus): its outcome unknown where the status says so. */
export function failureFromStatus (verdict: StatusVerdict | undefined, details: FailureDetails): ClassifiedFailure {
  const failure = classifiedFailure(verdict?.classification ?? 'unknown', { ...details, retryable: verdict?.retryable, hint: verdict?.hint ?? details.hint })
  return verdict?.outcomeUnknown ? { ...failure, outcomeUnknown: true } : failure
}

// ---------------------------------------------------------------- OAuth token endpoint

export interface OAuthErrorBody {
  error?: unknown
  error_description?: unknown
}

/**
 * Salesforce's token endpoint answers `{ error, error_description }` (HTTP 400, sometimes 401/403).
 * `invalid_grant` alone covers many causes; its description tells most of them apart.
 */
export function classifyOAuthError (body: OAuthErrorBody | undefined, httpStatus: number | undefined, flow?: Flow): ClassifiedFailure {
  const code = typeof body?.error === 'string' ? body.error : ''
  const description = typeof body?.error_description === 'string' ? body.error_description : ''
  const message = description !== '' ? description : code !== '' ? code : `HTTP ${httpStatus ?? '?'} from the token endpoint`
  const base = { message, sfCode: code || undefined, httpStatus, flow }

  if (code === '') return failureFromStatus(fromStatus(httpStatus), base)

  const classification = oauthClassification(code.toLowerCase(), description.toLowerCase(), flow)
  if (classification === 'unknown') {
    const byStatus = fromStatus(httpStatus)
    if (byStatus !== undefined) return failureFromStatus(byStatus, base)
    return classifiedFailure('unknown', { ...base, retryable: code === 'server_error' || code === 'temporarily_unavailable' })
  }
  return classifiedFailure(classification, { ...base, hint: oauthSpecificHint(description.toLowerCase()) })
}

function oauthClassification (code: string, d: string, flow: Flow | undefined): FailureClassification {
  switch (code) {
    case 'invalid_client_id':
    case 'invalid_client_credentials':
    case 'invalid_client':
      // the uninstalled-app restriction (Salesforce Help 005132365, September 2025): "app must be installed into org"
      return /must be installed|not installed/.test(d) ? 'app_not_installed' : 'invalid_client'
    case 'unsupported_grant_type':
    case 'unauthorized_client':
      return 'flow_not_enabled'
    case 'inactive_user':
      return 'inactive_user'
    case 'rate_limit_exceeded':
      return 'login_rate_exceeded'
    case 'invalid_app_access':
      return 'user_not_approved'
    case 'temporarily_unavailable':
      return 'unreachable'
    case 'invalid_grant':
      return invalidGrantClassification(d, flow)
    default:
      return 'unknown'
  }
}

function invalidGrantClassification (d: string, flow: Flow | undefined): FailureClassification {
  // Salesforce's catch-all ("authentication failure", "invalid username, password, security token;
  // or user locked out.") must win over the words it happens to contain (locked, token).
  if (/authentication failure|invalid username|invalid user credentials/.test(d)) return 'invalid_credentials'
  if (/rate exceeded|rate limit/.test(d)) return 'login_rate_exceeded'
  if (/ip restricted|restricted ip|login hours|restricted (domain|time)/.test(d)) return 'ip_or_hours_restricted'
  if (/inactive org|organization is (locked|closed|suspended)/.test(d)) return 'unknown'
  if (/inactive|deactivated|frozen/.test(d)) return 'inactive_user'
  if (/password.*expired|expired password/.test(d)) return 'password_expired'
  if (/locked out|lockout|user is locked/.test(d)) return 'locked_out'
  if (/approved|pre-?authori/.test(d)) return 'user_not_approved'
  if (/not supported on this domain|client credentials|run-?as user/.test(d)) return 'flow_not_enabled'
  if (/api.*(disabled|not enabled)/.test(d)) return 'api_disabled'
  if (/security token/.test(d)) return 'security_token_required'
  if (/flow.*(disabled|not enabled|blocked|not allowed)|grant type/.test(d)) return 'flow_not_enabled'
  // "audience is invalid": External Client Apps bind aud to the host since legacy redirects ended
  if (/audience/.test(d)) return 'audience_mismatch'
  if (/assertion|signature|jwt|certificate|expired/.test(d)) return 'invalid_assertion'
  if (flow === 'jwt_bearer') return 'invalid_assertion'
  if (flow === 'client_credentials') return 'invalid_client'
  return 'invalid_credentials'
}

function oauthSpecificHint (d: string): string | undefined {
  if (d.includes('not supported on this domain')) {
    return 'Salesforce serves this flow only on the org\'s My Domain (https://<domain>.my.salesforce.com): set the connection\'s ' +
      'login URL to it — login.salesforce.com and test.salesforce.com answer "request not supported on this domain".'
  }
  if (d.includes('no client credentials user enabled')) {
    return 'The connected app has no Run As user for the client credentials flow: Setup > App Manager > [connected app] > Manage > ' +
      'Edit Policies > Client Credentials Flow > Run As, and check "Enable Client Credentials Flow" is on.'
  }
  return undefined
}

// ---------------------------------------------------------------- REST API

export interface RestError {
  errorCode?: unknown
  message?: unknown
}

/** REST errors are `[{ errorCode, message }]` (an array, sometimes a single object). */
export function classifyRestError (body: unknown, httpStatus: number): ClassifiedFailure {
  const first = (Array.isArray(body) ? body[0] : body) as RestError | undefined
  const code = typeof first?.errorCode === 'string' ? first.errorCode : ''
  const text = typeof first?.message === 'string' ? first.message : ''
  const base = { message: text || code || `HTTP ${httpStatus} from the REST API`, sfCode: code || undefined, httpStatus }
  switch (code) {
    case 'INVALID_SESSION_ID':
    case 'INVALID_AUTH_HEADER':
      // a live session refused for this API (API Access Control without "Use Any API Client", an app
      // not allow-listed): another login gets the same answer, so it is not an expired session
      if (/not valid for use with the REST API/i.test(text)) return classifiedFailure('api_access_blocked', base)
      return classifiedFailure('session_invalid', base)
    case 'REQUEST_LIMIT_EXCEEDED':
      return classifiedFailure('api_limit_exceeded', base)
    case 'API_DISABLED_FOR_ORG':
    case 'API_CURRENTLY_DISABLED':
      return classifiedFailure('api_disabled', base)
    case 'INVALID_OPERATION_WITH_EXPIRED_PASSWORD':
      return classifiedFailure('password_expired', base)
    case 'SERVER_UNAVAILABLE':
      return classifiedFailure('unreachable', base)
    case 'UNSUPPORTED_API_VERSION':
      return classifiedFailure('api_version_retired', base)
  }
  // "If you request a resource or use an operation from a retired API version, REST API returns the 410:GONE error code" (REST API Developer Guide, API End-of-Life Policy)
  if (httpStatus === 410) return classifiedFailure('api_version_retired', base)
  if (httpStatus === 401) return classifiedFailure('session_invalid', base)
  // a 403 without any REST error (plain text such as Bad_OAuth_Token, a bare string): the session was refused
  if (httpStatus === 403 && (first === null || typeof first !== 'object')) return classifiedFailure('session_invalid', base)
  // a REST call limited with a bare 429: not a login, so never the login rate limit
  if (httpStatus === 429) return classifiedFailure('api_limit_exceeded', { ...base, retryable: true })
  const byStatus = fromStatus(httpStatus)
  if (byStatus !== undefined) return classifiedFailure(byStatus.classification, { ...base, retryable: byStatus.retryable })
  return classifiedFailure('unknown', base)
}

/**
 * A 401 or 403 whose body is not a REST error: the identity service (userinfo, /id/…) and some
 * gateways refuse a token with plain text such as `Bad_OAuth_Token` or `Missing_OAuth_Token`.
 * Either way Salesforce does not honour the session.
 */
export function classifyAuthRefusal (httpStatus: 401 | 403, text: string, what: string): ClassifiedFailure {
  const word = text.trim()
  const code = /^[A-Za-z_]{1,64}$/.test(word) ? word : undefined
  return classifiedFailure('session_invalid', {
    message: code ?? `${what} refused the session (HTTP ${httpStatus})`,
    sfCode: code,
    httpStatus,
  })
}

// ---------------------------------------------------------------- transport

/**
 * Errors that mean the request never left: no connection was made (refused, no route, no such
 * host, a connect timeout) or the broker refused the host's certificate (../tls-failure.ts).
 * Anything else — the broker's own timeout, a reset or a closed socket after sending — may come
 * after Salesforce judged the request.
 */
const NEVER_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'UND_ERR_CONNECT_TIMEOUT'])

/** What to check when TLS, not Salesforce, said no: retrying alone changes nothing. */
const TLS_HINTS: Record<TlsFailure, string> = {
  certificate: 'The broker refused the TLS certificate of the host it called, so nothing was sent to it. Salesforce\'s own hosts ' +
    'have publicly trusted certificates: behind a TLS-inspecting egress proxy, give the broker the proxy\'s CA with ' +
    'NODE_EXTRA_CA_CERTS (read at start: restart the broker; chart: extraCaCertificates.configMapName); otherwise check that ' +
    'the URL names a Salesforce host.',
  not_tls: 'The host did not answer in TLS: the URL is https, but that host and port serve plain HTTP or something else. ' +
    'Check the scheme and port of the connection\'s loginUrl.',
}

/**
 * An egress proxy (HTTPS_PROXY/HTTP_PROXY) that answers the tunnel's CONNECT with another status
 * than 200 (403 its policy, 407 its credentials, 502 the host unreachable from it): the request
 * never left the broker. undici's ProxyAgent says so only in words, a few causes deep (fetch wraps
 * it as an abort), so the words are what is matched.
 */
const PROXY_REFUSED = /^Proxy response \((\d{3})\) !== 200 when HTTP Tunneling$/

function proxyRefusal (error: unknown): string | undefined {
  let e = error as { message?: unknown, cause?: unknown } | undefined
  for (let depth = 0; depth < 4 && e !== null && typeof e === 'object'; depth++, e = e.cause as typeof e) {
    const match = typeof e.message === 'string' ? PROXY_REFUSED.exec(e.message) : null
    if (match !== null) return match[1]
  }
  return undefined
}

const PROXY_REFUSED_HINT = 'The egress proxy (HTTPS_PROXY/HTTP_PROXY) refused to open a tunnel to the login host, so nothing was sent ' +
  'to Salesforce: check the proxy\'s log and that its allow-list admits the connection\'s loginUrl host (and the instance host it answers with).'

/** fetch rejected: timeout, refused, reset, DNS… Always `unreachable`, always retryable; `outcomeUnknown` unless nothing was sent. */
export function classifyNetworkError (error: unknown, timeoutMs?: number, flow?: Flow): ClassifiedFailure {
  const proxyStatus = proxyRefusal(error)
  if (proxyStatus !== undefined) {
    return classifiedFailure('unreachable', { message: `the egress proxy refused the tunnel to Salesforce (HTTP ${proxyStatus})`, flow, hint: PROXY_REFUSED_HINT })
  }
  const code = errorCode(error)
  const tls = code === undefined ? undefined : tlsFailureOf(code)
  const failure = classifiedFailure('unreachable', { message: describeNetworkError(error, timeoutMs), flow, ...(tls ? { hint: TLS_HINTS[tls] } : {}) })
  const neverSent = tls === 'certificate' || (code !== undefined && NEVER_SENT.has(code))
  return neverSent ? failure : { ...failure, outcomeUnknown: true }
}

/** undici's fetch puts the socket's error under `cause` */
function errorCode (error: unknown): string | undefined {
  const e = error as { code?: unknown, cause?: { code?: unknown } } | undefined
  return typeof e?.cause?.code === 'string' ? e.cause.code : typeof e?.code === 'string' ? e.code : undefined
}

export function describeNetworkError (error: unknown, timeoutMs?: number): string {
  const e = error as { name?: unknown, cause?: { name?: unknown } } | undefined
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError' || e?.cause?.name === 'TimeoutError') {
    return timeoutMs === undefined ? 'Salesforce did not answer in time' : `Salesforce did not answer within ${timeoutMs} ms`
  }
  const code = errorCode(error)
  return code === undefined ? 'could not reach Salesforce (network error)' : `could not reach Salesforce (${code})`
}

/**
 * An HTTP answer with no recognisable Salesforce error body. A redirect names where it points
 * (`location`, its origin only): after a My Domain change Salesforce redirects the previous host
 * with 301 or 307 until the next change or until the redirect is turned off (Salesforce Help,
 * "Understand Redirections for Previous My Domain Host Names").
 */
export function classifyHttpStatus (httpStatus: number, what: string, flow?: Flow, location?: string | null): ClassifiedFailure {
  const byStatus = fromStatus(httpStatus)
  if (httpStatus >= 300 && httpStatus < 400) {
    const target = originOf(location)
    return classifiedFailure('unknown', {
      message: `${what} answered with a redirect (HTTP ${httpStatus})${target ? ` to ${target}` : ''}`,
      httpStatus,
      flow,
      hint: 'The login host redirected the request, which the broker does not follow with credentials. ' +
        (target
          ? `If the org's My Domain changed, ${target} is its new one: store it as loginUrl (and as jwtAudience, if the connection sets one) — ` +
            'Salesforce redirects a previous My Domain only until the next change or until the redirect is turned off (Setup > My Domain > Redirections).'
          : 'Use the org\'s My Domain URL (https://<domain>.my.salesforce.com) or the login host it redirects to.'),
    })
  }
  return failureFromStatus(byStatus, { message: `${what} answered HTTP ${httpStatus} without a Salesforce error`, httpStatus, flow })
}

function originOf (location: string | null | undefined): string | undefined {
  if (!location) return undefined
  try {
    const url = new URL(location)
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.origin : undefined
  } catch {
    return undefined
  }
}
