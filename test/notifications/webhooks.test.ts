import t from 'tap'
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { ACME, acmeDefinition, bearer, listenTestApp, startSim, tempFileStore, type Teardown } from '../helper.ts'
import { http } from '../support/http.ts'
import { captureLogs } from '../support/log-capture.ts'
import { startConnectProxy } from '../support/connect-proxy.ts'
import { startReceiver, verifyDelivery } from '../support/webhook-receiver.ts'

const SECRET = randomBytes(32).toString('hex')

/** test-sized retries: 20 ms, 40 ms, 80 ms… */
const FAST = { WEBHOOK_SECRET: SECRET, WEBHOOK_RETRY_BASE_MS: '20', WEBHOOK_RETRY_MAX_MS: '100' }

async function acmeBroker (t: Teardown, env: Record<string, string>, logger = captureLogs('info')) {
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'client_credentials'), 0)
  const { url, principals } = await listenTestApp(t, { secretStore: store, env: { SECRET_CACHE_TTL_SECONDS: '0', ...env }, logger: logger.logger })
  const admin = (method: string, path: string, body?: unknown) => http(`${url}${path}`, {
    method,
    headers: { ...bearer(principals.adminKey), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  return { sim, url, principals, admin, logs: logger }
}

t.test('a connection that fails and is fixed by a rotation: the receiver hears each step, signed, without a secret', async (t) => {
  const receiver = await startReceiver(SECRET)
  t.teardown(() => receiver.close())
  const { sim, admin } = await acmeBroker(t, { ...FAST, WEBHOOK_URLS: receiver.url })

  // someone changes the consumer secret in Salesforce: the stored one stops working
  const newSecret = 'acme-consumer-secret-rotated-987654'
  sim.org('acme').connectedApps.get(ACME.clientId)!.clientSecret = newSecret
  t.equal((await admin('POST', '/health/salesforce/acme/check')).json.status, 'failing')
  const failed = await receiver.waitFor(d => d.type === 'connection.status_changed' && d.event.data.to === 'failing')
  t.match(failed.event, {
    id: /^evt_[0-9a-f]{32}$/,
    type: 'connection.status_changed',
    connection: 'acme',
    data: { from: 'not_checked', to: 'failing', recovered: false, classification: 'invalid_client' },
  })
  t.equal(failed.attempt, 1)
  t.equal(failed.id, failed.event.id, 'the id header is the event id')
  t.match(failed.signature, /^t=\d+,v1=[0-9a-f]{64}$/)

  // the admin rotates to the new secret: validated, stored, and the connection recovers
  t.equal((await admin('PATCH', '/v1/admin/connections/acme/credentials', { clientSecret: newSecret })).status, 200)
  const rotated = await receiver.waitFor(d => d.type === 'rotation.completed')
  t.match(rotated.event.data, { action: 'credentials.rotate', outcome: 'success', actor: 'ops', version: 2 })
  const recovered = await receiver.waitFor(d => d.type === 'connection.status_changed' && d.event.data.to === 'ok')
  t.match(recovered.event.data, { from: 'failing', to: 'ok', recovered: true, classification: 'ok', secretVersion: 2 })

  // a rotation Salesforce refuses is told too
  t.equal((await admin('PATCH', '/v1/admin/connections/acme/credentials', { clientSecret: 'not-the-secret-at-all' })).status, 422)
  const refused = await receiver.waitFor(d => d.type === 'rotation.failed')
  t.match(refused.event.data, { action: 'credentials.rotate', outcome: 'rejected', classification: 'invalid_client' })

  // the kill switch
  t.equal((await admin('POST', '/v1/admin/connections/acme/sessions/revoke')).status, 200)
  const killed = await receiver.waitFor(d => d.type === 'kill_switch.used')
  t.match(killed.event, { connection: 'acme', data: { action: 'sessions.revoke', outcome: 'success', actor: 'ops' } })

  for (const d of receiver.received) {
    for (const secret of [ACME.clientSecret, newSecret, 'not-the-secret-at-all', SECRET]) t.notOk(d.body.includes(secret), `${d.type} carries no secret`)
  }
  t.equal(new Set(receiver.received.map(d => d.id)).size, receiver.received.length, 'one delivery per event')
  t.equal(receiver.refused, 0, 'every delivery verified')

  // what the receiver's check refuses: another secret, a stale time stamp, a changed body
  const { body, signature } = failed
  const t0 = Number(/t=(\d+)/.exec(signature)![1])
  t.ok(verifyDelivery(signature, body, SECRET, t0 + 299))
  t.notOk(verifyDelivery(signature, body, 'another-secret-of-at-least-32-characters', t0), 'another secret')
  t.notOk(verifyDelivery(signature, body, SECRET, t0 + 301), 'replayed after the 300 s window')
  t.notOk(verifyDelivery(signature, body.replace('failing', 'ok'), SECRET, t0), 'a changed body')
})

t.test('the failure guard tripping is told, and nothing of the passwords tried', async (t) => {
  const receiver = await startReceiver(SECRET)
  t.teardown(() => receiver.close())
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'soap'), 0)
  const { url, principals } = await listenTestApp(t, { secretStore: store, env: { ...FAST, WEBHOOK_URLS: receiver.url } })
  // an admin tries two wrong passwords: with LOCKOUT_THRESHOLD=3 the second leaves the user one short of Salesforce's lockout
  for (const password of ['Wrong-Password-1', 'Wrong-Password-2']) {
    const tried = await http(`${url}/v1/admin/connections/acme/validate`, { method: 'POST', headers: { ...bearer(principals.adminKey), 'content-type': 'application/json' }, body: JSON.stringify({ password }) })
    t.equal(tried.json.ok, false)
  }
  const tripped = await receiver.waitFor(d => d.type === 'login.guard_tripped')
  t.match(tripped.event, { connection: 'acme', data: { failures: 2, lockoutThreshold: 3 } })
  const third = await http(`${url}/v1/admin/connections/acme/validate`, { method: 'POST', headers: { ...bearer(principals.adminKey), 'content-type': 'application/json' }, body: JSON.stringify({ password: 'Wrong-Password-3' }) })
  t.equal(third.status, 429, 'the guard holds the third')
  t.equal(sim.stats('acme').attempts, 2, 'no third password went to Salesforce')
  t.notOk(/Wrong-Password|Corr3ct/.test(tripped.body))
})

