import type { BrokerMetrics } from '../metrics/metrics.ts'
import type { ApiUsage } from '../salesforce/types.ts'
import type { HealthStatus } from './health-result.ts'

const STATUS_VALUE: Record<HealthStatus, number> = { ok: 1, warn: 0.75, degraded: 0.5, failing: 0 }

export interface GaugeInput {
  status: HealthStatus
  circuitOpen: boolean
  apiUsage?: ApiUsage
  /** from the last full check's readiness; absent when the connection declares nothing */
  readiness?: { missingPermissions: unknown[], excessPermissions?: unknown[], password?: { expiresAt?: number | string } }
}

/** The validation gauge from the status health shows (dated warnings and an open circuit included). */
export function setValidationStatus (metrics: BrokerMetrics, connection: string, status: HealthStatus): void {
  metrics.validationStatus.set({ connection }, STATUS_VALUE[status])
}

export function updateHealthGauges (metrics: BrokerMetrics, connection: string, g: GaugeInput): void {
  metrics.validationStatus.set({ connection }, STATUS_VALUE[g.status])
  metrics.circuitOpen.set({ connection }, g.circuitOpen ? 1 : 0)
  if (g.apiUsage && g.apiUsage.max > 0) metrics.apiUsage.set({ connection }, g.apiUsage.used / g.apiUsage.max)
  if (g.readiness) metrics.missingPermissions.set({ connection }, g.readiness.missingPermissions.length)
  else metrics.missingPermissions.remove({ connection })
  if (g.readiness?.excessPermissions) metrics.excessPermissions.set({ connection }, g.readiness.excessPermissions.length)
  else metrics.excessPermissions.remove({ connection })
  // epoch ms in the stored result, an ISO date in the view another replica's result is read through
  const expiresAt = g.readiness?.password?.expiresAt
  const expiresMs = typeof expiresAt === 'string' ? Date.parse(expiresAt) : expiresAt
  if (expiresMs !== undefined && Number.isFinite(expiresMs)) metrics.passwordExpiry.set({ connection }, Math.round(expiresMs / 1000))
  else metrics.passwordExpiry.remove({ connection })
}

/** A deleted connection must not linger in the metrics. */
export function removeHealthGauges (metrics: BrokerMetrics, connection: string): void {
  metrics.validationStatus.remove({ connection })
  metrics.circuitOpen.remove({ connection })
  metrics.apiUsage.remove({ connection })
  metrics.missingPermissions.remove({ connection })
  metrics.excessPermissions.remove({ connection })
  metrics.passwordExpiry.remove({ connection })
}
