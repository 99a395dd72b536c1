import type { ConnectionDefinition, SalesforceSession } from '../salesforce/types.ts'
import type { CachedSession } from '../shared-state/shared-state.ts'

export interface LifetimePolicy {
  safetyMarginMs: number
  maxTtlMs: number
}

/**
 * When a fresh session stops being handed out. Salesforce's OAuth answer carries no expiry: the
 * session dies after the org's timeout (configured per connection). SOAP login does say
 * sessionSecondsValid; the shorter of the two wins. The broker stops handing a session out a
 * safety margin before that end, so a caller never holds a token that dies mid-request.
 */
export function toCachedSession (session: SalesforceSession, secretVersion: number, definition: Pick<ConnectionDefinition, 'sessionTimeoutSeconds' | 'apiVersion'>, policy: LifetimePolicy): CachedSession {
  const lifetimeMs = Math.min(definition.sessionTimeoutSeconds, session.sessionSecondsValid ?? Number.POSITIVE_INFINITY) * 1000
  const realEnd = session.issuedAt + lifetimeMs
  // a margin larger than the lifetime would make every session born dead: keep half the lifetime then
  const margin = Math.min(policy.safetyMarginMs, lifetimeMs / 2)
  return { session, secretVersion, apiVersion: definition.apiVersion, realEnd, validUntil: realEnd - margin }
}

/** The expiry told to a caller: never past validUntil, never more than maxTtl ahead, so callers come back and see rotations. */
export function callerExpiry (entry: CachedSession, policy: LifetimePolicy, now = Date.now()): number {
  return Math.min(entry.validUntil, now + policy.maxTtlMs)
}

/**
 * Time to log in again ahead of validUntil, while the current session still works: if Salesforce
 * is briefly unreachable then, the cached session is still served. Refresh when less than
 * maxTtl is left, so a caller never gets an expiry shorter than the max TTL because of us.
 */
export function needsRefresh (entry: CachedSession, policy: LifetimePolicy, now = Date.now()): boolean {
  return entry.validUntil - now < Math.min(policy.maxTtlMs, (entry.validUntil - entry.session.issuedAt) / 2)
}
