import t from 'tap'
import { once } from 'node:events'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { connect, type Socket } from 'node:net'
import { acmeDefinition, acmeOrg, bearer, buildTestApp, listenTestApp, startSim, tempFileStore } from '../helper.ts'
import { captureLogs } from '../support/log-capture.ts'

const SESSION = '/v1/connections/acme/session'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

t.test('one access line per request: method, route pattern, status, ms, caller, request id; no query values; probes at debug', async (t) => {
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'client_credentials'), 0)
  const logs = captureLogs('debug')
  const { app, principals } = await buildTestApp(t, { secretStore: store, logger: logs.logger })
  const auth = bearer(principals.billingKey)

  const answers = [
    await app.inject({ method: 'POST', url: SESSION, headers: { ...auth, 'x-request-id': 'trace-4f2a.7:b' } }),
    await app.inject({ method: 'POST', url: `${SESSION}?apikey=QUERYSECRET1&x=QUERYSECRET2`, headers: auth }),
    await app.inject({ method: 'POST', url: SESSION, headers: { 'x-request-id': 'has spaces and "quotes"' } }),
    await app.inject({ method: 'POST', url: SESSION, headers: { ...auth, 'x-request-id': 'x'.repeat(129) } }),
    await app.inject({ method: 'GET', url: '/health/live' }),
    await app.inject({ method: 'GET', url: '/no/such/route?token=QUERYSECRET3' }),
  ]
  t.same(answers.map(a => a.statusCode), [200, 200, 401, 200, 200, 404])

  const ids = answers.map(a => String(a.headers['x-request-id']))
  t.equal(ids[0], 'trace-4f2a.7:b', 'an acceptable x-request-id is honoured and echoed')
  for (const i of [1, 2, 3, 4, 5]) t.match(ids[i], UUID, `request ${i}: a new random id (the header was absent or not acceptable)`)
  t.equal(new Set(ids).size, ids.length, 'ids are unique')

  const access = logs.records().filter(r => r.msg === 'request')
  t.equal(access.length, answers.length, 'exactly one access line per request')
  t.same(access.map(r => r.reqId), ids, 'each line carries the id the response echoed')
  const [withId, withQuery, unauthenticated, , probe, unmatched] = access
  t.match(withId, { level: 30, method: 'POST', route: '/v1/connections/:name/session', status: 200, caller: 'billing' })
  t.type(withId.ms, 'number')
  t.match(withQuery, { route: '/v1/connections/:name/session', status: 200, caller: 'billing' })
  t.match(unauthenticated, { status: 401 })
  t.notOk('caller' in unauthenticated, 'no caller when authentication failed')
  t.match(probe, { level: 20, method: 'GET', route: '/health/live', status: 200 }, 'probes at debug')
  t.match(unmatched, { level: 30, method: 'GET', route: '(unmatched)', status: 404 })

  const text = logs.text()
  t.notMatch(text, /QUERYSECRET/, 'query values never reach the log')
  t.notMatch(text, /has spaces/, 'a rejected request id is not logged')
  t.notMatch(text, new RegExp(principals.billingKey.split('.')[2]), 'no API key')
  t.notMatch(text, /incoming request|request completed|not found/, 'Fastify\'s own per-request lines are replaced')

  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body
  t.match(metrics, /http_request_duration_seconds_count\{method="POST",route="\/v1\/connections\/:name\/session",status_code="200"\} 3/)
  t.match(metrics, /http_request_duration_seconds_count\{method="POST",route="\/v1\/connections\/:name\/session",status_code="401"\} 1/)
  t.match(metrics, /http_request_duration_seconds_count\{method="GET",route="\(unmatched\)",status_code="404"\} 1/)
  t.match(metrics, /http_request_duration_seconds_bucket\{method="GET",route="\/health\/live",status_code="200",le="30"\} 1\n/)
  t.match(metrics, /http_request_duration_seconds_bucket\{method="GET",route="\/health\/live",status_code="200",le="\+Inf"\} 1\n/)
  t.match(metrics, /# TYPE http_request_duration_seconds histogram/)
  t.match(metrics, /sfb_session_requests_total\{connection="acme",outcome="hit"\} 2\n/, 'session answers are counted by outcome')
  t.match(metrics, /sfb_session_requests_total\{connection="acme",outcome="miss"\} 1\n/)
  t.notMatch(metrics, /QUERYSECRET|no\/such/)
})

