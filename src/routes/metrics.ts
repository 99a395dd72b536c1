import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { hash, timingSafeEqual } from 'node:crypto'
import { Type } from 'typebox'
import { HttpProblem } from '../errors.ts'
import type { BrokerMetrics } from '../metrics/metrics.ts'
import { problemResponses } from '../schemas/problem.ts'

export interface MetricsRoutesOptions {
  metrics: BrokerMetrics
  /** METRICS_TOKEN: when set, a scrape must send it as a bearer token */
  token?: string
}

/**
 * Compares digests, not the strings: equal lengths for timingSafeEqual, and the time taken says
 * nothing about how much of a guess was right (nor how long the token is).
 */
function tokenMatcher (token: string): (presented: string) => boolean {
  const expected = hash('sha256', token, 'buffer')
  return presented => timingSafeEqual(hash('sha256', presented, 'buffer'), expected)
}

/**
 * Prometheus scrape endpoint. Open like the probes unless METRICS_TOKEN is set; then a scraper
 * sends it as `Authorization: Bearer` (Prometheus `authorization.credentials_file`). Either way,
 * restrict it at the network too (see the Helm NetworkPolicy).
 */
const metricsRoutes: FastifyPluginAsyncTypebox<MetricsRoutesOptions> = async (app, { metrics, token }) => {
  const matches = token === undefined ? null : tokenMatcher(token)
  // no route logLevel: it would drop the access line of every scrape, the refused ones (a wrong METRICS_TOKEN) too;
  // src/http/access-log.ts writes a successful scrape's line at debug
  app.get('/metrics', {
    onRequest: (request, reply, done) => {
      if (!matches) return done()
      const presented = /^Bearer +(\S{1,1024})$/i.exec(request.headers.authorization?.trim() ?? '')?.[1]
      if (presented !== undefined && matches(presented)) return done()
      done(new HttpProblem('unauthenticated', 'send Authorization: Bearer <METRICS_TOKEN>'))
    },
    schema: {
      tags: ['health'],
      operationId: 'getMetrics',
      // {}: open by default; metricsToken: when METRICS_TOKEN is set
      security: [{}, { metricsToken: [] }],
      summary: 'Prometheus metrics',
      description: 'Open unless the broker has METRICS_TOKEN (or METRICS_TOKEN_FILE): then the token is required as a bearer token.',
      response: {
        200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: Type.String() } } },
        ...problemResponses('unauthenticated', 'internal'),
      },
    },
  }, async (request, reply) => {
    reply.type(metrics.registry.contentType)
    return metrics.registry.metrics()
  })
}

export default metricsRoutes
