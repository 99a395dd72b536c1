import { DomainError } from '../errors.ts'
import type { ClassifiedFailure } from '../salesforce/types.ts'
import type { Documents } from '../shared-state/shared-state.ts'
import { transientHoldOffDoc } from '../shared-state/state-names.ts'

/**
 * After a login failed transiently (after its own retries) logins of the connection pause
 * fleet-wide for a short, growing time: no herd of retries against a struggling or rate-limiting
 * Salesforce. 1 s, then 1.5 s, ±20 %.
 */
const HOLD_OFF_BASE_MS = 1_000
/**
 * Short on purpose: the pause is fleet-wide and only the lease holder probes when it ends, so a
 * longer one buys no protection (one probe per pause whatever the fleet's size) but keeps refusing
 * callers long after Salesforce is back (issue 12: 8 s after a 10 s outage). Rate limits are the
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

function unavailable (connection: string, h: Pick<HoldOff, 'classification' | 'message' | 'hint'>, untilMs: number): DomainError {
  return new DomainError('salesforce_unavailable', `Salesforce answered: ${h.message}`, {
    connection, classification: h.classification, hint: h.hint, retryable: true,
  }, Math.max(1, Math.ceil((untilMs - Date.now()) / 1000)))
}

/** Throws while the connection is held off; returns the state otherwise (its failure count grows the next pause). */
export async function throwIfHeldOff (state: Documents, connection: string): Promise<HoldOff | null> {
  const h = await state.getJson<HoldOff>(transientHoldOffDoc(connection))
  if (h && Date.now() < h.until) throw unavailable(connection, h, h.until)
  return h
}

/** A success ends the series: the next transient failure starts from the shortest pause again. */
export async function endHoldOff (state: Documents, connection: string, previous: HoldOff | null): Promise<void> {
  if (previous && previous.failures > 0) await state.putJson(transientHoldOffDoc(connection), { ...previous, failures: 0, until: 0 }, 1_000)
}

/** Records one more transient failure and returns the problem to answer with. */
export async function startHoldOff (state: Documents, connection: string, previous: HoldOff | null, f: ClassifiedFailure): Promise<DomainError> {
  const failures = (previous?.failures ?? 0) + 1
  const pause = Math.round(Math.min(HOLD_OFF_BASE_MS * 2 ** (failures - 1), HOLD_OFF_MAX_MS) * (0.8 + Math.random() * 0.4))
  const next: HoldOff = { failures, until: Date.now() + pause, classification: f.classification, message: f.message, hint: f.hint }
  await state.putJson(transientHoldOffDoc(connection), next, HOLD_OFF_MAX_MS * 10)
  return unavailable(connection, f, next.until)
}
