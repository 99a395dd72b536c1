import { createHmac } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { normalizeIp } from './cidr.ts'
import type { ListenerScope, SimContext } from './context.ts'
import { delay, isFormEncoded, readBody, sendJson } from './http.ts'
import { audienceAccepted, decodeAssertion, signatureValid } from './jwt-assertion.ts'
import { decideDelegatedLogin, decidePasswordLogin, type LoginRefusal } from './login-policy.ts'
import { findUser } from './org-state.ts'
import { appForConsumerKey, consumerSecretAccepted } from './consumer-credentials.ts'
import { APP_NOT_INSTALLED, hostAudiences } from './org-drift.ts'
import type { SessionFlow } from './sessions.ts'
import type { SimConnectedAppState, SimOrgState, SimUserState } from './types.ts'

const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
/**
 * "OAuth 2.0 JWT Bearer Flow for Server-to-Server Integration" (Salesforce Help,
 * remoteaccess_oauth_jwt_flow): aud is https://login.salesforce.com or https://test.salesforce.com,
 * accepted wherever a connected app's assertion is posted (My Domain included) unless the org binds
 * aud to the host (`jwtAudienceIsHost`: External Client Apps since legacy redirects ended, Spring '26);
 * the origin of the host the assertion is posted to (the org's My Domain) is accepted for every app
 * (org-drift.ts hostAudiences). exp is "within 3 minutes".
 */
const JWT_AUDIENCES = ['https://login.salesforce.com', 'https://test.salesforce.com']
const JWT_MAX_LIFETIME_MS = 3 * 60_000

interface OAuthError { error: string, error_description: string }

/** Salesforce's token endpoint errors, word for word (all answered with HTTP 400). */
export const OAUTH_ERRORS = {
  authenticationFailure: { error: 'invalid_grant', error_description: 'authentication failure' },
  inactiveUser: { error: 'invalid_grant', error_description: 'inactive user' },
  ipOrHoursRestricted: { error: 'invalid_grant', error_description: 'IP restricted or invalid login hours' },
  rateLimitExceeded: { error: 'rate_limit_exceeded', error_description: 'Number of logins exceeded' },
  clientIdInvalid: { error: 'invalid_client_id', error_description: 'client identifier invalid' },
  clientCredentialsInvalid: { error: 'invalid_client', error_description: 'invalid client credentials' },
  unsupportedGrant: { error: 'unsupported_grant_type', error_description: 'grant type not supported' },
  invalidAssertion: { error: 'invalid_grant', error_description: 'invalid assertion' },
  audienceInvalid: { error: 'invalid_grant', error_description: 'audience is invalid' },
  assertionExpired: { error: 'invalid_grant', error_description: 'expired authorization code' },
  userNotApproved: { error: 'invalid_grant', error_description: "user hasn't approved this consumer" },
  notAdminApproved: { error: 'invalid_app_access', error_description: 'user is not admin approved to access this app' },
  noClientCredentialsUser: { error: 'invalid_grant', error_description: 'no client credentials user enabled' },
  clientCredentialsFlowDisabled: { error: 'invalid_grant', error_description: 'client credentials flow not enabled' },
  notSupportedOnDomain: { error: 'invalid_grant', error_description: 'request not supported on this domain' },
  appNotInstalled: APP_NOT_INSTALLED,
} as const satisfies Record<string, OAuthError>

/**
 * The OAuth answer for a refused login. Salesforce keeps a wrong password, a wrong or missing
 * token, a locked user, a user without "API Enabled" and a blocked username-password flow
 * indistinguishable here: all are "authentication failure" (Login History tells them apart).
 */
function oauthErrorFor (refusal: LoginRefusal): OAuthError {
  switch (refusal) {
    case 'inactive_user': return OAUTH_ERRORS.inactiveUser
    case 'ip_restricted':
    case 'hours_restricted': return OAUTH_ERRORS.ipOrHoursRestricted
    case 'rate_exceeded': return OAUTH_ERRORS.rateLimitExceeded
    default: return OAUTH_ERRORS.authenticationFailure
  }
}

type GrantOutcome =
  | { ok: true, org: SimOrgState, user: SimUserState, app: SimConnectedAppState, flow: SessionFlow }
  | { ok: false, error: OAuthError, orgKey?: string, username?: string }

interface AppMatch { org: SimOrgState, app: SimConnectedAppState }

