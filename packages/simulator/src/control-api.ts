import { randomBytes } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { SimContext } from './context.ts'
import { AppControlError, appView, patchExistingApp, putApp, setPreAuthorized, uploadCertificate } from './control-apps.ts'
import { readBody, sendJson } from './http.ts'
import { lockUntil } from './login-policy.ts'
import { findUser, isLockedOutView, orgNow } from './org-state.ts'
import type { Simulator, SimOrgState, SimUserState } from './types.ts'
import { editPermissions, permissionRow } from './user-permissions.ts'
import { DriftControlError, orgDriftView, patchOrgDrift, routeDriftControl } from './control-drift.ts'

/**
 * The test-control API under /_sim/ on the login listener: the Simulator methods over HTTP, for
 * benchmarks and demos that run the simulator as its own process.
 *
 *   GET    /_sim/stats[?org=KEY]                          POST /_sim/stats/reset      POST /_sim/latency {ms}
 *   GET    /_sim/orgs                                     GET|PATCH /_sim/orgs/KEY (policies, flows, soapLoginRequiresUseAnyApiAuth,
 *                                                          soapLoginRetired, minApiVersion, oauthPasswordFlowRetiredAt…)
 *   POST   /_sim/orgs/KEY/sessions/expire
 *   GET|PATCH /_sim/orgs/KEY/users/USERNAME               POST /_sim/orgs/KEY/users/USERNAME/reset-token
 *   POST   /_sim/orgs/KEY/users/USERNAME/reset-password {password?}   a password change: new password AND new token
 *   PUT    /_sim/orgs/KEY/apps/CLIENT_ID {clientSecret, permittedUsers, certificatePem, preAuthorizedUsernames,
 *          userApprovedUsernames, clientCredentialsUser}  create or change a connected app / External Client App
 *   PATCH  /_sim/orgs/KEY/apps/CLIENT_ID {…}              change an existing one
 *   PUT    /_sim/orgs/KEY/apps/CLIENT_ID/certificate {certificatePem}   "Use digital signatures": upload the certificate
 *   PUT|DELETE /_sim/orgs/KEY/apps/CLIENT_ID/preauthorized/USERNAME     pre-authorize the user (profile / permission set) or not
 *   org drift and staged consumer credentials: see control-drift.ts
 */

type Json = Record<string, unknown>

class ControlError extends Error {
  readonly status: number
  constructor (status: number, message: string) {
    super(message)
    this.status = status
  }
}

function orgOrThrow (ctx: SimContext, key: string): SimOrgState {
  const org = ctx.orgs.get(key)
  if (!org) throw new ControlError(404, `unknown org '${key}'`)
  return org
}

function userOrThrow (org: SimOrgState, username: string): SimUserState {
  const user = findUser(org, username)
  if (!user) throw new ControlError(404, `unknown user '${username}' in org '${org.key}'`)
  return user
}

/** Secrets stay out of answers, like everywhere else in the project. */
export function userView (org: SimOrgState, user: SimUserState): Json {
  return {
    username: user.username,
    userId: user.userId,
    active: user.active,
    passwordExpired: user.passwordExpired,
    apiEnabled: user.apiEnabled,
    loginIpRanges: user.loginIpRanges ?? null,
    loginHours: user.loginHours ?? null,
    permissions: permissionRow(user),
    lastPasswordChangeDate: new Date(user.lastPasswordChangeDate).toISOString(),
    hiddenUserFields: user.hiddenUserFields,
    failedLogins: user.failedLogins,
    locked: isLockedOutView(user, orgNow(org)),
  }
}

export function orgView (ctx: SimContext, org: SimOrgState): Json {
  return {
    key: org.key,
    orgId: org.orgId,
    myDomainUrl: ctx.myDomainUrls.get(org.key),
    sessionTimeoutSeconds: org.sessionTimeoutSeconds,
    lockout: org.lockout,
    passwordExpiresAfterDays: org.passwordExpiresAfterDays,
    loginRatePerHour: org.loginRatePerHour,
    apiEnabled: org.apiEnabled,
    flows: org.flows,
    trustedIpRanges: org.trustedIpRanges,
    apiRequestLimit: org.apiRequestLimit,
    apiRequestsUsed: org.apiRequestsUsed,
    users: [...org.users.values()].map(u => userView(org, u)),
    soapLoginRequiresUseAnyApiAuth: org.soapLoginRequiresUseAnyApiAuth,
    soapLoginRetired: org.soapLoginRetired,
    minApiVersion: org.minApiVersion,
    oauthPasswordFlowRetiredAt: new Date(org.oauthPasswordFlowRetiredAt).toISOString(),
    connectedApps: [...org.connectedApps.values()].map(appView),
    ...orgDriftView(org),
  }
}

function expect (body: Json, field: string, type: 'string' | 'number' | 'boolean' | 'object'): boolean {
  if (!(field in body)) return false
  const value = body[field]
  const ok = type === 'object' ? typeof value === 'object' && value !== null : typeof value === type // eslint-disable-line valid-typeof
  if (!ok) throw new ControlError(400, `'${field}' must be a ${type}`)
  return true
}

