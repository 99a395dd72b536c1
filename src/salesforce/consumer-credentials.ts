/**
 * The staged OAuth consumer credentials of a local External Client App, through Connect REST API
 * ("OAuth Credentials Resources", Connect REST API Developer Guide; Salesforce Help "Stage, Rotate,
 * and Delete OAuth Credentials for a Local External Client App", xcloud.eca_stage_oauth_credentials):
 * list the app's consumers, stage a second key and secret (both pairs work while staged), promote
 * the staged pair (PATCH {"command":"rotate"}: the former primary stays valid, state "rotated",
 * until deleted) and delete one. The calling user needs "External Client App Developer" and "View
 * Client Secret", the app "Allow access to External Client App consumer secrets via REST API"; a
 * refusal of those comes back as `notPermitted`, so the broker can guide the admin through Setup
 * instead. Answers carry a consumer secret (a POST's): never logged, scrubbed from every error.
 */
import { classifyHttpStatus, classifyNetworkError, classifyRestError } from './classify.ts'
import { httpRequest, parseJson, type HttpRequest } from './http.ts'
import { createScrubber, scrubFailure } from './scrub.ts'
import type { ClassifiedFailure, SalesforceSession } from './types.ts'

export interface CredentialsCall {
  session: Pick<SalesforceSession, 'accessToken' | 'instanceUrl'>
  /** e.g. "62.0" */
  apiVersion: string
  timeoutMs: number
}

export interface OAuthConsumer { id: string, key: string, stagedCredentialsUrl: string }
export interface StagedCredential { id: string, key: string, state: string, url: string, secret?: string }

/** Why Salesforce would not let this user manage the app's credentials (Setup can still do it). */
export type NotPermitted = 'permission' | 'setting' | 'packaged' | 'not_found'

export type CredentialsResult<T> =
  | { ok: true, value: T }
  | { ok: false, failure: ClassifiedFailure, notPermitted?: NotPermitted }

/** Identifiers in these URLs: Salesforce ids or developer names, nothing that can leave the path. */
const IDENTIFIER = /^[A-Za-z0-9_-]{1,80}$/
/** A path Salesforce handed back, kept inside the org's /services/data tree. */
const CREDENTIALS_PATH = /^\/services\/data\/v\d+\.\d+\/apps\/oauth\/credentials\/[A-Za-z0-9_/-]+$/

export function isCredentialsIdentifier (value: string): boolean {
  return IDENTIFIER.test(value)
}

function url (call: CredentialsCall, path: string): string {
  return `${new URL(call.session.instanceUrl).origin}${path}`
}

async function send (call: CredentialsCall, path: string, method: HttpRequest['method'], body?: unknown): Promise<{ ok: true, status: number, body: unknown } | { ok: false, failure: ClassifiedFailure, notPermitted?: NotPermitted }> {
  if (!CREDENTIALS_PATH.test(path)) {
    return { ok: false, failure: classifyHttpStatus(400, 'The OAuth credentials resource (an unexpected URL)') }
  }
  let answer
  try {
    answer = await httpRequest(url(call, path), {
      method,
      headers: { authorization: `Bearer ${call.session.accessToken}`, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      timeoutMs: call.timeoutMs,
    })
  } catch (error) {
    return { ok: false, failure: classifyNetworkError(error, call.timeoutMs) }
  }
  const parsed = parseJson(answer.body)
  if (answer.status >= 200 && answer.status < 300) return { ok: true, status: answer.status, body: parsed }
  const scrub = createScrubber([call.session.accessToken])
  const failure = parsed !== undefined ? classifyRestError(parsed, answer.status) : classifyHttpStatus(answer.status, 'The OAuth credentials resource')
  return { ok: false, failure: scrubFailure(failure, scrub), notPermitted: notPermitted(parsed, answer.status) }
}

function notPermitted (body: unknown, status: number): NotPermitted | undefined {
  const code = (Array.isArray(body) ? body[0] as { errorCode?: unknown } | undefined : undefined)?.errorCode
  if (code === 'INSUFFICIENT_ACCESS') return 'permission'
  if (code === 'FUNCTIONALITY_NOT_ENABLED') return 'setting'
  if (code === 'INVALID_OPERATION' && status === 400) return 'packaged'
  if (status === 404) return 'not_found'
  return undefined
}

function text (v: unknown): string {
  return typeof v === 'string' ? v : ''
}

/** GET /apps/oauth/credentials/{appId}: the app's OAuth consumers. */
export async function listConsumers (call: CredentialsCall, appId: string): Promise<CredentialsResult<OAuthConsumer[]>> {
  if (!isCredentialsIdentifier(appId)) return { ok: false, failure: classifyHttpStatus(400, 'The OAuth credentials resource (a bad app identifier)'), notPermitted: 'not_found' }
  const answer = await send(call, `/services/data/v${call.apiVersion.replace(/^v/i, '')}/apps/oauth/credentials/${appId}`, 'GET')
  if (!answer.ok) return answer
  const consumers = (answer.body as { consumers?: unknown } | undefined)?.consumers
  const list = Array.isArray(consumers) ? consumers : []
  return {
    ok: true,
    value: list.map(c => ({ id: text(c?.id), key: text(c?.key), stagedCredentialsUrl: text(c?.stagedCredentialsUrl) })).filter(c => c.key !== ''),
  }
}

function stagedList (body: unknown): StagedCredential[] {
  const list = (body as { stagedCredentials?: unknown } | undefined)?.stagedCredentials
  return (Array.isArray(list) ? list : []).map(c => ({
    id: text(c?.id), key: text(c?.key), state: text(c?.state), url: text(c?.url), ...(typeof c?.secret === 'string' ? { secret: c.secret } : {}),
  }))
}

/** POST …/staged: a new key and secret, valid beside the primary until promoted or deleted. */
export async function stageCredentials (call: CredentialsCall, stagedCredentialsUrl: string): Promise<CredentialsResult<StagedCredential>> {
  const answer = await send(call, stagedCredentialsUrl, 'POST')
  if (!answer.ok) return answer
  const staged = stagedList(answer.body).find(c => c.secret !== undefined && c.state === 'active') ?? stagedList(answer.body).find(c => c.secret !== undefined)
  if (!staged || staged.key === '' || !staged.secret) return { ok: false, failure: classifyHttpStatus(502, 'The staged credentials resource (no staged key and secret in the answer)') }
  return { ok: true, value: staged }
}

/** GET …/staged: the staged credentials (no secrets). */
export async function listStaged (call: CredentialsCall, stagedCredentialsUrl: string): Promise<CredentialsResult<StagedCredential[]>> {
  const answer = await send(call, stagedCredentialsUrl, 'GET')
  return answer.ok ? { ok: true, value: stagedList(answer.body).map(({ secret: _secret, ...rest }) => rest) } : answer
}

/** PATCH …/staged/{id} {"command":"rotate"}: the staged pair becomes primary. */
export async function promoteStaged (call: CredentialsCall, stagedUrl: string): Promise<CredentialsResult<StagedCredential[]>> {
  const answer = await send(call, stagedUrl, 'PATCH', { command: 'rotate' })
  return answer.ok ? { ok: true, value: stagedList(answer.body).map(({ secret: _secret, ...rest }) => rest) } : answer
}

/** DELETE …/staged/{id}; a 404 means it is gone already. */
export async function deleteStaged (call: CredentialsCall, stagedUrl: string): Promise<CredentialsResult<null>> {
  const answer = await send(call, stagedUrl, 'DELETE')
  if (!answer.ok && answer.notPermitted === 'not_found') return { ok: true, value: null }
  return answer.ok ? { ok: true, value: null } : answer
}
