import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { BrokerMetrics } from '../metrics/metrics.ts'

/** Prometheus scrape endpoint. Unauthenticated like the probes: restrict it at the network (see the Helm NetworkPolicy). */
const metricsRoutes: FastifyPluginAsyncTypebox<{ metrics: BrokerMetrics }> = async (app, { metrics }) => {
  app.get('/metrics', {
    logLevel: 'warn',
    schema: {
      tags: ['health'],
      operationId: 'getMetrics',
      security: [],
      summary: 'Prometheus metrics',
      response: { 200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: Type.String() } } } },
    },
  }, async (request, reply) => {
    reply.type(metrics.registry.contentType)
    return metrics.registry.metrics()
  })
}

export default metricsRoutes
