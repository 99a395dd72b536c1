import t, { type Test } from 'tap'
import { once } from 'node:events'
import { connect } from 'node:net'
import fc from 'fast-check'
import { ACME, KEYS, acmeDefinition, bearer, buildTestApp, listenTestApp, startSim, tempFileStore } from '../helper.ts'
import { captureLogs } from '../support/log-capture.ts'
import { testPrincipals } from '../support/principals.ts'

/**
 * Property-based hostile input against every route: whatever a client sends, the answer is a
 * 4xx problem+json (or a legitimate success), never a 500, never a stack trace, never a secret.
 */
const RUNS = 150

t.test('hostile input never yields a 500, a stack trace or a secret', async (t) => {
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'jwt_bearer'), 0)
  const logs = captureLogs('debug')
  const principals = testPrincipals(['acme'], 1_000_000)
  const { app } = await buildTestApp(t, { secretStore: store, principals, logger: logs.logger, env: { LOG_LEVEL: 'debug', BODY_LIMIT_BYTES: '4096' } })
  const session = (await app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })).json()
  const secrets = [ACME.password, ACME.securityToken, ACME.clientSecret, KEYS.privateKeyPem.split('\n')[1], session.accessToken, principals.billingKey, principals.adminKey]

  const routes: Array<{ method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: (name: string) => string }> = [
    { method: 'POST', path: n => `/v1/connections/${n}/session` },
    { method: 'GET', path: n => `/v1/admin/connections/${n}` },
    { method: 'PUT', path: n => `/v1/admin/connections/${n}` },
    { method: 'PATCH', path: n => `/v1/admin/connections/${n}/credentials` },
    { method: 'POST', path: n => `/v1/admin/connections/${n}/validate` },
    { method: 'POST', path: n => `/v1/admin/connections/${n}/rollback` },
    { method: 'GET', path: n => `/v1/admin/connections/${n}/versions` },
    { method: 'DELETE', path: n => `/v1/admin/connections/${n}` },
    { method: 'GET', path: () => '/v1/admin/audit?limit=abc' },
    { method: 'GET', path: n => `/health/salesforce?connection=${n}` },
  ]
  const trickyNames = fc.oneof(
    fc.constantFrom('../acme', '..%2Facme', '%2e%2e', '%2e%2e%2fsys', 'acme%00', '%00', 'ACME', 'a'.repeat(64), 'acme%2Fsession', '%E2%80%AEacme', '..', '.', '-acme', 'acme/../acme', '%252e%252e',
      // over the router's maxParamLength (200), and percent-encoding that does not decode
      'a'.repeat(201), `${'b'.repeat(200)}%3Cscript%3E`, '%E0%A4%A', 'acme%'),
    fc.string({ minLength: 60, maxLength: 120 }).map(s => encodeURIComponent(s).repeat(3)),
    fc.string({ maxLength: 70 }).map(s => encodeURIComponent(s)),
    fc.stringMatching(/^[a-z0-9-]{1,70}$/)
  )
  const bodies = fc.oneof(
    fc.json().map(s => ({ payload: s, type: 'application/json' })),
    fc.string({ maxLength: 200 }).map(s => ({ payload: s, type: 'application/json' })),
    fc.constantFrom('{', '{"rejectedToken":', 'null', '[]', '"x"', '{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{"x":1}}}').map(s => ({ payload: s, type: 'application/json' })),
    fc.string({ maxLength: 100 }).map(s => ({ payload: s, type: 'text/plain' })),
    fc.constant({ payload: 'x'.repeat(10_000), type: 'application/json' }),
    fc.record({ flow: fc.string(), loginUrl: fc.webUrl(), apiVersion: fc.string(), sessionTimeoutSeconds: fc.oneof(fc.integer(), fc.string()), password: fc.string() })
      .map(o => ({ payload: JSON.stringify(o), type: 'application/json' }))
  )
  const auth = fc.oneof(
    fc.constant(undefined),
    fc.constant(`Bearer ${principals.billingKey}`),
    fc.constant(`Bearer ${principals.adminKey}`),
    fc.string({ maxLength: 300 }).map(s => `Bearer ${s}`),
    fc.constantFrom('Bearer sfb.ops.' + 'A'.repeat(32), 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJvcHMifQ.', 'Basic b3BzOm9wcw==', 'Bearer', 'Bearer sfb.billing.x\r\nX-Injected: 1')
  )

  let inputs = 0
  await fc.assert(fc.asyncProperty(fc.constantFrom(...routes), trickyNames, bodies, auth, async (route, name, body, authorization) => {
    const headers: Record<string, string> = { 'content-type': body.type }
    if (authorization !== undefined) headers.authorization = authorization
    let res
    try {
      res = await app.inject({ method: route.method, url: route.path(name), headers, payload: route.method === 'GET' || route.method === 'DELETE' ? undefined : body.payload })
    } catch (err) {
      // light-my-request refuses to build some requests (invalid header characters): a real client couldn't send them either
      if (/Invalid character|header/i.test((err as Error).message)) return
      throw err
    }
    inputs++
    if (res.statusCode >= 500) throw new Error(`${route.method} ${route.path(name)} → ${res.statusCode}: ${res.body}`)
    if (res.statusCode >= 400) {
      if (!String(res.headers['content-type']).startsWith('application/problem+json')) throw new Error(`not problem+json: ${res.headers['content-type']}`)
      const problem = res.json()
      if (!/^urn:sf-broker:problem:[a-z_]+$/.test(problem.type)) throw new Error(`bad type ${problem.type}`)
      // a refusal quotes at most a name that passed validation, never what the client made up
      const decoded = safeDecode(name)
      if (decoded.length >= 6 && !/^[a-z0-9][a-z0-9-]{0,62}$/.test(decoded) && (res.body.includes(decoded) || res.body.includes(name))) {
        throw new Error(`${route.method} ${route.path(name)} → ${res.statusCode} echoes the input: ${res.body}`)
      }
    }
    if (/\bat .+:\d+:\d+|\.ts:\d+|node_modules/.test(res.body)) throw new Error(`stack trace in ${res.body}`)
    for (const s of secrets) {
      if (res.body.includes(s) && !(res.statusCode === 200 && s === session.accessToken)) throw new Error(`secret in answer to ${route.method} ${route.path(name)}`)
    }
  }), { numRuns: RUNS * routes.length / 5, seed: 42 })
  t.ok(inputs > 100, `${inputs} hostile requests answered`)

  const huge = await app.inject({ method: 'PUT', url: '/v1/admin/connections/acme', headers: { ...bearer(principals.adminKey), 'content-type': 'application/json' }, payload: JSON.stringify({ password: 'x'.repeat(20_000) }) })
  t.equal(huge.statusCode, 413)
  t.equal(huge.json().type, 'urn:sf-broker:problem:payload_too_large')

  const text = logs.text()
  for (const s of secrets) t.notOk(text.includes(s), 'no secret in the logs of the whole suite')
  t.equal((await store.read('acme'))?.version, 1, 'nothing hostile changed the stored connection')
})

