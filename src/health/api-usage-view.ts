import type { ApiUsage } from '../salesforce/types.ts'
import type { StoredApiUsage } from '../proxy/accounting.ts'
import type { Verdict } from './dated-warning.ts'

/**
 * The org's daily API usage as health shows it: the newer of the last validation's reading and the
 * last one a proxied answer carried (Sforce-Limit-Info), so heavy proxy traffic between two
 * validations is seen. Above `warnRatio` of the allocation an ok connection becomes warn: the org's
 * REST calls are refused (403 REQUEST_LIMIT_EXCEEDED) once it is spent, for every integration.
 */
export function latestApiUsage (proxied: StoredApiUsage | null, validated: ApiUsage | undefined, validatedAt: number | undefined): ApiUsage | undefined {
  if (!proxied) return validated
  if (validated && validatedAt !== undefined && validatedAt > proxied.at) return validated
  return { used: proxied.used, max: proxied.max }
}

export function apiUsageVerdict (current: Verdict, usage: ApiUsage | undefined, warnRatio: number): Verdict {
  if (!usage || usage.max <= 0 || current.status !== 'ok' || usage.used / usage.max <= warnRatio) return current
  const percent = Math.round((usage.used / usage.max) * 100)
  return {
    status: 'warn',
    message: `the org has used ${percent} % of its daily API requests (${usage.used} of ${usage.max})`,
    hint: 'find the caller in sfb_proxy_requests_total and cap it (proxyCallsPerDay), or raise the allocation; at 100 % Salesforce refuses every integration\'s REST calls until the rolling 24 h frees some',
  }
}
