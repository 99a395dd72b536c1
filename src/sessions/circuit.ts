import type { ClassifiedFailure } from '../salesforce/types.ts'
import type { Static } from 'typebox'
import type { ConnectionMetadataSchema } from '../schemas/connection.ts'
import type { CircuitState } from '../shared-state/shared-state.ts'

export interface CircuitPolicy {
  baseCooldownMs: number
  maxCooldownMs: number
}

/**
 * Whether a login failure pauses all logins with that secret: every credential-class failure, and
 * any failure that retrying can't fix (an unrecognised refusal might be a bad password too).
 */
export function opensCircuit (failure: ClassifiedFailure): boolean {
  return failure.credentialFailure || !failure.retryable
}

/**
 * The lockout guard's decision. A circuit opened for an older secret version doesn't apply:
 * a new secret deserves a login. For the current version, nobody logs in before `retryAt`;
 * from then on the one process holding the connection's login lease may probe once.
 */
export function circuitBlocks (state: CircuitState | null, secretVersion: number, now: number): state is CircuitState {
  return state !== null && state.secretVersion === secretVersion && now < state.retryAt
}

/** The circuit after one more credential failure: the pause doubles each time, with ±10 % jitter so replicas don't probe in step. */
export function openCircuit (previous: CircuitState | null, secretVersion: number, failure: ClassifiedFailure, policy: CircuitPolicy, now = Date.now(), random = Math.random): CircuitState {
  const failures = previous && previous.secretVersion === secretVersion ? previous.failures + 1 : 1
  const cooldown = Math.min(policy.baseCooldownMs * 2 ** (failures - 1), policy.maxCooldownMs)
  const jittered = Math.round(cooldown * (0.9 + random() * 0.2))
  return {
    secretVersion,
    classification: failure.classification,
    message: failure.message,
    hint: failure.hint,
    failures,
    openedAt: previous && previous.secretVersion === secretVersion ? previous.openedAt : now,
    retryAt: now + jittered,
  }
}

export function retryAfterSeconds (state: CircuitState, now: number): number {
  return Math.max(1, Math.ceil((state.retryAt - now) / 1000))
}

/** The circuit as connection metadata and health show it: closed unless it belongs to this secret version. */
export function circuitView (c: CircuitState | null, version: number, now: number): Static<typeof ConnectionMetadataSchema>['circuit'] {
  if (!c || c.secretVersion !== version) return { state: 'closed' }
  return {
    state: now < c.retryAt ? 'open' : 'half_open',
    classification: c.classification,
    failures: c.failures,
    retryAt: new Date(c.retryAt).toISOString(),
  }
}

/** The one sentence every answer (session refusal, health, admin check) gives while the circuit holds logins back. */
export function pausedMessage (c: CircuitState): string {
  return `logins are paused after Salesforce answered: ${c.message}`
}
