import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { acmeDefinition, bearer, buildTestApp, startSim, tempFileStore } from '../helper.ts'
import { startRedis } from '../support/redis.ts'
import { proxyCallers } from './support.ts'

const QUERY = `/services/data/v62.0/query?q=${encodeURIComponent('SELECT Id FROM Account')}`

t.test('an expired session heals with exactly one login for 50 concurrent proxied callers on 3 replicas', async (t) => {
  const sim = await startSim(t, undefined, 20)
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'client_credentials'), 0)
  const callers = proxyCallers()
  const apps: FastifyInstance[] = []
  for (let i = 0; i < 3; i++) apps.push((await buildTestApp(t, { redisUrl: redis.url, secretStore: store, principals: callers })).app)
  const ask = (i: number) => apps[i % 3].inject({ method: 'GET', url: `/v1/connections/acme/salesforce${QUERY}`, headers: bearer(callers.limitedKey) })

  const warm = await Promise.all([0, 1, 2].map(ask))
  t.same(warm.map(r => r.statusCode), [200, 200, 200])
  t.equal(sim.stats('acme').attempts, 1)

  sim.expireSessions('acme')
  const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => ask(i)))
  t.same([...new Set(answers.map(a => a.statusCode))], [200], 'every caller got its answer')
  t.equal(sim.stats('acme').attempts, 2, 'exactly one login fleet-wide')
})
