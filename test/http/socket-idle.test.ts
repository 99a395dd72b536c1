import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { connect, type AddressInfo, type Socket } from 'node:net'
import t, { type Test } from 'tap'
import { closeIdleSocketsUnlessAnswering, noteAnswer } from '../../src/http/socket-idle.ts'

/** A plain HTTP server with the broker's idle rule and a quiet period of `idleMs`; `handle` answers (or not). */
async function server (t: Test, idleMs: number, workLimitMs: number, handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server, port: number }> {
  const s = createServer((req, res) => {
    noteAnswer(res)
    handle(req, res)
  })
  s.setTimeout(idleMs)
  closeIdleSocketsUnlessAnswering(s, { workLimitMs })
  await new Promise<void>(resolve => s.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => { s.closeAllConnections(); s.close(() => resolve()) }))
  return { server: s, port: (s.address() as AddressInfo).port }
}

const request = (path: string) => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`

/** Everything a raw client receives until its connection closes. */
function received (socket: Socket): Promise<string> {
  let text = ''
  socket.on('data', (chunk: Buffer) => { text += chunk.toString('latin1') })
  socket.on('error', () => {})
  return new Promise(resolve => socket.once('close', () => resolve(text)))
}

t.test('a pipelined request the broker is still working on keeps its connection through a quiet period', async (t) => {
  t.setTimeout(10_000)
  let answerSecond: (() => void) | undefined
  const { server: s, port } = await server(t, 200, 60_000, (req, res) => {
    if (req.url === '/first') { res.end('first'); return }
    answerSecond = () => res.end('second')
  })
  const brokerSide = once(s, 'connection') as Promise<[Socket]>
  const caller = connect(port, '127.0.0.1', () => caller.write(request('/first') + request('/second')))
  const all = received(caller)
  const [socket] = await brokerSide
  // the first answer is written; then nothing moves while the second is being worked on
  await once(socket, 'timeout')
  t.ok(answerSecond, 'the second request reached its handler')
  answerSecond?.()
  caller.end()
  const text = await all
  t.match(text, /first[\s\S]*second/, 'both answers arrived')
})

t.test('a wait with no end of its own is ended at the work limit, after being looked at again each quiet period', async (t) => {
  t.setTimeout(10_000)
  const { server: s, port } = await server(t, 150, 600, () => { /* never answers */ })
  const brokerSide = once(s, 'connection') as Promise<[Socket]>
  const caller = connect(port, '127.0.0.1', () => caller.write(request('/stuck')))
  const all = received(caller)
  const [socket] = await brokerSide
  let quietPeriods = 0
  socket.on('timeout', () => { quietPeriods++ })
  const started = Date.now()
  await all
  t.ok(quietPeriods >= 3, `kept through several quiet periods (${quietPeriods})`)
  t.ok(Date.now() - started >= 600, 'closed once the work limit had passed')
})

t.test('an idle keep-alive connection and a request whose body stopped arriving are closed', async (t) => {
  const { server: s, port } = await server(t, 150, 60_000, (req, res) => {
    if (req.url === '/done') { res.end('done'); return }
    req.resume()
    req.on('end', () => res.end('body read'))
  })
  // Node waits keepAliveTimeout (then its own second) after an answer: shortened here
  s.keepAliveTimeout = 200
  const idle = connect(port, '127.0.0.1', () => idle.write(request('/done')))
  t.match(await received(idle), /done$/, 'answered, then closed while idle')
  const stalled = connect(port, '127.0.0.1', () => stalled.write('POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\nonly part'))
  t.equal(await received(stalled), '', 'closed without an answer')
})
