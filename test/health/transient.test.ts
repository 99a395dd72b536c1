import t from 'tap'
import { acmeDefinition, bearer, startSim, tempFileStore } from '../helper.ts'
import { startRedis } from '../support/redis.ts'
import { buildHealthApp, eventually } from './health-helper.ts'
import { http } from '../support/http.ts'

const only = (a: { json: any }) => a.json.connections[0]

t.test('Salesforce unreachable is degraded (200), not failing, and opens no circuit; it heals by itself', async (t) => {
  const sim = await startSim(t)
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'client_credentials'), 0)
  const { url } = await buildHealthApp(t, { secretStore: store, redisUrl: redis.url, env: { LOGIN_TIMEOUT_MS: '500' } })
  const health = () => http(`${url}/health/salesforce?connection=acme`)
  await eventually(health, a => only(a).status === 'ok')

  sim.setDown(true)
  const down = await eventually(health, a => only(a).status !== 'ok', 5000)
  t.equal(down.status, 200, 'degraded is not a reason to page')
  t.match(only(down), { status: 'degraded', classification: 'unreachable', circuit: { state: 'closed' } })
  t.ok(only(down).consecutiveFailures >= 1)
  t.ok(only(down).lastSuccessAt, 'the last success is still shown')

  sim.setDown(false)
  const healed = await eventually(health, a => only(a).status === 'ok', 5000)
  t.equal(healed.status, 200)
  t.equal(only(healed).consecutiveFailures, 0)
})

t.test('a session Salesforce ended early is purged and replaced by one login, and callers get the new one', async (t) => {
  const sim = await startSim(t)
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'jwt_bearer'), 0)
  const { url, principals } = await buildHealthApp(t, { secretStore: store, redisUrl: redis.url, env: { FULL_VALIDATION_INTERVAL_SECONDS: '3600' } })
  const health = () => http(`${url}/health/salesforce?connection=acme`)
  const session = () => http(`${url}/v1/connections/acme/session`, { method: 'POST', headers: bearer(principals.billingKey) })

  await eventually(health, a => only(a).status === 'ok')
  const before = (await session()).json.accessToken
  t.equal(sim.stats('acme').attempts, 1)

  sim.expireSessions('acme')
  const renewed = await eventually(health, a => only(a).checkKind === 'full' && Date.now() - Date.parse(only(a).lastFullCheckAt) < 1500 && sim.stats('acme').attempts === 2, 5000)
  t.equal(only(renewed).status, 'ok')
  t.equal(sim.stats('acme').attempts, 2, 'one new login')
  const after = await session()
  t.equal(after.status, 200)
  t.not(after.json.accessToken, before, 'callers are handed the new session, not the dead one')
  t.equal(sim.stats('acme').attempts, 2, 'the validation login serves the caller')
})
