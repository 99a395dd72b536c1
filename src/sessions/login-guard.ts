/**
 * The per-user failure guard, as pure functions over its stored state. Salesforce locks a user
 * after "Maximum invalid login attempts" (3, 5, 10 or never) consecutive failures and a success
 * resets the count. The broker counts every failed login it makes for the user, from any path, and
 * stops one short of the threshold: whatever the broker does, the lockout is never its doing.
 */

export interface GuardPolicy {
  /** Salesforce's "Maximum invalid login attempts" the broker assumes (3 is the lowest setting) */
  threshold: number
  /** how long a failure counts (Salesforce's lockout effective period, 15 min at least) */
  windowMs: number
}

export interface GuardState {
  /** epoch ms of each consecutive failed login */
  failures: number[]
  /** keyed hashes of the candidate secrets that failed, with when they did */
  candidates: Array<{ hash: string, at: number }>
}

export type GuardDecision =
  | { blocked: false, failures: number, room: number }
  | { blocked: true, failures: number, threshold: number, safeAt: number }

const EMPTY: GuardState = { failures: [], candidates: [] }

function current (state: GuardState | null, policy: GuardPolicy, now: number): GuardState {
  const s = state ?? EMPTY
  return {
    failures: s.failures.filter(t => now - t < policy.windowMs),
    candidates: s.candidates.filter(c => now - c.at < policy.windowMs),
  }
}

/** Whether one more login may go out: only while it could not be the one that locks the user. */
export function guardDecision (state: GuardState | null, policy: GuardPolicy, now = Date.now()): GuardDecision {
  const { failures } = current(state, policy, now)
  const stopAt = Math.max(1, policy.threshold - 1)
  if (failures.length < stopAt) return { blocked: false, failures: failures.length, room: stopAt - failures.length }
  // safe again when enough of the counted failures have aged out of the window to leave room for one
  const oldestThatMustExpire = failures[failures.length - stopAt]
  return { blocked: true, failures: failures.length, threshold: policy.threshold, safeAt: oldestThatMustExpire + policy.windowMs }
}

/** When the same failing candidate may be tried again (undefined: it has not failed in the window). */
export function candidateRetryAt (state: GuardState | null, hash: string, policy: GuardPolicy, now = Date.now()): number | undefined {
  const seen = current(state, policy, now).candidates.find(c => c.hash === hash)
  return seen ? seen.at + policy.windowMs : undefined
}

export function withFailure (state: GuardState | null, policy: GuardPolicy, candidateHash?: string, now = Date.now()): GuardState {
  const s = current(state, policy, now)
  return {
    failures: [...s.failures, now],
    candidates: candidateHash ? [...s.candidates.filter(c => c.hash !== candidateHash), { hash: candidateHash, at: now }] : s.candidates,
  }
}

/** A success resets Salesforce's count; the memory of failed candidates stays (they are still wrong). */
export function withSuccess (state: GuardState | null, policy: GuardPolicy, now = Date.now()): GuardState {
  return { failures: [], candidates: current(state, policy, now).candidates }
}
