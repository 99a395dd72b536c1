import t from 'tap'
import { once } from 'node:events'
import { createServer, type ServerResponse } from 'node:http'
import { connect, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import { acmeDefinition, bearer, listenTestApp, startSim, tempFileStore, type Teardown } from '../helper.ts'
import type { LoginOutcome } from '../../src/salesforce/types.ts'
import { proxyCallers } from './support.ts'
import { get, rawRequest } from './raw-request.ts'

/** Larger than what the session scrubber holds back, so the caller sees it before the answer ends. */
const FIRST_PART = `{"records":[${'"x",'.repeat(2048)}`

const ACCOUNT = '{"attributes":{"type":"Account"},"Id":"001000000000002AAA","Name":"Acme"}'

interface Upstream { response: ServerResponse, socket: Socket }

/**
 * An instance that answers /services/data/v62.0/limits whole and anything else with the first part
 * of an answer only: the test decides what happens next.
 */
async function halfAnsweringInstance (t: Teardown): Promise<{ url: string, nextStarted: () => Promise<Upstream>, nextHeld: () => Promise<Upstream>, login: () => Promise<LoginOutcome>, unavailableAnswers: () => number }> {
  const waiting: Array<(u: Upstream) => void> = []
  const holding: Array<(u: Upstream) => void> = []
  let unavailable = 0
  const server = createServer((req, res) => {
    req.resume()
    if (req.url === '/services/data/v62.0/sobjects/Account/001000000000005AAA') {
      // Salesforce under maintenance: 503 with its JSON error list
      unavailable++
      res.writeHead(503, { 'content-type': 'application/json' }).end('[{"message":"Service Unavailable","errorCode":"SERVER_UNAVAILABLE"}]')
      return
    }
    if (req.url === '/services/data/v62.0/limits') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"DailyApiRequests":{"Max":15000,"Remaining":14999}}')
      return
    }
    if (req.url === '/services/data/v62.0/sobjects/Account/001000000000003AAA') {
      // not answered until the test says so
      holding.shift()?.({ response: res, socket: req.socket })
      return
    }
    if (req.url === '/services/data/v62.0/sobjects/Account/001000000000002AAA') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(ACCOUNT)) }).end(ACCOUNT)
      return
    }
    if (req.url === '/services/data/v62.0/sobjects/Account/001000000000001AAA') {
      // a small answer that announces its length and breaks off before it
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '400', etag: '"v1"' })
      res.write('{"attributes":{"type":"Account"},"Id":"001', () => req.socket.destroy())
      return
    }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.write(FIRST_PART, () => waiting.shift()?.({ response: res, socket: req.socket }))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => { server.closeAllConnections(); server.close(() => resolve()) }))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const login = async (): Promise<LoginOutcome> => ({
    ok: true,
    session: { accessToken: `00Dhalf!AQ.session-${'y'.repeat(40)}`, instanceUrl: url, userId: '005000000000001AAA', orgId: '00D000000000001AAA', issuedAt: Date.now(), flow: 'client_credentials' },
  })
  return {
    url,
    login,
    unavailableAnswers: () => unavailable,
    nextStarted: async () => await new Promise<Upstream>(resolve => waiting.push(resolve)),
    nextHeld: async () => await new Promise<Upstream>(resolve => holding.push(resolve)),
  }
}

async function rig (t: Teardown, env: Record<string, string> = {}) {
  const instance = await halfAnsweringInstance(t)
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim), 0)
  const callers = proxyCallers()
  const { url, app } = await listenTestApp(t, { secretStore: store, principals: callers, overrides: { login: instance.login }, env })
  return { instance, url, app, auth: bearer(callers.fullKey), prefix: '/v1/connections/acme/salesforce' }
}

