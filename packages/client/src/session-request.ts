import { BrokerError, clientError, errorFromResponse } from './broker-error.ts'

export type BrokerFlow = 'soap' | 'oauth_password' | 'jwt_bearer' | 'client_credentials'

export interface BrokerSession {
  /** Salesforce session id / OAuth access token; send as `Authorization: Bearer` */
  accessToken: string
  /** base URL for REST and SOAP calls */
  instanceUrl: string
  /** when Salesforce issued the session */
  issuedAt: Date
  /** ask the broker again by then */
  expiresAt: Date
  connection: string
  userId: string
  orgId: string
  /** REST API version configured for the connection, e.g. '62.0' */
  apiVersion: string
  flow: BrokerFlow
}

export type Credentials = string | (() => string | Promise<string>)

export interface SessionRequestContext {
  baseUrl: string
  credentials: Credentials
  timeoutMs: number
  fetch: typeof fetch
  /** aborted when the client closes */
  closed: AbortSignal
}

function sessionUrl (baseUrl: string, name: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/v1/connections/${encodeURIComponent(name)}/session`
}

/** Asks the broker once for a session. Every failure comes back as a BrokerError. */
export async function requestSession (ctx: SessionRequestContext, name: string, rejectedToken?: string): Promise<BrokerSession> {
  if (ctx.closed.aborted) throw clientError('client_closed', 'The broker client is closed', name)
  // read per request: a projected service-account token file is rotated underneath us
  let credential: string
  try {
    credential = typeof ctx.credentials === 'function' ? await ctx.credentials() : ctx.credentials
  } catch (err) {
    throw clientError('credentials_unavailable', 'The credentials function failed (e.g. the token file could not be read)', name, err)
  }
  if (typeof credential !== 'string' || credential === '') throw clientError('credentials_unavailable', 'The credentials function returned no token', name)
  const timeout = AbortSignal.timeout(ctx.timeoutMs)
  let res: Response
  try {
    res = await ctx.fetch(sessionUrl(ctx.baseUrl, name), {
      method: 'POST',
      headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/json', accept: 'application/json, application/problem+json' },
      body: JSON.stringify(rejectedToken === undefined ? {} : { rejectedToken }),
      signal: AbortSignal.any([timeout, ctx.closed]),
      redirect: 'error',
    })
  } catch (err) {
    throw transportError(err, ctx, timeout, name)
  }
  if (!res.ok) throw await errorFromResponse(res, name)
  let body: unknown
  try {
    body = await res.json()
  } catch (err) {
    if (timeout.aborted || ctx.closed.aborted) throw transportError(err, ctx, timeout, name)
    throw clientError('invalid_response', 'The broker answered with a body that is not JSON', name)
  }
  return toSession(body, name)
}

function transportError (err: unknown, ctx: SessionRequestContext, timeout: AbortSignal, name: string): BrokerError {
  if (ctx.closed.aborted) return clientError('client_closed', 'The broker client is closed', name)
  if (timeout.aborted) return clientError('timeout', `The broker did not answer within ${ctx.timeoutMs} ms`, name, err)
  // where it tried (the origin only: a URL's user-info is not printed) and why, e.g. ECONNREFUSED or ENOTFOUND
  const why = (err as { cause?: { code?: string } }).cause?.code
  return clientError('broker_unreachable', `The broker at ${new URL(ctx.baseUrl).origin} could not be reached${why ? ` (${why})` : ''}`, name, err)
}

function toSession (body: unknown, name: string): BrokerSession {
  const b = (body ?? {}) as Record<string, unknown>
  const strings = ['accessToken', 'instanceUrl', 'issuedAt', 'expiresAt', 'userId', 'orgId', 'apiVersion', 'flow'] as const
  const issuedAt = new Date(String(b.issuedAt))
  const expiresAt = new Date(String(b.expiresAt))
  if (strings.some(k => typeof b[k] !== 'string' || b[k] === '') || Number.isNaN(issuedAt.getTime()) || Number.isNaN(expiresAt.getTime())) {
    throw clientError('invalid_response', 'The broker answered with an incomplete session', name)
  }
  return Object.freeze({
    accessToken: b.accessToken as string,
    instanceUrl: b.instanceUrl as string,
    issuedAt,
    expiresAt,
    connection: typeof b.connection === 'string' ? b.connection : name,
    userId: b.userId as string,
    orgId: b.orgId as string,
    apiVersion: b.apiVersion as string,
    flow: b.flow as BrokerFlow,
  })
}
