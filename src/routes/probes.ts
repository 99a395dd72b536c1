import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { SecretStore, StoreHealth } from '../secrets/store.ts'
import type { SharedState, StateReach } from '../shared-state/shared-state.ts'

export interface ProbeRoutesOptions {
  secretStore: SecretStore
  sharedState: SharedState
}

const CheckSchema = Type.Object({ ok: Type.Boolean(), detail: Type.String() }, { additionalProperties: false })
const ReadySchema = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('not_ready')]),
  checks: Type.Object({ secretStore: CheckSchema, sharedState: CheckSchema, config: CheckSchema }, { additionalProperties: false }),
}, { additionalProperties: false })

/**
 * The store's own health text names the file it reads or the Vault it asks, and its errors;
 * readiness is public, so it says only which way the store is down and where to look. The full
 * text goes to the log.
 */
function storeReason (kind: SecretStore['kind'], health: StoreHealth): string {
  if (health.ok) return kind === 'file' ? 'readable' : 'reachable and unsealed'
  if (kind === 'file') return 'cannot read or decrypt the secret file (check FILE_STORE_PATH and FILE_STORE_KEY; the log has the cause)'
  if (health.sealed) return 'sealed (unseal Vault)'
  return 'unreachable, not initialised or refusing the broker (the log has the cause)'
}

/** Liveness checks nothing (a dependency outage must not restart pods); readiness checks what requests need. */
const probeRoutes: FastifyPluginAsyncTypebox<ProbeRoutesOptions> = async (app, { secretStore, sharedState }) => {
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
      description: 'Public, so it names no file, address or error text: the broker log has those.',
      tags: ['health'],
      operationId: 'getReadiness',
      security: [],
      summary: 'Readiness: shared state (Redis) reachable, secret store reachable and unsealed',
      response: { 200: ReadySchema, 503: ReadySchema },
    },
  }, async (request, reply) => {
    const [store, shared] = await Promise.all([
      secretStore.health().catch((err: Error) => ({ ok: false, sealed: false, detail: `health check failed: ${err.name}` })),
      sharedState.probe().then(reach => ({ ok: reach === 'ok', detail: sharedStateDetail(sharedState.kind, reach) })),
    ])
    if (!store.ok) request.log.warn({ store: secretStore.kind, detail: store.detail }, 'readiness: secret store unavailable')
    const checks = {
      secretStore: { ok: store.ok, detail: `${secretStore.kind}: ${storeReason(secretStore.kind, store)}` },
      sharedState: shared,
      config: { ok: true, detail: 'loaded' },
    }
    const ready = checks.secretStore.ok && checks.sharedState.ok
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks })
  })
}

function sharedStateDetail (kind: SharedState['kind'], reach: StateReach): string {
  if (kind === 'memory') return 'in-memory (no Redis configured)'
  if (reach === 'ok') return 'redis reachable'
  // the ACL user's keys do not cover REDIS_KEY_PREFIX, or its password or rights changed: the log names the answer
  return reach === 'refused' ? 'redis refuses the broker (ACL: its keys, channel or password)' : 'redis unreachable'
}

export default probeRoutes