t.test('Salesforce slower to answer than SOCKET_IDLE_TIMEOUT_MS: the caller still gets the answer (the connection was once closed under it)', async (t) => {
  const { instance, url, app, auth, prefix } = await rig(t, { SOCKET_IDLE_TIMEOUT_MS: '300' })
  const held = instance.nextHeld()
  // the broker's side of the caller's connection (a listener on the server's own 'timeout' event would change what Node does)
  const brokerSide = once(app.server, 'connection') as Promise<[Socket]>
  const answer = rawRequest(url, get(`${prefix}/services/data/v62.0/sobjects/Account/001000000000003AAA`, auth))
  const [socket] = await brokerSide
  // listening before anything else is awaited: the timer fires once per quiet period
  const quiet = once(socket, 'timeout')
  const upstream = await held
  // the caller's connection has been quiet for SOCKET_IDLE_TIMEOUT_MS while the broker waits for Salesforce
  await quiet
  upstream.response.writeHead(200, { 'content-type': 'application/json' }).end(ACCOUNT)
  const got = await answer
  t.equal(got.status, 200)
  t.match(got.body, '"Name":"Acme"', 'Salesforce\'s answer, whole')
})

t.test('a caller that stops reading a large answer: its connection is closed after SOCKET_IDLE_TIMEOUT_MS and the call to Salesforce aborted', async (t) => {
  // a rule that kept this socket would leave the test waiting: fail fast instead
  t.setTimeout(20_000)
  const { instance, url, auth, prefix } = await rig(t, { SOCKET_IDLE_TIMEOUT_MS: '300' })
  const started = instance.nextStarted()
  const { port } = new URL(url)
  const caller = connect(Number(port), '127.0.0.1', () => caller.write(get(`${prefix}/services/data/v62.0/query?q=SELECT+Id+FROM+Account`, auth)))
  caller.pause() // never reads: the answer backs up in the broker
  // (events.once would reject on the reset's 'error')
  const callerClosed = new Promise(resolve => caller.once('close', resolve))
  caller.on('error', () => {}) // the broker resets it
  t.teardown(() => caller.destroy())
  const upstream = await started
  const upstreamClosed = new Promise(resolve => upstream.socket.once('close', resolve))
  upstream.socket.on('error', () => {}) // the broker resets it
  // Salesforce goes on sending until the broker stops taking it (the caller's socket is full)
  const chunk = `${'"x",'.repeat(16 * 1024)}`
  const sendMore = (): void => { if (!upstream.socket.destroyed && upstream.response.write(chunk)) setImmediate(sendMore) }
  upstream.response.on('drain', sendMore)
  sendMore()
  await upstreamClosed
  t.notOk(upstream.response.writableEnded, 'the broker gave up on the call, Salesforce did not end it')
  // a paused socket does not see its end: reading again, the caller finds its connection closed
  let tail = ''
  caller.on('data', (c: Buffer) => { tail = (tail + c.toString('latin1')).slice(-16) })
  caller.resume()
  await callerClosed
  t.ok(caller.bytesRead > 0, 'the caller had been sent part of the answer')
  t.notMatch(tail, /\r\n0\r\n\r\n$/, 'the connection closed with the answer cut off, not ended as if whole')
})

t.test('a caller that goes away mid-answer: the request to Salesforce is aborted, its socket closed', async (t) => {
  const { instance, url, auth, prefix } = await rig(t)
  const started = instance.nextStarted()
  const { port } = new URL(url)
  const caller = connect(Number(port), '127.0.0.1', () => caller.write(get(`${prefix}/services/data/v62.0/query?q=SELECT+Id+FROM+Account`, auth)))
  const upstream = await started
  const upstreamClosed = once(upstream.socket, 'close')
  let seen = ''
  for await (const chunk of caller) {
    seen += String(chunk)
    if (seen.includes('"x","x"')) break // the first part reached the caller: leave, mid-answer
  }
  caller.destroy()
  // the instance never finishes this answer: only the broker aborting its request closes the socket
  await upstreamClosed
  t.notOk(upstream.response.writableEnded, 'closed with Salesforce\'s answer still unfinished')

  const next = await rawRequest(url, get(`${prefix}/services/data/v62.0/limits`, auth))
  t.equal(next.status, 200, 'the next call goes through')
  t.match(next.body, /DailyApiRequests/)
})

