/**
 * The token endpoint exchange shared by the OAuth flows (username-password, JWT bearer, client
 * credentials): POST the grant, classify an error, or turn the answer into a session whose
 * instance URL passed the login URL policy.
 */
import { classifiedFailure, classifyAuthRefusal, classifyHttpStatus, classifyNetworkError, classifyOAuthError, type OAuthErrorBody } from './classify.ts'
import { httpRequest, parseJson, postForm } from './http.ts'
import { loginUrlRejection, type LoginUrlPolicy } from './login-url.ts'
import type { ClassifiedFailure, Flow, LoginOutcome, SalesforceSession } from './types.ts'

export interface FlowContext {
  policy: LoginUrlPolicy
  /** ms left of the login's timeout */
  remainingMs: () => number
  timeoutMs: number
  /**
   * Credentials a flow made and sent besides the definition's secrets (the signed JWT assertion,
   * a token it used): the login core scrubs them from every upstream text like the stored ones.
   */
  sent: string[]
}

interface TokenSuccess {
  access_token?: unknown
  instance_url?: unknown
  id?: unknown
}

/** A Salesforce record id: 15 or 18 alphanumerics. Anything else in an id field is not Salesforce's answer. */
export const SALESFORCE_ID = /^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$/

/** …/id/{orgId}/{userId} — Salesforce ids are 15 or 18 alphanumerics. */
const IDENTITY_PATH = /\/id\/([A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?)\/([A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?)\/?$/

export function idsFromIdentityUrl (identityUrl: unknown): { orgId: string, userId: string } | undefined {
  if (typeof identityUrl !== 'string') return undefined
  let path: string
  try {
    path = new URL(identityUrl).pathname
  } catch {
    return undefined
  }
  const match = IDENTITY_PATH.exec(path)
  return match === null ? undefined : { orgId: match[1], userId: match[2] }
}

export function tokenEndpoint (loginUrl: string): string {
  return `${new URL(loginUrl).origin}/services/oauth2/token`
}

export async function requestToken (loginUrl: string, flow: Flow, form: Record<string, string>, ctx: FlowContext): Promise<LoginOutcome> {
  let answer
  try {
    answer = await postForm(tokenEndpoint(loginUrl), form, ctx.remainingMs())
  } catch (error) {
    return { ok: false, failure: classifyNetworkError(error, ctx.timeoutMs, flow) }
  }
  const json = parseJson(answer.body)
  if (answer.status !== 200) {
    const body = json as OAuthErrorBody | undefined
    if (body !== null && typeof body === 'object' && typeof body.error === 'string') {
      return { ok: false, failure: classifyOAuthError(body, answer.status, flow) }
    }
    return { ok: false, failure: classifyHttpStatus(answer.status, 'The token endpoint', flow, answer.headers.get('location')) }
  }
  const issuedAt = Date.now()
  return sessionFromTokenAnswer(json as TokenSuccess | undefined, flow, issuedAt, ctx)
}

async function sessionFromTokenAnswer (body: TokenSuccess | undefined, flow: Flow, issuedAt: number, ctx: FlowContext): Promise<LoginOutcome> {
  if (body === null || typeof body !== 'object' || typeof body.access_token !== 'string' || body.access_token === '' ||
    typeof body.instance_url !== 'string') {
    return { ok: false, failure: classifiedFailure('unknown', { message: 'the token endpoint answered 200 without access_token and instance_url', httpStatus: 200, flow }) }
  }
  const instanceRejection = loginUrlRejection(body.instance_url, ctx.policy)
  if (instanceRejection !== undefined) {
    return { ok: false, failure: instanceUrlRejected(instanceRejection, flow) }
  }
  const instanceUrl = new URL(body.instance_url).origin
  ctx.sent.push(body.access_token)
  const ids = idsFromIdentityUrl(body.id) ?? await idsFromUserInfo(instanceUrl, body.access_token, ctx)
  // a token was issued: whatever keeps the broker from serving it, the secret was right
  if (ids !== undefined && 'classification' in ids) return { ok: false, failure: { ...ids, loginAccepted: true } }
  if (ids === undefined) {
    return { ok: false, failure: classifiedFailure('unknown', { message: 'the token answer has no usable identity URL (id) and userinfo did not say who logged in', httpStatus: 200, flow }) }
  }
  const session: SalesforceSession = { accessToken: body.access_token, instanceUrl, userId: ids.userId, orgId: ids.orgId, issuedAt, flow }
  return { ok: true, session }
}

/** Fallback when `id` is missing: GET /services/oauth2/userinfo answers user_id and organization_id. */
async function idsFromUserInfo (instanceUrl: string, accessToken: string, ctx: FlowContext): Promise<{ orgId: string, userId: string } | ClassifiedFailure | undefined> {
  try {
    const answer = await httpRequest(`${instanceUrl}/services/oauth2/userinfo`, {
      method: 'GET',
      headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' },
      timeoutMs: ctx.remainingMs(),
    })
    // the identity service refuses a token it does not honour with a bare 401/403 (Bad_OAuth_Token)
    if (answer.status === 401 || answer.status === 403) return classifyAuthRefusal(answer.status, answer.body, 'The identity service')
    if (answer.status !== 200) return undefined
    const info = parseJson(answer.body) as { user_id?: unknown, organization_id?: unknown } | undefined
    if (typeof info?.user_id === 'string' && typeof info.organization_id === 'string' && SALESFORCE_ID.test(info.user_id) && SALESFORCE_ID.test(info.organization_id)) {
      return { orgId: info.organization_id, userId: info.user_id }
    }
  } catch {
    // best effort: the caller reports the missing identity
  }
  return undefined
}

export function instanceUrlRejected (reason: string, flow: Flow): ClassifiedFailure {
  return {
    ...classifiedFailure('unknown', {
      message: `Salesforce answered with an instance URL the broker will not send sessions to: ${reason.replace(/^login URL/, 'instance URL')}`,
      flow,
      hint: 'The login answered with an instance_url outside the login URL policy. Check that the login URL is this org\'s ' +
        '(a proxy or a wrong host may be answering); non-Salesforce hosts must be in LOGIN_URL_ALLOWLIST.',
    }),
    // the login itself succeeded: the password was right, and Salesforce's count is back to zero
    loginAccepted: true,
  }
}
