import t from 'tap'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { acmeDefinition, bearer, buildTestApp, startSim, tempFileStore } from '../helper.ts'

t.test('Salesforce down or slow: 503 salesforce_unavailable without opening the circuit; recovery without restart', async (t) => {
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'jwt_bearer'), 0)
  await store.write('cached', acmeDefinition(sim, 'client_credentials'), 0)
  const { app, principals } = await buildTestApp(t, {
    secretStore: store,
    principals: (await import('../support/principals.ts')).testPrincipals(['acme', 'cached'], 100_000),
    env: { LOGIN_TIMEOUT_MS: '400', LOGIN_RETRIES: '1', LOGIN_WAIT_TIMEOUT_MS: '3000' },
  })
  const ask = (name: string) => app.inject({ method: 'POST', url: `/v1/connections/${name}/session`, headers: bearer(principals.billingKey) })
  const cachedToken = (await ask('cached')).json().accessToken

  sim.setDown(true)
  const down = await ask('acme')
  t.equal(down.statusCode, 503)
  t.match(down.json(), { type: 'urn:sf-broker:problem:salesforce_unavailable', classification: 'unreachable', retryable: true })
  t.ok(Number(down.headers['retry-after']) >= 1)
  t.equal((await ask('cached')).json().accessToken, cachedToken, 'a cached session is still served while Salesforce is down')
  t.equal(await app.broker.sessions.circuit('acme'), null, 'a transient failure does not open the lockout circuit')

  // the fleet holds logins off for a moment instead of every waiting request retrying
  const attempts = sim.stats('acme').attempts
  const herd = await Promise.all(Array.from({ length: 20 }, () => ask('acme')))
  t.same([...new Set(herd.map(r => r.json().type))], ['urn:sf-broker:problem:salesforce_unavailable'])
  t.equal(sim.stats('acme').attempts, attempts, 'no login attempt during the hold-off')

  const wait = (res: { headers: Record<string, unknown> }) => new Promise(resolve => setTimeout(resolve, Number(res.headers['retry-after']) * 1000 + 100))
  sim.setDown(false)
  sim.setLatency(1000) // slower than LOGIN_TIMEOUT_MS
  await wait(herd[0])
  const slow = await ask('acme')
  t.equal(slow.statusCode, 503)
  t.equal(slow.json().classification, 'unreachable')
  t.match(slow.json().detail, /did not answer within 400 ms/)
  t.notMatch(slow.json().detail, /answered/, 'the answer does not say Salesforce answered when it did not')
  t.ok(Number(slow.headers['retry-after']) >= 2, 'the hold-off grows')

  sim.setLatency(0)
  await wait(slow)
  const healed = await ask('acme')
  t.equal(healed.statusCode, 200, 'recovers by itself')
  t.equal((await store.read('acme'))?.version, 1, 'nothing stored changed')
})

t.test('an HTTP 429 without Salesforce\'s error (an egress proxy, a gateway) is a short pause, not the user\'s login rate limit held for an hour', async (t) => {
  const sim = await startSim(t)
  let requests = 0
  const gateway = createServer((req, res) => {
    requests++
    req.resume()
    res.writeHead(429, { 'content-type': 'text/html' }).end('<html><body>Too Many Requests</body></html>')
  })
  await new Promise<void>(resolve => gateway.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => gateway.close(() => resolve())))
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'client_credentials', { loginUrl: `http://127.0.0.1:${(gateway.address() as AddressInfo).port}` }), 0)
  let now = Date.now()
  const { app, principals } = await buildTestApp(t, { secretStore: store, env: { LOGIN_RETRIES: '0' }, overrides: { clock: () => now } })
  const ask = () => app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })

  const first = await ask()
  t.equal(first.statusCode, 503)
  t.match(first.json(), { type: 'urn:sf-broker:problem:salesforce_unavailable', classification: 'unreachable', retryable: true, hint: /429/ })
  t.ok(Number(first.headers['retry-after']) <= 2, 'a pause of a second or two')
  t.equal(requests, 1)

  now += 2_000
  const second = await ask()
  t.equal(requests, 2, 'logins resume after the pause, not an hour later')
  t.equal(second.json().type, 'urn:sf-broker:problem:salesforce_unavailable')
})
