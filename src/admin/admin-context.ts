/** Who asks for an admin action, and on which version: every admin service takes it (a file of its own, so they need not import each other). */
export interface AdminContext {
  actor: string
  requestId: string
  /** the version the admin last read (If-Match); a mismatch is a conflict. `*`: any current version (RFC 9110 §13.1.1) */
  ifMatch?: number | '*'
}
