import { Type, type Static } from 'typebox'
import { CLASSIFICATIONS } from '../salesforce/types.ts'
import { CircuitSchema } from '../schemas/connection.ts'
import { FlowSunsetSchema } from './flow-sunset-view.ts'
import { CertificateHealthSchema } from './certificate-view.ts'
import { DriftWarningSchema, UnpwFlowViewSchema } from './drift-view.ts'
import { ReadinessViewSchema } from './readiness-view.ts'

const Status = Type.Union([Type.Literal('ok'), Type.Literal('warn'), Type.Literal('degraded'), Type.Literal('failing')], {
  description: 'ok; warn: the login works but the integration user is not ready (a required permission is missing, the password expires soon) or Salesforce retires its login flow within FLOW_SUNSET_WARN_DAYS; degraded: a transient problem (Salesforce unreachable, rate or API limits) or no recent check; failing: Salesforce refuses the credentials, or logins are paused after it did',
})

const Classification = Type.Enum([...CLASSIFICATIONS, 'not_checked', 'stale', 'secret_store_unavailable', 'flow_retired', 'login_guarded', 'login_budget_exhausted'], {
  description: 'The Salesforce failure class of the last check, or why there is no fresh one (flow_retired: the flow\'s announced end has passed, no login was sent; ' +
    'login_guarded: the failure guard holds password logins of the user one short of its lockout; login_budget_exhausted: the broker\'s hourly login budget of the user is spent — ' +
    'login_rate_exceeded is kept for Salesforce\'s own LOGIN_RATE_EXCEEDED)',
})

/**
 * What an admin sees of a connection's health (or everybody, with HEALTH_DETAILS=public):
 * statuses and Salesforce's words, never a secret or a token. A field added here is admin-only:
 * the public summary below lists its own fields.
 */
export const ConnectionHealthSchema = Type.Object({
  connection: Type.String(),
  status: Status,
  classification: Classification,
  message: Type.Optional(Type.String({ description: "Salesforce's answer, or why no check was made" })),
  hint: Type.Optional(Type.String({ description: 'What an admin should check in Salesforce Setup' })),
  checkKind: Type.Union([Type.Literal('cheap'), Type.Literal('full'), Type.Literal('none')], {
    description: 'cheap: the cached session was checked; full: logged in with the secret; none: no call was made (logins paused, secret unreadable, never checked)',
  }),
  secretVersion: Type.Optional(Type.Integer({ description: 'The secret version the result is about' })),
  lastCheckedAt: Type.Optional(Type.String({ format: 'date-time' })),
  lastSuccessAt: Type.Optional(Type.String({ format: 'date-time' })),
  lastFullCheckAt: Type.Optional(Type.String({ format: 'date-time' })),
  consecutiveFailures: Type.Integer({ minimum: 0 }),
  latencyMs: Type.Optional(Type.Integer({ minimum: 0 })),
  circuit: CircuitSchema,
  sessionValidUntil: Type.Optional(Type.String({ format: 'date-time', description: 'Until when the cached session is handed out' })),
  apiUsage: Type.Optional(Type.Object({
    used: Type.Integer({ minimum: 0 }),
    max: Type.Integer({ minimum: 0 }),
  }, { additionalProperties: false, description: "The org's daily API requests (DailyApiRequests)" })),
  readiness: Type.Optional(ReadinessViewSchema),
  flowSunset: Type.Optional(FlowSunsetSchema),
  certificate: Type.Optional(CertificateHealthSchema),
  usernamePasswordFlow: Type.Optional(UnpwFlowViewSchema),
  drift: Type.Optional(Type.Array(DriftWarningSchema, { description: 'Org drift: a generic or instanced login host, the org or My Domain behind the connection changed, the username-password flow blocked; an ok connection with drift is warn' })),
  loginBudget: Type.Optional(Type.Object({
    used: Type.Integer({ minimum: 0 }),
    limit: Type.Integer({ minimum: 0 }),
  }, { additionalProperties: false, description: "Logins of the connection's Salesforce user in the rolling hour (every connection and flow of that user), against SALESFORCE_LOGINS_PER_HOUR. Above 80 % only session misses and admin actions log in." })),
  loginGuard: Type.Optional(Type.Object({
    failures: Type.Integer({ minimum: 0, description: "Failed logins of the user the broker made (or gave up on) since the user's last successful login or an admin's reset: like Salesforce's own count, it does not expire with time" }),
    lockoutThreshold: Type.Integer({ description: 'LOCKOUT_THRESHOLD: the broker stops one short of it' }),
    blocked: Type.Boolean({ description: 'true while the guard sends no password login for this user: until a successful login of another path, or an admin resets it (POST …/check {"probe": true, "failedLoginsReset": true})' }),
    source: Type.Union([Type.Literal('fleet'), Type.Literal('replica')], { description: "Where the count was read: fleet = Redis, shared by every replica; replica = this replica's own memory while Redis is unreachable (password logins are paused then)" }),
    reliedOn: Type.Union([Type.Literal('broker'), Type.Literal('salesforce')], { description: "broker: the failed logins the broker made and counted; salesforce: Salesforce's own count (User.NumberOfFailedLogins, UserLogin.IsPasswordLocked), read through a working session of the same org whose user may read user administration data" }),
    salesforce: Type.Optional(Type.Object({
      failedLogins: Type.Integer({ minimum: 0 }),
      locked: Type.Boolean(),
      readAt: Type.String({ format: 'date-time' }),
      via: Type.String({ description: 'The connection whose session read it' }),
    }, { additionalProperties: false, description: 'What Salesforce said when last asked' })),
  }, { additionalProperties: false, description: "The failure guard of the connection's Salesforce user" })),
}, { $id: 'ConnectionHealth', additionalProperties: false })
export type ConnectionHealth = Static<typeof ConnectionHealthSchema>

export const SalesforceHealthSchema = Type.Object({
  view: Type.Literal('full', { description: 'The detailed view: admin callers, or everybody with HEALTH_DETAILS=public' }),
  status: Status,
  checkedAt: Type.String({ format: 'date-time', description: 'When this report was put together' }),
  connections: Type.Array(Type.Ref('ConnectionHealth')),
}, { $id: 'SalesforceHealth', additionalProperties: false })
export type SalesforceHealth = Static<typeof SalesforceHealthSchema>

/** What anybody sees of one connection: its name and status, nothing Salesforce said. */
export const ConnectionHealthSummarySchema = Type.Object({
  connection: Type.String(),
  status: Status,
}, { additionalProperties: false })

/**
 * The public view of /health/salesforce. Its own schema, not the full one with fields left out:
 * the serializer drops whatever is not listed, so no detail can ride along.
 */
export const SalesforceHealthSummarySchema = Type.Object({
  view: Type.Literal('summary', { description: 'Statuses only: send an admin credential for messages, hints, API usage and circuit detail' }),
  status: Status,
  checkedAt: Type.String({ format: 'date-time', description: 'When this report was put together' }),
  connections: Type.Array(ConnectionHealthSummarySchema),
}, { $id: 'SalesforceHealthSummary', additionalProperties: false })
export type SalesforceHealthSummary = Static<typeof SalesforceHealthSummarySchema>

/** The public view of a report, built field by field so nothing added to the full view leaks into it. */
export function summarize (report: { status: SalesforceHealth['status'], checkedAt: string, connections: ConnectionHealth[] }): SalesforceHealthSummary {
  return {
    view: 'summary',
    status: report.status,
    checkedAt: report.checkedAt,
    connections: report.connections.map(c => ({ connection: c.connection, status: c.status })),
  }
}
