import { Type, type Static } from 'typebox'
import type { BrokerMetrics } from '../metrics/metrics.ts'
import { daysLeft, type FlowSunsetTable } from '../salesforce/flow-sunset.ts'
import { FLOWS, type Flow } from '../salesforce/types.ts'
import { warnAhead, type Verdict } from './dated-warning.ts'

/**
 * A connection's flow sunset as health shows it (admin view only). Computed when the report is
 * put together, not stored with the validation: the days run down without any check.
 */
export const FlowSunsetSchema = Type.Object({
  flow: Type.Enum(FLOWS, { description: 'The connection\'s login flow, which Salesforce retires' }),
  date: Type.String({ format: 'date', description: 'From this day (UTC) Salesforce refuses the flow (FLOW_SUNSET_* overrides the announced date)' }),
  daysLeft: Type.Integer({ description: 'Whole days until then; 0 or less once it has passed' }),
  moveTo: Type.Array(Type.Enum(FLOWS), { description: 'The flows that survive: jwt_bearer, client_credentials' }),
  why: Type.String({ description: 'What ends, in one line' }),
}, { additionalProperties: false, description: 'The announced end of this connection\'s login flow; inside FLOW_SUNSET_WARN_DAYS the connection is warn' })
export type FlowSunsetView = Static<typeof FlowSunsetSchema>

export function flowSunsetView (flow: Flow, sunsets: FlowSunsetTable, now: number): FlowSunsetView | undefined {
  const sunset = sunsets.get(flow)
  if (sunset === undefined) return undefined
  return { flow, date: sunset.date, daysLeft: daysLeft(sunset, now), moveTo: [...sunset.moveTo], why: sunset.why }
}

/** Inside the window an ok connection becomes warn: it works today and will not on that day (see warnAhead). */
export function sunsetVerdict (current: Verdict, sunset: FlowSunsetView | undefined, warnDays: number): Verdict {
  if (sunset === undefined) return current
  return warnAhead(current, sunset.daysLeft, warnDays, when => ({
    message: `Salesforce retires the ${sunset.flow} flow on ${sunset.date} (${when}); this connection still logs in with it`,
    hint: `Move the connection to ${sunset.moveTo.join(' or ')} before ${sunset.date} (README: "Flow retirement").`,
  }))
}

/** One series per connection on a flow with an announced end; none for the others. */
export function updateFlowSunsetGauge (metrics: BrokerMetrics, connection: string, flow: Flow, sunsets: FlowSunsetTable): void {
  for (const other of FLOWS) {
    if (other !== flow) metrics.flowSunset.remove({ connection, flow: other })
  }
  const sunset = sunsets.get(flow)
  if (sunset === undefined) metrics.flowSunset.remove({ connection, flow })
  else metrics.flowSunset.set({ connection, flow }, sunset.at / 1000)
}

export function removeFlowSunsetGauge (metrics: BrokerMetrics, connection: string): void {
  for (const flow of FLOWS) metrics.flowSunset.remove({ connection, flow })
}
