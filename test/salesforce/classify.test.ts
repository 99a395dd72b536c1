import t from 'tap'
import {
  classifyHttpStatus, classifyNetworkError, classifyOAuthError, classifyRestError, classifySoapFault, classifiedFailure,
  CREDENTIAL_CLASSIFICATIONS, RETRYABLE_CLASSIFICATIONS, remediationHint, CLASSIFICATIONS,
  type FailureClassification, type Flow,
} from '../../src/salesforce/index.ts'
import { sanitizeMessage } from '../../src/salesforce/classify.ts'
import { createScrubber } from '../../src/salesforce/scrub.ts'

const INVALID_LOGIN = 'Invalid username, password, security token; or user locked out.'

t.test('OAuth token endpoint errors, as Salesforce words them', async t => {
  const table: Array<[string, string, number, FailureClassification, Flow?]> = [
    ['invalid_grant', 'authentication failure', 400, 'invalid_credentials'],
    ['invalid_grant', INVALID_LOGIN.toLowerCase(), 400, 'invalid_credentials'],
    ['invalid_grant', 'inactive user', 400, 'inactive_user'],
    ['inactive_user', 'user is inactive', 400, 'inactive_user'],
    ['invalid_grant', 'IP restricted or invalid login hours', 400, 'ip_or_hours_restricted'],
    ['invalid_grant', 'login rate exceeded', 400, 'login_rate_exceeded'],
    ['rate_limit_exceeded', 'Number of logins exceeded', 400, 'login_rate_exceeded'],
    ['invalid_client_id', 'client identifier invalid', 400, 'invalid_client'],
    ['invalid_client', 'invalid client credentials', 400, 'invalid_client'],
    ['invalid_client_credentials', 'client secret invalid', 400, 'invalid_client'],
    ['unsupported_grant_type', 'grant type not supported', 400, 'flow_not_enabled'],
    ['invalid_grant', 'invalid assertion', 400, 'invalid_assertion', 'jwt_bearer'],
    ['invalid_grant', 'Audience validation failed', 400, 'audience_mismatch', 'jwt_bearer'],
    ['invalid_grant', 'audience is invalid', 400, 'audience_mismatch', 'jwt_bearer'],
    ['invalid_client', 'app must be installed into org', 400, 'app_not_installed'],
    ['invalid_grant', 'expired authorization code', 400, 'invalid_assertion', 'jwt_bearer'],
    ['invalid_grant', "user hasn't approved this consumer", 400, 'user_not_approved', 'jwt_bearer'],
    ['invalid_app_access', 'user is not admin approved to access this app', 400, 'user_not_approved'],
    ['invalid_grant', 'no client credentials user enabled', 400, 'flow_not_enabled', 'client_credentials'],
    ['invalid_grant', 'client credentials flow not enabled', 400, 'flow_not_enabled', 'client_credentials'],
    ['invalid_grant', 'request not supported on this domain', 400, 'flow_not_enabled', 'client_credentials'],
    ['invalid_grant', 'password expired', 400, 'password_expired'],
    ['invalid_grant', 'something new', 400, 'invalid_credentials', 'oauth_password'],
    ['invalid_grant', 'something new', 400, 'invalid_assertion', 'jwt_bearer'],
    ['invalid_grant', 'something new', 400, 'invalid_client', 'client_credentials'],
  ]
  for (const [error, description, status, expected, flow] of table) {
    const f = classifyOAuthError({ error, error_description: description }, status, flow)
    t.equal(f.classification, expected, `${error} / ${description}`)
    t.equal(f.sfCode, error)
    t.equal(f.httpStatus, status)
    t.equal(f.message, description)
    const rateLimited = expected === 'login_rate_exceeded'
    t.equal(f.credentialFailure, !rateLimited, `${expected} credentialFailure`)
    t.equal(f.retryable, rateLimited, `${expected} retryable`)
  }
})

t.test('rate limits are retryable and not credential failures', async t => {
  const f = classifyOAuthError({ error: 'invalid_grant', error_description: 'login rate exceeded' }, 400)
  t.match(f, { classification: 'login_rate_exceeded', retryable: true, credentialFailure: false })
})

