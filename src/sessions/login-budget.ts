/**
 * The login budget: Salesforce allows 3,600 logins per user per rolling hour across all flows and
 * then answers LOGIN_RATE_EXCEEDED for every connection of that user (Salesforce Help
 * 000381578). The broker counts every login it makes per user and keeps the last fifth for what
 * cannot wait.
 */

/**
 * Why a login is wanted. `miss`: a caller has no usable session; `admin`: an admin's write,
 * validation or probe. Both may spend the last 20 % of the budget; a background refresh and the
 * scheduler's periodic full re-validation may not.
 */
export type LoginPurpose = 'miss' | 'refresh' | 'scheduled' | 'forced_check' | 'probe' | 'admin'

export const BUDGET_WINDOW_MS = 3_600_000
const RESERVED_SHARE = 0.2

const ESSENTIAL: ReadonlySet<LoginPurpose> = new Set(['miss', 'admin', 'probe'])

export type BudgetDecision =
  | { allowed: true }
  | { allowed: false, reason: 'exhausted' | 'reserved', used: number, limit: number }

export function budgetDecision (used: number, limit: number, purpose: LoginPurpose): BudgetDecision {
  if (used >= limit) return { allowed: false, reason: 'exhausted', used, limit }
  if (used >= budgetCap(limit, purpose)) return { allowed: false, reason: 'reserved', used, limit }
  return { allowed: true }
}

/** How many of the hour's logins a login of this purpose may find spent and still go out below. */
export function budgetCap (limit: number, purpose: LoginPurpose): number {
  return ESSENTIAL.has(purpose) ? limit : Math.floor(limit * (1 - RESERVED_SHARE))
}
