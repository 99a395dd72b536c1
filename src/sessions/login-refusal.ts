import { DomainError } from '../errors.ts'
import { pausedMessage, retryAfterSeconds } from './circuit.ts'
import type { ClassifiedFailure } from '../salesforce/types.ts'
import { heldOffProblem, type HoldOff } from './hold-off.ts'
import { BUDGET_WINDOW_MS } from './login-budget.ts'
import type { LoginRefusal } from './login-gate.ts'
import type { GuardStop } from './login-request.ts'

const seconds = (at: number, now: number) => Math.max(1, Math.ceil((at - now) / 1000))
const iso = (at: number) => new Date(at).toISOString()

/** What to do about a guarded user, in Salesforce Setup terms. */
export const GUARD_HINT = 'Salesforce\'s failed-login count does not expire with time, so the broker\'s does not either. Check the user\'s ' +
  'Login History in Salesforce Setup. Salesforce sets its count back to zero when the user is unlocked (Setup > Users > Unlock) or ' +
  'logs in successfully (a password reset alone does not): unlock it, or log in once as the user with the right password; ' +
  'tell the broker so: POST /health/salesforce/{name}/check {"failedLoginsReset": true} (sfb check NAME --reset-acknowledged; nothing ' +
  'is sent to Salesforce); then store the right secret (PATCH …/credentials with password and securityToken).'

/** Why no password login was tried while Redis is down. */
export const GUARD_UNAVAILABLE_HINT = 'The failure guard\'s count is kept in Redis so that replicas cannot add up to the lockout between them. ' +
  'While Redis cannot be reached no replica sends a password (SOAP or OAuth username-password) login; cached sessions keep being ' +
  'served, and JWT bearer and client credentials logins go on. Restore Redis; logins resume on their own.'

/**
 * The one problem answer for every way the login gate can refuse, whoever asked. `now` is the gate's
 * clock (LoginGate.now), the one its refusal times were read on: Retry-After and safeAt agree.
 */
export function refusalProblem (refusal: LoginRefusal, connection: string, now: number): DomainError {
  switch (refusal.kind) {
    case 'guarded':
      return new DomainError('login_guarded',
        `${refusal.failures} failed Salesforce logins of this user since its last successful login; Salesforce locks it at ${refusal.threshold}, so the broker sends no more password logins until an admin acts`,
        { connection, failures: refusal.failures, lockoutThreshold: refusal.threshold, hint: GUARD_HINT, retryable: false })
    case 'guard_unavailable':
      return new DomainError('login_guard_unavailable',
        'Redis cannot be reached, so no replica can know the failed logins the others made: no password login was tried',
        { connection, hint: GUARD_UNAVAILABLE_HINT, retryable: true }, 5)
    case 'candidate_failed':
      return new DomainError('login_guarded',
        `Salesforce already refused exactly these credentials; they are not sent again before ${iso(refusal.safeAt)}`,
        { connection, safeAt: iso(refusal.safeAt), hint: 'Check the candidate (password, security token, client secret); a different candidate is tried at once.', retryable: true },
        seconds(refusal.safeAt, now))
    case 'circuit_open': {
      const c = refusal.circuit
      return new DomainError('circuit_open', pausedMessage(c), {
        // retryable with Retry-After: after the pause one probe login is made; a retry then is served if the cause was fixed
        connection, classification: c.classification, hint: c.hint, retryable: true,
      }, retryAfterSeconds(c, now))
    }
    case 'budget':
      return new DomainError('login_budget_exhausted', budgetDetail(refusal), {
        connection,
        ...(refusal.reason === 'rate_exceeded' ? { classification: 'login_rate_exceeded' } : {}),
        loginsUsed: refusal.used,
        loginsLimit: refusal.limit,
        safeAt: iso(refusal.retryAt),
        hint: 'Another client of the same Salesforce user may be logging in too often (Login History shows every login); the budget frees as the hour rolls on.',
        retryable: true,
      }, seconds(refusal.retryAt, now))
    case 'busy':
      return new DomainError('login_wait_timeout', 'another login of the same Salesforce user did not finish in time', { connection, retryable: true }, seconds(refusal.retryAt, now))
    case 'held_off':
      return heldOffProblem(connection, refusal.holdOff, now)
  }
}

/**
 * The answer to a login that failed without Salesforce judging its secret (unreachable, a 5xx,
 * LOGIN_RATE_EXCEEDED; `opensCircuit` is false for these), whoever asked: 503 with Retry-After,
 * never "credentials rejected". LOGIN_RATE_EXCEEDED holds the user's logins for the rest of the
 * hour: say so, not "try again in a second".
 */
export function unjudgedFailureProblem (connection: string, failure: ClassifiedFailure, loginsPerHour: number, now: number, holdOff?: HoldOff): DomainError {
  if (failure.classification === 'login_rate_exceeded') {
    return refusalProblem({ kind: 'budget', reason: 'rate_exceeded', used: loginsPerHour, limit: loginsPerHour, retryAt: now + BUDGET_WINDOW_MS }, connection, now)
  }
  return heldOffProblem(connection, holdOff ?? { ...failure, until: now + 1000 }, now)
}

/**
 * A failed login in words that say Salesforce answered only when it did: not after a timeout, a
 * gateway's 5xx (outcome unknown) or the broker's own error, whose messages say what happened.
 */
export function failedLoginText (failure: ClassifiedFailure): string {
  const answered = failure.outcomeUnknown !== true && (failure.sfCode !== undefined || failure.loginAccepted === true ||
    (failure.httpStatus !== undefined && failure.httpStatus < 500))
  return `${answered ? 'Salesforce answered' : 'The login failed'}: ${failure.message}`
}

/**
 * A failed login after which the guard sends no more password logins of the user (its count is one
 * short of Salesforce's lockout): no time makes another login safe, an admin acts (GUARD_HINT).
 */
export function guardStoppedProblem (connection: string, failure: ClassifiedFailure, stop: GuardStop): DomainError {
  const answered = failedLoginText(failure).replace(/[.\s]+$/, '')
  return new DomainError('salesforce_login_failed',
    `${answered}. That makes ${stop.failures} failed logins of this user since its last successful login; Salesforce locks it at ${stop.threshold}, so the broker sends no more password logins until an admin acts`,
    { connection, classification: failure.classification, failures: stop.failures, lockoutThreshold: stop.threshold, hint: GUARD_HINT, retryable: false })
}

function budgetDetail (r: Extract<LoginRefusal, { kind: 'budget' }>): string {
  if (r.reason === 'rate_exceeded') return `Salesforce answered LOGIN_RATE_EXCEEDED for this user; no login is sent before ${iso(r.retryAt)}`
  if (r.reason === 'exhausted') return `${r.used} of ${r.limit} logins of this user spent in the last hour`
  return `${r.used} of ${r.limit} logins of this user spent in the last hour: the rest is kept for callers without a session and admin actions`
}
