import t from 'tap'
import type { Readable } from 'node:stream'
import { UpstreamCall, type BodyTaking, type UpstreamAnswer } from '../../src/proxy/upstream-call.ts'

/** An UpstreamCall driven by hand as undici drives it: onConnect, onHeaders, onData…, onComplete or onError. */
function call (taking: (answer: UpstreamAnswer) => BodyTaking) {
  const seen = { aborted: [] as Error[], resumed: 0, failed: [] as Error[], answers: [] as UpstreamAnswer[] }
  const handler = new UpstreamCall((answer) => { seen.answers.push(answer); return taking(answer) }, (err) => { seen.failed.push(err) })
  handler.onConnect((err) => { seen.aborted.push(err ?? new Error('aborted')) })
  const headers = (status: number, pairs: Array<[string, string]>) => handler.onHeaders(status, pairs.flatMap(([k, v]) => [Buffer.from(k), Buffer.from(v)]), () => { seen.resumed++ })
  return { handler, seen, headers }
}

t.test('a streamed answer holds Salesforce back while the caller is slow: onData says stop, reading resumes', async (t) => {
  let body: Readable | undefined
  const { handler, seen, headers } = call(() => ({ stream: (s) => { body = s } }))
  headers(200, [['Content-Type', 'text/csv']])
  t.ok(body, 'handed on at the headers')
  const chunk = Buffer.alloc(16 * 1024, 'a')
  let accepted = 0
  while (handler.onData(chunk)) accepted++
  t.ok(accepted * chunk.length < 1024 * 1024, `stops after ${accepted + 1} chunks nobody read, not after everything`)
  t.equal(seen.resumed, 0)
  ;(body as Readable).read()
  t.ok(seen.resumed > 0, 'reading asks undici to resume the socket')
  handler.onComplete()
  t.equal(seen.aborted.length, 0)
})

t.test('a caller that goes away mid-answer aborts the call; one that read it all does not', async (t) => {
  let body: Readable | undefined
  const first = call(() => ({ stream: (s) => { body = s } }))
  first.headers(200, [])
  first.handler.onData(Buffer.from('part'))
  ;(body as Readable).destroy()
  t.equal(first.seen.aborted.length, 1, 'aborted')
  first.handler.onError(first.seen.aborted[0])
  t.equal(first.seen.failed.length, 0, 'the route hears nothing more: its answer was already under way')

  const second = call(() => ({ stream: (s) => { body = s } }))
  second.headers(200, [])
  second.handler.onData(Buffer.from('all'))
  second.handler.onComplete()
  const chunks: Buffer[] = []
  for await (const c of body as Readable) chunks.push(c as Buffer)
  t.equal(Buffer.concat(chunks).toString(), 'all')
  t.equal(second.seen.aborted.length, 0)
})

t.test('a whole answer keeps what it was told to, drops the rest; 1xx are not answers', async (t) => {
  const got: Buffer[] = []
  const { handler, seen, headers } = call(() => ({ whole: { keep: 5, done: (b) => { got.push(b) }, broken: () => { t.fail('not broken') } } }))
  headers(100, [])
  t.equal(seen.answers.length, 0, '100 Continue is passed over')
  headers(401, [['Content-Length', '11'], ['Sforce-Limit-Info', 'api-usage=1/15000'], ['X-Dup', 'a'], ['X-Dup', 'b']])
  t.same(seen.answers[0], { statusCode: 401, headers: { 'content-length': '11', 'sforce-limit-info': 'api-usage=1/15000', 'x-dup': ['a', 'b'] } }, 'header names in lower case, a repeated one an array')
  handler.onData(Buffer.from('hello '))
  handler.onData(Buffer.from('world'))
  handler.onComplete()
  t.same(got.map(String), ['hello'])
})

t.test('errors: before the headers the route answers 502/504; after them a whole answer is broken off; an aborted call is silent', async (t) => {
  const before = call(() => { throw new Error('never asked') })
  before.handler.onError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }))
  t.equal(before.seen.failed.length, 1)

  const broken: Error[] = []
  const after = call(() => ({ whole: { keep: 100, done: () => { t.fail('not whole') }, broken: (err) => { broken.push(err) } } }))
  after.headers(200, [['Content-Length', '100']])
  after.handler.onData(Buffer.from('{"Id":'))
  after.handler.onError(new Error('socket closed'))
  t.equal(broken.length, 1)
  t.equal(after.seen.failed.length, 0)

  const gone = call(() => undefined)
  t.equal(gone.headers(200, []), false, 'the caller went away: the socket is not read further')
  t.equal(gone.seen.aborted.length, 1, 'and the call aborted')
  gone.handler.onError(gone.seen.aborted[0])
  t.equal(gone.seen.failed.length, 0)

  const throwing = call(() => { throw new Error('bad status') })
  throwing.headers(999, [])
  t.equal(throwing.seen.failed.length, 1, 'a route that cannot take the answer fails the call (502)')
  t.equal(throwing.seen.aborted.length, 1)
})
