import { DomainError } from '../errors.ts'
import { daysLeft, isRetired, type FlowSunsetTable } from '../salesforce/flow-sunset.ts'
import type { Flow } from '../salesforce/types.ts'
import type { FlowWarning } from '../schemas/connection.ts'

export interface FlowSunsetPolicyOptions {
  sunsets: FlowSunsetTable
  /** the calendar the sunsets are compared with */
  now: () => number
  /** whether a connection of that name is stored already (a replacement is never refused) */
  exists: (name: string) => Promise<boolean>
}

/**
 * What the admin API says when a connection is written on a flow Salesforce retires: a warning
 * naming the date, and — once the date has passed — a refusal to create a new one unless the admin
 * accepts it explicitly (`?acceptRetiredFlow=true`: an org may still allow the flow for a while, or
 * a test may need one). Replacing an existing connection is never refused: rotating the password of
 * a connection being migrated must keep working.
 */
export function createFlowSunsetPolicy (opts: FlowSunsetPolicyOptions) {
  return async function flowWarnings (name: string, flow: Flow, acceptRetiredFlow: boolean): Promise<FlowWarning[]> {
    const sunset = opts.sunsets.get(flow)
    if (sunset === undefined) return []
    const now = opts.now()
    const moveTo = sunset.moveTo.join(' or ')
    if (isRetired(sunset, now)) {
      if (!acceptRetiredFlow && !await opts.exists(name)) {
        throw new DomainError('flow_retired', `Salesforce retired the ${flow} flow on ${sunset.date}; a new connection on it is not created`, {
          connection: name,
          hint: `Create the connection with ${moveTo} (README: "Flow retirement"). If this org still allows ${flow}, ` +
            'repeat the request with ?acceptRetiredFlow=true.',
        })
      }
      return [{ type: 'flow_sunset', flow, date: sunset.date, daysLeft: daysLeft(sunset, now), message: `Salesforce retired the ${flow} flow on ${sunset.date}: logins may fail at any time; move to ${moveTo}.` }]
    }
    return [{ type: 'flow_sunset', flow, date: sunset.date, daysLeft: daysLeft(sunset, now), message: `Salesforce retires the ${flow} flow on ${sunset.date}: move this connection to ${moveTo} before then.` }]
  }
}

export type FlowSunsetPolicy = ReturnType<typeof createFlowSunsetPolicy>

/** The policy of a broker: its sunsets and calendar; "exists" asks the admin service (a store read, errors as problems). */
export function flowSunsetPolicyOf (b: { flowSunsets: FlowSunsetTable, now: () => number, admin: { get (name: string): Promise<unknown> } }): FlowSunsetPolicy {
  return createFlowSunsetPolicy({
    sunsets: b.flowSunsets,
    now: b.now,
    exists: async (name) => {
      try {
        await b.admin.get(name)
        return true
      } catch (err) {
        if (err instanceof DomainError && err.code === 'not_found') return false
        throw err
      }
    },
  })
}