t.test('the ambiguous answers say so in the hint', async t => {
  const oauth = classifyOAuthError({ error: 'invalid_grant', error_description: 'authentication failure' }, 400, 'oauth_password')
  const soap = classifySoapFault({ faultcode: 'sf:INVALID_LOGIN', faultstring: `INVALID_LOGIN: ${INVALID_LOGIN}`, exceptionCode: 'INVALID_LOGIN', exceptionMessage: INVALID_LOGIN }, 500)
  for (const f of [oauth, soap]) {
    t.equal(f.classification, 'invalid_credentials')
    t.match(f.hint, /locked/i)
    t.match(f.hint, /Reset My Security Token/)
    t.match(f.hint, /Network Access/)
    t.match(f.hint, /Allow OAuth Username-Password Flows/)
    t.match(f.hint, /Login History/)
  }
})

t.test('OAuth answers without a recognised error', async t => {
  t.match(classifyOAuthError(undefined, 503), { classification: 'unreachable', retryable: true, credentialFailure: false })
  t.match(classifyOAuthError(undefined, 500), { classification: 'unknown', retryable: true, credentialFailure: false })
  t.match(classifyOAuthError(undefined, 418), { classification: 'unknown', retryable: false, credentialFailure: false })
  t.match(classifyOAuthError({ error: 'server_error' }, 400), { classification: 'unknown', retryable: true })
  t.match(classifyOAuthError({ error: 'invalid_request', error_description: 'must use HTTP POST' }, 400), { classification: 'unknown', retryable: false })
  t.match(classifyOAuthError({ error: 'weird' }, 502), { classification: 'unreachable', retryable: true })
  t.match(classifyOAuthError({ error: 'invalid_grant', error_description: 'inactive org' }, 400), { classification: 'unknown', retryable: false })
  t.match(classifyOAuthError({ error: 'invalid_grant', error_description: 'request not supported on this domain' }, 400, 'client_credentials').hint, /My Domain/)
})

t.test('SOAP login faults', async t => {
  const table: Array<[string, string, FailureClassification]> = [
    ['INVALID_LOGIN', INVALID_LOGIN, 'invalid_credentials'],
    ['LOGIN_MUST_USE_SECURITY_TOKEN', `${INVALID_LOGIN} Are you at a new location?`, 'security_token_required'],
    ['PASSWORD_LOCKOUT', 'password lockout', 'locked_out'],
    ['LOGIN_DURING_RESTRICTED_DOMAIN', 'cannot log in from current domain', 'ip_or_hours_restricted'],
    ['LOGIN_DURING_RESTRICTED_TIME', 'cannot log in during restricted login hours', 'ip_or_hours_restricted'],
    ['API_DISABLED_FOR_ORG', 'API is not enabled for this Organization or Partner', 'api_disabled'],
    ['API_CURRENTLY_DISABLED', 'API is disabled for this User', 'api_disabled'],
    ['INVALID_OPERATION_WITH_EXPIRED_PASSWORD', 'The users password has expired', 'password_expired'],
    ['REQUEST_LIMIT_EXCEEDED', 'Login Rate Exceeded', 'login_rate_exceeded'],
    ['REQUEST_LIMIT_EXCEEDED', 'TotalRequests Limit exceeded.', 'api_limit_exceeded'],
    ['INVALID_OPERATION', 'SOAP API login() is disabled by default in this org.', 'flow_not_enabled'],
    ['INVALID_SESSION_ID', 'Invalid Session ID found in SessionHeader: Illegal Session', 'session_invalid'],
    ['SERVER_UNAVAILABLE', 'server unavailable', 'unreachable'],
    ['INACTIVE_OWNER_OR_USER', 'inactive', 'inactive_user'],
    ['ORG_LOCKED', 'org locked', 'unknown'],
    ['INVALID_OPERATION', 'something else', 'unknown'],
  ]
  for (const [code, message, expected] of table) {
    const f = classifySoapFault({ faultcode: `sf:${code}`, faultstring: `${code}: ${message}`, exceptionCode: code, exceptionMessage: message }, 500)
    t.equal(f.classification, expected, code)
    t.equal(f.sfCode, code)
    t.equal(f.httpStatus, 500)
    t.equal(f.message, message)
  }
  // faults are HTTP 500: a recognised one is never "retry the 5xx"
  t.match(classifySoapFault({ faultcode: 'sf:INVALID_LOGIN', faultstring: 'INVALID_LOGIN: x' }, 500), { classification: 'invalid_credentials', retryable: false, credentialFailure: true })
  t.match(classifySoapFault({ faultcode: 'sf:ORG_LOCKED', faultstring: 'ORG_LOCKED: x' }, 500), { classification: 'unknown', retryable: false })
  // no detail: the code comes from faultcode, or from the faultstring when faultcode is generic
  t.equal(classifySoapFault({ faultcode: 'sf:PASSWORD_LOCKOUT', faultstring: 'x' }, 500).classification, 'locked_out')
  t.equal(classifySoapFault({ faultcode: 'soapenv:Server', faultstring: 'LOGIN_MUST_USE_SECURITY_TOKEN: x' }, 500).classification, 'security_token_required')
  t.match(classifySoapFault({ faultcode: 'soapenv:Server', faultstring: 'oops' }, 500), { classification: 'unknown', retryable: true })
  t.match(classifySoapFault(undefined, 503), { classification: 'unreachable', retryable: true })
})

