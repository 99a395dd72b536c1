import type { BrokerMetrics } from '../metrics/metrics.ts'
import type { ApiUsage } from '../salesforce/types.ts'
import type { HealthStatus } from './health-result.ts'

const STATUS_VALUE: Record<HealthStatus, number> = { ok: 1, degraded: 0.5, failing: 0 }

export interface GaugeInput {
  status: HealthStatus
  circuitOpen: boolean
  apiUsage?: ApiUsage
}

export function updateHealthGauges (metrics: BrokerMetrics, connection: string, g: GaugeInput): void {
  metrics.validationStatus.set({ connection }, STATUS_VALUE[g.status])
  metrics.circuitOpen.set({ connection }, g.circuitOpen ? 1 : 0)
  if (g.apiUsage && g.apiUsage.max > 0) metrics.apiUsage.set({ connection }, g.apiUsage.used / g.apiUsage.max)
}

/** A deleted connection must not linger in the metrics. */
export function removeHealthGauges (metrics: BrokerMetrics, connection: string): void {
  metrics.validationStatus.remove({ connection })
  metrics.circuitOpen.remove({ connection })
  metrics.apiUsage.remove({ connection })
}
