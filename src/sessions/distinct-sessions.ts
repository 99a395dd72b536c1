import type { SalesforceSession } from '../salesforce/types.ts'
import type { CachedSession } from '../shared-state/shared-state.ts'

/**
 * The sessions to revoke, each token once (the cache and the hand-out record can hold the same),
 * without `keep`: the session just adopted for the new version, whose token Salesforce may have
 * handed to that login again.
 */
export function distinctSessions (sessions: CachedSession[], keep?: SalesforceSession): SalesforceSession[] {
  return [...new Map(sessions.filter(p => p.session.accessToken !== keep?.accessToken).map(p => [p.session.accessToken, p.session])).values()]
}
