import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ListenerScope, SimContext } from './context.ts'
import { bearerToken, isFormEncoded, readBody, sendEmpty, sendJson, sendText } from './http.ts'
import { findUserById } from './org-state.ts'
import type { SimSession } from './sessions.ts'
import { handleComposite } from './composite.ts'
import { chargeApiCall, limitInfoHeader } from './api-usage.ts'
import { handleDataResource } from './data-resources.ts'
import type { SimOrgState } from './types.ts'
import { NOT_VALID_FOR_REST, apiUseRefused } from './org-drift.ts'

type RestError = Array<{ message: string, errorCode: string }>

const INVALID_SESSION: RestError = [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }]
const API_DISABLED: RestError = [{ message: 'API is not enabled for this Organization or Partner', errorCode: 'API_DISABLED_FOR_ORG' }]
const EXPIRED_PASSWORD: RestError = [{
  message: 'The users password has expired, you must call SetPassword before attempting any other API operations',
  errorCode: 'INVALID_OPERATION_WITH_EXPIRED_PASSWORD',
}]
/**
 * "If you request a resource or use an operation from a retired API version, REST API returns the
 * 410:GONE error code" (REST API Developer Guide, API End-of-Life Policy). The status is documented;
 * the body's words are not, so this one follows the usual [{ message, errorCode }] shape with GONE
 * (restforce #941 met that code).
 */
const VERSION_RETIRED: RestError = [{ message: 'The requested resource no longer exists', errorCode: 'GONE' }]
const LIMIT_EXCEEDED: RestError = [{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }]

export const DATA_PATH = /^\/services\/data\/v(\d+\.\d+)\/([\w/-]+?)\/?$/

/** A live session of this My Domain's org; a session of another org is as unknown here as a made-up one. */
function sessionFor (ctx: SimContext, org: SimOrgState, req: IncomingMessage): SimSession | undefined {
  const token = bearerToken(req)
  const session = token === undefined ? undefined : ctx.sessions.find(token, ctx.orgs)
  return session?.orgKey === org.key ? session : undefined
}

function limitsBody (org: SimOrgState): Record<string, { Max: number, Remaining: number }> {
  const full = (max: number): { Max: number, Remaining: number } => ({ Max: max, Remaining: max })
  return {
    ConcurrentAsyncGetReportInstances: full(200),
    ConcurrentSyncReportRuns: full(20),
    DailyApiRequests: { Max: org.apiRequestLimit, Remaining: Math.max(0, org.apiRequestLimit - org.apiRequestsUsed) },
    DailyAsyncApexExecutions: full(250000),
    DailyBulkApiBatches: full(15000),
    DailyBulkV2QueryJobs: full(10000),
    DataStorageMB: full(5),
    FileStorageMB: full(20),
    HourlyTimeBasedWorkflow: full(50),
    SingleEmail: full(15),
  }
}

/**
 * /services/data/vXX.X/{resource}: the session is checked first (401), then the org's API
 * access and an expired password (403), then the daily request allocation, which the call
 * consumes (403 once it is used up; api-usage.ts). A composite request is one call, however many
 * subrequests. Query, sObjects, sObject Collections and Bulk API 2.0 ingest: data-resources.ts.
 */
export async function handleDataRequest (ctx: SimContext, scope: ListenerScope & { kind: 'my_domain' }, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const { org } = scope
  const [, version, resource] = DATA_PATH.exec(url.pathname) as RegExpExecArray
  if (Number.parseFloat(version) < org.minApiVersion) return sendJson(res, 410, VERSION_RETIRED)
  const session = sessionFor(ctx, org, req)
  if (!session) {
    sendJson(res, 401, INVALID_SESSION, { 'www-authenticate': 'Token' })
    return
  }
  if (apiUseRefused(ctx, org, session)) return sendJson(res, 401, NOT_VALID_FOR_REST, { 'www-authenticate': 'Token' })
  if (!org.apiEnabled) return sendJson(res, 403, API_DISABLED)
  if (session.passwordExpired) return sendJson(res, 403, EXPIRED_PASSWORD)
  if (!chargeApiCall(org)) return sendJson(res, 403, LIMIT_EXCEEDED, limitInfoHeader(org))
  const headers = limitInfoHeader(org)
  if (resource === 'composite' && req.method === 'POST') return handleComposite(org, session, req, res, headers, scope.url)
  if (await handleDataResource(org, session.userId, req, res, url, version, resource, headers, scope.url)) return
  if (req.method !== 'GET') {
    sendJson(res, 405, [{ message: `HTTP Method '${req.method}' not allowed. Allowed are GET`, errorCode: 'METHOD_NOT_ALLOWED' }], headers)
    return
  }
  if (resource === 'limits') return sendJson(res, 200, limitsBody(org), headers)
  sendJson(res, 404, [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }], headers)
}

