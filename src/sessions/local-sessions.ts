import type { CachedSession } from '../shared-state/shared-state.ts'

/** How long an in-process copy is trusted without asking Redis (pub/sub tells us about changes sooner). */
export const L1_FRESH_MS = 5_000

/** A cached session may be handed out: obtained with this secret version, not yet past validUntil, and not the token the caller reports dead. */
export function servable (e: CachedSession | null | undefined, version: number, rejectedToken: string | undefined, now = Date.now()): e is CachedSession {
  return !!e && e.secretVersion === version && e.validUntil > now && e.session.accessToken !== rejectedToken
}

/**
 * The in-process tier in front of the shared state: each connection's last session this replica saw,
 * with when it was last confirmed, so the common hit needs no Redis round trip. The clock is injected
 * so the freshness rule has unit tests without waiting.
 */
export class LocalSessions {
  private readonly entries = new Map<string, { entry: CachedSession, checkedAt: number }>()
  /** per connection, how often its copy was forgotten (a purge): see remember() */
  private readonly forgotten = new Map<string, number>()

  private readonly freshMs: number
  private readonly now: () => number

  constructor (freshMs = L1_FRESH_MS, now: () => number = Date.now) {
    this.freshMs = freshMs
    this.now = now
  }

  /** The in-process copy, when it is servable and recent enough to trust without asking Redis. */
  fresh (connection: string, version: number, rejectedToken: string | undefined): CachedSession | undefined {
    const local = this.entries.get(connection)
    const now = this.now()
    return local && now - local.checkedAt < this.freshMs && servable(local.entry, version, rejectedToken, now) ? local.entry : undefined
  }

  /** The in-process copy however old (the caller checks it is servable). */
  last (connection: string): CachedSession | undefined {
    return this.entries.get(connection)?.entry
  }

  /**
   * Holds `entry` as confirmed now (just read from, or written to, the shared state). `readAt`, the
   * generation() taken before a read of the shared state: when the copy was forgotten since (a purge
   * this replica applied, and confirmed, while the read was in flight), what the read brought back
   * may be what the purge dropped, and is not kept.
   */
  remember (connection: string, entry: CachedSession, readAt?: number): void {
    if (readAt !== undefined && readAt !== this.generation(connection)) return
    this.entries.set(connection, { entry, checkedAt: this.now() })
  }

  /** Changes whenever the connection's copy is forgotten. */
  generation (connection: string): number {
    return this.forgotten.get(connection) ?? 0
  }

  /** The copy may have been taken back (a purge: the kill switch, a rotation, a dead token): nothing read or obtained before is kept. */
  forget (connection: string): void {
    this.entries.delete(connection)
    this.forgotten.set(connection, this.generation(connection) + 1)
  }

  /** A newer session was stored (it takes nothing back): the copy is read again, what is in flight may still be kept. */
  drop (connection: string): void {
    this.entries.delete(connection)
  }
}
