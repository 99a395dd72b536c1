import { budgetCap } from '../sessions/login-budget.ts'
import type { LoginObserver } from '../sessions/login-gate.ts'
import { budgetReserveOnce, guardTrippedOnce } from '../shared-state/state-names.ts'
import type { Notifier } from './notifier.ts'

/** The share of the hourly login budget past which only what cannot wait logs in (src/sessions/login-budget.ts). */
export const BUDGET_RESERVE_SHARE = 0.8

const HOUR_MS = 3600_000

/** How long the fleet remembers that a run of failures' trip was told (its id stays the same after). */
const GUARD_TRIP_ONCE_MS = 15 * 60_000

/**
 * The login gate's side of the events: the failure guard tripping, and the login budget reaching
 * its reserve. Every replica's gate reports them, so both are raised under a key that names the
 * occurrence: one event per connection per clock hour of the budget, and one per run of failures
 * that trips the guard (a trip after a reset is a new run). The key is also the event's id, which
 * receivers drop when they have handled it: two occurrences must never share one.
 */
export function loginEvents (notifier: Notifier): LoginObserver {
  return {
    loginBudget (connection, used, limit, at) {
      // where the gate starts holding back what can wait (a refresh, a scheduled or forced check): the
      // same rounding, or with a limit that is no multiple of 5 the reserve would hold logins back untold
      if (used < budgetCap(limit, 'scheduled')) return
      notifier.raise({
        type: 'login.budget_reserve_reached',
        connection,
        data: { used, limit, reservePercent: Math.round(BUDGET_RESERVE_SHARE * 100) },
        once: { key: budgetReserveOnce(connection, at - (at % HOUR_MS)), ttlMs: HOUR_MS },
      })
    },
    guardTripped (connection, failures, threshold, since) {
      notifier.raise({
        type: 'login.guard_tripped',
        connection,
        data: { failures, lockoutThreshold: threshold },
        // one trip per run of failures: the key stops the fleet telling it twice
        once: { key: guardTrippedOnce(connection, since), ttlMs: GUARD_TRIP_ONCE_MS },
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
