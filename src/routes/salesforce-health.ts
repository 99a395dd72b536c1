import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { randomBytes } from 'node:crypto'
import { Type } from 'typebox'
import type { AuditLog } from '../admin/audit-log.ts'
import { HttpProblem, PROBLEM_CONTENT_TYPE } from '../errors.ts'
import type { SalesforceHealthService } from '../health/health-services.ts'
import { summarize, type ConnectionHealth, type SalesforceHealth } from '../health/schemas.ts'
import { ConnectionNameParams } from '../schemas/common.ts'
import { COMMON_PROBLEMS, problemResponses } from '../schemas/problem.ts'
import type { Leases } from '../shared-state/shared-state.ts'
import { healthCheckLease } from '../shared-state/state-names.ts'
import { optionalBody } from './optional-body.ts'

export interface SalesforceHealthRoutesOptions extends SalesforceHealthService {
  state: Leases
  audit: AuditLog
  /** HEALTH_DETAILS=public: everybody gets the full view, not only admins */
  publicDetails?: boolean
}

/** fleet-wide pause between two forced checks of one connection */
const FORCED_CHECK_COOLDOWN_MS = 10_000
const AUDIT_OUTCOME = { ok: 'success', warn: 'success', degraded: 'error', failing: 'rejected' } as const

const json = (schema: unknown) => ({ 'application/json': { schema } })
// Two views, told apart by `view`: the serializer picks the schema the answer matches, and the
// summary's schema has no field for a detail.
const report = { anyOf: [{ $ref: 'SalesforceHealth#' }, { $ref: 'SalesforceHealthSummary#' }] }
const problem = { $ref: 'Problem#' }

/**
 * Salesforce credential health. Public like the probes (monitoring reads it without a key), but
 * the public view is statuses only: Salesforce's words, hints, API usage and the circuit tell an
 * attacker which connection is fragile, so they need an admin credential (or HEALTH_DETAILS=public).
 * Never a secret or a token in either view. A forced check is an admin action: audited, and rationed
 * per connection across the fleet.
 */