function stringList (body: Json, field: string): string[] | undefined {
  if (!(field in body)) return undefined
  const value = body[field]
  if (!Array.isArray(value) || !value.every(v => typeof v === 'string')) throw new ControlError(400, `'${field}' must be an array of strings`)
  return value
}

/** epoch ms or an ISO 8601 date-time */
function instant (value: unknown, field: string): number {
  const ms = typeof value === 'number' ? value : typeof value === 'string' ? Date.parse(value) : Number.NaN
  if (!Number.isFinite(ms)) throw new ControlError(400, `'${field}' must be epoch milliseconds or an ISO 8601 date-time`)
  return ms
}

function patchUser (org: SimOrgState, user: SimUserState, body: Json): void {
  if (expect(body, 'password', 'string')) {
    user.password = body.password as string
    user.lastPasswordChangeDate = orgNow(org)
    user.passwordExpired = false
  }
  if ('lastPasswordChangeDate' in body) user.lastPasswordChangeDate = instant(body.lastPasswordChangeDate, 'lastPasswordChangeDate')
  // a profile edit or a permission set (un)assigned: the user's effective permissions change
  if (expect(body, 'permissions', 'object')) {
    try {
      editPermissions(user, body.permissions as Json)
    } catch (err) {
      throw new ControlError(400, (err as Error).message)
    }
  }
  const hidden = stringList(body, 'hiddenUserFields')
  if (hidden) user.hiddenUserFields = hidden
  if (expect(body, 'securityToken', 'string')) user.securityToken = body.securityToken as string
  if (expect(body, 'active', 'boolean')) user.active = body.active as boolean
  if (expect(body, 'passwordExpired', 'boolean')) user.passwordExpired = body.passwordExpired as boolean
  if (expect(body, 'apiEnabled', 'boolean')) user.apiEnabled = body.apiEnabled as boolean
  const ranges = stringList(body, 'loginIpRanges')
  if (ranges) user.loginIpRanges = ranges
  if ('loginIpRanges' in body && body.loginIpRanges === null) user.loginIpRanges = undefined
  if ('loginHours' in body) {
    const hours = body.loginHours as { startHour?: unknown, endHour?: unknown } | null
    if (hours === null) user.loginHours = undefined
    else if (typeof hours?.startHour === 'number' && typeof hours.endHour === 'number') user.loginHours = { startHour: hours.startHour, endHour: hours.endHour }
    else throw new ControlError(400, "'loginHours' must be { startHour, endHour } or null")
  }
  if (expect(body, 'locked', 'boolean')) {
    // An admin's "Unlock" button, or a lock as if the user had just failed too often.
    user.failedLogins = 0
    user.lockedUntil = body.locked ? lockUntil(org, orgNow(org)) : 0
  }
}

function patchOrg (org: SimOrgState, body: Json): void {
  if (expect(body, 'sessionTimeoutSeconds', 'number')) org.sessionTimeoutSeconds = body.sessionTimeoutSeconds as number
  if (expect(body, 'passwordExpiresAfterDays', 'number')) org.passwordExpiresAfterDays = body.passwordExpiresAfterDays as number
  if (expect(body, 'loginRatePerHour', 'number')) org.loginRatePerHour = body.loginRatePerHour as number
  if (expect(body, 'apiEnabled', 'boolean')) org.apiEnabled = body.apiEnabled as boolean
  if (expect(body, 'apiRequestLimit', 'number')) org.apiRequestLimit = body.apiRequestLimit as number
  if (expect(body, 'apiRequestsUsed', 'number')) org.apiRequestsUsed = body.apiRequestsUsed as number
  const ranges = stringList(body, 'trustedIpRanges')
  if (ranges) org.trustedIpRanges = ranges
  if (expect(body, 'soapLoginRequiresUseAnyApiAuth', 'boolean')) org.soapLoginRequiresUseAnyApiAuth = body.soapLoginRequiresUseAnyApiAuth as boolean
  if (expect(body, 'soapLoginRetired', 'boolean')) org.soapLoginRetired = body.soapLoginRetired as boolean
  if (expect(body, 'minApiVersion', 'number')) org.minApiVersion = body.minApiVersion as number
  if ('oauthPasswordFlowRetiredAt' in body) org.oauthPasswordFlowRetiredAt = instant(body.oauthPasswordFlowRetiredAt, 'oauthPasswordFlowRetiredAt')
  if (expect(body, 'lockout', 'object')) {
    const lockout = body.lockout as Json
    if (expect(lockout, 'maxAttempts', 'number')) org.lockout.maxAttempts = lockout.maxAttempts as number
    if (expect(lockout, 'durationSeconds', 'number')) org.lockout.durationSeconds = lockout.durationSeconds as number
  }
  patchOrgDrift(org, body)
  if (expect(body, 'flows', 'object')) {
    const flows = body.flows as Json
    for (const flow of ['soap', 'oauthPassword', 'jwtBearer', 'clientCredentials'] as const) {
      if (expect(flows, flow, 'boolean')) org.flows[flow] = flows[flow] as boolean
    }
  }
}