t.test('a migration refused by Salesforce, then completed: both are told', async (t) => {
  const receiver = await startReceiver(SECRET)
  t.teardown(() => receiver.close())
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'oauth_password'), 0)
  const { url, principals } = await listenTestApp(t, { secretStore: store, env: { ...FAST, WEBHOOK_URLS: receiver.url } })
  const MIGRATION = `${url}/v1/admin/connections/acme/migration`
  const call = (method: string, target: string, body?: unknown) => http(target, {
    method,
    headers: { ...bearer(principals.adminKey), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const started = await call('POST', MIGRATION, { flow: 'jwt_bearer', clientId: ACME.clientId })
  t.equal(started.status, 201)
  // the certificate is not uploaded to the app yet: Salesforce refuses the JWT
  t.not((await call('POST', `${MIGRATION}/validate`)).json.classification, 'ok')
  const failed = await receiver.waitFor(d => d.type === 'migration.failed')
  t.match(failed.event, { connection: 'acme', data: { action: 'migration.validate', outcome: 'rejected', actor: 'ops' } })

  const uploaded = await fetch(`${sim.loginUrl}/_sim/orgs/acme/apps/${ACME.clientId}/certificate`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ certificatePem: started.json.certificate.pem }) })
  t.ok(uploaded.ok)
  t.equal((await call('POST', `${MIGRATION}/validate`)).json.classification, 'ok')
  t.equal((await call('POST', `${MIGRATION}/complete`)).status, 200)
  const completed = await receiver.waitFor(d => d.type === 'migration.completed')
  t.match(completed.event, { connection: 'acme', data: { action: 'migration.complete', outcome: 'success', version: 2 } })
  for (const d of receiver.received) t.notOk(/PRIVATE KEY|BEGIN CERTIFICATE/.test(d.body), `${d.type}: no key, no certificate`)
})

t.test('the budget reserve is told when it starts holding logins back, whatever the limit', async (t) => {
  const receiver = await startReceiver(SECRET)
  t.teardown(() => receiver.close())
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  // six connections of one Salesforce user: they share its hourly login budget
  const names = ['acme', 'acme-2', 'acme-3', 'acme-4', 'acme-5', 'acme-6']
  for (const name of names) await store.write(name, acmeDefinition(sim, 'client_credentials'), 0)
  // 7 logins an hour: the reserve is the last fifth rounded up (2), so once 5 are spent a forced
  // check (neither a session miss nor an admin write) is held back
  const { url, principals } = await listenTestApp(t, { secretStore: store, env: { ...FAST, WEBHOOK_URLS: receiver.url, SALESFORCE_LOGINS_PER_HOUR: '7' } })
  const check = (name: string) => http(`${url}/health/salesforce/${name}/check`, { method: 'POST', headers: bearer(principals.adminKey) })
  for (const name of names.slice(0, 5)) t.equal((await check(name)).json.status, 'ok', `${name} checked`)
  t.equal(sim.stats('acme').attempts, 5)
  await check('acme-6')
  t.equal(sim.stats('acme').attempts, 5, 'the sixth check was held back by the reserve')
  const told = await receiver.waitFor(d => d.type === 'login.budget_reserve_reached', 3000)
  t.match(told.event, { connection: 'acme-5', data: { used: 5, limit: 7 } })
})

