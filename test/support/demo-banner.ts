import { preRetirementDay } from '../../scripts/demo.ts'

/**
 * Where the demo (scripts/demo.ts) listens, read from its banner: the broker (its Health line) and
 * the Salesforce simulator. Tests start it on PORT=0, so the banner is the only place that says.
 */
export function demoAddresses (banner: string): { base: string, sim: string } {
  const sim = /Salesforce simulator: (http:\/\/127\.0\.0\.1:\d+)/.exec(banner)?.[1]
  const base = /Health: (http:\/\/127\.0\.0\.1:\d+)\/health/.exec(banner)?.[1]
  if (sim === undefined || base === undefined) throw new Error(`no addresses in the demo's banner: ${banner}`)
  return { base, sim }
}

/**
 * The demo on any day as on the days before 2027-02-20: its username-password connection's flow ends
 * on the day its banner suggests (preRetirementDay: 60 days ahead, inside health's 90-day warning),
 * for the broker (FLOW_SUNSET_OAUTH_PASSWORD_DATE) and for the demo's simulator, which takes the same date. Past the real date both would refuse the flow,
 * and a test of the README's journeys would start failing on a day of the calendar.
 */
export function demoCalendar (now = Date.now()): Record<string, string> {
  return { FLOW_SUNSET_OAUTH_PASSWORD_DATE: preRetirementDay(now) }
}
