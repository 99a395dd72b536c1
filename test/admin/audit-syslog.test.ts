import t from 'tap'
import { createSocket } from 'node:dgram'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { ACME, acmeDefinition, bearer, buildTestApp, startSim, tempFileStore, type Teardown } from '../helper.ts'
import { freePort } from '../support/redis.ts'
import { testPrincipals } from '../support/principals.ts'

const ADMIN = '/v1/admin/connections'
/** RFC 5424 §6: <PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP STRUCTURED-DATA SP MSG */
const RFC5424 = /^<(\d{1,3})>1 (\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z) ([\x21-\x7e]{1,255}) sf-broker (\d+) ([\x21-\x7e]{1,32}) - (\{.*\})$/s

interface Message { pri: number, msgId: string, procId: number, record: Record<string, unknown> }

function parse (message: string): Message {
  const m = RFC5424.exec(message)
  if (!m) throw new Error(`not an RFC 5424 message: ${message.slice(0, 80)}`)
  return { pri: Number(m[1]), procId: Number(m[4]), msgId: m[5], record: JSON.parse(m[6]) as Record<string, unknown> }
}

/** A syslog receiver over TCP that splits octet-counted frames (RFC 6587 §3.4.1) and wakes waiters per message. */
async function tcpReceiver (t: Teardown) {
  const messages: Message[] = []
  const waiters: Array<() => void> = []
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    let buffer = Buffer.alloc(0)
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk])
      for (;;) {
        const space = buffer.indexOf(0x20)
        if (space < 0) return
        const length = Number(buffer.subarray(0, space).toString())
        if (buffer.length < space + 1 + length) return
        messages.push(parse(buffer.subarray(space + 1, space + 1 + length).toString('utf8')))
        buffer = buffer.subarray(space + 1 + length)
        waiters.splice(0).forEach(w => w())
      }
    })
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy()
    server.close(() => resolve())
  }))
  const until = async (n: number): Promise<Message[]> => {
    while (messages.length < n) await new Promise<void>(resolve => waiters.push(resolve))
    return messages
  }
  return { url: `tcp://127.0.0.1:${(server.address() as AddressInfo).port}`, messages, until }
}

async function setup (t: Teardown, syslogUrl: string) {
  const sim = await startSim(t)
  const principals = testPrincipals(['*'])
  const store = await tempFileStore(t)
  const { app } = await buildTestApp(t, { secretStore: store, principals, env: { AUDIT_SYSLOG_URL: syslogUrl } })
  const admin = (method: 'PUT' | 'POST', url: string, payload?: object) => app.inject({ method, url, payload, headers: bearer(principals.adminKey) })
  return { sim, store, app, admin, principals }
}

t.test('every admin write reaches a syslog receiver over TCP as RFC 5424 messages before the answer', async (t) => {
  const receiver = await tcpReceiver(t)
  const { sim, app, admin, principals } = await setup(t, receiver.url)

  const created = await admin('PUT', `${ADMIN}/acme`, acmeDefinition(sim, 'oauth_password'))
  t.equal(created.statusCode, 201)
  const [request, outcome] = await receiver.until(2)
  t.match(request, { pri: 10 * 8 + 5, msgId: 'admin-request', procId: process.pid, record: { stage: 'request', method: 'PUT', connection: 'acme', actor: 'ops' } }, 'facility authpriv (10), severity notice')
  t.match(outcome, { pri: 85, msgId: 'admin', record: { stage: 'outcome', action: 'connection.create', outcome: 'success', requestId: created.headers['x-request-id'] } })

  // a rejected rotation is a warning (severity 4)
  const rejected = await admin('POST', `${ADMIN}/acme/validate`, { password: 'wrong-password', securityToken: ACME.securityToken })
  t.equal(rejected.statusCode, 200)
  t.equal(rejected.json().ok, false)
  const messages = await receiver.until(4)
  t.match(messages[3], { pri: 10 * 8 + 4, record: { action: 'connection.validate', outcome: 'rejected', classification: 'invalid_credentials' } })

  await app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })
  t.match((await receiver.until(5))[4], { msgId: 'handouts', record: { action: 'session.issued', actor: 'billing' } })
  const wire = JSON.stringify(receiver.messages)
  for (const secret of [ACME.password, ACME.securityToken, ACME.clientSecret, 'wrong-password']) t.notOk(wire.includes(secret), 'no secret reaches the receiver')
})

t.test('with the TCP receiver away, admin writes are refused and nothing is done', async (t) => {
  const { sim, store, admin } = await setup(t, `tcp://127.0.0.1:${await freePort()}`)
  const refused = await admin('PUT', `${ADMIN}/acme`, acmeDefinition(sim, 'oauth_password'))
  t.equal(refused.statusCode, 503)
  t.match(refused.json(), { code: 'audit_unavailable', detail: /syslog/ })
  t.equal(await store.read('acme'), null)
  t.equal(sim.stats('acme').attempts, 0)
})

t.test('over UDP each record is one datagram', async (t) => {
  const socket = createSocket('udp4')
  const received: Message[] = []
  const waiters: Array<() => void> = []
  socket.on('message', (m: Buffer) => {
    received.push(parse(m.toString('utf8')))
    waiters.splice(0).forEach(w => w())
  })
  await new Promise<void>(resolve => socket.bind(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => socket.close(() => resolve())))
  const { sim, admin } = await setup(t, `udp://127.0.0.1:${socket.address().port}`)

  t.equal((await admin('PUT', `${ADMIN}/acme`, acmeDefinition(sim, 'oauth_password'))).statusCode, 201)
  while (received.length < 2) await new Promise<void>(resolve => waiters.push(resolve))
  t.match(received, [{ msgId: 'admin-request', record: { method: 'PUT' } }, { msgId: 'admin', record: { action: 'connection.create' } }])
})