function findApp (ctx: SimContext, scope: ListenerScope, clientId: string | null | undefined): AppMatch | undefined {
  if (!clientId) return undefined
  const orgs = scope.kind === 'my_domain' ? [scope.org] : ctx.orgs.values()
  for (const org of orgs) {
    // any valid consumer key of the app: its primary, a staged one, the rotated former primary
    const app = appForConsumerKey(org, clientId)
    if (app) return { org, app }
  }
  return undefined
}

function preAuthorized (app: SimConnectedAppState, username: string): boolean {
  return app.preAuthorizedUsernames.some(u => u.toLowerCase() === username.toLowerCase())
}

function fail (error: OAuthError, orgKey?: string, username?: string): GrantOutcome {
  return { ok: false, error, orgKey, username }
}

function passwordGrant (ctx: SimContext, scope: ListenerScope, params: URLSearchParams, clientIp: string): GrantOutcome {
  const username = params.get('username') ?? ''
  const match = findApp(ctx, scope, params.get('client_id'))
  if (!match) return fail(OAUTH_ERRORS.clientIdInvalid, undefined, username)
  const { org, app } = match
  if (!app.installed) return fail(OAUTH_ERRORS.appNotInstalled, org.key, username)
  if (!consumerSecretAccepted(app, params.get('client_id') ?? undefined, params.get('client_secret'))) return fail(OAUTH_ERRORS.clientCredentialsInvalid, org.key, username)
  // blocked by the org, or retired for every connected app (org-state.ts): the same answer as a wrong password
  const now = ctx.now()
  const flowEnabled = org.flows.oauthPassword && !org.blockOAuthUnPwFlow && now < org.oauthPasswordFlowRetiredAt
  const decision = decidePasswordLogin(org, username, params.get('password') ?? '', clientIp, flowEnabled, now)
  if (!decision.ok) return fail(oauthErrorFor(decision.refusal), org.key, username)
  if (app.permittedUsers === 'admin_approved' && !preAuthorized(app, decision.user.username)) {
    return fail(OAUTH_ERRORS.notAdminApproved, org.key, username)
  }
  return { ok: true, org, user: decision.user, app, flow: 'oauth_password' }
}

function jwtBearerGrant (ctx: SimContext, scope: ListenerScope, params: URLSearchParams, clientIp: string, now: number): GrantOutcome {
  const decoded = decodeAssertion(params.get('assertion') ?? '')
  if (!decoded) return fail(OAUTH_ERRORS.invalidAssertion)
  const { claims } = decoded
  const subject = typeof claims.sub === 'string' ? claims.sub : undefined
  const match = findApp(ctx, scope, typeof claims.iss === 'string' ? claims.iss : undefined)
  if (!match) return fail(OAUTH_ERRORS.clientIdInvalid, undefined, subject)
  const { org, app } = match
  if (!app.installed) return fail(OAUTH_ERRORS.appNotInstalled, org.key, subject)
  if (!signatureValid(decoded, app.certificatePem)) return fail(OAUTH_ERRORS.invalidAssertion, org.key, subject)
  if (!audienceAccepted(claims.aud, org.jwtAudienceIsHost ? hostAudiences(scope) : [...JWT_AUDIENCES, ...hostAudiences(scope)])) return fail(OAUTH_ERRORS.audienceInvalid, org.key, subject)
  if (typeof claims.exp !== 'number' || claims.exp * 1000 <= now) return fail(OAUTH_ERRORS.assertionExpired, org.key, subject)
  if (claims.exp * 1000 > now + JWT_MAX_LIFETIME_MS) return fail(OAUTH_ERRORS.invalidAssertion, org.key, subject)
  if (!org.flows.jwtBearer) return fail(OAUTH_ERRORS.unsupportedGrant, org.key, subject)
  const user = subject === undefined ? undefined : findUser(org, subject)
  if (!user) return fail(OAUTH_ERRORS.userNotApproved, org.key, subject)
  if (app.permittedUsers === 'admin_approved') {
    if (!preAuthorized(app, user.username)) return fail(OAUTH_ERRORS.notAdminApproved, org.key, subject)
  } else if (app.userApprovedUsernames && !app.userApprovedUsernames.some(u => u.toLowerCase() === user.username.toLowerCase())) {
    return fail(OAUTH_ERRORS.userNotApproved, org.key, subject)
  }
  const decision = decideDelegatedLogin(org, user, clientIp, now)
  if (!decision.ok) return fail(oauthErrorFor(decision.refusal), org.key, subject)
  return { ok: true, org, user, app, flow: 'jwt_bearer' }
}