/** GET /services/data: the API versions; Salesforce answers it without a session. */
export function handleVersions (res: ServerResponse): void {
  const versions = ['58.0', '59.0', '60.0', '61.0', '62.0', '63.0', '64.0', '65.0', '66.0', '67.0']
  sendJson(res, 200, versions.map(v => ({ label: `v${v}`, url: `/services/data/v${v}`, version: v })))
}

function identityFields (ctx: SimContext, org: SimOrgState, session: SimSession): Record<string, unknown> {
  const user = findUserById(org, session.userId)
  const username = user?.username ?? session.username
  const name = username.split('@')[0]
  const base = ctx.myDomainUrls.get(org.key) ?? ''
  return {
    sub: `${ctx.loginUrl}/id/${org.orgId}/${session.userId}`,
    user_id: session.userId,
    organization_id: org.orgId,
    preferred_username: username,
    nickname: name,
    name,
    email: username,
    email_verified: true,
    given_name: name,
    family_name: name,
    zoneinfo: 'America/Los_Angeles',
    photos: { picture: `${base}/profilephoto/005/F`, thumbnail: `${base}/profilephoto/005/T` },
    profile: `${base}/${session.userId}`,
    picture: `${base}/profilephoto/005/F`,
    address: {},
    is_salesforce_integration_user: false,
    urls: {
      enterprise: `${base}/services/Soap/c/{version}/${org.orgId}`,
      metadata: `${base}/services/Soap/m/{version}/${org.orgId}`,
      partner: `${base}/services/Soap/u/{version}/${org.orgId}`,
      rest: `${base}/services/data/v{version}/`,
      sobjects: `${base}/services/data/v{version}/sobjects/`,
      search: `${base}/services/data/v{version}/search/`,
      query: `${base}/services/data/v{version}/query/`,
      profile: `${base}/${session.userId}`,
    },
    active: user?.active ?? true,
    user_type: 'STANDARD',
    language: 'en_US',
    locale: 'en_US',
    utcOffset: -28800000,
    updated_at: new Date(session.issuedAt).toISOString().replace(/\.\d{3}Z$/, '+0000'),
    is_app_installed: true,
  }
}

/** GET|POST /services/oauth2/userinfo: the identity service answers a bad token with a bare 403, not the REST 401. */
export function handleUserInfo (ctx: SimContext, scope: ListenerScope & { kind: 'my_domain' }, req: IncomingMessage, res: ServerResponse): void {
  const session = sessionFor(ctx, scope.org, req)
  if (!session) return sendText(res, 403, 'text/plain;charset=UTF-8', 'Bad_OAuth_Token')
  sendJson(res, 200, identityFields(ctx, scope.org, session))
}

/** GET /id/{orgId}/{userId}: the identity URL returned as `id` by every OAuth login (on the login host). */
export function handleIdentity (ctx: SimContext, req: IncomingMessage, res: ServerResponse, orgId: string, userId: string): void {
  const token = bearerToken(req)
  const session = token === undefined ? undefined : ctx.sessions.find(token, ctx.orgs)
  const org = session ? ctx.orgs.get(session.orgKey) : undefined
  if (!session || !org || org.orgId !== orgId) return sendText(res, 403, 'text/plain;charset=UTF-8', 'Bad_OAuth_Token')
  if (session.userId !== userId) return sendText(res, 403, 'text/plain;charset=UTF-8', 'Bad_Id')
  const fields = identityFields(ctx, org, session)
  sendJson(res, 200, {
    id: fields.sub,
    asserted_user: true,
    user_id: session.userId,
    organization_id: org.orgId,
    username: fields.preferred_username,
    nick_name: fields.nickname,
    display_name: fields.name,
    email: fields.email,
    email_verified: true,
    first_name: fields.given_name,
    last_name: fields.family_name,
    timezone: fields.zoneinfo,
    photos: fields.photos,
    active: fields.active,
    user_type: 'STANDARD',
    language: 'en_US',
    locale: 'en_US',
    utcOffset: fields.utcOffset,
    last_modified_date: new Date(session.issuedAt).toISOString().replace(/Z$/, '+0000'),
    is_app_installed: true,
    urls: fields.urls,
  })
}

/** POST /services/oauth2/revoke (form `token=`, or GET ?token=): 200 with an empty body; an unknown token is a 400. */
export async function handleRevoke (ctx: SimContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const body = await readBody(req)
  const params = new URLSearchParams(url.search)
  if (isFormEncoded(req)) for (const [k, v] of new URLSearchParams(body)) params.set(k, v)
  const token = params.get('token') ?? ''
  if (!ctx.sessions.find(token, ctx.orgs)) {
    sendJson(res, 400, { error: 'invalid_token', error_description: 'invalid token' })
    return
  }
  ctx.sessions.revoke(token)
  sendEmpty(res, 200)
}