t.test('REST errors', async t => {
  t.match(classifyRestError([{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }], 401),
    { classification: 'session_invalid', retryable: false, credentialFailure: false, sfCode: 'INVALID_SESSION_ID', httpStatus: 401 })
  // API Access Control: a live session this API refuses; a new login gets the same answer
  t.match(classifyRestError([{ message: 'This session is not valid for use with the REST API', errorCode: 'INVALID_SESSION_ID' }], 401),
    { classification: 'api_access_blocked', retryable: false, credentialFailure: true, sfCode: 'INVALID_SESSION_ID' })
  t.match(classifyRestError([{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }], 403),
    { classification: 'api_limit_exceeded', retryable: true, credentialFailure: false })
  t.match(classifyRestError([{ message: 'API is not enabled for this Organization or Partner', errorCode: 'API_DISABLED_FOR_ORG' }], 403),
    { classification: 'api_disabled', retryable: false, credentialFailure: true })
  t.match(classifyRestError([{ message: 'API is disabled for this User', errorCode: 'API_CURRENTLY_DISABLED' }], 403), { classification: 'api_disabled' })
  t.match(classifyRestError([{ message: 'expired', errorCode: 'INVALID_OPERATION_WITH_EXPIRED_PASSWORD' }], 403), { classification: 'password_expired' })
  t.match(classifyRestError({ errorCode: 'INVALID_AUTH_HEADER', message: 'x' }, 401), { classification: 'session_invalid' })
  t.match(classifyRestError(undefined, 401), { classification: 'session_invalid' })
  // no REST error body at all (plain text Bad_OAuth_Token, a JSON string): Salesforce did not honour the session
  t.match(classifyRestError(undefined, 403), { classification: 'session_invalid', httpStatus: 403 })
  t.match(classifyRestError('Bad_OAuth_Token', 403), { classification: 'session_invalid' })
  t.match(classifyRestError([{ errorCode: 'INSUFFICIENT_ACCESS', message: 'x' }], 403), { classification: 'unknown' }, 'a REST error it does not know stays unknown')
  t.match(classifyRestError(undefined, 503), { classification: 'unreachable', retryable: true })
  t.match(classifyRestError([{ errorCode: 'UNKNOWN_EXCEPTION', message: 'x' }], 500), { classification: 'unknown', retryable: true })
  t.match(classifyRestError([{ errorCode: 'NOT_FOUND', message: 'x' }], 404), { classification: 'unknown', retryable: false })
})

t.test('network errors are unreachable and retryable', async t => {
  const refused = Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) })
  t.match(classifyNetworkError(refused), { classification: 'unreachable', retryable: true, credentialFailure: false, message: /ECONNREFUSED/ })
  const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError')
  t.match(classifyNetworkError(timeout, 1500), { classification: 'unreachable', message: /1500 ms/ })
  t.match(classifyNetworkError('weird'), { classification: 'unreachable', message: /network error/ })
})

t.test('a TLS handshake the broker refused sent nothing; a TLS error that can come later may have been judged', async t => {
  const failed = (code: string) => classifyNetworkError(Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('x'), { code }) }))
  for (const code of ['CERT_NOT_YET_VALID', 'CERT_REVOKED', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'ERR_TLS_CERT_ALTNAME_INVALID']) {
    t.notOk(failed(code).outcomeUnknown, `${code}: nothing sent`)
    t.match(failed(code).hint, /certificate/)
  }
  // OpenSSL says so for a bad record at any point, after the request too: named, but not "nothing sent"
  t.match(failed('ERR_SSL_WRONG_VERSION_NUMBER'), { outcomeUnknown: true, hint: /scheme and port of the connection's loginUrl/ })
  t.equal(failed('ERR_SSL_DECRYPTION_FAILED_OR_BAD_RECORD_MAC').outcomeUnknown, true, 'a broken record may come after the request')
  t.equal(failed('ECONNRESET').outcomeUnknown, true)
  t.notOk(failed('ECONNREFUSED').outcomeUnknown)
})

