import type { LoginObserver } from '../sessions/login-gate.ts'
import { budgetReserveOnce, guardTrippedOnce } from '../shared-state/state-names.ts'
import type { Notifier } from './notifier.ts'

/** The share of the hourly login budget past which only what cannot wait logs in (src/sessions/login-budget.ts). */
export const BUDGET_RESERVE_SHARE = 0.8

const HOUR_MS = 3600_000

/** How long a tripped guard is told once per connection, fleet-wide. */
const GUARD_TRIP_ONCE_MS = 15 * 60_000

/**
 * The login gate's side of the events: the failure guard tripping, and the login budget reaching
 * its reserve. Every replica's gate reports the budget, so both are raised under a key: one event
 * per connection per budget hour, and per tripped guard (within 15 minutes).
 */
export function loginEvents (notifier: Notifier): LoginObserver {
  return {
    loginBudget (connection, used, limit) {
      if (used < Math.ceil(limit * BUDGET_RESERVE_SHARE)) return
      notifier.raise({
        type: 'login.budget_reserve_reached',
        connection,
        data: { used, limit, reservePercent: Math.round(BUDGET_RESERVE_SHARE * 100) },
        once: { key: budgetReserveOnce(connection), ttlMs: HOUR_MS },
      })
    },
    guardTripped (connection, failures, threshold) {
      notifier.raise({
        type: 'login.guard_tripped',
        connection,
        data: { failures, lockoutThreshold: threshold },
        // one trip per user until a success or an admin's reset: the key only stops the fleet telling it twice
        once: { key: guardTrippedOnce(connection), ttlMs: GUARD_TRIP_ONCE_MS },
      })
    },
  }
}

/** Tells each observer in turn (the gate takes one). */
export function allObservers (...observers: LoginObserver[]): LoginObserver {
  return {
    loginAttempt: (...args) => { for (const o of observers) o.loginAttempt?.(...args) },
    loginBudget: (...args) => { for (const o of observers) o.loginBudget?.(...args) },
    guardTripped: (...args) => { for (const o of observers) o.guardTripped?.(...args) },
  }
}
