/**
 * Shared Salesforce vocabulary: what a connection is, what a session is, and the closed set
 * of outcomes a login (or a session check) can have. Every module that talks about
 * Salesforce uses these types, so a classification means the same thing everywhere.
 */

export const FLOWS = ['soap', 'oauth_password', 'jwt_bearer', 'client_credentials'] as const
export type Flow = typeof FLOWS[number]

/**
 * One connection as stored in the secret store (one Vault KV v2 secret).
 * Non-secret fields and secret fields live together so that one check-and-set write
 * rotates them atomically.
 */
export interface ConnectionDefinition {
  flow: Flow
  /** https origin of the login host: https://login.salesforce.com, https://test.salesforce.com or a My Domain. */
  loginUrl: string
  /** Required for soap, oauth_password and jwt_bearer. */
  username?: string
  /** e.g. "62.0" */
  apiVersion: string
  /** The org's session timeout in seconds (Setup > Session Settings). Login responses (OAuth) do not say it. */
  sessionTimeoutSeconds: number
  /** Audit every session handed out (caller, secret version, token fingerprint, expiry). Default true. */
  auditSessions?: boolean
  /** Keep logging in after the announced end of the flow (an org whose date is later): set by PUT …?acceptRetiredFlow=true. */
  acceptRetiredFlow?: boolean
  /** Connected app consumer key: oauth_password, jwt_bearer, client_credentials. */
  clientId?: string
  /**
   * System permissions the integration needs, as UserPermissionAccess names them
   * (PermissionsApiEnabled, PermissionsModifyAllData…): checked after a validating login.
   */
  requiredPermissions?: string[]
  /** The org's password policy "User passwords expire in" (days), for password flows: expiry is warned ahead. */
  passwordExpiresAfterDays?: number
  /**
   * jwt_bearer with JWT_KEY_CUSTODY=vault-transit: the name of the Transit key that signs the
   * assertions. The private key never leaves Vault; this names it and holds nothing secret.
   */
  transitKey?: string
  /**
   * jwt_bearer: the assertion's audience, to override the default (src/salesforce/jwt-bearer.ts jwtAudience):
   * the origin of loginUrl, i.e. the host the assertion is posted to — the org's My Domain, which External
   * Client Apps require since legacy redirects ended and connected apps accept, or login/test.salesforce.com.
   */
  jwtAudience?: string
  /** jwt_bearer: the PEM X.509 certificate uploaded to the connected app (public): health warns before it expires. */
  certificate?: string
  // ---- secrets: never logged, never returned by any route ----
  password?: string
  securityToken?: string
  clientSecret?: string
  /** PEM-encoded RSA private key (PKCS#8 or PKCS#1) for jwt_bearer. */
  privateKey?: string
}

export const SECRET_FIELDS = ['password', 'securityToken', 'clientSecret', 'privateKey'] as const
export type SecretField = typeof SECRET_FIELDS[number]

/** An issued Salesforce session. */
export interface SalesforceSession {
  accessToken: string
  instanceUrl: string
  userId: string
  orgId: string
  /** epoch milliseconds when the login answered */
  issuedAt: number
  /** SOAP login reports userInfo.sessionSecondsValid; OAuth flows do not (undefined then). */
  sessionSecondsValid?: number
  flow: Flow
}

export const CLASSIFICATIONS = [
  'ok',
  'invalid_credentials',
  'locked_out',
  'security_token_required',
  'api_disabled',
  'ip_or_hours_restricted',
  'password_expired',
  'login_rate_exceeded',
  'api_limit_exceeded',
  'invalid_client',
  'flow_not_enabled',
  'user_not_approved',
  'invalid_assertion',
  'inactive_user',
  // org drift (2025–26 platform changes): the app is not installed in the org; API Access Control
  // refuses the session for API use after a successful login; the JWT audience is not the host's
  'app_not_installed',
  'api_access_blocked',
  'audience_mismatch',
  'api_version_retired',
  'session_invalid',
  'unreachable',
  'unknown',
] as const
export type Classification = typeof CLASSIFICATIONS[number]

/** A failed login or session check, classified for callers, SREs and admins. */
export interface ClassifiedFailure {
  classification: Exclude<Classification, 'ok'>
  /** true when trying again later with the same secret can succeed (network, rate limits, 5xx). */
  retryable: boolean
  /**
   * true when the failure is about the credential or the org's policy for it: retrying with the
   * same secret can only add failed logins (and lock the user out). Opens the lockout circuit.
   */
  credentialFailure: boolean
  /** Salesforce's own words (error_description / faultstring), never containing a secret. */
  message: string
  /** What an admin should check, in Setup terms. Says so when Salesforce's answer is ambiguous. */
  hint: string
  /** Salesforce's code when it gave one: "invalid_grant", "INVALID_LOGIN", "INVALID_SESSION_ID"… */
  sfCode?: string
  /** HTTP status Salesforce answered with, when it answered. */
  httpStatus?: number
  /**
   * true when the request may have reached Salesforce and been judged, but no answer came (the
   * broker gave up waiting, or the connection broke after the request was sent). For a password
   * flow Salesforce may have counted it as a failed login: the guard counts it too.
   */
  outcomeUnknown?: boolean
  /**
   * true when Salesforce took the secret and issued a session the broker cannot serve: SOAP login()
   * with an expired password "returns a valid sessionId, but the only allowable operation is the
   * setPassword() call" (SOAP API Developer Guide, LoginResult); or a well-formed successful answer
   * the broker will not use (an instance URL outside the login URL policy; an access token whose
   * user could not be asked for). A malformed answer is not one. A right password
   * resets Salesforce's failed-login count, so the guard's goes back to zero too.
   */
  loginAccepted?: true
}

/** The message of a login that failed inside the broker (a bug, not Salesforce's answer). */
export const INTERNAL_LOGIN_ERROR = 'the broker failed while logging in (an internal error, in the broker\'s log)'

export type LoginOutcome =
  | { ok: true, session: SalesforceSession }
  | { ok: false, failure: ClassifiedFailure }

export interface ApiUsage { used: number, max: number }

export type SessionCheckOutcome =
  | { ok: true, apiUsage?: ApiUsage }
  | { ok: false, failure: ClassifiedFailure }
