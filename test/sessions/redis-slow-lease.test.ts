import t from 'tap'
import { acmeDefinition, bearer, buildTestApp, startSim, tempFileStore } from '../helper.ts'
import { startRedis } from '../support/redis.ts'

// Redis holds every write back for a moment (a busy server, a fork for a snapshot): the SET taking
// the login lease times out on a live connection, so nobody can tell whether it was taken, and the
// login waits and asks again. The SET lands late: the lease is this very login's, not someone else's.
// It must not wait for its own lease to lapse (LOGIN_LEASE_TTL_MS) while nobody else is logging in.
t.test('a lease whose SET timed out and landed late is the login\'s own: it goes on at once', async (t) => {
  const sim = await startSim(t)
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'soap'), 0)
  // a caller waits 4 s for a login; the lease lives 5 s between renewals
  const env = { LOGIN_WAIT_TIMEOUT_MS: '4000', LOGIN_LEASE_TTL_MS: '5000' }
  const { app, principals } = await buildTestApp(t, { redisUrl: redis.url, secretStore: store, env })

  // writes held back for 2 s: longer than a command's timeout (1.5 s), far shorter than the wait
  await redis.client().call('CLIENT', 'PAUSE', '2000', 'WRITE')
  const res = await app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })
  t.equal(res.statusCode, 200, res.statusCode === 200 ? 'a session' : res.body)
  t.equal(sim.stats('acme').attempts, 1, 'one login')
})