function safeDecode (s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

/** Sends raw bytes and reads the whole answer: the framework's and Node's own refusals happen before any route. */
async function rawHttp (port: number, request: string): Promise<{ status: number, headers: string, body: string }> {
  const socket = connect(port, '127.0.0.1')
  await once(socket, 'connect')
  const chunks: Buffer[] = []
  socket.on('data', (c: Buffer) => chunks.push(c))
  socket.on('error', () => {})
  socket.write(request)
  await once(socket, 'close')
  const text = Buffer.concat(chunks).toString('utf8')
  const [head, ...rest] = text.split('\r\n\r\n')
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), headers: head.toLowerCase(), body: rest.join('\r\n\r\n') }
}

t.test('every refusal before a route is problem+json with a stable type and never echoes the input', async (t) => {
  const store = await tempFileStore(t)
  const principals = testPrincipals(['acme'], 1_000_000)
  const { url: base } = await listenTestApp(t, { secretStore: store, principals })
  const port = Number(new URL(base).port)
  const MARK = 'zq9marker'
  const isProblem = (t: Test, contentType: string | null, body: string, status: number, code: string, what: string) => {
    t.match(String(contentType), /^application\/problem\+json/, `${what}: problem+json`)
    const problem = JSON.parse(body)
    t.match(problem, { type: `urn:sf-broker:problem:${code}`, status, code }, `${what}: type ${code}`)
    t.equal(typeof problem.detail, 'string', `${what}: a fixed detail`)
    t.notOk(body.includes(MARK), `${what}: the input is not echoed`)
    t.notOk(body.includes('<script>'), `${what}: the decoded input is not echoed`)
  }
  const get = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${base}${path}`, init)
    return { status: res.status, type: res.headers.get('content-type'), body: await res.text() }
  }

  const unknown = await get(`/v1/${MARK}/nothing-here`)
  t.equal(unknown.status, 404)
  isProblem(t, unknown.type, unknown.body, 404, 'not_found', 'unknown route')

  const long = await get(`/v1/connections/${MARK}${'a'.repeat(250)}%3Cscript%3E/session`, { method: 'POST', headers: bearer(principals.billingKey) })
  t.equal(long.status, 414, 'a path parameter over maxParamLength')
  isProblem(t, long.type, long.body, 414, 'uri_too_long', 'long path parameter')

  const badUrl = await get(`/v1/connections/${MARK}%E0%A4%A/session`, { method: 'POST', headers: bearer(principals.billingKey) })
  t.equal(badUrl.status, 400, 'a path that does not decode')
  isProblem(t, badUrl.type, badUrl.body, 400, 'malformed_url', 'undecodable path')

  const json = { ...bearer(principals.billingKey), 'content-type': 'application/json' }
  const brokenJson = await get('/v1/connections/acme/session', { method: 'POST', headers: json, body: `{"${MARK}": <script>` })
  isProblem(t, brokenJson.type, brokenJson.body, 400, 'malformed_json', 'body that is not JSON')
  const poisoned = await get('/v1/connections/acme/session', { method: 'POST', headers: json, body: `{"__proto__":{"${MARK}":1}}` })
  isProblem(t, poisoned.type, poisoned.body, 400, 'malformed_json', 'prototype poisoning')
  const empty = await get('/v1/connections/acme/session', { method: 'POST', headers: json, body: '' })
  isProblem(t, empty.type, empty.body, 400, 'malformed_json', 'empty JSON body')
  const media = await get('/v1/connections/acme/session', { method: 'POST', headers: { ...bearer(principals.billingKey), 'content-type': `text/${MARK}` }, body: 'x' })
  isProblem(t, media.type, media.body, 415, 'unsupported_media_type', 'unsupported media type')

  // Node's HTTP parser refuses these before Fastify sees a request (clientError)
  const bigHeader = await rawHttp(port, `GET /health/live HTTP/1.1\r\nHost: x\r\nX-${MARK}: ${'h'.repeat(20_000)}\r\n\r\n`)
  t.equal(bigHeader.status, 431, 'headers over the limit')
  isProblem(t, /content-type: ([^\r\n]+)/.exec(bigHeader.headers)?.[1] ?? null, bigHeader.body, 431, 'headers_too_large', 'headers too large')
  const garbage = await rawHttp(port, `GET /health/live ${MARK}<script>\r\n\r\n`)
  t.equal(garbage.status, 400, 'a request line that is not HTTP')
  isProblem(t, /content-type: ([^\r\n]+)/.exec(garbage.headers)?.[1] ?? null, garbage.body, 400, 'malformed_request', 'malformed request')
  const badHeader = await rawHttp(port, `GET /health/live HTTP/1.1\r\nHost: x\r\n${MARK} <script>: 1\r\n\r\n`)
  t.equal(badHeader.status, 400, 'an invalid header name')
  isProblem(t, /content-type: ([^\r\n]+)/.exec(badHeader.headers)?.[1] ?? null, badHeader.body, 400, 'malformed_request', 'invalid header')
})

t.test('an Expect the broker does not meet is answered 417 problem+json, with a request id and an access line', async (t) => {
  // Node answers an Expect other than 100-continue itself (an empty 417, no content type) unless the server
  // listens for checkExpectation: no problem+json, no request id, no access line
  const logs = captureLogs('debug')
  const principals = testPrincipals(['acme'], 1_000_000)
  const { url: base } = await listenTestApp(t, { principals, logger: logs.logger })
  const port = Number(new URL(base).port)
  const answer = await rawHttp(port, `POST /v1/connections/acme/session HTTP/1.1\r\nHost: x\r\nConnection: close\r\nExpect: zq9marker<script>\r\nAuthorization: Bearer ${principals.billingKey}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`)
  t.equal(answer.status, 417)
  t.match(answer.headers, /content-type: application\/problem\+json/)
  t.match(answer.headers, /x-request-id: [0-9a-f-]{36}/)
  t.match(JSON.parse(answer.body), { type: 'urn:sf-broker:problem:expectation_failed', status: 417, code: 'expectation_failed' })
  t.notMatch(answer.body, /zq9marker|script/, 'the expectation is not echoed')
  t.match(logs.records().filter(r => r.msg === 'request'), [{ level: 30, method: 'POST', route: '/v1/connections/:name/session', status: 417 }], 'its access line')

  const continued = await rawHttp(port, 'GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\nExpect: 100-continue\r\n\r\n')
  t.equal(continued.status, 100, '100-continue is met as before')
})
