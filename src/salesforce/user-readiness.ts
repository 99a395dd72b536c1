/**
 * Reads what the integration user's readiness depends on, right after a login, in ONE REST call:
 * a composite request (it "counts as a single call toward your API limits", REST API Developer
 * Guide) holding up to three queries:
 *   - UserPermissionAccess: the running user's effective system permissions, whatever profile or
 *     permission set grants them (one row, no WHERE: the object represents the current user);
 *   - User.LastPasswordChangeDate of the running user (password flows with an expiry period only);
 *   - the user's newest LoginHistory row: the source IP Salesforce saw, for login-restriction hints;
 *   - the privileged rights (PRIVILEGED_PERMISSIONS) the connection does not declare, when it
 *     declares requiredPermissions: held ones are excess (least privilege). A query of its own, so
 *     an org that refuses one of those names leaves only that fact unknown.
 * A subquery Salesforce refuses (a misspelled permission: INVALID_FIELD; a field hidden by
 * field-level security; LoginHistory without "Manage Users": INVALID_TYPE) leaves that fact
 * unknown and says why; nothing is guessed. The answer's Sforce-Limit-Info gives the org's API
 * usage, so the full check needs no separate limits call.
 */
import { classifyHttpStatus, classifyNetworkError, classifyRestError } from './classify.ts'
import { httpRequest, parseJson, type HttpAnswer } from './http.ts'
import { createScrubber } from './scrub.ts'
import { withoutControlCharacters } from './control-characters.ts'
import { usageFromHeader } from './session-check.ts'
import type { ApiUsage, ClassifiedFailure, ConnectionDefinition, Flow, SalesforceSession } from './types.ts'

export const PASSWORD_NEVER_EXPIRES = 'PermissionsPasswordNeverExpires'

/**
 * Rights that make an integration user an administrator in all but name: a session of a user who
 * holds one can read or change far more than most integrations need. Held without being declared
 * in requiredPermissions, they are reported as excess. Long-standing UserPermissionAccess fields
 * only, so the query works at every API version the broker speaks.
 */
export const PRIVILEGED_PERMISSIONS = [
  'PermissionsModifyAllData',
  'PermissionsViewAllData',
  'PermissionsManageUsers',
  'PermissionsAuthorApex',
  'PermissionsCustomizeApplication',
  'PermissionsManageProfilesPermissionsets',
  'PermissionsViewAllUsers',
  'PermissionsBulkApiHardDelete',
] as const

/**
 * The privileged rights to look for: only when the connection declares requiredPermissions, since
 * without a declaration the broker does not know what the integration needs.
 */
export function undeclaredPrivileges (requirements: ReadinessRequirements): string[] {
  if (requirements.requiredPermissions.length === 0) return []
  const declared = new Set(requirements.requiredPermissions.map(p => p.toLowerCase()))
  return PRIVILEGED_PERMISSIONS.filter(p => !declared.has(p.toLowerCase()))
}
const PASSWORD_FLOWS: ReadonlySet<Flow> = new Set(['soap', 'oauth_password'])

/** What a connection declares the user must have; null when it declares nothing (no check, no call). */
export interface ReadinessRequirements {
  requiredPermissions: string[]
  /** set for password flows with a declared expiry period */
  passwordExpiresAfterDays?: number
}

export function readinessRequirements (definition: Pick<ConnectionDefinition, 'flow' | 'requiredPermissions' | 'passwordExpiresAfterDays'>): ReadinessRequirements | null {
  const requiredPermissions = [...new Set(definition.requiredPermissions ?? [])]
  const expiry = PASSWORD_FLOWS.has(definition.flow) ? definition.passwordExpiresAfterDays : undefined
  if (requiredPermissions.length === 0 && expiry === undefined) return null
  return { requiredPermissions, ...(expiry === undefined ? {} : { passwordExpiresAfterDays: expiry }) }
}

/** What Salesforce said about the running user. Absent = not asked, or Salesforce did not answer it (see `unreadable`). */
export interface UserFacts {
  /** the permissions asked for, as UserPermissionAccess answered them */
  permissions?: Record<string, boolean>
  /** a permission name Salesforce does not know (INVALID_FIELD): the others could not be read with it */
  unknownPermission?: string
  passwordNeverExpires?: boolean
  /** epoch ms of User.LastPasswordChangeDate */
  lastPasswordChangeAt?: number
  /** privileged rights the user holds that the connection does not declare (absent: not checked or not readable) */
  excessPermissions?: string[]
  /** the newest successful login in LoginHistory */
  lastLogin?: { at: number, sourceIp: string }
  /** why a fact is missing, in Salesforce's words (never a secret: queries carry only field names and ids) */
  unreadable: string[]
}