t.test('receiver outage: refused, then back: delivered after retries; a receiver that never takes it leaves a dead letter admins read', async (t) => {
  const receiver = await startReceiver(SECRET)
  const dead = await startReceiver(SECRET)
  t.teardown(() => receiver.close())
  t.teardown(() => dead.close())
  dead.answer(500)
  const { admin, url, principals, logs } = await acmeBroker(t, { ...FAST, WEBHOOK_MAX_ATTEMPTS: '6', WEBHOOK_URLS: `${receiver.url},${dead.url}` })

  // the receiver is down (its port refuses connections) while three events happen
  await receiver.stop()
  for (let i = 0; i < 3; i++) t.equal((await admin('POST', '/v1/admin/connections/acme/sessions/revoke')).status, 200)
  const failedAttempts = () => logs.records().filter(r => r.msg === 'webhook delivery failed' && r.target === new URL(receiver.url).origin)
  await waitUntil(() => failedAttempts().length >= 6)
  t.ok(failedAttempts().every(r => r.error === 'ECONNREFUSED'), 'connection refused while down')
  await receiver.start()
  await receiver.waitFor(() => receiver.received.length >= 3)
  t.equal(receiver.received.length, 3, 'all three delivered once it was back, none lost')
  t.ok(receiver.received.every(d => d.type === 'kill_switch.used' && d.attempt >= 2), 'each after at least one retry')

  // the other receiver answers 500 every time: after 6 attempts each event is a dead letter
  await dead.waitForRefusals(18)
  const letters = await waitFor(async () => {
    const page = await admin('GET', '/v1/admin/notifications/dead-letters')
    return page.json.deadLetters.length >= 3 ? page : undefined
  })
  t.equal(letters.status, 200)
  t.equal(letters.json.deadLetters.length, 3)
  const [letter] = letters.json.deadLetters
  t.match(letter, { id: /^\d+/, attempts: 6, lastError: 'HTTP 500', target: { id: /^[0-9a-f]{12}$/, origin: new URL(dead.url).origin }, event: { type: 'kill_switch.used', connection: 'acme' } })
  t.notOk(letters.text.includes('/hooks/sf-broker'), 'the URL path is not shown')
  t.same(receiver.received.map(d => d.id).sort(), letters.json.deadLetters.map((l: any) => l.event.id).sort(), 'the same events, with the same ids')

  // pages
  const first = await admin('GET', '/v1/admin/notifications/dead-letters?limit=2')
  t.equal(first.json.deadLetters.length, 2)
  const second = await admin('GET', `/v1/admin/notifications/dead-letters?limit=2&before=${first.json.next}`)
  t.equal(second.json.deadLetters.length, 1)
  t.notOk(second.json.next)

  // admin principals, read-only ones included
  const asViewer = await http(`${url}/v1/admin/notifications/dead-letters?limit=1`, { headers: bearer(principals.viewerKey!) })
  t.equal(asViewer.status, 200)
  t.equal(asViewer.json.deadLetters.length, 1)
  const asService = await http(`${url}/v1/admin/notifications/dead-letters`, { headers: bearer(principals.billingKey) })
  t.equal(asService.status, 403)
  t.match(asService.headers.get('content-type'), /^application\/problem\+json/)
  t.equal((await http(`${url}/v1/admin/notifications/dead-letters`)).status, 401)
})

t.test('stopping the broker keeps what was not delivered as dead letters', async (t) => {
  const receiver = await startReceiver(SECRET)
  t.teardown(() => receiver.close())
  receiver.answer(503)
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'client_credentials'), 0)
  const logs = captureLogs('info')
  const { app, principals, url } = await listenTestApp(t, { secretStore: store, logger: logs.logger, env: { ...FAST, WEBHOOK_RETRY_BASE_MS: '60000', WEBHOOK_RETRY_MAX_MS: '60000', WEBHOOK_URLS: receiver.url } })
  t.equal((await http(`${url}/v1/admin/connections/acme/sessions/revoke`, { method: 'POST', headers: bearer(principals.adminKey) })).status, 200)
  // the first attempt has failed and the courier waits a minute for the next
  await waitUntil(() => logs.records().some(r => r.msg === 'webhook delivery failed'))
  const letters = app.broker.deadLetters
  const started = Date.now()
  await app.broker.notifier.close()
  t.ok(Date.now() - started < 2000, 'the minute-long wait is cut short')
  const [letter] = await letters.list(10)
  t.match(letter, { attempts: 1, lastError: 'broker stopped before delivery (last: HTTP 503)', event: { type: 'kill_switch.used' } })
})