t.test('a caller granted every connection cannot add metric series by asking for names that do not exist', async (t) => {
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'client_credentials'), 0)
  const { testPrincipals } = await import('../support/principals.ts')
  const principals = testPrincipals(['*'])
  const { app } = await buildTestApp(t, { secretStore: store, principals })
  for (let i = 0; i < 5; i++) {
    const r = await app.inject({ method: 'POST', url: `/v1/connections/made-up-${i}/session`, headers: bearer(principals.billingKey) })
    t.equal(r.statusCode, 404)
  }
  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body
  t.notMatch(metrics, /made-up-/, 'no series per name asked for')
  t.match(metrics, /sfb_session_requests_total\{connection="\(unknown\)",outcome="error"\} 5/, 'one series for all of them')
})

t.test('a request whose connection closes before its answer still has its access line and is counted', async (t) => {
  // each login takes a second: long enough for the caller to give up while it runs
  const sim = await startSim(t, [acmeOrg()], 1_000)
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'client_credentials'), 0)
  const logs = captureLogs('debug')
  const { app, principals, url } = await listenTestApp(t, { secretStore: store, logger: logs.logger, env: { REQUEST_TIMEOUT_SECONDS: '1' } })
  const port = Number(new URL(url).port)
  /** sends a request's head (and what there is of its body) on a connection of its own; resolves once the broker has it */
  const arrival = async (head: string): Promise<{ response: ServerResponse, caller: Socket }> => {
    const arrived = once(app.server, 'request') as Promise<[IncomingMessage, ServerResponse]>
    const caller = connect(port, '127.0.0.1', () => caller.write(head))
    caller.on('error', () => {})
    t.teardown(() => caller.destroy())
    const [, response] = await arrived
    return { response, caller }
  }

  // a caller whose own timeout is shorter than the login: it goes away, the broker goes on
  const gaveUp = await arrival(`POST /v1/connections/acme/session HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${principals.billingKey}\r\nContent-Length: 0\r\n\r\n`)
  const closed = once(gaveUp.response, 'close')
  gaveUp.caller.destroy()
  await closed
  // the login it started still ends, and the next caller gets its session
  const next = await app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })
  t.equal(next.statusCode, 200)

  // a body that stops arriving: Node answers 408 after REQUEST_TIMEOUT_SECONDS
  const stalled = await arrival(`PUT /v1/admin/connections/acme HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${principals.adminKey}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"flow":`)
  await once(stalled.response, 'close')

  const access = logs.records().filter(r => r.msg === 'request')
  t.equal(access.length, 3, 'one access line per request, the unanswered ones included')
  t.match(access.find(r => r.method === 'POST' && r.status !== 200), { level: 30, route: '/v1/connections/:name/session', status: 499, caller: 'billing', aborted: 'ConnectionClosed' },
    'the caller that went away: 499 (client closed the request), as proxies log it')
  t.match(access.find(r => r.method === 'PUT'), { level: 30, route: '/v1/admin/connections/:name', status: 408, caller: 'ops' }, 'the request that never arrived whole: the 408 Node sent')
  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body
  t.match(metrics, /http_request_duration_seconds_count\{method="POST",route="\/v1\/connections\/:name\/session",status_code="499"\} 1\n/, 'counted in the HTTP metrics too')
  t.match(metrics, /http_request_duration_seconds_count\{method="PUT",route="\/v1\/admin\/connections\/:name",status_code="408"\} 1\n/)
})

t.test('/metrics: each scrape has its access line (debug), a refused one at info, without the token', async (t) => {
  const token = 'metrics-token-' + 'k'.repeat(24)
  const logs = captureLogs('debug')
  const { app } = await buildTestApp(t, { logger: logs.logger, env: { METRICS_TOKEN: token } })
  const answers = [
    await app.inject({ method: 'GET', url: '/metrics' }),
    await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer wrong-guess-of-the-token' } }),
    await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${token}` } }),
  ]
  t.same(answers.map(a => a.statusCode), [401, 401, 200])
  const access = logs.records().filter(r => r.msg === 'request')
  t.equal(access.length, answers.length, 'exactly one access line per request')
  t.match(access, [
    { level: 30, method: 'GET', route: '/metrics', status: 401 },
    { level: 30, method: 'GET', route: '/metrics', status: 401 },
    { level: 20, method: 'GET', route: '/metrics', status: 200 },
  ], 'refused scrapes (someone guessing the token) at info; a Prometheus scrape every few seconds at debug, like the probes')
  t.notMatch(logs.text(), /wrong-guess|kkkkkkkk/, 'no token, right or wrong, in the log')
})
