import Fastify, { LogController, type FastifyReply, type FastifyRequest, type HookHandlerDoneFunction } from 'fastify'
import { verifyApiKey } from '../src/auth/api-key.ts'
import { parsePrincipals, type Principal } from '../src/auth/principals.ts'
import { writeAccessLine } from '../src/http/access-line.ts'
import { requestId } from '../src/http/request-id.ts'
import { createLogger } from '../src/logger.ts'

/**
 * The hot-path benchmark's second yardstick: Fastify keeping the promises the broker makes for every
 * request and nothing else. Bare Fastify (baseline-server.ts) shows what the promises cost; this
 * shows what the broker costs beyond them (hooks, validation, the session lookup, metrics…).
 *   - an access line per request, written as the broker writes it (src/http/access-line.ts) through
 *     the broker's own logger (src/logger.ts: pino, batched writes to standard output, which the
 *     bench points at a file);
 *   - a request id: the caller's acceptable x-request-id or a random UUID (src/http/request-id.ts);
 *   - the caller authenticated by API key, as src/auth/api-key.ts does it (hash and constant-time
 *     compare on first sight, a remembered key after that), in a route-level hook as the broker's;
 *   - the broker's answer headers (x-request-id, cache-control, pragma, JSON with charset) and a
 *     body exactly BODY_BYTES long.
 * The broker's own modules are used for the promises on purpose: the reference must not be slower
 * than the broker at what both do.
 *   PORT=… BODY_BYTES=420 PRINCIPALS_JSON='{…}' LOG_LEVEL=info node bench/same-promises-server.ts
 */
const bodyBytes = Number(process.env.BODY_BYTES ?? '400')
if (!Number.isInteger(bodyBytes) || bodyBytes < 2) {
  process.stderr.write('same-promises-server: BODY_BYTES must be an integer >= 2\n')
  process.exit(78)
}
const answer = `"${'x'.repeat(bodyBytes - 2)}"`
const directory = parsePrincipals(JSON.parse(process.env.PRINCIPALS_JSON ?? '{"principals":[]}'))
const PROBES = new Set(['/health/live'])

declare module 'fastify' {
  interface FastifyRequest {
    caller: Principal | null
  }
}

/** The broker's access line (src/http/access-log.ts) without the HTTP metrics. */
class AccessLine extends LogController {
  override incomingRequest (): void {}
  override routeNotFound (): void {}
  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const route = request.routeOptions.url ?? '(unmatched)'
    const ms = reply.elapsedTime
    writeAccessLine(request.log, PROBES.has(route) && !error ? 'debug' : 'info', {
      method: request.method,
      route,
      status: reply.statusCode,
      ms: Math.round(ms * 100) / 100,
      caller: request.caller?.id,
      aborted: error ? error.name : undefined,
    })
  }
}

const app = Fastify({
  loggerInstance: createLogger(process.env.LOG_LEVEL ?? 'info'),
  genReqId: requestId,
  logController: new AccessLine(),
})
app.decorateRequest('caller', null)

app.addHook('onRequest', (request, reply, done) => {
  reply.header('x-request-id', request.id)
  done()
})

/** the caller's API key, checked in a route-level hook as the broker does (src/auth/plugin.ts) */
const authenticate = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
  const match = /^Bearer +([^\s]{1,8192})$/i.exec((request.headers.authorization ?? '').trim())
  const caller = match ? verifyApiKey(directory, match[1]) : null
  if (!caller) {
    reply.code(401).type('application/problem+json').send('{"type":"unauthenticated"}')
    return
  }
  request.caller = caller
  reply.header('cache-control', 'no-store')
  done()
}

app.get('/health/live', async () => ({ status: 'ok' }))
app.post('/v1/connections/:name/session', { onRequest: authenticate }, (_request, reply) => {
  reply.header('pragma', 'no-cache').type('application/json; charset=utf-8').send(answer)
})

await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? '0') })

const shutdown = (): void => { app.close().then(() => process.exit(0), () => process.exit(1)) }
process.once('SIGTERM', shutdown)
process.once('SIGINT', shutdown)
