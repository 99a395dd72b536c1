import t from 'tap'
import { acmeDefinition, bearer, buildTestApp, listenTestApp, startSim, tempFileStore } from '../helper.ts'
import { startRedis } from '../support/redis.ts'
import { testPrincipals } from '../support/principals.ts'
import { captureLogs } from '../support/log-capture.ts'
import { RedisKeys } from '../../src/shared-state/redis-keys.ts'
import { loginUserLease } from '../../src/shared-state/state-names.ts'
import { loginIdentity } from '../../src/sessions/login-identity.ts'

t.test('a replica stopping while Salesforce hangs answers its waiting callers 503 and hands the login lease on at once', async (t) => {
  const sim = await startSim(t)
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const store = await tempFileStore(t)
  const principals = testPrincipals(['acme'], 100_000)
  // one login may take 10 s, a wait 20 s; the replica has 3 s to stop
  const env = { SHUTDOWN_TIMEOUT_MS: '3000', LOGIN_TIMEOUT_MS: '10000', LOGIN_WAIT_TIMEOUT_MS: '20000' }
  const logs = captureLogs('info')
  const listening = await listenTestApp(t, { redisUrl: redis.url, secretStore: store, principals, env, logger: logs.logger })
  const a = listening.app
  const b = (await buildTestApp(t, { redisUrl: redis.url, secretStore: store, principals, env })).app
  const definition = acmeDefinition(sim, 'client_credentials')
  await store.write('acme', definition, 0)
  const url = `${listening.url}/v1/connections/acme/session`

  sim.setLatency(60_000)
  const waiting = Array.from({ length: 5 }, () => fetch(url, { method: 'POST', headers: bearer(principals.billingKey) }))
  // the one lease of a login: its Salesforce user's (here the client-credentials app's)
  const lease = new RedisKeys('sfbtest:').lease(loginUserLease(loginIdentity(definition)))
  const inspect = redis.client()
  t.teardown(() => inspect.quit())
  for (let i = 0; i < 500 && !(await inspect.exists(lease)); i++) await new Promise(resolve => setTimeout(resolve, 20))
  t.equal(await inspect.exists(lease), 1, 'replica A is logging in and holds the lease')

  const started = Date.now()
  const closed = a.close()
  const answers = await Promise.all(waiting)
  const elapsed = Date.now() - started
  t.same(answers.map(r => r.status), [503, 503, 503, 503, 503])
  const body = await answers[0].json() as { code: string, retryable: boolean }
  t.equal(body.code, 'shutting_down')
  t.equal(body.retryable, true)
  t.ok(Number(answers[0].headers.get('retry-after')) >= 1, 'Retry-After')
  t.ok(elapsed < 3_000, `answered within the shutdown budget (${elapsed} ms)`)
  t.equal(await inspect.exists(lease), 0, 'the lease was released, not left to expire')

  // Salesforce is back: replica B logs in at once instead of waiting out A's lease (35 s)
  sim.setLatency(0)
  const fromB = await b.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })
  t.equal(fromB.statusCode, 200, fromB.body)
  t.ok(Date.now() - started < 4_000, 'B did not wait for the stopping replica\'s lease to expire')
  await closed
  const line = logs.records().find(r => typeof r.cutShort === 'number')
  t.equal(line?.cutShort, 5, 'the shutdown log line counts the requests cut short')
  t.equal(line?.abandonedLogins, 1)
})
