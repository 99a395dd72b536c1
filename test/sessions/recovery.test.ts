import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { acmeDefinition, bearer, buildTestApp, startSim, tempFileStore } from '../helper.ts'
import { RedisSharedState } from '../../src/shared-state/redis-state.ts'
import { FallbackSharedState } from '../../src/shared-state/fallback-state.ts'
import { startRedis } from '../support/redis.ts'
import { testPrincipals } from '../support/principals.ts'

// A dead login holder and a Salesforce outage stop blocking soon after they end.

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

async function fleet (t: Parameters<typeof startSim>[0], sim: Awaited<ReturnType<typeof startSim>>, env: Record<string, string>) {
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const store = await tempFileStore(t)
  const principals = testPrincipals(['acme'], 100_000)
  const apps: FastifyInstance[] = []
  for (let i = 0; i < 3; i++) apps.push((await buildTestApp(t, { redisUrl: redis.url, secretStore: store, principals, env })).app)
  await store.write('acme', acmeDefinition(sim, 'jwt_bearer'), 0)
  const ask = (i: number) => apps[i % 3].inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })
  return { apps, ask }
}

// The longest fleet-wide pause after a transient failure is 1.5 s ± 20 % (src/sessions/hold-off.ts);
// the bound adds a second for a machine under load (20 runs beside `stress --cpu 2` saw 2.1 s). A
// longer cap is what this guards against: it left callers refused 8 s after a 10 s outage.
const RECOVERY_BOUND_MS = 1_800 + 1_000

t.test('after a 10 s outage the first session is served within 3 s of recovery, by one probe', async (t) => {
  const sim = await startSim(t)
  const { ask } = await fleet(t, sim, { LOGIN_TIMEOUT_MS: '500', LOGIN_RETRIES: '1', LOGIN_WAIT_TIMEOUT_MS: '3000' })
  sim.setDown(true)
  const outageEnds = Date.now() + 10_000
  let i = 0
  while (Date.now() < outageEnds) {
    await Promise.all([ask(i++), ask(i++), ask(i++)])
    await sleep(100)
  }
  sim.setDown(false)
  const recovered = Date.now()
  const before = sim.stats('acme').attempts
  let firstOk = 0
  while (Date.now() - recovered < 15_000) {
    const answers = await Promise.all([ask(i++), ask(i++), ask(i++)])
    if (answers.some(a => a.statusCode === 200)) {
      firstOk = Date.now()
      break
    }
    await sleep(50)
  }
  t.ok(firstOk > 0, 'served again')
  t.ok(firstOk - recovered <= RECOVERY_BOUND_MS, `first session ${firstOk - recovered} ms after recovery (at most ${RECOVERY_BOUND_MS} ms)`)
  t.equal(sim.stats('acme').successes, 1, 'one login served the fleet')
  t.ok(sim.stats('acme').attempts - before <= 2, 'no retry herd after recovery')
})

t.test('a replica that dies while logging in is replaced within a few seconds; no caller waits past LOGIN_WAIT_TIMEOUT_MS', async (t) => {
  const sim = await startSim(t)
  const { apps, ask } = await fleet(t, sim, { LOGIN_TIMEOUT_MS: '30000', LOGIN_WAIT_TIMEOUT_MS: '8000', LOGIN_RETRIES: '0' })
  sim.setLatency(12_000)
  const dying = ask(0)
  // replica 0 holds the login lease; then it loses Redis for good, as a crashed process would (a
  // connection merely dropped is connected again, even one ioredis gave up on)
  await sleep(500)
  const state = apps[0].broker.sharedState as FallbackSharedState
  await (state.primary as RedisSharedState).close()
  sim.setLatency(0)
  const started = Date.now()
  const other = await ask(1)
  const waited = Date.now() - started
  t.equal(other.statusCode, 200, 'served by another replica')
  t.ok(waited < 8_000, `answered after ${waited} ms: the dead holder's lease expired, not the old 35 s one`)
  dying.catch(() => {})
})
