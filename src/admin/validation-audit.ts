import type { ClassifiedFailure } from '../salesforce/types.ts'
import { SecretStoreUnavailableError } from '../secrets/store.ts'
import { opensCircuit } from '../sessions/circuit.ts'
import type { LoginRefusal } from '../sessions/login-request.ts'

/**
 * The audit outcome of a validating login. A failure Salesforce did not judge (unreachable, a 5xx,
 * LOGIN_RATE_EXCEEDED: those that open no circuit) is an `error`, not a `rejected` candidate: whoever
 * reads the audit must not take an outage for wrong credentials.
 */
export function validationAuditOutcome (outcome: { ok: true } | { ok: false, failure: ClassifiedFailure }, judgedOk = true): 'success' | 'rejected' | 'error' {
  if (outcome.ok) return judgedOk ? 'success' : 'rejected'
  return opensCircuit(outcome.failure) ? 'rejected' : 'error'
}

/**
 * The audit outcome of a login the gate did not send. Held back to protect the user (its failure
 * count, a candidate Salesforce refused, an open circuit): `rejected`. Not sendable now (Redis down,
 * the hourly budget, another login still running, Salesforce struggling): an `error`, as an outage is.
 */
export function refusalAuditOutcome (refusal: LoginRefusal): 'rejected' | 'error' {
  return refusal.kind === 'guarded' || refusal.kind === 'candidate_failed' || refusal.kind === 'circuit_open' ? 'rejected' : 'error'
}

/** How an audit names a write the secret store did not take: unavailable (sealed, unreachable, a timeout) or another error. */
export function storeFailure (err: unknown): string {
  return err instanceof SecretStoreUnavailableError ? 'secret_store_unavailable' : 'secret_store_error'
}
