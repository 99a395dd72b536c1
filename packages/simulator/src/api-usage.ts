import { orgNow } from './org-state.ts'
import type { SimOrgState } from './types.ts'

/**
 * The org's daily API request allocation, as `Sforce-Limit-Info: api-usage=used/max` reports it on
 * REST answers (REST API Developer Guide, "Limit Info Header") and /limits as DailyApiRequests.
 * Salesforce counts it over a rolling 24 hours ("API Request Limits and Allocations"); the
 * simulator keeps hourly buckets, so a call leaves the count 24 to 25 hours after it was made.
 * `org.apiRequestsUsed` stays the number tests and the control API read and set: a value set from
 * outside is taken as calls made in the current hour (or, when lowered, as a fresh window).
 */

const HOUR_MS = 3_600_000
const WINDOW_HOURS = 24

interface Window { buckets: Map<number, number>, total: number }

const windows = new WeakMap<SimOrgState, Window>()

/** The calls counted in the last 24 hours at `now` (org.apiRequestsUsed is brought up to date). */
export function apiUsage (org: SimOrgState, now = orgNow(org)): number {
  const hour = Math.floor(now / HOUR_MS)
  let window = windows.get(org)
  if (!window) windows.set(org, window = { buckets: new Map(), total: 0 })
  if (org.apiRequestsUsed < window.total) {
    window.buckets.clear()
    window.total = 0
  }
  if (org.apiRequestsUsed > window.total) {
    window.buckets.set(hour, (window.buckets.get(hour) ?? 0) + org.apiRequestsUsed - window.total)
    window.total = org.apiRequestsUsed
  }
  for (const [start, count] of window.buckets) {
    if (start < hour - WINDOW_HOURS) {
      window.buckets.delete(start)
      window.total -= count
    }
  }
  org.apiRequestsUsed = window.total
  return window.total
}

/** Counts one call; false (nothing counted) when the allocation is used up: 403 REQUEST_LIMIT_EXCEEDED. */
export function chargeApiCall (org: SimOrgState, now = orgNow(org)): boolean {
  if (apiUsage(org, now) >= org.apiRequestLimit) return false
  org.apiRequestsUsed++
  apiUsage(org, now)
  return true
}

export function limitInfoHeader (org: SimOrgState): Record<string, string> {
  return { 'sforce-limit-info': `api-usage=${org.apiRequestsUsed}/${org.apiRequestLimit}` }
}
