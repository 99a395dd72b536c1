import type { ServerResponse } from 'node:http'
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify'
import type { BrokerMetrics } from '../metrics/metrics.ts'
import { writeAccessLine } from './access-line.ts'

/** Kubernetes probes hit these every few seconds: their access lines are debug, not info. */
const PROBES = new Set(['/health/live', '/health/ready'])

/** Prometheus scrapes this every few seconds: its access line is debug, unless the scrape was refused (a wrong token). */
const METRICS = '/metrics'

/** The label of a request no route matched (bounded, unlike the paths people try). */
const UNMATCHED = '(unmatched)'

/**
 * The status of a request whose connection closed before any answer was sent: nginx's 499
 * ("client closed request"), which proxies and dashboards already know; not one Node ever sends.
 */
export const CLIENT_CLOSED_STATUS = 499

const reqOf = Symbol('sf-broker.accessRequest')
const replyOf = Symbol('sf-broker.accessReply')
const logged = Symbol('sf-broker.accessLogged')
const refusedWith = Symbol('sf-broker.refusedWith')
type Watched = ServerResponse & { [reqOf]?: FastifyRequest, [replyOf]?: FastifyReply, [logged]?: true, [refusedWith]?: number }

/**
 * What Node itself answered on the socket of a request under way (clientErrorHandler: the 408 of a
 * request that stopped arriving): its access line says that status, not 499.
 */
export function noteRefusal (response: ServerResponse | undefined, status: number): void {
  if (response !== undefined && !response.headersSent) (response as Watched)[refusedWith] = status
}

/** The error an access line names when the connection closed before the answer was whole. */
class ConnectionClosed extends Error {
  // not "ClientClosed": the broker closes it too, when Salesforce breaks off a proxied answer
  override name = 'ConnectionClosed'
}
const CONNECTION_CLOSED = new ConnectionClosed('the connection closed before the answer was whole')

/**
 * One access line per request, written when the answer has been sent, and the HTTP metrics from
 * the same place: method, route pattern (never the raw URL, whose query may carry anything),
 * status, milliseconds, the caller's id and the request id. Fastify's own per-request lines
 * ("incoming request", "request completed", "route not found") are replaced by it.
 */
export class AccessLog extends LogController {
  private readonly metrics: BrokerMetrics
  /**
   * Fastify writes its line on the answer's 'finish' (or 'error'): an answer whose connection
   * closes first (a caller that gave up on a slow login, Node's 408 for a body that stopped
   * arriving, a reset mid-stream) never finishes and had no line and no metric. One listener per
   * answer, the same function for all (no closure per request).
   */
  private readonly onClose: (this: Watched) => void

  constructor (metrics: BrokerMetrics) {
    super()
    this.metrics = metrics
    const controller = this
    this.onClose = function (this: Watched) {
      const request = this[reqOf]
      const reply = this[replyOf]
      if (this.writableFinished || request === undefined || reply === undefined) return
      controller.requestCompleted(CONNECTION_CLOSED, request, reply)
    }
  }

  override incomingRequest (request: FastifyRequest, reply: FastifyReply): void {
    const response = reply.raw as Watched
    response[reqOf] = request
    response[replyOf] = reply
    response.on('close', this.onClose)
  }

  override routeNotFound (): void {}

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const response = reply.raw as Watched
    // one line per request: the answer's 'error' may follow its 'close'
    if (response[logged]) return
    response[logged] = true
    const route = request.routeOptions.url ?? UNMATCHED
    const status = error === CONNECTION_CLOSED && !response.headersSent ? response[refusedWith] ?? CLIENT_CLOSED_STATUS : reply.statusCode
    const ms = reply.elapsedTime
    this.metrics.observeHttp(request.method, route, status, ms)
    const level = !error && (PROBES.has(route) || (route === METRICS && status < 400)) ? 'debug' : 'info'
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
