import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { AdminContext } from '../admin/admin-context.ts'

/**
 * The If-Match header of a switch (a migration's, a certificate or consumer-secret rotation's): one
 * sent and not read would make an unconditional switch of a request its admin made conditional
 * (RFC 9110 §13.1.1).
 */
export const SwitchIfMatchHeaders = Type.Object({
  'if-match': Type.Optional(Type.String({ pattern: '^(W/)?"?[0-9]{1,9}"?$', description: 'The connection version last read; the switch fails with 409 if the connection changed since (default: the version read when the switch begins)' })),
})

/** Who asks, under which request id, and for which connection version (`*`: any current one, where a route allows it). */
export function adminContext (request: FastifyRequest, ifMatch?: string): AdminContext {
  return {
    actor: request.principal?.id ?? 'unknown',
    requestId: String(request.id),
    ifMatch: ifMatch === '*' ? '*' : ifMatch ? Number(ifMatch.replace(/^(W\/)?"?|"$/g, '')) : undefined,
  }
}