t.test('behind an egress proxy (HTTPS_PROXY/HTTP_PROXY), deliveries go through it like every other outbound call; a loopback receiver is reached directly', async (t) => {
  const proxy = await startConnectProxy()
  t.teardown(() => proxy.close())
  const receiver = await startReceiver(SECRET)
  t.teardown(() => receiver.close())
  // where only the proxy may reach outside, a delivery that ignores it never arrives; the proxy cannot
  // resolve this name (it answers 502), but it was asked for a tunnel to it
  const outside = 'https://hooks.example.invalid/sf-broker'
  const { admin } = await acmeBroker(t, { ...FAST, WEBHOOK_URLS: `${outside},${receiver.url}`, HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url })
  t.equal((await admin('POST', '/v1/admin/connections/acme/sessions/revoke')).status, 200)
  await receiver.waitFor(d => d.type === 'kill_switch.used')
  await waitUntil(() => (proxy.tunnels.get('hooks.example.invalid:443') ?? 0) >= 1)
  t.pass('the delivery to the outside receiver asked the proxy for a tunnel')
  t.equal(proxy.tunnels.get(new URL(receiver.url).host) ?? 0, 0, 'the loopback receiver was not reached through the proxy')
})

t.test('a receiver that answers 200 with an endless body: the delivery counts at once and the body is not read', async (t) => {
  let written = 0
  const closed = new Promise<void>(resolve => {
    const server = createServer((req, res) => {
      req.resume()
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/octet-stream' })
        const chunk = Buffer.alloc(64 * 1024, 0x61)
        const pump = (): void => {
          let more = true
          while (!res.destroyed && more) {
            more = res.write(chunk)
            written += chunk.length
          }
          if (!res.destroyed) res.once('drain', pump)
        }
        pump()
        res.on('close', () => resolve())
      })
    })
    server.listen(0, '127.0.0.1', () => {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
      acmeBroker(t, { ...FAST, WEBHOOK_URLS: url, WEBHOOK_TIMEOUT_MS: '60000' })
        .then(({ admin }) => admin('POST', '/v1/admin/connections/acme/sessions/revoke'))
        .catch(resolve)
    })
    t.teardown(() => { server.closeAllConnections(); server.close() })
  })
  await closed
  // before, the whole answer was read until the 60 s timeout: memory without bound
  t.ok(written < 16 * 1024 * 1024, `the broker hung up after ${written} bytes`)
})

t.test('webhook settings fail closed', async (t) => {
  const { loadConfig } = await import('../../src/config.ts')
  const base = { SECRET_STORE: 'file', FILE_STORE_KEY: randomBytes(32).toString('base64'), PRINCIPALS_JSON: '{"principals":[]}', SHARED_STATE: 'memory' }
  t.throws(() => loadConfig({ ...base, WEBHOOK_URLS: 'https://hooks.example.com/x' }), /missing WEBHOOK_SECRET/)
  t.throws(() => loadConfig({ ...base, WEBHOOK_SECRET: SECRET }), /missing WEBHOOK_URLS/)
  t.throws(() => loadConfig({ ...base, WEBHOOK_URLS: 'http://hooks.example.com/x', WEBHOOK_SECRET: SECRET }), /invalid WEBHOOK_URLS: http:\/\/hooks.example.com must be https/)
  t.throws(() => loadConfig({ ...base, WEBHOOK_URLS: 'https://hooks.example.com/x', WEBHOOK_SECRET: 'short' }), /WEBHOOK_SECRET/)
  // fetch refuses such a URL: the broker started, and every delivery was dead-lettered as a "network error"
  for (const withCredentials of ['https://ops:hunter2@hooks.example.com/x', 'https://ops@hooks.example.com/x']) {
    let message = 'no error'
    try { loadConfig({ ...base, WEBHOOK_URLS: `https://a.example.com/x,${withCredentials}`, WEBHOOK_SECRET: SECRET }) } catch (err) { message = (err as Error).message }
    t.match(message, /^invalid WEBHOOK_URLS: https:\/\/hooks.example.com carries a user name or password, which no delivery can send; remove it/)
    t.notMatch(message, /hunter2|ops/, 'the credentials are not repeated')
  }
  t.equal(loadConfig({ ...base, WEBHOOK_URLS: 'https://a.example.com/x, http://127.0.0.1:9/y', WEBHOOK_SECRET: SECRET }).WEBHOOK_MAX_ATTEMPTS, 10)
})

async function waitUntil (ok: () => boolean, timeoutMs = 8000): Promise<void> {
  await waitFor(async () => (ok() ? true : undefined), timeoutMs)
}

/** Polls a condition that has no event of its own to wait on (a log line, an HTTP read). */
async function waitFor<T> (get: () => Promise<T | undefined>, timeoutMs = 8000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await get()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}