t.test('Salesforce breaking off mid-answer: the caller\'s answer is cut off too, not left open or ended as if whole', async (t) => {
  const { instance, url, auth, prefix } = await rig(t)
  const started = instance.nextStarted()
  const answer = rawRequest(url, get(`${prefix}/services/data/v62.0/query?q=SELECT+Id+FROM+Account`, auth))
  const upstream = await started
  upstream.socket.destroy()
  const res = await answer // resolves when the broker closes the caller's socket
  t.equal(res.status, 200, 'the status had gone out with the first part')
  t.match(res.head, /transfer-encoding: chunked/i)
  t.ok(res.body.includes('"x","x"'), 'the first part arrived')
  t.notOk(res.body.endsWith('0\r\n\r\n'), 'no last chunk: the caller can tell the answer is incomplete')

  const next = await rawRequest(url, get(`${prefix}/services/data/v62.0/limits`, auth))
  t.equal(next.status, 200, 'the next call goes through')
})

t.test('a small answer is sent whole with its length; one Salesforce breaks off before its Content-Length is a retryable 502, not a truncated 200', async (t) => {
  const { url, auth, prefix } = await rig(t)
  const whole = await rawRequest(url, get(`${prefix}/services/data/v62.0/sobjects/Account/001000000000002AAA`, auth))
  t.equal(whole.status, 200)
  t.match(whole.head, new RegExp(`^content-length: ${Buffer.byteLength(ACCOUNT)}$`, 'im'), 'the length of the answer as Salesforce sent it')
  t.notMatch(whole.head, /transfer-encoding/i)
  t.equal(whole.body, ACCOUNT)

  const cut = await rawRequest(url, get(`${prefix}/services/data/v62.0/sobjects/Account/001000000000001AAA`, auth))
  t.equal(cut.status, 502)
  t.match(cut.head, /content-type: application\/problem\+json/i)
  t.notMatch(cut.head, /etag/i, 'none of the broken answer\'s headers')
  const problem = JSON.parse(cut.body) as { type: string, retryable?: boolean, connection?: string }
  t.match(problem.type, /bad_gateway$/)
  t.equal(problem.retryable, true)
  t.equal(problem.connection, 'acme')
  t.notOk(cut.body.includes('001'), 'nothing of the broken answer')
})

t.test('a caller that goes away before Salesforce answers: the answer is dropped and the broker carries on', async (t) => {
  const { instance, url, app, auth, prefix } = await rig(t)
  const held = instance.nextHeld()
  // the broker's side of the caller's connection: closed once the broker has seen the caller leave
  const brokerSide = once(app.server, 'connection') as Promise<[Socket]>
  const { port } = new URL(url)
  const caller = connect(Number(port), '127.0.0.1', () => caller.write(get(`${prefix}/services/data/v62.0/sobjects/Account/001000000000003AAA`, auth)))
  const [socket] = await brokerSide
  const upstream = await held
  const left = once(socket, 'close')
  caller.destroy()
  await left
  // Salesforce answers a request whose caller has gone: the broker drops the answer (it once threw
  // the upstream body's abort error with no listener, and the process went down)
  upstream.response.writeHead(200, { 'content-type': 'application/json' }).end(ACCOUNT)

  const next = await rawRequest(url, get(`${prefix}/services/data/v62.0/limits`, auth))
  t.equal(next.status, 200, 'the next call goes through')
})

t.test('Salesforce answering 503 reaches the caller at once: the proxy does not send the call again on its own', async (t) => {
  const { instance, url, auth, prefix } = await rig(t)
  const res = await rawRequest(url, get(`${prefix}/services/data/v62.0/sobjects/Account/001000000000005AAA`, auth))
  t.equal(res.status, 503)
  t.match(res.body, 'SERVER_UNAVAILABLE')
  // reply-from's default sends a GET answered 503 up to 10 times more: each one an API call counted
  // against the org's daily limit, for a caller that may have its own backoff
  t.equal(instance.unavailableAnswers(), 1, 'one call reached Salesforce')
})
