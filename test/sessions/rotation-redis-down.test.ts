import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { ACME, acmeDefinition, bearer, buildTestApp, startSim, tempFileStore } from '../helper.ts'
import { RedisKeys } from '../../src/shared-state/redis-keys.ts'
import { startRedis } from '../support/redis.ts'
import { until } from '../support/redis-topologies.ts'
import { testPrincipals } from '../support/principals.ts'

// A rotation while Redis is down never makes another replica log in with the replaced secret. The
// rotation here is a client secret's: a password flow's candidate is not sent at all while Redis is
// down (the failure guard's count cannot be read), which the first step checks.

t.test('rotation while Redis is down: the other replica checks the secret version before it spends a login', async (t) => {
  const sim = await startSim(t)
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const store = await tempFileStore(t)
  const principals = testPrincipals(['*'], 100_000)
  const apps: FastifyInstance[] = []
  for (let i = 0; i < 2; i++) apps.push((await buildTestApp(t, { redisUrl: redis.url, secretStore: store, principals })).app)
  await store.write('acme', acmeDefinition(sim, 'client_credentials'), 0)
  await store.write('acme-password', acmeDefinition(sim, 'oauth_password'), 0)
  const ask = (i: number, payload?: object) => apps[i].inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey), payload })
  const old = (await ask(1)).json().accessToken
  t.ok(old)

  await redis.stop()
  // a password candidate waits for Redis: nothing is sent
  const attemptsBefore = sim.stats('acme').attempts
  const password = await apps[0].inject({ method: 'PATCH', url: '/v1/admin/connections/acme-password/credentials', headers: bearer(principals.adminKey), payload: { password: 'Any-Candidate-1' } })
  t.equal(password.statusCode, 503)
  t.equal(password.json().code, 'login_guard_unavailable')
  t.equal(sim.stats('acme').attempts, attemptsBefore, 'no password login while Redis is down')

  // the consumer secret is changed in Salesforce and rotated through replica 0
  const app = sim.org('acme').connectedApps.get(ACME.clientId)!
  app.clientSecret = 'N3w-Consumer-Secret-After-Rotation'
  const rotated = await apps[0].inject({
    method: 'PATCH',
    url: '/v1/admin/connections/acme/credentials',
    headers: bearer(principals.adminKey),
    payload: { clientSecret: app.clientSecret },
  })
  t.equal(rotated.statusCode, 202, 'accepted, and the answer says the fleet-wide purge is pending')
  t.match(rotated.json().pending[0], /fleet-wide purge/)

  // replica 1 never heard of it (no Redis); its session dies at Salesforce
  sim.expireSessions('acme')
  const failuresBefore = sim.stats('acme').failures
  const after = await ask(1, { rejectedToken: old })
  t.equal(after.statusCode, 200, 'served with the new secret')
  t.equal(sim.stats('acme').failures, failuresBefore, 'no failed login with the replaced secret')
  t.equal(sim.org('acme').users.get(ACME.username)!.failedLogins, 0)

  // Redis is back: the purge made while it was down is completed, and a rotation answers 200 again
  await redis.start()
  let ready = 0
  for (let i = 0; i < 100 && ready !== 200; i++) {
    await new Promise(resolve => setTimeout(resolve, 100))
    ready = (await apps[0].inject({ url: '/health/ready' })).statusCode
  }
  t.equal(ready, 200)
  // and both replicas listen again (each subscriber reconnects on its own schedule): until then a
  // rotation rightly answers 202 naming the replica that has not confirmed the purge
  const channel = new RedisKeys('sfbtest:').events
  await until('both replicas subscribed again', async () => {
    const [, listeners] = await redis.client().call('PUBSUB', 'NUMSUB', channel) as [string, number]
    return listeners === 2
  })
  const again = await apps[0].inject({ method: 'PATCH', url: '/v1/admin/connections/acme/credentials', headers: bearer(principals.adminKey), payload: { clientSecret: app.clientSecret } })
  t.equal(again.statusCode, 200)
  t.notOk('pending' in again.json())
})
