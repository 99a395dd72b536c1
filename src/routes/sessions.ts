import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { HttpProblem } from '../errors.ts'
import { grantFor } from '../auth/principals.ts'
import { ConnectionNameParams } from '../schemas/common.ts'
import { COMMON_PROBLEMS, problemResponses } from '../schemas/problem.ts'
import { SessionRequestSchema } from '../schemas/session.ts'
import type { SessionService } from '../sessions/session-service.ts'
import { sessionJson } from './session-answer.ts'
import type { SessionHandoutAudit } from '../admin/session-handouts.ts'

export interface SessionRoutesOptions {
  sessions: SessionService
  /** audit of the sessions handed out (who holds which session) */
  handouts?: SessionHandoutAudit
}

/** The broker's main job: a Salesforce session for an internal service, in one call. */
const sessionRoutes: FastifyPluginAsyncTypebox<SessionRoutesOptions> = async (app, { sessions, handouts }) => {
  app.post('/v1/connections/:name/session', {
    config: { auth: 'service' },
    // an empty POST is the common case: treat a missing body as {}
    preValidation: (request, reply, done) => {
      request.body ??= {}
      done()
    },
    schema: {
      tags: ['sessions'],
      operationId: 'getSession',
      summary: 'Get a Salesforce session for a connection',
      description: 'Returns the cached session, or logs in once for every concurrent caller and replica. Answers 503 with the failure class and an admin hint while logins are paused after a credential failure, and 503 flow_retired without a login once Salesforce\'s announced end of the connection\'s flow has passed.',
      security: [{ bearer: [] }],
      params: ConnectionNameParams,
      body: SessionRequestSchema,
      response: {
        200: { description: 'A usable session', content: { 'application/json': { schema: { $ref: 'Session#' } } } },
        ...problemResponses(...COMMON_PROBLEMS, 'unauthenticated', 'forbidden', 'proxy_only', 'not_found', 'rate_limited',
          'salesforce_login_failed', 'circuit_open', 'salesforce_unavailable', 'login_wait_timeout', 'secret_store_unavailable', 'shutting_down', 'flow_retired',
          'login_guarded', 'login_guard_unavailable', 'login_budget_exhausted', 'session_renewal_throttled'),
      },
    },
  }, (request, reply) => {
    const { name } = request.params
    const principal = request.principal
    // Checked before looking the connection up: a caller without a grant can't learn which connections exist.
    const grant = principal ? grantFor(principal, name) : undefined
    if (!principal || !grant) throw new HttpProblem('forbidden', 'this caller has no grant for that connection')
    if (principal.sessions === false) throw new HttpProblem('proxy_only', 'this caller is proxy-only: call Salesforce through /v1/connections/{name}/salesforce/services/...')
    // a session allows whatever the integration user may do: rules would bind the proxy alone
    if (grant.rules) throw new HttpProblem('proxy_only', 'this caller\'s grant on that connection has rules: call Salesforce through /v1/connections/{name}/salesforce/services/..., where they apply')
    // cache-control: no-store is the auth hook's, on every authenticated answer
    reply.header('pragma', 'no-cache').type('application/json; charset=utf-8')
    // the common case answers without an await; anything needing I/O goes through getSession.
    // The answer is JSON text already (the Session schema's fields, see session-answer.ts).
    const hit = sessions.cachedInProcess(name, request.body?.rejectedToken)
    if (hit) {
      handouts?.record(principal.id, hit, String(request.id))
      // sent, not returned: a returned reply is a thenable Fastify would wait on (two closures per request)
      reply.send(sessionJson(hit))
      return
    }
    return sessions.getSession(name, request.body?.rejectedToken, principal.id).then((issued) => {
      handouts?.record(principal.id, issued, String(request.id))
      return reply.send(sessionJson(issued))
    })
  })
}

export default sessionRoutes
