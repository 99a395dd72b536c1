import { classifyHttpStatus, classifyNetworkError, classifyRestError } from './classify.ts'
import { postCompositeQueries } from './user-readiness.ts'
import { parseJson } from './http.ts'
import type { ClassifiedFailure, SalesforceSession } from './types.ts'

/** What Salesforce says of a user's failed logins, read through a working session of the same org. */
export type FailedLoginsRead =
  | { ok: true, failedLogins: number, locked: boolean }
  | { ok: false, failure: ClassifiedFailure }

const SALESFORCE_ID = /^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$/

/**
 * Salesforce's own count: `User.NumberOfFailedLogins` (the counter the lockout compares with
 * "Maximum invalid login attempts") and `UserLogin.IsPasswordLocked` (the lock), in one composite
 * request. Both are user administration data: a session whose user may not read them gets
 * INVALID_FIELD or INVALID_TYPE, and the broker keeps relying on its own count.
 */
export async function readFailedLogins (
  session: Pick<SalesforceSession, 'accessToken' | 'instanceUrl'>,
  userId: string,
  opts: { apiVersion: string, timeoutMs: number }
): Promise<FailedLoginsRead> {
  if (!SALESFORCE_ID.test(userId)) return { ok: false, failure: classifyHttpStatus(400, 'not a Salesforce user id') }
  let answer
  try {
    answer = await postCompositeQueries(session, opts.apiVersion, [
      { referenceId: 'user', soql: `SELECT NumberOfFailedLogins FROM User WHERE Id = '${userId}'` },
      { referenceId: 'login', soql: `SELECT IsPasswordLocked FROM UserLogin WHERE UserId = '${userId}'` },
    ], opts.timeoutMs)
  } catch (error) {
    return { ok: false, failure: classifyNetworkError(error, opts.timeoutMs) }
  }
  const body = parseJson(answer.body)
  if (answer.status !== 200) {
    return { ok: false, failure: answer.status >= 400 && answer.status < 500 ? classifyRestError(body, answer.status) : classifyHttpStatus(answer.status, 'The composite resource') }
  }
  const results = (body as { compositeResponse?: Array<{ referenceId?: unknown, httpStatusCode?: unknown, body?: unknown }> } | undefined)?.compositeResponse ?? []
  const byRef = new Map(results.map(r => [String(r.referenceId), r]))
  const user = byRef.get('user')
  const login = byRef.get('login')
  for (const r of [user, login]) {
    if (r?.httpStatusCode !== 200) return { ok: false, failure: classifyRestError(r?.body, typeof r?.httpStatusCode === 'number' ? r.httpStatusCode : 400) }
  }
  const userRow = firstRecord(user?.body)
  const count = userRow?.NumberOfFailedLogins
  if (typeof count !== 'number') return { ok: false, failure: classifyHttpStatus(404, 'The user query (no NumberOfFailedLogins for the user)') }
  return { ok: true, failedLogins: count, locked: firstRecord(login?.body)?.IsPasswordLocked === true }
}

function firstRecord (body: unknown): Record<string, unknown> | undefined {
  const records = (body as { records?: unknown } | undefined)?.records
  return Array.isArray(records) && typeof records[0] === 'object' && records[0] !== null ? records[0] as Record<string, unknown> : undefined
}
