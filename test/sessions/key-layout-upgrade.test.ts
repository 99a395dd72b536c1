import t from 'tap'
import { acmeDefinition, bearer, buildTestApp, startSim, tempFileStore } from '../helper.ts'
import { startRedis } from '../support/redis.ts'
import { testPrincipals } from '../support/principals.ts'

/**
 * The key layout changed (sfb:circuit:{acme} became sfb:{acme}:circuit, one Cluster slot per
 * connection). A circuit an older release opened is lockout-guard state: a rolling upgrade must
 * not forget it and try the failing password again.
 */
t.test('an open circuit written under the previous key layout still holds after the upgrade', async (t) => {
  const sim = await startSim(t)
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'oauth_password', { password: 'not-the-password' }), 0)
  const version = (await store.read('acme'))?.version as number
  const now = Date.now()
  // what the previous release wrote (src/shared-state/redis-state.ts before the one-slot layout)
  await redis.client().set('sfbtest:circuit:{acme}', JSON.stringify({
    secretVersion: version, classification: 'invalid_credentials', message: 'authentication failure', hint: 'check the password', failures: 1, openedAt: now, retryAt: now + 600_000,
  }), 'PX', 600_000)
  const principals = testPrincipals(['acme'])
  const { app } = await buildTestApp(t, { redisUrl: redis.url, secretStore: store, principals })
  for (let i = 0; i < 100 && (await app.inject({ url: '/health/ready' })).statusCode !== 200; i++) await new Promise(resolve => setTimeout(resolve, 50))
  const res = await app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })
  t.equal(res.statusCode, 503)
  t.equal(res.json().type, 'urn:sf-broker:problem:circuit_open')
  t.equal(sim.stats('acme').attempts, 0, 'no login with the password the old release saw fail')
})
