import type { FastifyInstance, preHandlerHookHandler } from 'fastify'
import type { AuditLog } from '../admin/audit-log.ts'
import { PROBLEMS } from '../errors.ts'
import { problemResponses } from '../schemas/problem.ts'

const READS = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * Vault's rule for admin writes: the request is recorded in the durable audit before it is acted
 * on, and refused (503 audit_unavailable) when no sink can take the record. Runs after
 * authentication and validation, before the handler: a refused write has touched nothing.
 */
export function registerAuditGate (app: FastifyInstance, audit: AuditLog): void {
  // callback style: only an admin's write waits
  const gate: preHandlerHookHandler = (request, reply, done) => {
    const principal = request.principal
    if (!principal || principal.kind !== 'admin' || READS.has(request.method)) return done()
    const params = request.params as { name?: unknown } | undefined
    audit.admit({
      actor: principal.id,
      requestId: String(request.id),
      method: request.method,
      route: request.routeOptions.url ?? request.url.split('?')[0],
      ...(typeof params?.name === 'string' ? { connection: params.name } : {}),
    }).then(() => done(), done)
  }
  app.addHook('onRoute', (route) => {
    const methods = [route.method].flat()
    if (methods.every(m => READS.has(m))) return
    // on the routes an admin principal can reach (auth 'admin', or 'optional', which admits any
    // principal): the session and proxy routes (auth 'service') do not pay a hook for it
    if (route.config?.auth === 'admin' || route.config?.auth === 'optional') {
      route.preHandler = [...[route.preHandler ?? []].flat(), gate]
    }
    // every admin write may answer 503 audit_unavailable: said once here for the OpenAPI document
    const admin = route.config?.auth === 'admin' || route.url.startsWith('/v1/admin/')
    if (!admin || !route.schema?.response) return
    const responses = route.schema.response as Record<number, { description: string }>
    const refusal = `audit_unavailable: ${PROBLEMS.audit_unavailable.title}`
    route.schema.response = responses[503]
      ? { ...responses, 503: { ...responses[503], description: `${responses[503].description}; ${refusal}` } }
      : { ...responses, ...problemResponses('audit_unavailable') }
  })
}
