import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'

/**
 * preValidation for POST routes whose body is optional: a POST without a body (what `curl -X POST`
 * sends) reaches validation as `null`, which the route's schema accepts, instead of `undefined`,
 * which Fastify's validator would refuse.
 */
export function optionalBody (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
  request.body ??= null
  done()
}
