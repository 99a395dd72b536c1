import { LogController, type FastifyReply, type FastifyRequest } from 'fastify'
import type { BrokerMetrics } from '../metrics/metrics.ts'
import { writeAccessLine } from './access-line.ts'

/** Kubernetes probes hit these every few seconds: their access lines are debug, not info. */
const PROBES = new Set(['/health/live', '/health/ready'])

/** The label of a request no route matched (bounded, unlike the paths people try). */
const UNMATCHED = '(unmatched)'

/**
 * One access line per request, written when the answer has been sent, and the HTTP metrics from
 * the same place: method, route pattern (never the raw URL, whose query may carry anything),
 * status, milliseconds, the caller's id and the request id. Fastify's own per-request lines
 * ("incoming request", "request completed", "route not found") are replaced by it.
 */
export class AccessLog extends LogController {
  private readonly metrics: BrokerMetrics

  constructor (metrics: BrokerMetrics) {
    super()
    this.metrics = metrics
  }

  override incomingRequest (): void {}

  override routeNotFound (): void {}

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const route = request.routeOptions.url ?? UNMATCHED
    const status = reply.statusCode
    const ms = reply.elapsedTime
    this.metrics.observeHttp(request.method, route, status, ms)
    const level = PROBES.has(route) && !error ? 'debug' : 'info'
    writeAccessLine(request.log, level, {
      method: request.method,
      route,
      status,
      ms: Math.round(ms * 100) / 100,
      caller: request.principal?.id,
      // the response did not finish (client went away, socket error): say so, without the error's text
      aborted: error ? error.name : undefined,
    })
  }
}
