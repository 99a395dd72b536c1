import { DomainError } from '../errors.ts'
import { pausedMessage, retryAfterSeconds } from './circuit.ts'
import type { LoginRefusal } from './login-gate.ts'

const seconds = (at: number) => Math.max(1, Math.ceil((at - Date.now()) / 1000))
const iso = (at: number) => new Date(at).toISOString()

/** What to do about a guarded user, in Salesforce Setup terms. */
export const GUARD_HINT = 'Check the user\'s Login History in Salesforce Setup for the failed logins; fix the stored secret (PATCH …/credentials) ' +
  'or, if the user is locked, unlock it (Setup > Users) or reset its password and store the new password and security token. ' +
  'Logins resume by themselves once the failures age out of the lockout window.'

/** The one problem answer for every way the login gate can refuse, whoever asked. */
export function refusalProblem (refusal: LoginRefusal, connection: string): DomainError {
  switch (refusal.kind) {
    case 'guarded':
      return new DomainError('login_guarded',
        `${refusal.failures} failed Salesforce logins of this user in the lockout window; Salesforce locks it at ${refusal.threshold}, so the broker sends no more until ${iso(refusal.safeAt)}`,
        { connection, failures: refusal.failures, lockoutThreshold: refusal.threshold, safeAt: iso(refusal.safeAt), hint: GUARD_HINT, retryable: true },
        seconds(refusal.safeAt))
    case 'candidate_failed':
      return new DomainError('login_guarded',
        `Salesforce already refused exactly these credentials; they are not sent again before ${iso(refusal.safeAt)}`,
        { connection, safeAt: iso(refusal.safeAt), hint: 'Check the candidate (password, security token, client secret); a different candidate is tried at once.', retryable: false },
        seconds(refusal.safeAt))
    case 'circuit_open': {
      const c = refusal.circuit
      return new DomainError('circuit_open', pausedMessage(c), {
        connection, classification: c.classification, hint: c.hint, retryable: false,
      }, retryAfterSeconds(c))
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
      }, seconds(refusal.retryAt))
    case 'busy':
      return new DomainError('login_wait_timeout', 'another login of the same Salesforce user did not finish in time', { connection, retryable: true }, seconds(refusal.retryAt))
  }
}

function budgetDetail (r: Extract<LoginRefusal, { kind: 'budget' }>): string {
  if (r.reason === 'rate_exceeded') return `Salesforce answered LOGIN_RATE_EXCEEDED for this user; no login is sent before ${iso(r.retryAt)}`
  if (r.reason === 'exhausted') return `${r.used} of ${r.limit} logins of this user spent in the last hour`
  return `${r.used} of ${r.limit} logins of this user spent in the last hour: the rest is kept for callers without a session and admin actions`
}
