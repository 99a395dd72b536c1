import type { HealthStatus } from './health-result.ts'

export interface Verdict { status: HealthStatus, message?: string, hint?: string }

/**
 * The rule for something that stops working on a known day (a certificate's expiry, a flow's
 * retirement): inside the warning window an ok connection becomes warn, with a message saying
 * when; a worse status, or a warning already there (the integration user's readiness), stays.
 */
export function warnAhead (current: Verdict, daysLeft: number, warnDays: number, say: (when: string) => { message: string, hint: string }): Verdict {
  if (daysLeft > warnDays || current.status !== 'ok') return current
  const when = daysLeft > 0 ? `in ${daysLeft} day${daysLeft === 1 ? '' : 's'}` : 'already'
  return { status: 'warn', ...say(when) }
}
