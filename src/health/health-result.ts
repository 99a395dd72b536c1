import { loginRestrictionHint, readinessHint, readinessMessage, type ReadinessReport } from '../salesforce/readiness-evaluation.ts'
import type { ApiUsage, ClassifiedFailure, Classification } from '../salesforce/types.ts'
import type { UnpwFlowSetting } from '../salesforce/unpw-flow-setting.ts'
import { opensCircuit } from '../sessions/circuit.ts'

/**
 * `warn`: the login works, but the integration user is not ready for what the connection declares
 * (a required permission is missing, the password expires soon): act before integrations fail.
 */
export type HealthStatus = 'ok' | 'warn' | 'degraded' | 'failing'

/**
 * A Salesforce classification, or why there is no fresh one: never validated yet, the last
 * validation is too old (the scheduler is off or stuck), or the secret could not be read.
 */
export type HealthClassification = Classification | 'not_checked' | 'stale' | 'secret_store_unavailable' | 'flow_retired' | 'login_guarded' | 'login_budget_exhausted'

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
  /** the integration user's readiness from the last full check that read it (this secret version) */
  readiness?: ReadinessReport
  /** oauth_password: the org's "block the username-password flow" setting, as last read (this secret version) */
  unpwFlow?: UnpwFlowRead
}

/** The setting as read, and when (epoch ms). */
export type UnpwFlowRead = UnpwFlowSetting & { readAt: number }

/** A check's own outcome, before it is merged with the connection's history. */
export interface CheckOutcome {
  status: HealthStatus
  classification: HealthClassification
  message?: string
  hint?: string
  checkKind: CheckKind
  latencyMs?: number
  apiUsage?: ApiUsage
  /** read right after a full login (only when the connection declares requirements) */
  readiness?: ReadinessReport
  /** read with the session in hand (oauth_password connections only) */
  unpwFlow?: UnpwFlowRead
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
  const readiness = outcome.readiness ?? (sameSecret ? previous.readiness : undefined)
  const unpwFlow = outcome.unpwFlow ?? (sameSecret ? previous.unpwFlow : undefined)
  const { status, message, hint } = withReadiness(outcome, readiness)
  return {
    connection,
    secretVersion,
    status,
    classification: outcome.classification,
    ...(message ? { message } : {}),
    ...(hint ? { hint } : {}),
    checkKind: outcome.checkKind,
    checkedAt: now,
    ...(lastSuccessAt === undefined ? {} : { lastSuccessAt }),
    ...(lastFullAt === undefined ? {} : { lastFullAt }),
    consecutiveFailures: ok ? 0 : (previous?.consecutiveFailures ?? 0) + 1,
    ...(outcome.latencyMs === undefined ? {} : { latencyMs: outcome.latencyMs }),
    ...(apiUsage ? { apiUsage } : {}),
    ...(readiness ? { readiness } : {}),
    ...(unpwFlow ? { unpwFlow } : {}),
  }
}

/**
 * A working login with an unready user is `warn`, with the findings as message and hint. A login
 * refused for its address or time names the settings, and the address Salesforce last saw.
 */
function withReadiness (outcome: CheckOutcome, readiness: ReadinessReport | undefined): Pick<CheckOutcome, 'status' | 'message' | 'hint'> {
  if (outcome.status === 'ok' && readiness?.status === 'warn') {
    return { status: 'warn', message: readinessMessage(readiness), hint: readinessHint(readiness) }
  }
  return { status: outcome.status, message: outcome.message, hint: hintFor(outcome.classification, outcome.hint, readiness) }
}

/** The hint to show for a classification: a login refused for its address or time also says where Salesforce last saw the user log in from. */
export function hintFor (classification: string, hint: string | undefined, readiness: ReadinessReport | undefined): string | undefined {
  return classification === 'ip_or_hours_restricted' ? loginRestrictionHint(readiness?.lastLogin) : hint
}

/** The worst status wins; no connections at all is ok. */
export function overallStatus (statuses: HealthStatus[]): HealthStatus {
  if (statuses.includes('failing')) return 'failing'
  if (statuses.includes('degraded')) return 'degraded'
  if (statuses.includes('warn')) return 'warn'
  return 'ok'
}
