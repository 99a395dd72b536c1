import { DomainError } from '../errors.ts'
import type { SalesforceSession } from '../salesforce/types.ts'
import type { SecretStore } from '../secrets/store.ts'
import type { SessionService } from '../sessions/session-service.ts'
import { distinctSessions } from '../sessions/distinct-sessions.ts'
import type { AuditLog } from './audit-log.ts'
import type { AdminContext } from './admin-context.ts'
import { unconfirmedPurge } from './fleet-pending.ts'

export interface SessionRevocationOptions {
  store: Pick<SecretStore, 'read'>
  sessions: Pick<SessionService, 'purge' | 'takeIssued'>
  revoke: (session: SalesforceSession) => Promise<boolean>
  audit: AuditLog
  /** true while the fleet-wide state (Redis) cannot be written: other replicas may not hear of the purge yet */
  fleetUnreachable: () => boolean
}

export interface RevocationResult {
  /**
   * sessions the broker obtained for the connection that may still be alive: the cached ones (every
   * secret version) and every earlier one a caller may hold (replaced by a rotation or by an admin's
   * validation), each sent to Salesforce's revoke endpoint
   */
  revoked: number
  /** of those, how many Salesforce confirmed (200 from /services/oauth2/revoke) */
  confirmedBySalesforce: number
  /** what has not happened everywhere yet */
  pending: string[]
}

/**
 * The kill switch: every session the broker obtained for a connection that may still be alive —
 * cached, or handed out earlier and replaced since — is dropped fleet-wide and revoked at Salesforce (POST /services/oauth2/revoke, token=…), so callers holding one get
 * INVALID_SESSION_ID on their next call and come back for a new one. Audited, with the origins the
 * revocations went to.
 */
export async function revokeSessions (opts: SessionRevocationOptions, name: string, ctx: AdminContext): Promise<RevocationResult> {
  const stored = await opts.store.read(name)
  if (!stored) throw new DomainError('not_found', `no connection named "${name}"`, { connection: name })
  const { removed: purged, unconfirmed } = await opts.sessions.purge(name)
  // what was handed out before a rotation (REVOKE_ON_ROTATION=false) or an adopted validation
  // session is no longer cached, but may still be in a caller's hands: "rotate, then kill" must reach it
  const issued = await opts.sessions.takeIssued(name)
  const unique = distinctSessions([...purged, ...issued])
  const confirmed = (await Promise.all(unique.map(s => opts.revoke(s).catch(() => false)))).filter(Boolean).length
  // revoked at Salesforce either way; a replica that did not hear of the purge may still hand the
  // session out, and its callers then get INVALID_SESSION_ID, report it and receive a new one
  const notHeard = await unconfirmed
  const pending = opts.fleetUnreachable()
    ? ['fleet-wide purge: Redis is unreachable or refuses the broker, so other replicas may hand out a revoked session until it returns (their callers then report it as rejectedToken and get a new one)']
    : unconfirmedPurge(notHeard)
  const targets = [...new Set(unique.map(s => originOf(s.instanceUrl)))].sort()
  await opts.audit.record({
    actor: ctx.actor,
    requestId: ctx.requestId,
    action: 'sessions.revoke',
    connection: name,
    outcome: confirmed === unique.length && pending.length === 0 ? 'success' : 'error',
    version: stored.version,
    // an 'error' outcome says which part did not happen: a revocation Salesforce did not confirm, or a replica still to drop the sessions
    fields: [`revoked:${unique.length}`, `confirmed:${confirmed}`, ...(pending.length > 0 ? [`pending:${pending.length}`] : [])],
    ...(targets.length > 0 ? { target: targets.join(' ') } : {}),
  })
  return { revoked: unique.length, confirmedBySalesforce: confirmed, pending }
}

function originOf (url: string): string {
  try {
    return new URL(url).origin
  } catch {
    return 'unknown'
  }
}
