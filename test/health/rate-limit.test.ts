import t from 'tap'
import { acmeDefinition, startSim, tempFileStore } from '../helper.ts'
import { startRedis } from '../support/redis.ts'
import { buildHealthApp, eventually, sleep } from './health-helper.ts'
import { http } from '../support/http.ts'

t.test('a replica never makes more than VALIDATION_MAX_PER_SECOND calls to Salesforce, however many connections are due', async (t) => {
  const sim = await startSim(t)
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const store = await tempFileStore(t)
  const names = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6']
  for (const name of names) await store.write(name, acmeDefinition(sim, 'client_credentials'), 0)
  const { app, url } = await buildHealthApp(t, {
    secretStore: store,
    redisUrl: redis.url,
    env: { VALIDATION_INTERVAL_SECONDS: '1', FULL_VALIDATION_INTERVAL_SECONDS: '3600', VALIDATION_MAX_PER_SECOND: '2' },
  })
  // logins and /limits calls, everything the broker sends Salesforce
  const calls = () => sim.stats('acme').attempts + sim.org('acme').apiRequestsUsed

  await eventually(() => Promise.resolve(calls()), n => n >= 2, 4000, 20)
  // the bucket's own pacing is proved on a manual clock (token-bucket.test.ts); here, that the
  // validations go through it: however long the next 4 calls take (a loaded machine only makes it
  // longer), never more than 2 a second plus the burst
  const start = calls()
  const startedAt = Date.now()
  await eventually(() => Promise.resolve(calls()), n => n >= start + 4, 8000, 20)
  const windowMs = Date.now() - startedAt
  const made = calls() - start
  // 6 connections a second would want 6+ calls a second; the bucket allows 2 (plus a burst of 2)
  t.ok(made <= 2 * windowMs / 1000 + 2, `${made} calls in ${windowMs} ms`)
  t.ok(made >= 4, 'validations still progress')

  const okCount = (r: Awaited<ReturnType<typeof http>>) => r.json.connections.filter((c: any) => c.status === 'ok').length
  const report = await eventually(() => http(`${url}/health/salesforce`), r => okCount(r) >= 2, 8000)
  t.ok(okCount(report) >= 2, 'connections get validated, one after the other')

  // validations waiting for a token are dropped at shutdown, not waited for
  const closing = Date.now()
  await app.close()
  t.ok(Date.now() - closing < 1500, `closed in ${Date.now() - closing} ms`)
  const afterClose = calls()
  // a negative can only be watched for a while: longer than a token takes to come (500 ms at 2 a second)
  await sleep(700)
  t.equal(calls(), afterClose, 'nothing is sent to Salesforce after close')
})
