import t from 'tap'
import { randomBytes } from 'node:crypto'
import { acmeDefinition, bearer, listenTestApp, startSim, tempFileStore } from '../helper.ts'
import { http } from '../support/http.ts'
import { redisHop } from '../support/redis-hop.ts'
import { startRedis } from '../support/redis.ts'
import { testPrincipals } from '../support/principals.ts'
import { startReceiver } from '../support/webhook-receiver.ts'

const SECRET = randomBytes(32).toString('hex')

t.test('two replicas on one Redis: an event both notice is delivered once; dead letters are read from either', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const receiver = await startReceiver(SECRET)
  const dead = await startReceiver(SECRET)
  dead.answer(500)
  t.teardown(() => receiver.close())
  t.teardown(() => dead.close())
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'client_credentials'), 0)
  const principals = testPrincipals()
  const env = {
    // the reserve (80 %) is reached at the 4th login of the hour
    SALESFORCE_LOGINS_PER_HOUR: '5',
    WEBHOOK_URLS: `${receiver.url},${dead.url}`,
    WEBHOOK_SECRET: SECRET,
    WEBHOOK_MAX_ATTEMPTS: '2',
    WEBHOOK_RETRY_BASE_MS: '10',
    WEBHOOK_RETRY_MAX_MS: '10',
  }
  const replicas = [
    await listenTestApp(t, { secretStore: store, redisUrl: redis.url, principals, env }),
    await listenTestApp(t, { secretStore: store, redisUrl: redis.url, principals, env }),
  ]
  const admin = (i: number, method: string, path: string) => http(`${replicas[i].url}${path}`, { method, headers: bearer(principals.adminKey) })

  // five logins of the same Salesforce user, alternating replicas: the 4th (replica B) and the
  // 5th (replica A, which has raised nothing before) both see the reserve reached
  for (let i = 0; i < 5; i++) {
    const validated = await admin(i % 2, 'POST', '/v1/admin/connections/acme/validate')
    t.equal(validated.json.ok, true, `login ${i + 1} on replica ${'AB'[i % 2]}`)
  }
  t.equal(sim.stats('acme').attempts, 5)
  // a later event from replica A: once it has arrived, a second copy of the reserve event would have too
  t.equal((await admin(0, 'POST', '/v1/admin/connections/acme/sessions/revoke')).status, 200)
  await receiver.waitFor(d => d.type === 'kill_switch.used')
  const reserve = receiver.received.filter(d => d.type === 'login.budget_reserve_reached')
  t.equal(reserve.length, 1, 'one delivery fleet-wide')
  t.match(reserve[0].event, { connection: 'acme', data: { used: 4, limit: 5, reservePercent: 80 } })
  t.same(receiver.received.map(d => d.type).sort(), ['kill_switch.used', 'login.budget_reserve_reached'])

  // both events failed twice at the other receiver, on whichever replica raised them: every replica lists both
  await dead.waitForRefusals(4)
  for (const i of [0, 1]) {
    let letters = await admin(i, 'GET', '/v1/admin/notifications/dead-letters')
    for (let tries = 0; letters.json.deadLetters.length < 2 && tries < 100; tries++) {
      await new Promise(resolve => setTimeout(resolve, 20))
      letters = await admin(i, 'GET', '/v1/admin/notifications/dead-letters')
    }
    t.same(letters.json.deadLetters.map((l: any) => l.event.type).sort(), ['kill_switch.used', 'login.budget_reserve_reached'], `replica ${'AB'[i]} reads both`)
  }
})

t.test('a replica stopping while an event it raised still waits for Redis keeps it as a dead letter', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const hop = await redisHop(t, Number(new URL(redis.url).port))
  const receiver = await startReceiver(SECRET)
  t.teardown(() => receiver.close())
  receiver.answer(503)
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'client_credentials'), 0)
  const principals = testPrincipals()
  const env = { WEBHOOK_URLS: receiver.url, WEBHOOK_SECRET: SECRET, WEBHOOK_RETRY_BASE_MS: '60000', WEBHOOK_RETRY_MAX_MS: '60000' }
  const stopping = await listenTestApp(t, { secretStore: store, redisUrl: hop.url, principals, env })

  // a slow link to Redis (still inside the client's command timeout): the kill switch is answered
  // while the fleet-wide claim of its event is still on the way; SIGTERM comes now (a rolling update)
  hop.delay(400)
  const revoked = await http(`${stopping.url}/v1/admin/connections/acme/sessions/revoke`, { method: 'POST', headers: bearer(principals.adminKey) })
  t.equal(revoked.status, 200)
  await stopping.app.close()
  hop.delay(0)

  // any other replica lists it: nothing dropped in silence
  const other = await listenTestApp(t, { secretStore: store, redisUrl: redis.url, principals, env })
  const letters = await http(`${other.url}/v1/admin/notifications/dead-letters`, { headers: bearer(principals.adminKey) })
  t.equal(letters.status, 200)
  t.match(letters.json.deadLetters, [{ event: { type: 'kill_switch.used', connection: 'acme' } }], 'the event is a dead letter')
  t.equal(receiver.received.length, 0)
})
