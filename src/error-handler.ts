import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { HttpProblem, PROBLEM_CONTENT_TYPE, problemBody, type ProblemCode, type ProblemExtensions } from './errors.ts'
import { SecretStoreUnavailableError } from './secrets/store.ts'

function send (reply: FastifyReply, code: ProblemCode, detail?: string, extensions?: ProblemExtensions, retryAfter?: number) {
  const body = problemBody(code, detail, extensions)
  if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter))
  if (code === 'unauthenticated') reply.header('www-authenticate', 'Bearer realm="sf-broker"')
  return reply.code(body.status).type(PROBLEM_CONTENT_TYPE).send(body)
}

/** Fastify's own client errors, mapped to our stable codes with fixed wording (no echo of the input). */
function clientError (err: FastifyError): { code: ProblemCode, detail: string } | null {
  const status = err.statusCode ?? 500
  if (status === 413) return { code: 'payload_too_large', detail: 'the request body exceeds the size limit' }
  if (status === 415) return { code: 'unsupported_media_type', detail: 'send application/json' }
  if (err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError) return { code: 'bad_request', detail: 'the body is not valid JSON' }
  if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return { code: 'bad_request', detail: 'the body is empty but declared as JSON' }
  if (status >= 400 && status < 500) return { code: 'bad_request', detail: 'the request could not be processed' }
  return null
}

/**
 * One error shape for the whole service: application/problem+json with a stable type.
 * Internal errors are logged with their stack and answered with a fixed title only.
 */
export function registerErrorHandling (app: FastifyInstance): void {
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof HttpProblem) {
      if (err.status >= 500) request.log.warn({ problem: err.code, connection: err.extensions.connection, classification: err.extensions.classification }, 'request failed')
      return send(reply, err.code, err.detail, err.extensions, err.retryAfter)
    }
    if (err instanceof SecretStoreUnavailableError) {
      request.log.warn({ reason: err.reason }, 'secret store unavailable')
      return send(reply, 'secret_store_unavailable', `the secret store is ${err.reason === 'sealed' ? 'sealed' : err.reason === 'permission_denied' ? 'refusing the broker' : 'unreachable'}`, { retryable: true }, 5)
    }
    const fe = err as FastifyError
    if (fe && Array.isArray(fe.validation)) {
      const errors = fe.validation.map(v => ({
        path: `${fe.validationContext ?? 'request'}${v.instancePath || ''}`,
        message: v.message ?? 'is invalid',
      }))
      return send(reply, 'bad_request', 'the request does not match the schema', { errors })
    }
    const mapped = clientError(fe)
    if (mapped) return send(reply, mapped.code, mapped.detail)
    request.log.error({ err }, 'unhandled error')
    return send(reply, 'internal')
  })

  app.setNotFoundHandler((request, reply) => {
    return send(reply, 'not_found', 'no such route')
  })
}
