import { evaluateReadiness, type ReadinessReport } from '../salesforce/readiness-evaluation.ts'
import type { ApiUsage, ClassifiedFailure, ConnectionDefinition, SalesforceSession, SessionCheckOutcome } from '../salesforce/types.ts'
import { readinessRequirements, readUserReadiness, type ReadinessRead, type ReadinessRequirements } from '../salesforce/user-readiness.ts'
import type { TokenBucket } from './token-bucket.ts'

/** Reads the user's readiness facts with a session (one REST call). */
export type ReadinessReader = (session: SalesforceSession, requirements: ReadinessRequirements, apiVersion: string) => Promise<ReadinessRead>

export interface AfterLoginDeps {
  checkSession: (session: SalesforceSession, apiVersion: string) => Promise<SessionCheckOutcome>
  readReadiness: ReadinessReader
  bucket: TokenBucket
  passwordExpiryWarnDays: number
  onError: (err: unknown) => void
  now?: () => number
}

export function defaultReadinessReader (timeoutMs: number): ReadinessReader {
  return (session, requirements, apiVersion) => readUserReadiness(session, requirements, { apiVersion, timeoutMs })
}

/**
 * What a full check learns right after a login, in exactly one REST call: the org's API usage
 * (GET /limits) when the connection declares no readiness requirement, otherwise the readiness
 * composite, whose Sforce-Limit-Info header reports the usage too. Best effort: a failure here
 * leaves both unknown (the login itself succeeded; the previous readiness stands).
 */
export async function afterFullLogin (session: SalesforceSession, definition: ConnectionDefinition, deps: AfterLoginDeps): Promise<{ apiUsage?: ApiUsage, readiness?: ReadinessReport, apiRefusal?: ClassifiedFailure }> {
  const requirements = readinessRequirements(definition)
  await deps.bucket.take()
  if (!requirements) {
    const outcome = await deps.checkSession(session, definition.apiVersion).catch((err: unknown) => { deps.onError(err); return null })
    if (outcome && !outcome.ok && outcome.failure.classification === 'api_access_blocked') return { apiRefusal: outcome.failure }
    return outcome?.ok && outcome.apiUsage ? { apiUsage: outcome.apiUsage } : {}
  }
  const read = await deps.readReadiness(session, requirements, definition.apiVersion).catch((err: unknown) => { deps.onError(err); return null })
  // the login worked but the session may not call the API (API Access Control): that is the check's answer
  if (read && !read.ok && read.failure.classification === 'api_access_blocked') return { apiRefusal: read.failure }
  if (!read?.ok) return {}
  const readiness = evaluateReadiness(read.facts, requirements, { now: (deps.now ?? Date.now)(), warnDays: deps.passwordExpiryWarnDays })
  return { readiness, ...(read.apiUsage ? { apiUsage: read.apiUsage } : {}) }
}
