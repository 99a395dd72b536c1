import type { IssuedSession } from '../sessions/session-service.ts'
import type { CachedSession } from '../shared-state/shared-state.ts'
import { IsoTimeFormatter } from '../iso-time.ts'

/** The Session answer (schemas/session.ts, field for field and in its order). */
export function sessionBody (issued: IssuedSession) {
  const s = issued.entry.session
  return {
    accessToken: s.accessToken,
    instanceUrl: s.instanceUrl,
    tokenType: 'Bearer' as const,
    issuedAt: new Date(s.issuedAt).toISOString(),
    expiresAt: new Date(issued.expiresAt).toISOString(),
    connection: issued.connection,
    userId: s.userId,
    orgId: s.orgId,
    apiVersion: issued.apiVersion,
    flow: s.flow,
  }
}

const EXPIRES_AT = '"expiresAt":"'
/** toISOString() of any date in years 0–9999 */
const ISO_LENGTH = 24

/**
 * Everything of one cached session's answer but its expiresAt, which moves with the clock, as JSON
 * text: built once per cached session instead of once per request (the cache hit is the hot path;
 * serialising the same token again was a tenth of its CPU, measured with bench/profile-hot.ts).
 */
interface Frame { connection: string, head: string, tail: string, expiresAt: number, text: string, expires: IsoTimeFormatter }
const frames = new WeakMap<CachedSession, Frame>()

/**
 * The Session answer as JSON text: the same bytes JSON.stringify(sessionBody(issued)) gives. The
 * whole text is kept for the last expiresAt too: expiresAt moves in whole milliseconds, and under
 * load dozens of answers share one (formatting the date and joining the text was a tenth of the
 * broker's own CPU per answer, measured with bench/profile-hot.ts).
 */
export function sessionJson (issued: IssuedSession): string {
  let frame = frames.get(issued.entry)
  if (frame === undefined || frame.connection !== issued.connection) {
    const text = JSON.stringify(sessionBody({ ...issued, expiresAt: 0 }))
    const at = text.indexOf(EXPIRES_AT) + EXPIRES_AT.length
    frame = { connection: issued.connection, head: text.slice(0, at), tail: text.slice(at + ISO_LENGTH), expiresAt: Number.NaN, text: '', expires: new IsoTimeFormatter() }
    frames.set(issued.entry, frame)
  }
  if (frame.expiresAt !== issued.expiresAt) {
    frame.text = frame.head + frame.expires.format(issued.expiresAt) + frame.tail
    frame.expiresAt = issued.expiresAt
  }
  return frame.text
}
