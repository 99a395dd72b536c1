import { evaluateReadiness, type ReadinessReport } from './readiness-evaluation.ts'
import type { ConnectionDefinition, SalesforceSession } from './types.ts'
import { readinessRequirements, readUserReadiness } from './user-readiness.ts'

export interface AssessOptions {
  timeoutMs: number
  /** warn this many days before a declared password expiry */
  warnDays: number
  now?: () => number
}

/**
 * Read and judge in one step, for a caller that only wants the verdict (admin validation): null
 * when the connection declares nothing, or when Salesforce could not be asked (the login worked;
 * the scheduled check will ask again).
 */
export async function assessUserReadiness (session: SalesforceSession, definition: ConnectionDefinition, opts: AssessOptions): Promise<ReadinessReport | null> {
  const requirements = readinessRequirements(definition)
  if (!requirements) return null
  const read = await readUserReadiness(session, requirements, { apiVersion: definition.apiVersion, timeoutMs: opts.timeoutMs })
  if (!read.ok) return null
  return evaluateReadiness(read.facts, requirements, { now: (opts.now ?? Date.now)(), warnDays: opts.warnDays })
}
