import { DomainError } from '../errors.ts'
import type { ClassifiedFailure } from '../salesforce/types.ts'

/**
 * After a login failed transiently (after its own retries) logins of the connection pause
 * fleet-wide for a short, growing time: no herd of retries against a struggling or rate-limiting
 * Salesforce. 1 s, then 1.5 s, ±20 %.
 */
const HOLD_OFF_BASE_MS = 1_000
/**
 * Short on purpose: the pause is fleet-wide and only the lease holder probes when it ends, so a
 * longer one buys no protection (one probe per pause whatever the fleet's size) but keeps refusing
 * callers long after Salesforce is back (with a longer cap, callers were still refused 8 s after a
 * 10 s outage ended: test/sessions/recovery.test.ts). Rate limits are the
 * login budget's business (an hour's hold), not this pause's.
 */
const HOLD_OFF_MAX_MS = 1_500

export interface HoldOff {
  failures: number
  /** epoch ms before which nobody logs in for the connection */
  until: number
  classification: string
  message: string
  hint: string
}

/** The answer to a caller while the connection is held off (or right after the failure that started the pause). */
export function heldOffProblem (connection: string, h: Pick<HoldOff, 'classification' | 'message' | 'hint' | 'until'>, now: number): DomainError {
  // the message says who answered, if anyone ("Salesforce did not answer within 400 ms", "The token endpoint answered HTTP 503")
  return new DomainError('salesforce_unavailable', `No Salesforce login could be made now: ${h.message}`, {
    connection, classification: h.classification, hint: h.hint, retryable: true,
  }, Math.max(1, Math.ceil((h.until - now) / 1000)))
}

/** Whether the state read holds logins of the connection back now. */
export function holdsOff (h: HoldOff | null, now: number): h is HoldOff {
  return h !== null && now < h.until
}

/** The pause after one more transient failure (its failure count grows the next pause). */
export function nextHoldOff (previous: HoldOff | null, f: ClassifiedFailure, now: number): HoldOff {
  const failures = (previous?.failures ?? 0) + 1
  const pause = Math.round(Math.min(HOLD_OFF_BASE_MS * 2 ** (failures - 1), HOLD_OFF_MAX_MS) * (0.8 + Math.random() * 0.4))
  return { failures, until: now + pause, classification: f.classification, message: f.message, hint: f.hint }
}

/** A success ends the series: the next transient failure starts from the shortest pause again. */
export function endedHoldOff (previous: HoldOff | null): HoldOff | null {
  return previous && previous.failures > 0 ? { ...previous, failures: 0, until: 0 } : null
}

/** How long the hold-off document is kept: long enough for the series' count to grow the next pause. */
export const HOLD_OFF_KEEP_MS = HOLD_OFF_MAX_MS * 10
