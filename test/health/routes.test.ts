import t from 'tap'
import { ACME, acmeDefinition, bearer, startSim, tempFileStore } from '../helper.ts'
import { startRedis } from '../support/redis.ts'
import { testPrincipals } from '../support/principals.ts'
import { ManualClock } from '../support/manual-clock.ts'
import { buildHealthApp, INTERVAL_MS } from './health-helper.ts'
import { http } from '../support/http.ts'

t.test('/health/salesforce and the forced check, with the scheduler off', async (t) => {
  const sim = await startSim(t)
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'client_credentials'), 0)
  await store.write('broken', acmeDefinition(sim, 'oauth_password', { password: 'not-the-password' }), 0)
  const principals = testPrincipals(['acme', 'broken', 'broken-2'])
  // the simulated org locks a user after 5 failed logins: the broker's guard is told so
  // the clock rounds would run on, if there were a scheduler
  const clock = new ManualClock()
  const { url } = await buildHealthApp(t, { secretStore: store, redisUrl: redis.url, principals, env: { SCHEDULER_ENABLED: 'false', LOCKOUT_THRESHOLD: '5' }, overrides: { clock } })
  const admin = bearer(principals.adminKey)
  const check = (name: string, headers: Record<string, string> = admin) => http(`${url}/health/salesforce/${name}/check`, { method: 'POST', headers })

  await t.test('nothing checked yet: degraded, still 200, and the scheduler really is off', async (t) => {
    t.equal(clock.pending, 0, 'no round scheduled')
    await clock.advance(3 * INTERVAL_MS)
    const r = await http(`${url}/health/salesforce`)
    t.equal(r.status, 200)
    t.equal(r.headers.get('cache-control'), 'no-store')
    t.equal(r.json.status, 'degraded')
    t.same(r.json.connections.map((c: any) => [c.connection, c.status, c.classification, c.checkKind]), [
      ['acme', 'degraded', 'not_checked', 'none'],
      ['broken', 'degraded', 'not_checked', 'none'],
    ])
    t.ok(Date.parse(r.json.checkedAt) > 0)
    t.equal(sim.stats().attempts, 0, 'no login without the scheduler')
  })

  await t.test('the forced check is for admins only', async (t) => {
    const none = await check('acme', {})
    t.equal(none.status, 401)
    t.equal(none.headers.get('content-type'), 'application/problem+json; charset=utf-8')
    t.equal(none.json.type, 'urn:sf-broker:problem:unauthenticated')
    const service = await check('acme', bearer(principals.billingKey))
    t.equal(service.status, 403)
    t.equal(service.json.type, 'urn:sf-broker:problem:forbidden')
    t.equal(sim.stats().attempts, 0)
  })

  await t.test('a forced check logs in now, reports ok, and is rationed per connection (429)', async (t) => {
    const r = await check('acme')
    t.equal(r.status, 200)
    t.match(r.json, { connection: 'acme', status: 'ok', classification: 'ok', checkKind: 'full', consecutiveFailures: 0, secretVersion: 1, circuit: { state: 'closed' } })
    t.equal(r.json.apiUsage.max, 15000)
    t.ok(Date.parse(r.json.sessionValidUntil) > Date.now(), 'the login is cached for callers')
    t.ok(r.json.lastSuccessAt && r.json.lastFullCheckAt && r.json.lastCheckedAt)
    t.equal(sim.stats('acme').attempts, 1)

    const again = await check('acme')
    t.equal(again.status, 429)
    t.equal(again.json.type, 'urn:sf-broker:problem:rate_limited')
    t.ok(Number(again.headers.get('retry-after')) >= 1)
    t.equal(sim.stats('acme').attempts, 1, 'no login for the rationed check')

    const one = await http(`${url}/health/salesforce?connection=acme`)
    t.equal(one.status, 200)
    t.equal(one.json.status, 'ok')
    t.same(one.json.connections.map((c: any) => c.connection), ['acme'])

    // the cached session serves callers: no second login
    const session = await http(`${url}/v1/connections/acme/session`, { method: 'POST', headers: bearer(principals.billingKey) })
    t.equal(session.status, 200)
    t.equal(sim.stats('acme').attempts, 1)
  })

  await t.test('a failing connection makes the report 503; one connection is judged alone', async (t) => {
    const before = sim.stats().failures
    const r = await check('broken')
    t.equal(r.status, 200, 'the check itself succeeded')
    t.match(r.json, { connection: 'broken', status: 'failing', classification: 'invalid_credentials', checkKind: 'full', consecutiveFailures: 1, circuit: { state: 'open' } })
    t.match(r.json.hint, /password|security token/i)
    t.equal(sim.stats().failures, before + 1)

    const all = await http(`${url}/health/salesforce`)
    t.equal(all.status, 503)
    t.equal(all.headers.get('content-type'), 'application/json; charset=utf-8')
    t.equal(all.json.status, 'failing')
    t.same(all.json.connections.map((c: any) => c.status), ['ok', 'failing'])
    t.equal((await http(`${url}/health/salesforce?connection=broken`)).status, 503)
    t.equal((await http(`${url}/health/salesforce?connection=acme`)).status, 200)

    const text = JSON.stringify(all.json)
    for (const secret of [ACME.password, ACME.clientSecret, ACME.securityToken, 'not-the-password']) t.notOk(text.includes(secret), 'no secret in the report')
    t.notOk(/accessToken|00D[A-Za-z0-9]{12,15}!/.test(text), 'no token in the report')
  })

  await t.test('while the circuit is open a forced check makes no login', async (t) => {
    await store.write('broken-2', acmeDefinition(sim, 'oauth_password', { password: 'not-the-password' }), 0)
    const failuresBefore = sim.stats().failures
    // a caller's request fails the login and opens the circuit
    const asked = await http(`${url}/v1/connections/broken-2/session`, { method: 'POST', headers: bearer(principals.billingKey) })
    t.equal(asked.status, 503)
    t.equal(sim.stats().failures, failuresBefore + 1)

    const r = await check('broken-2')
    t.equal(r.status, 200)
    t.match(r.json, { status: 'failing', classification: 'invalid_credentials', checkKind: 'none', circuit: { state: 'open', failures: 1 } })
    t.match(r.json.message, /logins are paused/)
    t.equal(sim.stats().failures, failuresBefore + 1, 'no login while the circuit is open')
  })

  await t.test('a rotation that Salesforce accepts heals the report at once', async (t) => {
    const rotated = await http(`${url}/v1/admin/connections/broken/credentials`, {
      method: 'PATCH',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ password: ACME.password }),
    })
    t.equal(rotated.status, 200)
    const r = await http(`${url}/health/salesforce?connection=broken`)
    t.equal(r.status, 200)
    t.match(r.json.connections[0], { status: 'ok', secretVersion: 2, circuit: { state: 'closed' } })
  })

  await t.test('unknown connections are 404 problems; bad input is 400', async (t) => {
    const one = await http(`${url}/health/salesforce?connection=nope`)
    t.equal(one.status, 404)
    t.equal(one.json.type, 'urn:sf-broker:problem:not_found')
    t.equal((await check('nope')).status, 404)
    t.equal((await http(`${url}/health/salesforce?connection=NOT_A_NAME`)).status, 400)
    t.equal((await http(`${url}/health/salesforce?other=1`)).status, 400)
  })

  await t.test('forced checks are audited', async (t) => {
    const r = await http(`${url}/v1/admin/audit?limit=50`, { headers: admin })
    t.equal(r.status, 200)
    const checks = r.json.events.filter((e: any) => e.action === 'health.check')
    t.same(checks.map((e: any) => [e.connection, e.outcome, e.classification, e.actor]).sort(), [
      ['acme', 'success', 'ok', 'ops'],
      ['broken', 'rejected', 'invalid_credentials', 'ops'],
      ['broken-2', 'rejected', 'invalid_credentials', 'ops'],
    ])
    t.ok(checks.every((e: any) => typeof e.requestId === 'string' && e.requestId.length > 0))
  })
})
