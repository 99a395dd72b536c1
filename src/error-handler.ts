import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { DomainError, PROBLEM_CONTENT_TYPE, problemBody, type ProblemCode, type ProblemExtensions } from './errors.ts'
import { SecretStoreUnavailableError } from './secrets/store.ts'
import { noteRefusal } from './http/access-log.ts'
import { answerOn } from './http/socket-idle.ts'

/**
 * Every refusal, whoever makes it (a route, Fastify's body parser, the router, Node's HTTP parser),
 * is application/problem+json with a stable type and a detail we wrote: never the input echoed back,
 * since a reflected path or header is how an attacker gets their text into a trusted answer.
 */

function send (reply: FastifyReply, code: ProblemCode, detail?: string, extensions?: ProblemExtensions, retryAfter?: number) {
  const body = problemBody(code, detail, extensions)
  if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter))
  if (code === 'unauthenticated') reply.header('www-authenticate', 'Bearer realm="sf-broker"')
  return reply.code(body.status).type(PROBLEM_CONTENT_TYPE).send(body)
}

interface Refusal { code: ProblemCode, detail: string }

/** Fastify's own client errors, mapped to our stable codes with fixed wording. */
function clientError (err: FastifyError): Refusal | null {
  const status = err.statusCode ?? 500
  if (status === 413) return { code: 'payload_too_large', detail: 'the request body exceeds the size limit' }
  if (status === 415) return { code: 'unsupported_media_type', detail: 'send application/json' }
  if (err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError) {
    // secure-json-parse throws a SyntaxError for __proto__ / constructor.prototype too
    return { code: 'malformed_json', detail: 'the body is not valid JSON, or contains __proto__ or constructor.prototype' }
  }
  if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return { code: 'malformed_json', detail: 'the body is empty but declared as JSON' }
  if (err.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH') return { code: 'bad_request', detail: 'Content-Length does not match the body' }
  if (status >= 400 && status < 500) return { code: 'bad_request', detail: 'the request could not be processed' }
  return null
}

/** The router's refusals (Fastify `frameworkErrors`), which otherwise answer JSON quoting the path. */
const FRAMEWORK_REFUSALS: Record<string, Refusal> = {
  FST_ERR_MAX_PARAM_LENGTH: { code: 'uri_too_long', detail: 'a path segment is longer than any valid value' },
  FST_ERR_BAD_URL: { code: 'malformed_url', detail: 'the path does not decode as a URL (bad percent-encoding)' },
}

export function frameworkErrorHandler (err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const refusal = FRAMEWORK_REFUSALS[err.code]
  if (refusal) {
    send(reply, refusal.code, refusal.detail)
    return
  }
  request.log.error({ code: err.code }, 'router error')
  send(reply, 'internal')
}

/** What Node's HTTP parser could not accept (Fastify `clientErrorHandler`), before any request exists. */
function connectionRefusal (code: string | undefined): Refusal {
  if (code === 'HPE_HEADER_OVERFLOW') return { code: 'headers_too_large', detail: 'the request line and headers exceed the size limit' }
  // Node uses this code for both requestTimeout and headersTimeout
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return { code: 'request_timeout', detail: 'the request did not arrive in time' }
  return { code: 'malformed_request', detail: 'the request is not valid HTTP/1.1' }
}

/**
 * Replaces Fastify's default, which answers application/json. Same rules as Node's own handler:
 * nothing to do on a reset or destroyed socket, and the connection is closed after the answer
 * (the parser's state is unknown). `this` is the Fastify instance.
 */
export function clientErrorHandler (this: FastifyInstance, err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const { code, detail } = connectionRefusal(err.code)
  const body = JSON.stringify(problemBody(code, detail))
  const status = problemBody(code).status
  this.log.debug({ code: err.code }, 'client error')
  // a request already under way on this socket (a body that stopped arriving): its access line says this status
  const answer = answerOn(socket)
  if (answer?.socket === socket) noteRefusal(answer, status)
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
  }
  socket.destroy(err)
}

/**
 * One error shape for the whole service: application/problem+json with a stable type.
 * Internal errors are logged with their stack and answered with a fixed title only.
 */
export function registerErrorHandling (app: FastifyInstance): void {
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof DomainError) { // an HttpProblem is one too
      if (problemBody(err.code).status >= 500) request.log.warn({ problem: err.code, connection: err.extensions.connection, classification: err.extensions.classification }, 'request failed')
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
