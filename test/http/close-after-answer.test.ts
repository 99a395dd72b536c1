import { once } from 'node:events'
import { createServer, type ServerResponse } from 'node:http'
import { connect, type AddressInfo, type Socket } from 'node:net'
import t from 'tap'
import { trackConnections } from '../../src/http/close-after-answer.ts'
import { noteAnswer } from '../../src/http/socket-idle.ts'

const request = (path: string) => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`

/** Reads from a raw client until `until` matches what arrived. */
async function until (socket: Socket, until: RegExp): Promise<string> {
  let text = ''
  while (!until.test(text)) {
    const [chunk] = await once(socket, 'data') as [Buffer]
    text += chunk.toString('latin1')
  }
  return text
}

t.test('at shutdown, an answer still being worked on says Connection: close; answers already sent and later ones are left alone', async (t) => {
  const held: ServerResponse[] = []
  const s = createServer((req, res) => {
    noteAnswer(res)
    if (req.url === '/slow') held.push(res)
    else res.end('quick')
  })
  const connections = trackConnections(s)
  await new Promise<void>(resolve => s.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => { s.closeAllConnections(); s.close(() => resolve()) }))
  const { port } = s.address() as AddressInfo

  const idle = connect(port, '127.0.0.1')
  idle.write(request('/quick'))
  t.notMatch(await until(idle, /quick$/), /connection: close/i, 'an answer before shutdown keeps its connection')
  const busy = connect(port, '127.0.0.1')
  busy.write(request('/slow'))
  while (held.length === 0) await new Promise(resolve => setImmediate(resolve))

  connections.closeAfterAnswers()
  held[0].end('slow')
  t.match(await until(busy, /slow$/), /\r\nconnection: close\r\n/, 'the answer in flight at shutdown closes its connection')
  await once(busy, 'close')
  idle.write(request('/quick'))
  t.notMatch(await until(idle, /quick$/), /connection: close/i, 'the idle connection\'s last answer was not touched')
  idle.destroy()
})