async function jsonBody (req: IncomingMessage): Promise<Json> {
  const raw = await readBody(req)
  if (raw.trim() === '') return {}
  try {
    const parsed = JSON.parse(raw) as unknown
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Json
  } catch {}
  throw new ControlError(400, 'body must be a JSON object')
}

async function route (ctx: SimContext, sim: Simulator, req: IncomingMessage, url: URL): Promise<Json> {
  const parts = url.pathname.split('/').slice(2).map(decodeURIComponent)
  const method = req.method ?? 'GET'
  const at = (pattern: string, verb: string): boolean =>
    verb === method && pattern.split('/').length === parts.length &&
    pattern.split('/').every((p, i) => p.startsWith(':') || p === parts[i])

  const drift = await routeDriftControl(ctx, sim, method, parts, key => orgOrThrow(ctx, key), () => jsonBody(req))
  if (drift) return drift
  if (at('stats', 'GET')) return { ...sim.stats(url.searchParams.get('org') ?? undefined) }
  if (at('stats/reset', 'POST')) { sim.resetStats(); return { ok: true } }
  if (at('latency', 'POST')) {
    const body = await jsonBody(req)
    if (!expect(body, 'ms', 'number')) throw new ControlError(400, "'ms' is required")
    sim.setLatency(body.ms as number)
    return { ok: true, ms: body.ms }
  }
  if (at('orgs', 'GET')) return { loginUrl: ctx.loginUrl, orgs: [...ctx.orgs.values()].map(o => orgView(ctx, o)) }
  if (at('orgs/:key', 'GET')) return orgView(ctx, orgOrThrow(ctx, parts[1]))
  if (at('orgs/:key', 'PATCH')) {
    const org = orgOrThrow(ctx, parts[1])
    patchOrg(org, await jsonBody(req))
    return orgView(ctx, org)
  }
  if (at('orgs/:key/sessions/expire', 'POST')) { orgOrThrow(ctx, parts[1]); sim.expireSessions(parts[1]); return { ok: true } }
  if (at('orgs/:key/users/:username/reset-token', 'POST')) {
    userOrThrow(orgOrThrow(ctx, parts[1]), parts[3])
    return { securityToken: sim.resetSecurityToken(parts[1], parts[3]) }
  }
  if (at('orgs/:key/users/:username/reset-password', 'POST')) {
    const org = orgOrThrow(ctx, parts[1])
    const user = userOrThrow(org, parts[3])
    const body = await jsonBody(req)
    const password = expect(body, 'password', 'string') ? body.password as string : `Sim-${randomBytes(9).toString('base64url')}`
    user.password = password
    user.lastPasswordChangeDate = orgNow(org)
    user.passwordExpired = false
    // Changing the password resets the security token (Salesforce Help "Reset Your Security Token",
    // sf.user_security_token.htm): the old token stops working with the new password.
    return { password, securityToken: sim.resetSecurityToken(parts[1], parts[3]) }
  }
  if (at('orgs/:key/users/:username', 'GET')) {
    const org = orgOrThrow(ctx, parts[1])
    return userView(org, userOrThrow(org, parts[3]))
  }
  if (at('orgs/:key/users/:username', 'PATCH')) {
    const org = orgOrThrow(ctx, parts[1])
    const user = userOrThrow(org, parts[3])
    patchUser(org, user, await jsonBody(req))
    return userView(org, user)
  }
  if (at('orgs/:key/apps/:clientId', 'PUT')) return putApp(orgOrThrow(ctx, parts[1]), parts[3], await jsonBody(req))
  if (at('orgs/:key/apps/:clientId', 'PATCH')) return patchExistingApp(orgOrThrow(ctx, parts[1]), parts[3], await jsonBody(req))
  if (at('orgs/:key/apps/:clientId/certificate', 'PUT')) return uploadCertificate(orgOrThrow(ctx, parts[1]), parts[3], await jsonBody(req))
  if (at('orgs/:key/apps/:clientId/preauthorized/:username', 'PUT')) return setPreAuthorized(orgOrThrow(ctx, parts[1]), parts[3], parts[5], true)
  if (at('orgs/:key/apps/:clientId/preauthorized/:username', 'DELETE')) return setPreAuthorized(orgOrThrow(ctx, parts[1]), parts[3], parts[5], false)
  throw new ControlError(404, `no control route ${method} ${url.pathname}`)
}

export async function handleControlRequest (ctx: SimContext, sim: Simulator, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  try {
    sendJson(res, 200, await route(ctx, sim, req, url))
  } catch (err) {
    if (err instanceof ControlError || err instanceof AppControlError || err instanceof DriftControlError) sendJson(res, err.status, { error: err.status === 404 ? 'not_found' : 'bad_request', message: err.message })
    else throw err
  }
}
