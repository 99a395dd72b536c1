/**
 * Every `code` a BrokerError can carry, so a `switch (err.code)` is checked by the compiler. The broker's
 * codes are its problem types (`urn:sf-broker:problem:<code>`; test/client/problem-codes.test.ts holds
 * this list to the broker's own); the client's are failures with no answer from the broker; `http_<status>`
 * is an answer that was not problem+json (a proxy's HTML page).
 */
export const BROKER_PROBLEM_CODES = [
  'bad_request', 'malformed_json', 'malformed_url', 'malformed_request', 'unauthenticated', 'forbidden', 'not_found',
  'method_not_allowed', 'conflict', 'request_timeout', 'payload_too_large', 'uri_too_long', 'unsupported_media_type',
  'credentials_rejected', 'flow_retired', 'permissions_missing', 'rate_limited', 'headers_too_large', 'login_guarded',
  'login_budget_exhausted', 'session_renewal_throttled', 'internal', 'salesforce_login_failed', 'circuit_open',
  'salesforce_unavailable', 'login_guard_unavailable', 'login_wait_timeout', 'secret_store_unavailable', 'not_ready',
  'shutting_down', 'proxy_only', 'policy_denied', 'proxy_quota_exceeded', 'session_renewed', 'bad_gateway',
  'gateway_timeout', 'audit_unavailable', 'expectation_failed',
] as const

export type BrokerProblemCode = typeof BROKER_PROBLEM_CODES[number]

/** Failures on the client's side of the wire: no answer, or an unusable one, or a client set up wrong. */
export type ClientErrorCode = 'broker_unreachable' | 'timeout' | 'client_closed' | 'invalid_response' | 'invalid_options' | 'credentials_unavailable'

export type BrokerErrorCode = BrokerProblemCode | ClientErrorCode | `http_${number}`
