import t from 'tap'
import { gunzipSync, gzipSync } from 'node:zlib'
import { rawBytes, scriptedRig } from '../support/scripted-instance.ts'

const PATH = '/services/data/v62.0/sobjects/Account/001000000000001AAA'

t.test('a compressed 401 (not an ended session) that echoes the session: the caller gets it decoded and scrubbed', async (t) => {
  const rig = await scriptedRig(t, (_req, res, { token }) => {
    // e.g. a debugging Apex endpoint or a hostile host answering 401 gzip-encoded although asked for identity
    res.writeHead(401, { 'content-type': 'application/json', 'content-encoding': 'gzip' })
      .end(gzipSync(JSON.stringify([{ errorCode: 'INSUFFICIENT_ACCESS', message: `refused for ${token}` }])))
  })
  const res = await rawBytes(`${rig.base}${PATH}`, { headers: rig.full })
  t.equal(res.status, 401)
  const token = rig.liveToken()
  t.notOk(res.body.toString('latin1').includes(token), 'no raw session in the bytes')
  let decoded = ''
  try { decoded = gunzipSync(res.body).toString('utf8') } catch { decoded = '' }
  t.notOk(decoded.includes(token), 'no session once the bytes are gunzipped either')
  t.equal(res.headers['content-encoding'], undefined)
  t.match(JSON.parse(res.body.toString('utf8')), [{ errorCode: 'INSUFFICIENT_ACCESS', message: 'refused for [redacted]' }], 'the caller gets a readable body')
  t.equal(rig.logins(), 1, 'no login for it')
})

t.test('a compressed 401 INVALID_SESSION_ID heals like an identity one', async (t) => {
  const rig = await scriptedRig(t, (_req, res, { live }) => {
    if (!live) {
      res.writeHead(401, { 'content-type': 'application/json', 'content-encoding': 'gzip' })
        .end(gzipSync('[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]'))
      return
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"Id":"001000000000001AAA"}')
  })
  const first = await rawBytes(`${rig.base}${PATH}`, { headers: rig.full })
  t.equal(first.status, 200)
  rig.expire()
  const healed = await rawBytes(`${rig.base}${PATH}`, { headers: rig.full })
  t.equal(healed.status, 200, 'healed: one login and the call sent again')
  t.equal(rig.logins(), 2)
})

t.test('a 401 other than an ended session, longer than the start read for its errorCode, passes whole and scrubbed', async (t) => {
  const bodyFor = (token: string) => JSON.stringify([{ errorCode: 'CUSTOM_UNAUTHORIZED', message: 'an Apex REST class refusing with detail', detail: 'd'.repeat(20_000), echo: token }])
  const rig = await scriptedRig(t, (_req, res, { token }) => {
    res.writeHead(401, { 'content-type': 'application/json' }).end(bodyFor(token))
  })
  const res = await rawBytes(`${rig.base}/services/apexrest/refuse`, { headers: rig.full })
  t.equal(res.status, 401)
  t.equal(rig.logins(), 1, 'no login for it')
  const expected = bodyFor('[redacted]')
  t.equal(res.body.length, Buffer.byteLength(expected), `the whole body (got ${res.body.length} of ${Buffer.byteLength(expected)} bytes)`)
  t.same(JSON.parse(res.body.toString()), JSON.parse(expected), 'as it came, the session echoed past the start scrubbed')
})
