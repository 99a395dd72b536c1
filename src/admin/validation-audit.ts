import type { ClassifiedFailure } from '../salesforce/types.ts'
import { opensCircuit } from '../sessions/circuit.ts'

/**
 * The audit outcome of a validating login. A failure Salesforce did not judge (unreachable, a 5xx,
 * LOGIN_RATE_EXCEEDED: those that open no circuit) is an `error`, not a `rejected` candidate: whoever
 * reads the audit must not take an outage for wrong credentials.
 */
export function validationAuditOutcome (outcome: { ok: true } | { ok: false, failure: ClassifiedFailure }, judgedOk = true): 'success' | 'rejected' | 'error' {
  if (outcome.ok) return judgedOk ? 'success' : 'rejected'
  return opensCircuit(outcome.failure) ? 'rejected' : 'error'
}
