import type { ApiUsage, ClassifiedFailure, Classification } from '../salesforce/types.ts'
import { opensCircuit } from '../sessions/circuit.ts'

export type HealthStatus = 'ok' | 'degraded' | 'failing'

/**
 * A Salesforce classification, or why there is no fresh one: never validated yet, the last
 * validation is too old (the scheduler is off or stuck), or the secret could not be read.
 */
export type HealthClassification = Classification | 'not_checked' | 'stale' | 'secret_store_unavailable'

/**
 * How the result was obtained: `cheap` asked Salesforce about the cached session, `full` logged in
 * with the secret, `none` made no call (logins are paused by the circuit, or the secret was unreadable).
 */
export type CheckKind = 'cheap' | 'full' | 'none'

/** One connection's latest validation, as kept in shared state so every replica reports the same. */
export interface StoredHealth {
  connection: string
  /** the secret version validated */
  secretVersion: number
  status: HealthStatus
  classification: HealthClassification
  message?: string
  hint?: string
  checkKind: CheckKind
  /** epoch ms */
  checkedAt: number
  lastSuccessAt?: number
  /** epoch ms of the last full login attempt with this secret version */
  lastFullAt?: number
  consecutiveFailures: number
  latencyMs?: number
  /** the last known daily API usage (kept from an earlier check when this one could not read it) */
  apiUsage?: ApiUsage
}

/** A check's own outcome, before it is merged with the connection's history. */
export interface CheckOutcome {
  status: HealthStatus
  classification: HealthClassification
  message?: string
  hint?: string
  checkKind: CheckKind
  latencyMs?: number
  apiUsage?: ApiUsage
}

export function healthKey (connection: string): string {
  return `health:${connection}`
}

/**
 * A failure that Salesforce will answer the same way until someone changes the secret or the org's
 * settings is `failing`; one that may pass on its own (network, rate and API limits) is `degraded`.
 * Whatever opens the lockout circuit is failing.
 */
export function statusOfFailure (failure: ClassifiedFailure): HealthStatus {
  return opensCircuit(failure) ? 'failing' : 'degraded'
}

export function failureOutcome (failure: ClassifiedFailure, checkKind: CheckKind, latencyMs?: number): CheckOutcome {
  return {
    status: statusOfFailure(failure),
    classification: failure.classification,
    message: failure.message,
    hint: failure.hint,
    checkKind,
    ...(latencyMs === undefined ? {} : { latencyMs }),
  }
}

/** Folds a check's outcome into the connection's history. */
export function nextHealth (connection: string, secretVersion: number, outcome: CheckOutcome, previous: StoredHealth | null, now = Date.now()): StoredHealth {
  const sameSecret = previous !== null && previous.secretVersion === secretVersion
  const ok = outcome.status === 'ok'
  const lastSuccessAt = ok ? now : previous?.lastSuccessAt
  const lastFullAt = outcome.checkKind === 'full' ? now : sameSecret ? previous.lastFullAt : undefined
  const apiUsage = outcome.apiUsage ?? previous?.apiUsage
  return {
    connection,
    secretVersion,
    status: outcome.status,
    classification: outcome.classification,
    ...(outcome.message ? { message: outcome.message } : {}),
    ...(outcome.hint ? { hint: outcome.hint } : {}),
    checkKind: outcome.checkKind,
    checkedAt: now,
    ...(lastSuccessAt === undefined ? {} : { lastSuccessAt }),
    ...(lastFullAt === undefined ? {} : { lastFullAt }),
    consecutiveFailures: ok ? 0 : (previous?.consecutiveFailures ?? 0) + 1,
    ...(outcome.latencyMs === undefined ? {} : { latencyMs: outcome.latencyMs }),
    ...(apiUsage ? { apiUsage } : {}),
  }
}

/** The worst status wins; no connections at all is ok. */
export function overallStatus (statuses: HealthStatus[]): HealthStatus {
  if (statuses.includes('failing')) return 'failing'
  if (statuses.includes('degraded')) return 'degraded'
  return 'ok'
}
