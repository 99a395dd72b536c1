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
  /** caller → tokens already recorded for it: the strings the request holds anyway, no key built per request */
  private readonly seen = new Map<string, Set<string>>()
  private remembered = 0

  constructor (audit: AuditLog) {
    this.audit = audit
  }

  /** Not awaited by the request; resolves once the record is in the shared stream (or its failure logged). */
  record (caller: string, issued: IssuedSession, requestId: string): Promise<void> {
    if (issued.auditSessions === false) return DONE
    const token = issued.entry.session.accessToken
    let tokens = this.seen.get(caller)
    if (tokens?.has(token)) return DONE
    if (this.remembered >= MAX_REMEMBERED) {
      this.seen.clear()
      this.remembered = 0
      tokens = undefined
    }
    if (tokens === undefined) {
      tokens = new Set()
      this.seen.set(caller, tokens)
    }
    tokens.add(token)
    this.remembered++
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
