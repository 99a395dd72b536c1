import t from 'tap'
import { gzipSync } from 'node:zlib'
import { rawBytes, scriptedRig } from '../support/scripted-instance.ts'

t.test('an answer that says gzip (or br) but is not: 502 bad_gateway the caller may retry, as for a broken-off answer', async (t) => {
  const rig = await scriptedRig(t, (req, res) => {
    const encoding = req.url?.endsWith('/br') ? 'br' : 'gzip'
    const status = req.url?.includes('/refused/') ? 401 : 200
    res.writeHead(status, { 'content-type': 'application/json', 'content-encoding': encoding, etag: '"v1"' }).end('{"not":"compressed"}')
  })
  for (const path of ['/services/apexrest/answer/gzip', '/services/apexrest/answer/br', '/services/apexrest/refused/gzip']) {
    const res = await rawBytes(`${rig.base}${path}`, { headers: rig.full })
    t.equal(res.status, 502, `${path}: ${res.body.toString()}`)
    t.match(res.headers['content-type'], /^application\/problem\+json/)
    t.match(JSON.parse(res.body.toString()), { code: 'bad_gateway', retryable: true })
    t.equal(res.headers.etag, undefined, `${path}: none of Salesforce's headers on the broker's own answer`)
  }
})

t.test('an answer in an encoding the proxy cannot read: 502 bad_gateway, without Salesforce\'s headers', async (t) => {
  const rig = await scriptedRig(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'compress', etag: '"v1"', 'sforce-limit-info': 'api-usage=1/15000' }).end('x')
  })
  const res = await rawBytes(`${rig.base}/services/apexrest/answer/compress`, { headers: rig.full })
  t.equal(res.status, 502)
  t.match(JSON.parse(res.body.toString()), { code: 'bad_gateway', retryable: false }, 'the same call would get the same answer')
  t.equal(res.headers.etag, undefined, 'none of Salesforce\'s headers on the broker\'s own answer')
  t.equal(res.headers['sforce-limit-info'], undefined)
})

t.test('HEAD of a resource Salesforce would send gzip-encoded: a HEAD answer has no body to decode, so it answers as the GET does', async (t) => {
  const json = Buffer.from('{"Id":"001000000000001AAA"}')
  const rig = await scriptedRig(t, (req, res) => {
    // an instance (or something in front of it) that compresses whatever Accept-Encoding says; a HEAD gets the GET's headers
    const gz = gzipSync(json)
    res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': String(gz.length), etag: '"v1"' })
    res.end(req.method === 'HEAD' ? undefined : gz)
  })
  const path = '/services/data/v62.0/sobjects/Account/001000000000001AAA'
  const get = await rawBytes(`${rig.base}${path}`, { headers: rig.full })
  t.equal(get.status, 200, 'the GET is decoded')
  t.same(get.body, json)
  const head = await rawBytes(`${rig.base}${path}`, { method: 'HEAD', headers: rig.full })
  t.equal(head.status, 200, 'the HEAD answers as the GET does')
  t.equal(head.headers.etag, '"v1"')
})
