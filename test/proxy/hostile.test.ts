import { request as httpRequest } from 'node:http'
import t from 'tap'
import { bearer, listenTestApp, tempFileStore, acmeDefinition, startSim, type Teardown } from '../helper.ts'
import { http } from '../support/http.ts'
import { echoInstance } from './echo-instance.ts'
import { get, rawRequest } from './raw-request.ts'
import { proxyCallers } from './support.ts'

/** The broker in front of an instance that echoes what it gets (the login core answers with a session on it). */
async function rig (t: Teardown, env: Record<string, string> = {}) {
  const echo = await echoInstance(t)
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim), 0)
  const callers = proxyCallers()
  const { url } = await listenTestApp(t, { secretStore: store, principals: callers, env, overrides: { login: echo.login } })
  return { echo, url, callers, prefix: '/v1/connections/acme/salesforce', base: `${url}/v1/connections/acme/salesforce` }
}

t.test('paths that could mean something else to another parser are refused before Salesforce', async (t) => {
  const { echo, url, callers, prefix } = await rig(t)
  const auth = bearer(callers.fullKey)
  const refused = [
    '/services/data/v62.0/sobjects/Account/../../tooling/query',
    '/services/data/v62.0/./limits',
    '/services/data/v62.0/sobjects/Account%2F..%2F..%2Ftooling',
    '/services/data/v62.0/sobjects/Account%2f001',
    '/services/data/v62.0/sobjects/%2e%2e/limits',
    '/services/data/v62.0/sobjects/Account%252F001',
    '/services/data/v62.0/sobjects//Account',
    '/services/data/v62.0/limits;x=1',
    '/services/data/v62.0/sobjects/Account%5C..%5Climits',
    '/services/data/v62.0/sobjects/%C0%AE%C0%AE',
    '/services/data/v62.0/sobjects/Account%',
  ]
  for (const path of refused) {
    const res = await rawRequest(url, get(prefix + path, auth))
    t.equal(res.status, 400, path)
    t.match(res.head, /content-type: application\/problem\+json/i, path)
    t.notOk(res.body.includes('tooling') || res.body.includes('Account'), `${path}: the answer does not echo the path`)
  }
  const elsewhere = ['/services/oauth2/revoke', '/services/Soap/u/62.0', '/services/async/62.0/job', '/services/datax/v62.0/limits']
  for (const path of elsewhere) {
    const res = await rawRequest(url, get(prefix + path, auth))
    t.equal(res.status, 404, `${path} is not forwarded`)
  }
  t.same(echo.seen, [], 'nothing reached the instance')
})

t.test('the target host is always the instance: absolute-form, Host and X-Forwarded-* change nothing', async (t) => {
  const { echo, url, callers, prefix } = await rig(t)
  const absolute = await rawRequest(url, get(`http://evil.example${prefix}/services/data/v62.0/limits`, bearer(callers.fullKey)))
  t.not(absolute.status, 200, 'absolute-form is not proxied')
  t.same(echo.seen, [])

  const spoofed = await rawRequest(url, get(`${prefix}/services/data/v62.0/limits?x=1`, {
    ...bearer(callers.fullKey),
    'X-Forwarded-Host': 'evil.example',
    'X-Forwarded-For': '10.0.0.1',
    'X-Forwarded-Proto': 'http',
    Forwarded: 'host=evil.example',
    'X-Real-IP': '10.0.0.1',
  }).replace('Host: 127.0.0.1', 'Host: evil.example'))
  t.equal(spoofed.status, 200)
  t.equal(echo.seen.length, 1)
  const sent = echo.seen[0]
  t.equal(sent.headers.host, new URL(echo.url).host, 'Host is the instance')
  t.equal(sent.url, '/services/data/v62.0/limits?x=1', 'the checked path, the query unchanged')
  for (const h of ['x-forwarded-host', 'x-forwarded-for', 'x-forwarded-proto', 'forwarded', 'x-real-ip']) t.notOk(h in sent.headers, `${h} dropped`)
})

t.test('request headers by allow-list; the caller\'s credential, cookies and hop-by-hop headers stay behind', async (t) => {
  const { echo, base, callers } = await rig(t)
  const res = await http(`${base}/services/data/v62.0/limits`, {
    headers: {
      ...bearer(callers.fullKey),
      cookie: 'sid=caller-cookie',
      'sforce-call-options': 'client=billing',
      'sforce-query-options': 'batchSize=200',
      'x-sfdc-session': 'stolen-session',
      'x-custom': 'anything',
      'if-none-match': '"abc"',
      'proxy-authorization': 'Basic eA==',
    },
  })
  t.equal(res.status, 200)
  const sent = echo.seen[0].headers
  t.equal(sent['sforce-call-options'], 'client=billing')
  t.equal(sent['sforce-query-options'], 'batchSize=200')
  t.equal(sent['if-none-match'], '"abc"')
  t.match(sent.authorization, /^Bearer 00Decho!/, 'the broker\'s session, not the caller\'s key')
  t.notOk(String(sent.authorization).includes(callers.fullKey))
  for (const h of ['cookie', 'x-sfdc-session', 'x-custom', 'proxy-authorization']) t.notOk(h in sent, `${h} dropped`)
  t.equal(sent['accept-encoding'], 'identity')

  t.equal(res.headers.get('set-cookie'), null, 'Set-Cookie from upstream dropped')
  t.equal(res.headers.get('x-powered-by'), null)
  t.equal(res.headers.get('server'), null)
  t.equal(res.headers.get('sforce-limit-info'), 'api-usage=900/1000')
  t.equal(res.headers.get('cache-control'), 'no-store')
})