export type ReadinessRead =
  | { ok: true, facts: UserFacts, apiUsage?: ApiUsage }
  | { ok: false, failure: ClassifiedFailure }

const SALESFORCE_ID = /^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$/
const PERMISSION_NAME = /^Permissions[A-Za-z0-9]+$/

interface Query { referenceId: 'permissions' | 'privileges' | 'user' | 'loginHistory', soql: string }

/** The queries for these requirements: user id and field names are checked, so nothing else reaches the SOQL. */
export function readinessQueries (requirements: ReadinessRequirements, userId: string): Query[] {
  if (!SALESFORCE_ID.test(userId)) throw new Error('the session carries no valid Salesforce user id')
  const fields = [...requirements.requiredPermissions]
  if (requirements.passwordExpiresAfterDays !== undefined && !fields.some(f => sameField(f, PASSWORD_NEVER_EXPIRES))) fields.push(PASSWORD_NEVER_EXPIRES)
  const bad = fields.find(f => !PERMISSION_NAME.test(f))
  if (bad !== undefined) throw new Error(`not a UserPermissionAccess field name: ${bad}`)
  const queries: Query[] = [{ referenceId: 'permissions', soql: `SELECT ${fields.join(', ')} FROM UserPermissionAccess` }]
  const privileges = undeclaredPrivileges(requirements)
  if (privileges.length > 0) queries.push({ referenceId: 'privileges', soql: `SELECT ${privileges.join(', ')} FROM UserPermissionAccess` })
  if (requirements.passwordExpiresAfterDays !== undefined) {
    queries.push({ referenceId: 'user', soql: `SELECT LastPasswordChangeDate FROM User WHERE Id = '${userId}'` })
  }
  queries.push({ referenceId: 'loginHistory', soql: `SELECT LoginTime, SourceIp FROM LoginHistory WHERE UserId = '${userId}' AND Status = 'Success' ORDER BY LoginTime DESC LIMIT 1` })
  return queries
}

export function compositeUrl (instanceUrl: string, apiVersion: string): string {
  return `${new URL(instanceUrl).origin}/services/data/v${apiVersion.replace(/^v/i, '')}/composite`
}

