import { createHash } from 'node:crypto'
import type { IssuedSession } from '../sessions/session-service.ts'
import type { AuditLog } from './audit-log.ts'

/** Bounded memory of handouts already recorded: cleared whole when full (a repeat record is harmless). */
const MAX_REMEMBERED = 10_000

const DONE = Promise.resolve()

/** A short, stable fingerprint of a token: enough to match it with a caller's logs, useless to call Salesforce with. */
export function tokenFingerprint (token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 12)
}

/**
 * Audit of the sessions handed out (per connection, `auditSessions`, on by default): who holds which
 * session — caller, connection, secret version, a token fingerprint (never the token), expiry — as
 * `session.issued` events in the hand-out stream (its own retention, apart from admin actions),
 * queryable by connection and by caller (`actor`).
 * Recorded once per caller and session per replica, off the request's path: the hot path pays a
 * map lookup.
 */
export class SessionHandoutAudit {
  private readonly audit: AuditLog
  private readonly seen = new Set<string>()

  constructor (audit: AuditLog) {
    this.audit = audit
  }

  /** Not awaited by the request; resolves once the record is in the shared stream (or its failure logged). */
  record (caller: string, issued: IssuedSession, requestId: string): Promise<void> {
    if (issued.auditSessions === false) return DONE
    const key = `${caller}\u0000${issued.entry.session.accessToken}`
    if (this.seen.has(key)) return DONE
    if (this.seen.size >= MAX_REMEMBERED) this.seen.clear()
    this.seen.add(key)
    return this.audit.record({
      actor: caller,
      requestId,
      action: 'session.issued',
      connection: issued.connection,
      outcome: 'success',
      version: issued.entry.secretVersion,
      tokenFingerprint: tokenFingerprint(issued.entry.session.accessToken),
      expiresAt: new Date(issued.expiresAt).toISOString(),
    }).then(() => {}, () => {
      // the audit log already logged the event line; a lost stream entry is reported there
    })
  }
}