t.test('an instance that echoes the session: every form of it is scrubbed from the answer', async (t) => {
  const { echo, base, callers } = await rig(t)
  for (const path of ['/services/data/v62.0/limits', '/services/apexrest/unauthorised']) {
    const res = await http(`${base}${path}`, { headers: bearer(callers.fullKey) })
    const token = String(echo.seen.at(-1)?.headers.authorization).replace(/^Bearer /, '')
    t.ok(token.length > 40)
    t.notOk(res.text.includes(token), `${path}: raw token scrubbed`)
    t.notOk(res.text.includes(Buffer.from(token).toString('base64')), `${path}: base64 scrubbed`)
    t.notOk(res.text.includes(encodeURIComponent(token)), `${path}: percent-encoded scrubbed`)
    t.match(res.text, /\[redacted\]/)
  }
})

t.test('body limits: 413 by Content-Length before Salesforce, and while streaming', async (t) => {
  const { echo, base, callers, url, prefix } = await rig(t, { PROXY_BODY_LIMIT_BYTES: '4096', PROXY_REPLAY_BUFFER_BYTES: '1024' })
  const big = await http(`${base}/services/data/v62.0/jobs/ingest/750x/batches`, { method: 'PUT', headers: { ...bearer(callers.fullKey), 'content-type': 'text/csv' }, body: 'a'.repeat(5000) })
  t.equal(big.status, 413)
  t.equal(big.json.code, 'payload_too_large')
  t.same(echo.seen, [], 'refused before Salesforce')

  // chunked: no Content-Length, the limit is met while the body streams
  const status = await new Promise<number>((resolve, reject) => {
    const req = httpRequest(`${url}${prefix}/services/data/v62.0/jobs/ingest/750x/batches`, { method: 'PUT', headers: { ...bearer(callers.fullKey), 'content-type': 'text/csv' } }, (res) => { res.resume(); resolve(res.statusCode ?? 0) })
    req.on('error', reject)
    for (let i = 0; i < 10; i++) req.write('b'.repeat(1000))
    req.end()
  })
  t.equal(status, 413)
  t.ok(echo.seen.every(s => s.bodyBytes <= 4096), 'never more than the limit went on')

  const fits = await http(`${base}/services/data/v62.0/jobs/ingest/750x/batches`, { method: 'PUT', headers: { ...bearer(callers.fullKey), 'content-type': 'text/csv' }, body: 'c'.repeat(3000) })
  t.equal(fits.status, 200)
  t.equal(fits.json.bodyBytes, 3000, 'a body under the limit arrives whole')
})

t.test('a slow upload is cut off with 408; oversized headers get 431', async (t) => {
  const { url, callers, prefix, echo } = await rig(t, { PROXY_UPLOAD_IDLE_TIMEOUT_MS: '200', PROXY_REPLAY_BUFFER_BYTES: '0' })
  const answer = await new Promise<number>((resolve, reject) => {
    const req = httpRequest(`${url}${prefix}/services/data/v62.0/jobs/ingest/750x/batches`, { method: 'PUT', headers: { ...bearer(callers.fullKey), 'content-type': 'text/csv', 'content-length': '1000' } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); req.destroy() })
    req.on('error', reject)
    req.write('d'.repeat(10)) // …and nothing more
  })
  t.equal(answer, 408)

  const huge = await rawRequest(url, get(`${prefix}/services/data/v62.0/limits`, { ...bearer(callers.fullKey), 'sforce-call-options': 'x'.repeat(20_000) }))
  t.equal(huge.status, 431)
  t.match(huge.head, /application\/problem\+json/i)
  // header injection: a bare CR inside a value would start a second header for a lax parser
  const injected = await rawRequest(url, `GET ${prefix}/services/data/v62.0/limits HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${callers.fullKey}\r\nSforce-Call-Options: a\rX-Injected: b\r\nConnection: close\r\n\r\n`)
  t.equal(injected.status, 400)
  t.match(injected.head, /application\/problem\+json/i)
  t.equal(echo.seen.filter(s => s.url.endsWith('/limits')).length, 0)
})
