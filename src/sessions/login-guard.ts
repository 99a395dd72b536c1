import type { ClassifiedFailure } from '../salesforce/types.ts'
import type { FailureClassification } from '../salesforce/remediation.ts'

/**
 * The per-user failure guard, as pure functions over its stored state. Salesforce locks a user
 * after "Maximum invalid login attempts" (3, 5, 10 or never) failed logins, and its counter does
 * not expire with time: "If there's a successful login before the maximum number of failed login
 * attempts is reached, the counter resets" (Salesforce Help, "Set Password Policies"); the lockout
 * itself resets it too. So the guard's count has no window either: it lasts until a successful
 * login of the user, or until an admin states that Salesforce's count is back to zero (after
 * unlocking the user or resetting its password). The broker counts every failed login it makes
 * for the user, from any path — a login it gave up on (timeout) included, since Salesforce may
 * have judged it — and stops one short of the threshold: whatever the broker does, the lockout is
 * never its doing, however far apart its failures are.
 */

export interface GuardPolicy {
  /** Salesforce's "Maximum invalid login attempts" the broker assumes (3 is the lowest setting) */
  threshold: number
}

export interface GuardState {
  /** epoch ms of each failed login counted since `resetAt` */
  failures: number[]
  /** keyed hashes of the candidate secrets that failed, with when they did */
  candidates: Array<{ hash: string, at: number }>
  /**
   * epoch ms of the last reset (a successful login, or an admin's acknowledgement): failures
   * before it are gone. Kept so two copies of the state (Redis and a replica's memory) merge right.
   */
  resetAt?: number
  /** set when the count was taken from Salesforce (when it was read); any later failure or reset drops it */
  truthReadAt?: number
  /**
   * the failures among `failures` counted for logins whose answer never came (timed out, given up
   * on at shutdown, noted by a replica that died): Salesforce may judge them after its own count is
   * read, so that count does not replace them (GuardStore.reconcile)
   */
  unanswered?: number[]
}

export type GuardDecision =
  | { blocked: false, failures: number, room: number }
  | { blocked: true, failures: number, threshold: number }

/**
 * A failing candidate is not sent again for a day: the count above already stops every login one
 * short of the lockout, this memory only keeps one admin's retyped typo from spending a failure.
 */
export const CANDIDATE_MEMORY_MS = 86_400_000

/**
 * Failures that judge the secret itself: the same candidate would fail again (a wrong password or
 * security token, a wrong consumer secret; OAuth's "authentication failure" also covers a blocked
 * flow, which it cannot be told from). A failure about the user or the org (a permission, a flow
 * turned off, an IP range or login hours, an inactive user, an expired password) is fixed in Setup,
 * after which the same candidate must go through at once; one whose outcome is unknown judged nothing
 * anyone knows of. Either is still counted, but only these are remembered as refused.
 */
const SECRET_VERDICTS: ReadonlySet<FailureClassification> = new Set<FailureClassification>(['invalid_credentials', 'security_token_required', 'invalid_client'])

export function refusesCandidate (failure: ClassifiedFailure): boolean {
  return failure.outcomeUnknown !== true && SECRET_VERDICTS.has(failure.classification)
}

const EMPTY: GuardState = { failures: [], candidates: [] }

function candidatesOf (state: GuardState | null, now: number): GuardState['candidates'] {
  return (state ?? EMPTY).candidates.filter(c => now - c.at < CANDIDATE_MEMORY_MS)
}

/** Whether one more login may go out: only while it could not be the one that locks the user. */
export function guardDecision (state: GuardState | null, policy: GuardPolicy): GuardDecision {
  const failures = (state ?? EMPTY).failures.length
  const stopAt = Math.max(1, policy.threshold - 1)
  if (failures < stopAt) return { blocked: false, failures, room: stopAt - failures }
  return { blocked: true, failures, threshold: policy.threshold }
}

/** When the same failing candidate may be tried again (undefined: it has not failed lately). */
export function candidateRetryAt (state: GuardState | null, hash: string, now: number): number | undefined {
  const seen = candidatesOf(state, now).find(c => c.hash === hash)
  return seen ? seen.at + CANDIDATE_MEMORY_MS : undefined
}

/**
 * `at`, or the next millisecond after it that no failure of the count holds. Failures are told apart
 * by stamp (a late success takes back exactly the ones it knew of, a note is known counted by its
 * stamp): one counted, or a login sent, in a millisecond another failure holds (two replicas'
 * clocks, a stopped clock) gets the next free one.
 */
export function freeStamp (state: GuardState | null, at: number): number {
  let stamp = at
  while (state?.failures.includes(stamp) === true) stamp++
  return stamp
}

export function withFailure (state: GuardState | null, now: number, candidateHash?: string, unanswered = false): GuardState {
  const s = state ?? EMPTY
  const candidates = candidatesOf(s, now)
  const at = freeStamp(s, now)
  const stillUnanswered = unanswered ? [...s.unanswered ?? [], at] : s.unanswered ?? []
  return {
    failures: [...s.failures, at],
    candidates: candidateHash ? [...candidates.filter(c => c.hash !== candidateHash), { hash: candidateHash, at: now }] : candidates,
    ...(s.resetAt !== undefined ? { resetAt: s.resetAt } : {}),
    ...(stillUnanswered.length > 0 ? { unanswered: stillUnanswered } : {}),
  }
}

