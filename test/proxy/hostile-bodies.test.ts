import { request as httpRequest } from 'node:http'
import t from 'tap'
import { bearer } from '../helper.ts'
import { http } from '../support/http.ts'
import { echoInstance, echoRig as rig } from './echo-instance.ts'
import { proxyCallers } from './support.ts'
import { acmeDefinition, listenTestApp, startSim, tempFileStore } from '../helper.ts'
import { get, rawRequest } from './raw-request.ts'

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

t.test('a streamed upload whose call waits for a login longer than PROXY_UPLOAD_IDLE_TIMEOUT_MS is forwarded whole, not cut off as stalled', async (t) => {
  const echo = await echoInstance(t)
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim), 0)
  const callers = proxyCallers()
  let loginAsked: () => void = () => {}
  const asked = new Promise<void>(resolve => { loginAsked = resolve })
  let releaseLogin: () => void = () => {}
  const released = new Promise<void>(resolve => { releaseLogin = resolve })
  // the first call of the day finds no session: Salesforce's login takes its time
  const login = async () => { loginAsked(); await released; return await echo.login() }
  const { url } = await listenTestApp(t, { secretStore: store, principals: callers, env: { PROXY_UPLOAD_IDLE_TIMEOUT_MS: '200', PROXY_REPLAY_BUFFER_BYTES: '0' }, overrides: { login } })
  const body = 'e'.repeat(64 * 1024)
  const answered = new Promise<{ status: number, text: string }>((resolve, reject) => {
    const req = httpRequest(`${url}/v1/connections/acme/salesforce/services/data/v62.0/jobs/ingest/750x/batches`, { method: 'PUT', headers: { ...bearer(callers.fullKey), 'content-type': 'text/csv', 'content-length': String(body.length) } }, (res) => {
      let text = ''
      res.on('data', (c: Buffer) => { text += String(c) })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
    })
    req.on('error', reject)
    req.end(body) // all of it, at once
  })
  await asked
  // the login takes several times the upload's idle limit (no event says when that limit would have run out)
  await new Promise(resolve => setTimeout(resolve, 1_000))
  releaseLogin()
  const got = await answered
  t.equal(got.status, 200, got.text)
  t.equal(echo.seen.at(-1)?.bodyBytes, body.length, 'Salesforce got the whole body')
})

/** A PUT whose body arrives in 100-byte pieces every `everyMs` for `forMs`: never idle, slow as a far-away client. */
function steadyUpload (url: string, key: string, everyMs: number, forMs: number): Promise<{ status: number, sent: number }> {
  return new Promise((resolve, reject) => {
    let sent = 0
    const req = httpRequest(url, { method: 'PUT', headers: { ...bearer(key), 'content-type': 'text/csv', 'transfer-encoding': 'chunked' } }, (res) => {
      clearInterval(timer)
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode ?? 0, sent }))
    })
    req.on('error', reject)
    const started = Date.now()
    const timer = setInterval(() => {
      if (Date.now() - started >= forMs) {
        clearInterval(timer)
        req.end()
        return
      }
      req.write('e'.repeat(100))
      sent += 100
    }, everyMs)
  })
}

t.test('REQUEST_TIMEOUT_SECONDS bounds the time a request takes to arrive: a steady slow upload within it goes through, one past it is cut off', async (t) => {
  const within = await rig(t, { REQUEST_TIMEOUT_SECONDS: '10', PROXY_REPLAY_BUFFER_BYTES: '0' })
  const through = await steadyUpload(`${within.url}${within.prefix}/services/data/v62.0/jobs/ingest/750x/batches`, within.callers.fullKey, 200, 3_000)
  t.equal(through.status, 200, 'a 3 s upload, never idle, goes through')
  t.equal(within.echo.seen.at(-1)?.bodyBytes, through.sent, 'all of it')

  const past = await rig(t, { REQUEST_TIMEOUT_SECONDS: '1', PROXY_REPLAY_BUFFER_BYTES: '0' })
  const cut = await steadyUpload(`${past.url}${past.prefix}/services/data/v62.0/jobs/ingest/750x/batches`, past.callers.fullKey, 200, 6_000)
  t.equal(cut.status, 408, `past the request time, cut off however steady (${JSON.stringify(cut)})`)
})

t.test('MAX_HEADER_BYTES sets the 431 limit: a head of exactly that size is forwarded, one over it gets problem+json', async (t) => {
  const limit = 24576 // above Node's default (16 KiB), which refuses the first request below
  const { url, callers, prefix, echo } = await rig(t, { MAX_HEADER_BYTES: String(limit) })
  const path = `${prefix}/services/data/v62.0/limits`
  // the padding goes in a header the proxy does not forward (the echo instance keeps Node's default limit)
  const head = (bytes: number) => {
    const bare = get(path, { ...bearer(callers.fullKey), 'x-pad': '' })
    return get(path, { ...bearer(callers.fullKey), 'x-pad': 'p'.repeat(bytes - bare.length) })
  }
  // Node counts the names, values and target, not the separators: a head of `limit` bytes in all is within it
  const within = await rawRequest(url, head(limit))
  t.equal(head(limit).length, limit)
  t.equal(within.status, 200, 'a head of exactly MAX_HEADER_BYTES passes')
  t.equal(echo.seen.filter(s => s.url.endsWith('/limits')).length, 1, 'and reaches Salesforce')

  const over = await rawRequest(url, head(limit + 100))
  t.equal(over.status, 431, 'a head over it is refused')
  t.match(over.head, /content-type: application\/problem\+json/i)
  t.match(JSON.parse(over.body), { status: 431, code: 'headers_too_large' })
  t.equal(echo.seen.filter(s => s.url.endsWith('/limits')).length, 1, 'before Salesforce')
})
