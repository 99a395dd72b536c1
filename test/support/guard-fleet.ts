import type { FastifyInstance } from 'fastify'
import { ACME, acmeDefinition, acmeOrg, buildTestApp, startSim, tempFileStore, type Teardown } from '../helper.ts'
import { testPrincipals } from './principals.ts'
import { startRedis } from './redis.ts'

/**
 * A SOAP connection whose org locks its user at the third failure, and replicas of one broker on a
 * Redis of their own (started and stopped by the test): what the lockout guard's write-back tests
 * drive. `replica()` starts one more; every login of theirs is a single try.
 */
export async function soapFleetLockingAtThree (t: Teardown) {
  const sim = await startSim(t, [acmeOrg({ lockout: { maxAttempts: 3, durationSeconds: 900 } })])
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const store = await tempFileStore(t)
  const principals = testPrincipals(['*'], 100_000)
  const env = { REVOKED_SESSION_LOGIN_INTERVAL_SECONDS: '0', LOGIN_RETRIES: '0' }
  const replica = async (): Promise<FastifyInstance> => (await buildTestApp(t, { redisUrl: redis.url, secretStore: store, principals, env })).app
  await store.write('acme', acmeDefinition(sim, 'soap'), 0)
  const user = sim.org('acme').users.get(ACME.username)!
  return { sim, redis, store, principals, replica, user }
}
