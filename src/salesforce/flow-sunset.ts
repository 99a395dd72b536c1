/**
 * The login flows Salesforce has announced an end for, in one table. Everything that speaks of the
 * retirement (health, the metric, the admin API's warnings and refusals, the hint of a failed
 * login) reads it from here, so a moved date is one configuration change
 * (FLOW_SUNSET_OAUTH_PASSWORD_DATE, FLOW_SUNSET_SOAP_DATE).
 *
 * Sources:
 * - OAuth 2.0 username-password flow for connected apps: release note rn_security_unpw_flow_retirement
 *   and help 005461976 — enforced 2027-02-20, no extension.
 * - SOAP login(): help 005132110 — not available in API 65.0+, retired for API 31.0–64.0 "in Summer '27".
 *   Salesforce named the release, not a day. The default below is an assumption: the first production
 *   wave of a Summer release has been mid-May (Summer '25: 2025-05-16), so 2027-05-14 warns no later
 *   than the earliest org could lose it. Set FLOW_SUNSET_SOAP_DATE to your instance's maintenance date.
 */
import type { ClassifiedFailure, Flow } from './types.ts'

export interface FlowSunset {
  flow: Flow
  /** YYYY-MM-DD (UTC): from this day on Salesforce refuses the flow */
  date: string
  /** epoch ms of 00:00 UTC that day */
  at: number
  /** the flows that survive, in the order Salesforce recommends them for server-to-server use */
  moveTo: Flow[]
  /** one line for an admin: what ends and why it matters */
  why: string
}

export type FlowSunsetTable = ReadonlyMap<Flow, FlowSunset>

/** Survivors: JWT bearer (several usernames per org), client credentials (one Run-As identity per org). */
const SURVIVORS: Flow[] = ['jwt_bearer', 'client_credentials']

const ANNOUNCED: Record<'oauth_password' | 'soap', { date: string, why: string }> = {
  oauth_password: {
    date: '2027-02-20',
    why: 'Salesforce retires the OAuth 2.0 username-password flow for connected apps (release update enforced 2027-02-20, no extension); logins with this connection will fail from that day.',
  },
  soap: {
    date: '2027-05-14',
    why: "Salesforce retires SOAP API login() for API 31.0–64.0 in Summer '27 (it is already absent from API 65.0+ and off by default in new orgs); logins with this connection will fail from that day.",
  },
}

const DAY_MS = 86_400_000
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/

/** Epoch ms of a YYYY-MM-DD calendar date at 00:00 UTC, or undefined when it is not one (2027-02-30). */
export function parseSunsetDate (text: string): number | undefined {
  const m = DATE.exec(text)
  if (m === null) return undefined
  const at = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))
  return new Date(at).toISOString().slice(0, 10) === text ? at : undefined
}

/** The table with configured dates over the announced ones. Throws on a date that is not a calendar date. */
export function flowSunsetTable (overrides: Partial<Record<'oauth_password' | 'soap', string | undefined>> = {}): FlowSunsetTable {
  const table = new Map<Flow, FlowSunset>()
  for (const flow of ['oauth_password', 'soap'] as const) {
    const date = overrides[flow] ?? ANNOUNCED[flow].date
    const at = parseSunsetDate(date)
    if (at === undefined) throw new Error(`sunset date of ${flow} "${date}" is not a YYYY-MM-DD calendar date`)
    table.set(flow, { flow, date, at, moveTo: [...SURVIVORS], why: ANNOUNCED[flow].why.replace(ANNOUNCED[flow].date, date) })
  }
  return table
}

/** Whole days from `now` until the sunset, rounded up (the day before is 1); 0 or less once it has come. */
export function daysLeft (sunset: FlowSunset, now: number): number {
  return Math.ceil((sunset.at - now) / DAY_MS)
}

export function isRetired (sunset: FlowSunset, now: number): boolean {
  return now >= sunset.at
}

/**
 * After the sunset, Salesforce answers the retired flow with its usual catch-all ("authentication
 * failure", INVALID_LOGIN): the likeliest cause is then the retirement, not the password.
 */
export function retirementHint (sunset: FlowSunset): string {
  return `Salesforce retired the ${sunset.flow} flow on ${sunset.date}: this refusal is most likely the retirement, not the password. ` +
    `Move the connection to ${sunset.moveTo.join(' or ')} (README: "Flow retirement"); ` +
    'if the org still allows the flow, check the password, security token and lockout as usual (Login History shows the real reason).'
}

/** The failure, with the retirement named in its hint when the flow's sunset has passed and Salesforce answered with its catch-all. */
export function retiredFlowFailure (failure: ClassifiedFailure, sunset: FlowSunset | undefined, now: number): ClassifiedFailure {
  if (sunset === undefined || !isRetired(sunset, now)) return failure
  if (failure.classification !== 'invalid_credentials' && failure.classification !== 'flow_not_enabled') return failure
  return { ...failure, hint: retirementHint(sunset) }
}