/**
 * Salesforce's count went to zero at a moment the broker knew the failures `before` (a login sent then
 * succeeded after its sender had handed the lease on; an admin said so): those failures go, every one
 * counted since stays, whatever the clocks stamped. `at` marks the reset, for merging copies.
 */
export function withLateSuccess (state: GuardState | null, before: readonly number[], at: number): GuardState {
  // later than every failure it takes back: a copy that missed this reset (another replica's memory)
  // keeps only failures from the reset on (mergeGuards), so none of these can come back from it
  const resetAt = Math.max(state?.resetAt ?? 0, at, ...before.map(f => f + 1))
  if (!state) return withReset(null, resetAt)
  const failures = state.failures.filter(f => !before.includes(f))
  const unanswered = (state.unanswered ?? []).filter(f => failures.includes(f))
  return {
    failures,
    candidates: state.candidates,
    resetAt,
    ...(unanswered.length > 0 ? { unanswered } : {}),
  }
}

/**
 * A password login on its way to Salesforce, noted for the fleet before it goes out (login-gate.ts):
 * when it was sent (its failure is stamped so), which holder sent it, and the last reset its sender
 * knew of.
 */
export interface SentLogin {
  at: number
  id: string
  resetSeen?: number
}

/**
 * Whether a noted login whose answer was never counted (its replica died) is to be counted now: not
 * when the count has it already (its failure, stamped when it was sent), nor when it went out before
 * the count's reset. Judged as mergeGuards judges a copy: a sender that knew the count's reset (or a
 * later one) sent after it, whatever the clocks say; only against a reset it missed (an admin's
 * word, a late success, kept by one replica while Redis did not take it) is it sorted by time.
 */
export function countsUnanswered (state: GuardState | null, sent: SentLogin): boolean {
  if (!state) return true
  if (state.failures.includes(sent.at)) return false
  const reset = state.resetAt ?? 0
  return reset <= (sent.resetSeen ?? 0) || sent.at >= reset
}

/** A success (or an admin's word that Salesforce's count is zero) resets the count; failed candidates stay remembered (they are still wrong). */
export function withReset (state: GuardState | null, now: number): GuardState {
  return { failures: [], candidates: candidatesOf(state, now), resetAt: now }
}

/**
 * Two copies of one user's guard (the fleet's in Redis and a replica's own, written while Redis
 * was unreachable or before Redis restarted empty) made one: the later reset wins, and every
 * failure after it counts once. Never fewer failures than either copy saw since that reset.
 * "After it" is what a copy knew, not the clocks: a copy that holds the winning reset counted its
 * failures after that reset, whatever its replica's clock stamped them (replicas' clocks differ; a
 * reset stamped by one running ahead would otherwise hide every failure the others count). Only a
 * copy that missed the reset is sorted by time.
 */
export function mergeGuards (a: GuardState | null, b: GuardState | null): GuardState | null {
  if (!a || !b) return a ?? b
  const resetAt = Math.max(a.resetAt ?? 0, b.resetAt ?? 0)
  const since = (copy: GuardState): number[] => (copy.resetAt ?? 0) === resetAt ? copy.failures : copy.failures.filter(t => t >= resetAt)
  const failures = [...new Set([...since(a), ...since(b)])].sort((x, y) => x - y)
  const byHash = new Map<string, number>()
  for (const c of [...a.candidates, ...b.candidates]) byHash.set(c.hash, Math.max(byHash.get(c.hash) ?? 0, c.at))
  const unanswered = [...new Set([...a.unanswered ?? [], ...b.unanswered ?? []])].filter(f => failures.includes(f)).sort((x, y) => x - y)
  // Salesforce's word stays the count while the merge says what the copy taken from it says
  // (a replica's memory holds the same copy as Redis: health shows Salesforce's count with either)
  const saysTheSame = (copy: GuardState): boolean => (copy.resetAt ?? 0) === resetAt && sameStamps(copy.failures, failures)
  const truthReadAt = Math.max(0, ...[a, b].filter(saysTheSame).map(c => c.truthReadAt ?? 0))
  return {
    failures,
    candidates: [...byHash].map(([hash, at]) => ({ hash, at })),
    ...(resetAt > 0 ? { resetAt } : {}),
    ...(unanswered.length > 0 ? { unanswered } : {}),
    // last, as GuardStore.reconcile writes it: the same copy merged is the same JSON (sameGuard)
    ...(truthReadAt > 0 ? { truthReadAt } : {}),
  }
}

/**
 * Whether two copies count the same: the failures, the reset and which failures are unanswered.
 * The candidates remembered (each copy forgets them a day on, when it is written) and Salesforce's
 * mark are not the count: a copy that differs in those only is not written back (GuardStore.merged).
 */
export function sameCount (a: GuardState | null, b: GuardState | null): boolean {
  return sameStamps(a?.failures, b?.failures) && (a?.resetAt ?? 0) === (b?.resetAt ?? 0) && sameStamps(a?.unanswered, b?.unanswered)
}

/** The same stamps in any order (a copy's are distinct: withFailure); none and an empty list alike. */
function sameStamps (x: readonly number[] | undefined, y: readonly number[] | undefined): boolean {
  return (x?.length ?? 0) === (y?.length ?? 0) && (x ?? []).every(f => (y ?? []).includes(f))
}

/** Whether two copies say the same (no write needed). */
export function sameGuard (a: GuardState | null, b: GuardState | null): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}
