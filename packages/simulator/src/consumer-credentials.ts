import { randomBytes } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { chargeApiCall, limitInfoHeader } from './api-usage.ts'
import type { ListenerScope, SimContext } from './context.ts'
import { bearerToken, readBody, sendEmpty, sendJson } from './http.ts'
import { newSalesforceId, randomBase62 } from './ids.ts'
import { findUserById } from './org-state.ts'
import type { SimConnectedAppState, SimOrgState, SimStagedCredential } from './types.ts'

/**
 * Staged OAuth consumer credentials of an External Client App, through Connect REST API
 * ("OAuth Credentials Resources", Connect REST API Developer Guide; Salesforce Help "Stage, Rotate,
 * and Delete OAuth Credentials for a Local External Client App", xcloud.eca_stage_oauth_credentials):
 *
 *   GET    /services/data/vXX.X/apps/oauth/credentials/{appId}                          the app's consumers
 *   GET    …/{appId}/{consumerId}                                                       one consumer (key)
 *   GET    …/{appId}/{consumerId}/staged                                                its staged credentials
 *   POST   …/{appId}/{consumerId}/staged                                                stage a new key and secret
 *   PATCH  …/{appId}/{consumerId}/staged/{stagedId} {"command":"rotate"}                promote it to primary
 *   DELETE …/{appId}/{consumerId}/staged/{stagedId}                                     delete it
 *
 * Answer shapes follow what public clients read from them (Infisical's Salesforce OAuth credentials
 * rotation: consumers[].stagedCredentialsUrl, stagedCredentials[].{id,key,secret,state,url}). While
 * staged, a credential works beside the primary one — the zero-downtime rotation; a promoted
 * credential becomes primary and the former primary stays, state "rotated", until it is deleted
 * (Salesforce deletes it after 30 days by itself, which the simulator does not model).
 *
 * Who may: the user needs "External Client App Developer" and "View Client Secret" (the Help
 * article's required permissions), the app the setting "Allow access to External Client App consumer
 * secrets via REST API", and the app must be local (packaged apps: not served). Salesforce does not
 * publish the exact error bodies; these follow Connect REST API's [{ errorCode, message }] shape with
 * its documented codes (403 "The request has been refused. Verify that the logged-in user has
 * appropriate permissions", 404 NOT_FOUND) — see the constants below.
 */

export const CREDENTIALS_PATH = /^\/services\/data\/v(\d+\.\d+)\/apps\/oauth\/credentials\/([\w-]+)(?:\/([\w-]+)(?:\/(staged)(?:\/([\w-]+))?)?)?\/?$/

/** The permissions the Help article names, as UserPermissionAccess fields (the label's name, Salesforce's convention). */
export const ECA_DEVELOPER_PERMISSION = 'PermissionsExternalClientAppDeveloper'
export const VIEW_CLIENT_SECRET_PERMISSION = 'PermissionsViewClientSecret'

type RestError = Array<{ errorCode: string, message: string }>

export const CREDENTIAL_ERRORS = {
  invalidSession: [{ errorCode: 'INVALID_SESSION_ID', message: 'Session expired or invalid' }],
  insufficientAccess: [{ errorCode: 'INSUFFICIENT_ACCESS', message: 'You don’t have permission to manage the OAuth credentials of this external client app. Ask your admin for the External Client App Developer and View Client Secret permissions.' }],
  settingOff: [{ errorCode: 'FUNCTIONALITY_NOT_ENABLED', message: 'Access to external client app consumer secrets via REST API isn’t enabled. Turn it on in External Client App Settings.' }],
  packaged: [{ errorCode: 'INVALID_OPERATION', message: 'Staged OAuth credentials are available only for local external client apps.' }],
  notFound: [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }],
  alreadyStaged: [{ errorCode: 'INVALID_OPERATION', message: 'This OAuth consumer already has active staged credentials. Rotate or delete them first.' }],
  badCommand: [{ errorCode: 'INVALID_INPUT', message: 'Specify a valid command: rotate.' }],
} as const satisfies Record<string, RestError>

/** Every consumer key the app answers to now, with its secret: the primary, staged ones, the rotated former primary. */
export function validCredentials (app: SimConnectedAppState): Array<{ key: string, secret: string }> {
  return [{ key: app.consumerKey, secret: app.clientSecret }, ...app.stagedCredentials.map(c => ({ key: c.key, secret: c.secret }))]
}

/** The app of a consumer key, whichever of its valid credentials the key is. */
export function appForConsumerKey (org: SimOrgState, key: string): SimConnectedAppState | undefined {
  for (const app of org.connectedApps.values()) {
    if (validCredentials(app).some(c => c.key === key)) return app
  }
  return undefined
}

/** Whether this key and secret are one valid pair of the app (a staged secret with the primary key is not). */
export function consumerSecretAccepted (app: SimConnectedAppState, key: string | undefined, secret: string | null | undefined): boolean {
  return validCredentials(app).some(c => c.key === key && c.secret === secret)
}

/** Salesforce's consumer keys are long base62-ish strings starting 3MVG; secrets are long hex-ish strings. */
function newConsumerKey (): string {
  return `3MVG9${randomBase62(80)}`
}