/** RFC 6749 §2.3.1: client_id and client_secret may come in HTTP Basic, form-urlencoded inside. */
function clientCredentialsFrom (req: IncomingMessage, params: URLSearchParams): { clientId?: string, clientSecret?: string } {
  const header = req.headers.authorization ?? ''
  const basic = /^Basic\s+(.+)$/i.exec(header.trim())
  if (basic) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    if (colon >= 0) {
      return { clientId: decodeURIComponent(decoded.slice(0, colon)), clientSecret: decodeURIComponent(decoded.slice(colon + 1)) }
    }
  }
  return { clientId: params.get('client_id') ?? undefined, clientSecret: params.get('client_secret') ?? undefined }
}

function clientCredentialsGrant (ctx: SimContext, scope: ListenerScope, req: IncomingMessage, params: URLSearchParams, clientIp: string): GrantOutcome {
  const { clientId, clientSecret } = clientCredentialsFrom(req, params)
  const match = findApp(ctx, scope, clientId)
  // The generic login hosts refuse this grant whoever asks; only a My Domain serves it.
  if (scope.kind === 'login') return fail(OAUTH_ERRORS.notSupportedOnDomain, match?.org.key, match?.app.clientCredentialsUser)
  if (!match) return fail(OAUTH_ERRORS.clientIdInvalid)
  const { org, app } = match
  const runAs = app.clientCredentialsUser
  if (!app.installed) return fail(OAUTH_ERRORS.appNotInstalled, org.key, runAs)
  if (!consumerSecretAccepted(app, clientId, clientSecret)) return fail(OAUTH_ERRORS.clientCredentialsInvalid, org.key, runAs)
  if (!org.flows.clientCredentials) return fail(OAUTH_ERRORS.clientCredentialsFlowDisabled, org.key, runAs)
  const user = runAs === undefined ? undefined : findUser(org, runAs)
  if (!user) return fail(OAUTH_ERRORS.noClientCredentialsUser, org.key, runAs)
  if (app.permittedUsers === 'admin_approved' && !preAuthorized(app, user.username)) {
    return fail(OAUTH_ERRORS.notAdminApproved, org.key, runAs)
  }
  const decision = decideDelegatedLogin(org, user, clientIp, ctx.now())
  if (!decision.ok) return fail(oauthErrorFor(decision.refusal), org.key, runAs)
  return { ok: true, org, user, app, flow: 'client_credentials' }
}

/** Token request parameters: the form body, with query-string parameters as a fallback (Salesforce reads both). */
async function tokenParams (req: IncomingMessage, url: URL): Promise<URLSearchParams> {
  const params = new URLSearchParams(url.search)
  const body = await readBody(req)
  if (isFormEncoded(req)) {
    for (const [key, value] of new URLSearchParams(body)) params.set(key, value)
  }
  return params
}

/** POST /services/oauth2/token */
export async function handleTokenRequest (ctx: SimContext, scope: ListenerScope, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  await delay(ctx.latencyMs)
  const params = await tokenParams(req, url)
  const clientIp = normalizeIp(req.socket.remoteAddress)
  const now = ctx.now()
  let outcome: GrantOutcome
  switch (params.get('grant_type')) {
    case 'password': outcome = passwordGrant(ctx, scope, params, clientIp); break
    case JWT_BEARER_GRANT: outcome = jwtBearerGrant(ctx, scope, params, clientIp, now); break
    case 'client_credentials': outcome = clientCredentialsGrant(ctx, scope, req, params, clientIp); break
    default: outcome = fail(OAUTH_ERRORS.unsupportedGrant, undefined, params.get('username') ?? undefined)
  }
  const noStore = { 'cache-control': 'no-cache,must-revalidate,max-age=0,no-store,private' }
  if (!outcome.ok) {
    ctx.stats.record(outcome.orgKey, outcome.username, false)
    sendJson(res, 400, outcome.error, noStore)
    return
  }
  const { org, user, app, flow } = outcome
  ctx.stats.record(org.key, user.username, true)
  const session = ctx.sessions.issue(org, user, flow, now, app.clientId)
  const id = `${ctx.loginUrl}/id/${org.orgId}/${user.userId}`
  const issuedAt = String(session.issuedAt)
  const signature = createHmac('sha256', app.clientSecret).update(id + issuedAt).digest('base64')
  sendJson(res, 200, {
    access_token: session.accessToken,
    ...(flow === 'oauth_password' ? {} : { scope: 'api' }),
    instance_url: ctx.myDomainUrls.get(org.key),
    id,
    token_type: 'Bearer',
    issued_at: issuedAt,
    signature,
  }, noStore)
}
