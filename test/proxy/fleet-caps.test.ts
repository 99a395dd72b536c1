import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { acmeDefinition, bearer, buildTestApp, startSim, tempFileStore } from '../helper.ts'
import { captureLogs } from '../support/log-capture.ts'
import { ManualClock } from '../support/manual-clock.ts'
import { startRedis } from '../support/redis.ts'
import { proxyCallers } from './support.ts'

const LIMITS = '/v1/connections/acme/salesforce/services/data/v62.0/limits'
const CAP = 4

/** Two replicas on one real Redis, one clock for both (a fleet's clocks agree), a caller capped at CAP proxied calls a minute. */
async function fleet (t: Test) {
  const sim = await startSim(t)
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'client_credentials'), 0)
  const callers = proxyCallers({ proxyCallsPerMinute: CAP })
  // 15 s into a UTC minute: the window ends 45 s later
  const clock = new ManualClock(Math.floor(Date.now() / 60_000) * 60_000 + 15_000)
  const logs = [captureLogs('info'), captureLogs('info')]
  const apps: FastifyInstance[] = []
  for (const log of logs) apps.push((await buildTestApp(t, { redisUrl: redis.url, secretStore: store, principals: callers, logger: log.logger, overrides: { clock } })).app)
  const call = (replica: number) => apps[replica % 2].inject({ method: 'GET', url: LIMITS, headers: bearer(callers.limitedKey) })
  return { sim, redis, clock, logs, call }
}

t.test('a cap of N calls a minute admits exactly N across two replicas, then 429 until the window rolls over', async (t) => {
  const { sim, clock, call } = await fleet(t)
  for (let i = 0; i < CAP; i++) t.equal((await call(i)).statusCode, 200, `call ${i + 1} on replica ${i % 2}`)
  for (const replica of [0, 1]) {
    const capped = await call(replica)
    t.equal(capped.statusCode, 429, `call ${CAP + 1} on replica ${replica} is refused`)
    t.match(capped.headers['content-type'], /^application\/problem\+json/)
    t.match(capped.json(), { code: 'proxy_quota_exceeded', quota: { period: 'minute', limit: CAP } })
    t.equal(capped.headers['retry-after'], '45', 'until the end of the minute')
  }
  t.equal(sim.org('acme').apiRequestsUsed, CAP, 'the refused calls never reached Salesforce')

  await clock.advance(45_000)
  // a burst on both replicas at once: the count is taken atomically, so still exactly CAP pass
  const burst = await Promise.all(Array.from({ length: 3 * CAP }, (_, i) => call(i)))
  t.equal(burst.filter(r => r.statusCode === 200).length, CAP, 'the next minute admits CAP again')
  t.equal(burst.filter(r => r.statusCode === 429).length, 2 * CAP)
  t.equal(burst.find(r => r.statusCode === 429)?.headers['retry-after'], '60')
  t.equal(sim.org('acme').apiRequestsUsed, 2 * CAP)
})

t.test('while Redis is unreachable each replica counts its own calls, and says so', async (t) => {
  const { sim, redis, logs, call } = await fleet(t)
  t.equal((await call(0)).statusCode, 200)
  t.equal((await call(1)).statusCode, 200)
  t.equal((await call(0)).statusCode, 200, 'the fleet has used 3 of 4; replica 0 made 2 of them')
  await redis.stop()
  // replica 0 goes on from its own 2: 2 more, then refused; capped calls are not refused wholesale
  t.same([(await call(0)).statusCode, (await call(0)).statusCode, (await call(0)).statusCode], [200, 200, 429])
  // replica 1 from its own 1: 3 more
  t.same([(await call(1)).statusCode, (await call(1)).statusCode, (await call(1)).statusCode, (await call(1)).statusCode], [200, 200, 200, 429])
  t.equal(sim.org('acme').apiRequestsUsed, 8, 'at most CAP per replica during the outage')
  for (const log of logs) {
    const said = log.records().filter(r => r.msg === 'proxy call caps counted per replica while the shared state is unreachable: a cap of N admits up to N on each replica')
    t.equal(said.length, 1, 'said once per replica')
  }
})