function newConsumerSecret (): string {
  return randomBytes(32).toString('hex').toUpperCase()
}

function base (version: string, app: SimConnectedAppState): string {
  return `/services/data/v${version}/apps/oauth/credentials/${app.appId}/${app.consumerId}`
}

function stagedView (version: string, app: SimConnectedAppState, c: SimStagedCredential, withSecret: boolean): Record<string, unknown> {
  return { id: c.id, key: c.key, ...(withSecret ? { secret: c.secret } : {}), state: c.state, url: `${base(version, app)}/staged/${c.id}` }
}

function stagedList (version: string, app: SimConnectedAppState, secretOf?: string): Record<string, unknown> {
  return {
    stagedCredentials: app.stagedCredentials.map(c => stagedView(version, app, c, c.id === secretOf)),
    url: `${base(version, app)}/staged`,
  }
}

function consumerView (version: string, app: SimConnectedAppState): Record<string, unknown> {
  return { id: app.consumerId, key: app.consumerKey, name: app.clientId, stagedCredentialsUrl: `${base(version, app)}/staged`, url: base(version, app) }
}

async function jsonBody (req: IncomingMessage): Promise<Record<string, unknown>> {
  try {
    const parsed = JSON.parse(await readBody(req)) as unknown
    return typeof parsed === 'object' && parsed !== null ? parsed as Record<string, unknown> : {}
  } catch {
    return {}
  }
}

export async function handleCredentialsRequest (ctx: SimContext, scope: ListenerScope & { kind: 'my_domain' }, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const { org } = scope
  const [, version, appId, consumerId, staged, stagedId] = CREDENTIALS_PATH.exec(url.pathname) as RegExpExecArray
  const token = bearerToken(req)
  const session = token === undefined ? undefined : ctx.sessions.find(token, ctx.orgs)
  if (!session || session.orgKey !== org.key) return sendJson(res, 401, CREDENTIAL_ERRORS.invalidSession, { 'www-authenticate': 'Token' })
  if (!chargeApiCall(org)) return sendJson(res, 403, [{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }], limitInfoHeader(org))
  const user = findUserById(org, session.userId)
  if (!user?.permissions[ECA_DEVELOPER_PERMISSION] || !user.permissions[VIEW_CLIENT_SECRET_PERMISSION]) {
    return sendJson(res, 403, CREDENTIAL_ERRORS.insufficientAccess)
  }
  const app = [...org.connectedApps.values()].find(a => a.appId === appId)
  if (!app) return sendJson(res, 404, CREDENTIAL_ERRORS.notFound)
  if (!app.consumerSecretsViaRestApi) return sendJson(res, 403, CREDENTIAL_ERRORS.settingOff)
  const method = req.method ?? 'GET'
  if (consumerId === undefined) {
    if (method !== 'GET') return sendJson(res, 405, CREDENTIAL_ERRORS.notFound)
    return sendJson(res, 200, { consumers: [consumerView(version, app)], currentPageUrl: url.pathname, nextPageUrl: null })
  }
  if (consumerId !== app.consumerId) return sendJson(res, 404, CREDENTIAL_ERRORS.notFound)
  if (staged === undefined) return sendJson(res, 200, consumerView(version, app))
  if (app.packaged) return sendJson(res, 400, CREDENTIAL_ERRORS.packaged)
  if (stagedId === undefined) {
    if (method === 'GET') return sendJson(res, 200, stagedList(version, app))
    if (method !== 'POST') return sendJson(res, 405, CREDENTIAL_ERRORS.notFound)
    if (app.stagedCredentials.some(c => c.state === 'active')) return sendJson(res, 400, CREDENTIAL_ERRORS.alreadyStaged)
    const created: SimStagedCredential = { id: newSalesforceId('0Hs'), key: newConsumerKey(), secret: newConsumerSecret(), state: 'active' }
    app.stagedCredentials.push(created)
    return sendJson(res, 201, stagedList(version, app, created.id))
  }
  const credential = app.stagedCredentials.find(c => c.id === stagedId)
  if (!credential) return sendJson(res, 404, CREDENTIAL_ERRORS.notFound)
  if (method === 'DELETE') {
    app.stagedCredentials = app.stagedCredentials.filter(c => c !== credential)
    return sendEmpty(res, 204)
  }
  if (method === 'PATCH') {
    const body = await jsonBody(req)
    if (body.command !== 'rotate' || credential.state !== 'active') return sendJson(res, 400, CREDENTIAL_ERRORS.badCommand)
    // the staged pair becomes primary; the former primary stays valid, "rotated", until deleted
    const former: SimStagedCredential = { id: credential.id, key: app.consumerKey, secret: app.clientSecret, state: 'rotated' }
    app.consumerKey = credential.key
    app.clientSecret = credential.secret
    app.stagedCredentials = app.stagedCredentials.map(c => c === credential ? former : c)
    return sendJson(res, 200, stagedList(version, app))
  }
  if (method === 'GET') return sendJson(res, 200, stagedView(version, app, credential, false))
  sendJson(res, 405, CREDENTIAL_ERRORS.notFound)
}
