import { clientError, errorFromResponse } from './broker-error.ts'
import { send, transportError, type RequestContext } from './transport.ts'

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

/** Asks the broker once for a session. Every failure comes back as a BrokerError. */
export async function requestSession (ctx: RequestContext, name: string, rejectedToken?: string): Promise<BrokerSession> {
  const { res, timeout } = await send(ctx, `/v1/connections/${encodeURIComponent(name)}/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(rejectedToken === undefined ? {} : { rejectedToken }),
  }, name)
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
