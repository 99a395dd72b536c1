import t, { type Test } from 'tap'
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { gunzipSync, gzipSync } from 'node:zlib'
import { acmeDefinition, bearer, listenTestApp, startSim, tempFileStore, type Teardown } from '../helper.ts'
import { proxyCallers } from './support.ts'
import { rawRequest } from './raw-request.ts'

/**
 * What a hostile or broken instance (or caller) can do with the parts of HTTP around a body: headers
 * a message names in Connection, a transfer coding that compresses, a body in UTF-16.
 */

const TOKEN = `00Dhost!AQ.session-1-${'x'.repeat(40)}`
const PREFIX = '/v1/connections/acme/salesforce'

/** The broker in front of an instance that records each request and answers as `answer` says. */
async function rig (t: Teardown, answer: (res: ServerResponse) => void) {
  const seen: IncomingHttpHeaders[] = []
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => { seen.push(req.headers); answer(res) })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => { server.closeAllConnections(); server.close(() => resolve()) }))
  const instance = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim), 0)
  const callers = proxyCallers()
  const { url } = await listenTestApp(t, {
    secretStore: store,
    principals: callers,
    overrides: { login: async () => ({ ok: true, session: { accessToken: TOKEN, instanceUrl: instance, userId: '005000000000001AAA', orgId: '00D000000000001AAA', issuedAt: Date.now(), flow: 'client_credentials' } }) },
  })
  return { url, seen, key: callers.fullKey }
}

t.test('headers a message names in its Connection header go no further, either way (RFC 9110 §7.6.1)', async (t) => {
  const { url, seen, key } = await rig(t, (res) => {
    res.writeHead(200, { 'content-type': 'application/json', connection: 'keep-alive, Sforce-Limit-Info', 'sforce-limit-info': 'api-usage=1/15000', 'sforce-locator': 'null' })
    res.end('{}')
  })
  const r = await rawRequest(url, `GET ${PREFIX}/services/data/v62.0/limits HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nConnection: close, Sforce-Call-Options\r\nSforce-Call-Options: client=spoofed\r\nSforce-Query-Options: batchSize=200\r\n\r\n`)
  t.equal(r.status, 200)
  t.notOk('sforce-call-options' in seen[0], 'the header the caller named in Connection did not reach Salesforce')
  t.equal(seen[0]['sforce-query-options'], 'batchSize=200', 'another Sforce-* header did')
  t.notOk(/sforce-limit-info/i.test(r.head), 'the header Salesforce named in Connection did not reach the caller')
  t.match(r.head, /sforce-locator: null/i)
})

t.test('an answer compressed by its transfer coding is refused, not passed on still compressed and unscrubbed', async (t) => {
  const { url, key } = await rig(t, (res) => {
    const socket = res.socket!
    const gz = gzipSync(JSON.stringify({ sid: TOKEN }))
    socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: gzip, chunked\r\nconnection: close\r\n\r\n${gz.length.toString(16)}\r\n`)
    socket.write(gz)
    socket.end('\r\n0\r\n\r\n')
  })
  const r = await fetch(`${url}${PREFIX}/services/data/v62.0/limits`, { headers: bearer(key) })
  const bytes = Buffer.from(await r.arrayBuffer())
  t.equal(r.status, 502)
  t.match(r.headers.get('content-type'), /^application\/problem\+json/)
  const problem = JSON.parse(bytes.toString()) as { detail: string, retryable: boolean }
  t.match(problem.detail, /transfer encoding the proxy cannot read/, 'the answer says why')
  t.equal(problem.retryable, false, 'and that sending the call again will not help')
  t.notOk(bytes.includes(TOKEN), 'no session in the answer')
  let unzipped = ''
  try { unzipped = gunzipSync(bytes).toString() } catch {}
  t.notOk(unzipped.includes(TOKEN), 'nor in what it would unzip to')
})

/**
 * An instance answering `status` with `answer` as JSON in UTF-16, in each byte order: the proxied answer
 * must carry no session and still parse as UTF-16 to `scrubbed`.
 */
async function utf16Answers (t: Test, status: number, answer: unknown, scrubbed: unknown): Promise<void> {
  let bigEndian = false
  const { url, key } = await rig(t, (res) => {
    const body = Buffer.from(JSON.stringify(answer), 'utf16le')
    res.writeHead(status, { 'content-type': `application/json; charset=utf-16${bigEndian ? 'be' : 'le'}` })
    res.end(bigEndian ? body.swap16() : body)
  })
  for (const order of ['le', 'be'] as const) {
    bigEndian = order === 'be'
    const r = await fetch(`${url}${PREFIX}/services/apexrest/echo/x`, { headers: bearer(key) })
    const bytes = Buffer.from(await r.arrayBuffer())
    const text = (order === 'be' ? Buffer.from(bytes).swap16() : bytes).toString('utf16le')
    t.equal(r.status, status)
    t.notOk(text.includes(TOKEN), `UTF-16${order.toUpperCase()}: no session`)
    t.same(JSON.parse(text), scrubbed, `UTF-16${order.toUpperCase()}: the answer is still whole UTF-16`)
  }
}

t.test('an answer in UTF-16 is scrubbed in UTF-16, either byte order, and stays readable', async (t) => {
  await utf16Answers(t, 200, { sid: TOKEN, note: 'echoed' }, { sid: '[redacted]', note: 'echoed' })
})

t.test('a 401 that is not an ended session, in UTF-16, is scrubbed in UTF-16 too (the short answer read for its errorCode)', async (t) => {
  // an Apex REST class answering 401 itself, echoing the session: not INVALID_SESSION_ID, so not healed
  await utf16Answers(t, 401, [{ errorCode: 'NOT_ALLOWED', message: `sid ${TOKEN}` }], [{ errorCode: 'NOT_ALLOWED', message: 'sid [redacted]' }])
})