t.test('bare HTTP statuses', async t => {
  t.match(classifyHttpStatus(302, 'The token endpoint'), { classification: 'unknown', retryable: false, hint: /redirect/ })
  t.match(classifyHttpStatus(500, 'The token endpoint'), { classification: 'unknown', retryable: true })
  t.match(classifyHttpStatus(504, 'The token endpoint'), { classification: 'unreachable', retryable: true })
  t.match(classifyHttpStatus(404, 'The token endpoint'), { classification: 'unknown', retryable: false })
  // a bare 429 is not Salesforce's login rate limit (which names itself): something in between is throttling
  for (const f of [classifyHttpStatus(429, 'The token endpoint'), classifyOAuthError(undefined, 429), classifySoapFault(undefined, 429)]) {
    t.match(f, { classification: 'unreachable', retryable: true, credentialFailure: false, hint: /HTTP 429/ })
  }
  t.match(classifyRestError('Too Many Requests', 429), { classification: 'api_limit_exceeded', retryable: true }, 'on a REST call, an API limit')
  // a 5xx without Salesforce's error may be a gateway that passed the login on: its outcome is unknown
  for (const f of [classifyHttpStatus(504, 'The token endpoint'), classifyOAuthError(undefined, 502), classifySoapFault(undefined, 500)]) t.equal(f.outcomeUnknown, true, `HTTP ${f.httpStatus}`)
  t.notOk(classifyHttpStatus(429, 'The token endpoint').outcomeUnknown, 'a throttling 429 passed nothing on')
})

t.test('flags are a property of the classification', async t => {
  for (const c of CLASSIFICATIONS) {
    if (c === 'ok') continue
    const f = classifiedFailure(c, { message: 'm' })
    t.equal(f.credentialFailure, CREDENTIAL_CLASSIFICATIONS.has(c), `${c} credentialFailure`)
    t.equal(f.retryable, RETRYABLE_CLASSIFICATIONS.has(c), `${c} retryable`)
    t.ok(!(f.credentialFailure && f.retryable), `${c} is never both`)
    t.ok(remediationHint(c).length > 40, `${c} has a hint`)
  }
  t.equal(classifiedFailure('session_invalid', { message: 'm' }).retryable, false)
  t.equal(classifiedFailure('session_invalid', { message: 'm' }).credentialFailure, false)
  t.equal(classifiedFailure('unknown', { message: 'm', retryable: true }).retryable, true)
  t.equal(classifiedFailure('invalid_credentials', { message: 'm', retryable: true }).retryable, false, 'only unknown takes a retryable override')
})

t.test('hints speak Setup', async t => {
  t.match(remediationHint('api_disabled'), /API Enabled/)
  t.match(remediationHint('locked_out'), /Unlock/)
  t.match(remediationHint('ip_or_hours_restricted'), /Login IP Ranges.*Login Hours/)
  t.match(remediationHint('flow_not_enabled'), /Allow OAuth Username-Password Flows/)
  t.match(remediationHint('flow_not_enabled'), /Run As/)
  t.match(remediationHint('user_not_approved'), /Admin approved users are pre-authorized/)
  t.match(remediationHint('invalid_assertion'), /certificate/)
  t.match(remediationHint('invalid_assertion'), /audience is the host the assertion is posted to/)
  t.match(remediationHint('audience_mismatch'), /My Domain .* as loginUrl and leave jwtAudience unset/)
  t.match(remediationHint('inactive_user'), /Reactivate/i)
  t.match(remediationHint('password_expired'), /Password never expires/)
  t.match(remediationHint('invalid_client'), /Consumer/)
  t.match(remediationHint('security_token_required'), /Reset My Security Token/)
  t.match(remediationHint('invalid_credentials', 'client_credentials'), /Client Credentials/)
})

t.test('messages are sanitised', async t => {
  t.equal(sanitizeMessage('a\n  b\tc'), 'a b c')
  t.equal(sanitizeMessage('token 00D5g000004XyZaEAK!AQ4AQH.abc_DEF123 leaked'), 'token [redacted] leaked')
  t.equal(sanitizeMessage('x'.repeat(2000)).length, 500)
  t.equal(createScrubber(['hunter22', 'TOKEN', undefined, 'ab'])('pw=hunter22TOKEN'), 'pw=[redacted][redacted]')
})