const salesforceHealthRoutes: FastifyPluginAsyncTypebox<SalesforceHealthRoutesOptions> = async (app, opts) => {
  const { reporter, forceCheck, acknowledgeReset, state, audit } = opts

  app.get('/health/salesforce', {
    config: { auth: 'optional' },
    schema: {
      tags: ['health'],
      operationId: 'getSalesforceHealth',
      security: [{}, { bearer: [] }],
      summary: 'Salesforce credential health of every connection (or one)',
      description: 'The last scheduled validation of each connection, shared by every replica, with the live lockout circuit and cached-session expiry. 200 while nothing is failing (ok or degraded); 503 when a connection is failing: Salesforce refuses its credentials or logins are paused after it did. Without an admin credential the answer is the summary view (overall and per-connection status only), unless HEALTH_DETAILS=public; a credential that is sent must be valid (401 otherwise).',
      querystring: Type.Object({
        connection: Type.Optional(ConnectionNameParams.properties.name),
      }, { additionalProperties: false }),
      response: {
        ...problemResponses(...COMMON_PROBLEMS, 'unauthenticated', 'not_found', 'rate_limited', 'secret_store_unavailable'),
        200: { description: 'No connection is failing', content: json(report) },
        503: {
          description: 'A connection is failing (the report), or the secret store is unavailable (a problem)',
          content: { ...json(report), [PROBLEM_CONTENT_TYPE]: { schema: problem } },
        },
      },
    },
  }, async (request, reply) => {
    const name = request.query.connection
    let full: SalesforceHealth & { connections: ConnectionHealth[] }
    if (name === undefined) {
      full = await reporter.report()
    } else {
      const one = await reporter.connection(name)
      if (!one) throw new HttpProblem('not_found', `no connection named "${name}"`, { connection: name })
      full = { view: 'full', status: one.status, checkedAt: new Date().toISOString(), connections: [one] }
    }
    const detailed = opts.publicDetails === true || request.principal?.kind === 'admin'
    // monitoring must see the current state, not a cached one
    reply.header('cache-control', 'no-store').type('application/json')
    return reply.code(full.status === 'failing' ? 503 : 200).send(detailed ? full : summarize(full))
  })

  app.post('/health/salesforce/:name/check', {
    config: { auth: 'admin', role: 'operator' },
    preValidation: optionalBody,
    schema: {
      tags: ['health'],
      operationId: 'checkSalesforceHealth',
      summary: 'Validate a connection against Salesforce now (operator)',
      description: `Logs in with the stored secret now, unless the lockout circuit pauses logins (then the circuit's classification is reported and no login is made). One forced check per connection per ${Math.round(FORCED_CHECK_COOLDOWN_MS / 1000)} s across the fleet. Audited as health.check.`,
      security: [{ bearer: [] }],
      params: ConnectionNameParams,
      body: Type.Union([Type.Object({
        probe: Type.Optional(Type.Boolean({ description: 'After fixing the cause in Salesforce (unlocked the user, enabled the flow, added an IP range): log in with the stored secret now, even while the circuit pauses logins. Refused (429 login_guarded) when the failure guard leaves no room. Audited as health.probe.' })),
        failedLoginsReset: Type.Optional(Type.Boolean({ description: "The admin states that Salesforce's failed-login count of the connection's user is zero again (Setup > Users: unlocked, or the password reset). The failure guard's count, which otherwise lasts until a successful login, is reset. Without probe nothing is sent to Salesforce (store the new secret next); with probe the stored secret logs in at once. Audited as guard.reset." })),
      }, { additionalProperties: false }), Type.Null()]),
      response: {
        200: { description: "The connection's health after the check", content: json({ $ref: 'ConnectionHealth#' }) },
        ...problemResponses(...COMMON_PROBLEMS, 'unauthenticated', 'forbidden', 'not_found', 'rate_limited', 'login_guarded', 'login_guard_unavailable', 'login_budget_exhausted', 'login_wait_timeout', 'salesforce_unavailable', 'secret_store_unavailable'),
      },
    },
  }, async (request, reply) => {
    const { name } = request.params
    const actor = request.principal?.id ?? 'unknown'
    const requestId = String(request.id)
    // Deliberately never released: the lease is the cool-down.
    if (!await state.acquireLease(healthCheckLease(name), randomBytes(16).toString('hex'), FORCED_CHECK_COOLDOWN_MS)) {
      throw new HttpProblem('rate_limited', 'this connection was checked moments ago; try again later or read GET /health/salesforce', { connection: name }, Math.max(1, Math.ceil(FORCED_CHECK_COOLDOWN_MS / 1000)))
    }
    const probe = request.body?.probe === true
    const reset = request.body?.failedLoginsReset === true
    if (reset && !probe) {
      // the acknowledgement alone sends nothing: a check now would log in with the secret that just failed
      if (!await acknowledgeReset(name)) throw new HttpProblem('not_found', `no connection named "${name}"`, { connection: name })
      await audit.record({ actor, requestId, action: 'guard.reset', connection: name, outcome: 'success' })
      const view = await reporter.connection(name)
      if (!view) throw new HttpProblem('not_found', `no connection named "${name}"`, { connection: name })
      reply.type('application/json')
      return view
    }
    const result = await forceCheck(name, probe, reset)
    if (!result) throw new HttpProblem('not_found', `no connection named "${name}"`, { connection: name })
    if (result.guardReset) await audit.record({ actor, requestId, action: 'guard.reset', connection: name, outcome: 'success' })
    await audit.record({ actor, requestId, action: probe ? 'health.probe' : 'health.check', connection: name, outcome: AUDIT_OUTCOME[result.status], classification: result.classification, ...(result.target ? { target: result.target } : {}) })
    const view = await reporter.connection(name)
    if (!view) throw new HttpProblem('not_found', `no connection named "${name}"`, { connection: name })
    reply.type('application/json')
    return view
  })
}

export default salesforceHealthRoutes