/** Read-only queries in one composite request (Salesforce counts it as one API call); rejects on network errors. */
export function postCompositeQueries (session: Pick<SalesforceSession, 'accessToken' | 'instanceUrl'>, apiVersion: string, queries: Array<{ referenceId: string, soql: string }>, timeoutMs: number): Promise<HttpAnswer> {
  const version = apiVersion.replace(/^v/i, '')
  return httpRequest(compositeUrl(session.instanceUrl, version), {
    method: 'POST',
    headers: { authorization: `Bearer ${session.accessToken}`, 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({
      allOrNone: false,
      compositeRequest: queries.map(q => ({ method: 'GET', url: `/services/data/v${version}/query?q=${encodeURIComponent(q.soql)}`, referenceId: q.referenceId })),
    }),
    timeoutMs,
  })
}

export async function readUserReadiness (
  session: Pick<SalesforceSession, 'accessToken' | 'instanceUrl' | 'userId'>,
  requirements: ReadinessRequirements,
  opts: { apiVersion: string, timeoutMs: number }
): Promise<ReadinessRead> {
  let answer
  try {
    answer = await postCompositeQueries(session, opts.apiVersion, readinessQueries(requirements, session.userId), opts.timeoutMs)
  } catch (error) {
    return { ok: false, failure: classifyNetworkError(error, opts.timeoutMs) }
  }
  const body = parseJson(answer.body)
  if (answer.status !== 200) {
    if (answer.status >= 400 && answer.status < 500) return { ok: false, failure: classifyRestError(body, answer.status) }
    return { ok: false, failure: classifyHttpStatus(answer.status, 'The composite resource') }
  }
  const apiUsage = usageFromHeader(answer.headers.get('sforce-limit-info'))
  // Salesforce's query error texts are upstream text too: they never carry the token on, even when echoed
  const scrub = createScrubber([session.accessToken])
  const facts = parseComposite(body, requirements)
  facts.unreadable = facts.unreadable.map(scrub)
  return { ok: true, facts, ...(apiUsage ? { apiUsage } : {}) }
}

interface SubResult { body?: unknown, httpStatusCode?: unknown, referenceId?: unknown }

/** Salesforce datetimes: 2026-11-30T13:45:00.000+0000 (Date.parse wants +00:00). */
export function parseSfDateTime (value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined
  const ms = Date.parse(value.replace(/([+-]\d\d)(\d\d)$/, '$1:$2'))
  return Number.isFinite(ms) ? ms : undefined
}

/**
 * SOQL takes field names in any letter case and answers them as the describe names them ("Queries
 * and the Partner WSDL", SOAP API Developer Guide; REST answers the same): a declared
 * PermissionsManageProfilesPermissionSets comes back as PermissionsManageProfilesPermissionsets.
 */
function sameField (a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase()
}

function fieldOf (row: Record<string, unknown>, name: string): unknown {
  if (name in row) return row[name]
  const key = Object.keys(row).find(k => sameField(k, name))
  return key === undefined ? undefined : row[key]
}

function firstRecord (body: unknown): Record<string, unknown> | undefined {
  const records = (body as { records?: unknown } | undefined)?.records
  return Array.isArray(records) && typeof records[0] === 'object' && records[0] !== null ? records[0] as Record<string, unknown> : undefined
}

function errorOf (body: unknown): { errorCode: string, message: string } {
  const first = (Array.isArray(body) ? body[0] : undefined) as { errorCode?: unknown, message?: unknown } | undefined
  return {
    errorCode: typeof first?.errorCode === 'string' ? first.errorCode : 'UNKNOWN',
    // the located form starts with the query and a caret line; its last line is the sentence
    message: typeof first?.message === 'string' ? first.message.trim().split('\n').pop() ?? '' : 'no error message',
  }
}

/** Pure: the composite answer → facts. Exported for unit tests. */
export function parseComposite (body: unknown, requirements: ReadinessRequirements): UserFacts {
  const facts: UserFacts = { unreadable: [] }
  const results = (body as { compositeResponse?: unknown } | undefined)?.compositeResponse
  const byRef = new Map<string, SubResult>()
  if (Array.isArray(results)) for (const r of results as SubResult[]) byRef.set(String(r.referenceId), r)

  const perms = byRef.get('permissions')
  if (perms?.httpStatusCode === 200) {
    const row = firstRecord(perms.body)
    if (row) {
      facts.permissions = {}
      for (const name of requirements.requiredPermissions) facts.permissions[name] = fieldOf(row, name) === true
      if (requirements.passwordExpiresAfterDays !== undefined) facts.passwordNeverExpires = fieldOf(row, PASSWORD_NEVER_EXPIRES) === true
    } else facts.unreadable.push('UserPermissionAccess: no row for the running user')
  } else {
    const { errorCode, message } = errorOf(perms?.body)
    const column = errorCode === 'INVALID_FIELD' ? /No such column '([^']+)'/.exec(message)?.[1] : undefined
    if (column !== undefined) facts.unknownPermission = column
    facts.unreadable.push(`UserPermissionAccess: ${errorCode}: ${message}`)
  }

  const privileges = undeclaredPrivileges(requirements)
  if (privileges.length > 0) {
    const held = byRef.get('privileges')
    const row = held?.httpStatusCode === 200 ? firstRecord(held.body) : undefined
    if (row) facts.excessPermissions = privileges.filter(name => row[name] === true)
    else if (held?.httpStatusCode === 200) facts.unreadable.push('UserPermissionAccess (privileged rights): no row for the running user')
    else {
      const { errorCode, message } = errorOf(held?.body)
      facts.unreadable.push(`UserPermissionAccess (privileged rights): ${errorCode}: ${message}`)
    }
  }

  if (requirements.passwordExpiresAfterDays !== undefined) {
    const user = byRef.get('user')
    const changed = user?.httpStatusCode === 200 ? parseSfDateTime(firstRecord(user.body)?.LastPasswordChangeDate) : undefined
    if (changed !== undefined) facts.lastPasswordChangeAt = changed
    else if (user?.httpStatusCode === 200) facts.unreadable.push('User.LastPasswordChangeDate: empty')
    else {
      const { errorCode, message } = errorOf(user?.body)
      facts.unreadable.push(`User.LastPasswordChangeDate: ${errorCode}: ${message}`)
    }
  }

  const history = byRef.get('loginHistory')
  const last = history?.httpStatusCode === 200 ? firstRecord(history.body) : undefined
  const at = parseSfDateTime(last?.LoginTime)
  if (at !== undefined && typeof last?.SourceIp === 'string' && last.SourceIp !== '') facts.lastLogin = { at, sourceIp: withoutControlCharacters(last.SourceIp) }
  // LoginHistory is optional (it needs "Manage Users"): its absence is not a finding
  return facts
}
