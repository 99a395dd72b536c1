import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { SecretStore } from '../secrets/store.ts'
import type { SharedState } from '../sessions/shared-state.ts'

export interface HealthRoutesOptions {
  secretStore: SecretStore
  sharedState: SharedState
}

const CheckSchema = Type.Object({ ok: Type.Boolean(), detail: Type.String() }, { additionalProperties: false })
const ReadySchema = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('not_ready')]),
  checks: Type.Object({ secretStore: CheckSchema, sharedState: CheckSchema, config: CheckSchema }, { additionalProperties: false }),
}, { additionalProperties: false })

/** Liveness checks nothing (a dependency outage must not restart pods); readiness checks what requests need. */
const healthRoutes: FastifyPluginAsyncTypebox<HealthRoutesOptions> = async (app, { secretStore, sharedState }) => {
  app.get('/health/live', {
    schema: {
      tags: ['health'],
      operationId: 'getLiveness',
      security: [],
      summary: 'Liveness: the process is up',
      response: { 200: Type.Object({ status: Type.Literal('live') }, { additionalProperties: false }) },
    },
  }, async () => ({ status: 'live' as const }))

  app.get('/health/ready', {
    schema: {
      tags: ['health'],
      operationId: 'getReadiness',
      security: [],
      summary: 'Readiness: shared state (Redis) reachable, secret store reachable and unsealed',
      response: { 200: ReadySchema, 503: ReadySchema },
    },
  }, async (request, reply) => {
    const [store, shared] = await Promise.all([
      secretStore.health().catch((err: Error) => ({ ok: false, detail: `health check failed: ${err.name}` })),
      sharedState.ping().then(ok => ({
        ok,
        detail: sharedState.kind === 'memory' ? 'in-memory (no Redis configured)' : ok ? 'redis reachable' : 'redis unreachable',
      })),
    ])
    const checks = {
      secretStore: { ok: store.ok, detail: `${secretStore.kind}: ${store.detail}` },
      sharedState: shared,
      config: { ok: true, detail: 'loaded' },
    }
    const ready = checks.secretStore.ok && checks.sharedState.ok
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks })
  })
}

export default healthRoutes
