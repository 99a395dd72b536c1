import t from 'tap'
import { rawBytes, scriptedRig } from '../support/scripted-instance.ts'

const PATH = '/services/data/v62.0/sobjects/Account/001000000000001AAA'

t.test('HEAD on an ended session heals too: a HEAD answer has no body to read the errorCode from', async (t) => {
  const rig = await scriptedRig(t, (_req, res, { live }) => {
    if (!live) {
      // Salesforce's 401 INVALID_SESSION_ID; to a HEAD its JSON body is not sent
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Token' }).end('[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]')
      return
    }
    res.writeHead(200, { 'content-type': 'application/json', etag: '"v1"' }).end('{"Id":"001000000000001AAA"}')
  })
  t.equal((await rawBytes(`${rig.base}${PATH}`, { method: 'HEAD', headers: rig.full })).status, 200)
  rig.expire()
  const head = await rawBytes(`${rig.base}${PATH}`, { method: 'HEAD', headers: rig.full })
  t.equal(head.status, 200, 'the caller never sees the 401 of an ended session')
  t.equal(head.headers.etag, '"v1"')
  t.equal(rig.logins(), 2, 'one new login')
  t.equal(rig.calls.filter(c => c.method === 'HEAD').length, 3, 'the HEAD sent once more')
})

t.test('HEAD answered 401 while the session is alive (not an ended session): the 401 passes, no login', async (t) => {
  const rig = await scriptedRig(t, (_req, res) => {
    // e.g. an Apex REST class refusing this caller: the broker's own check of the session (/limits) still answers 200
    res.writeHead(401, { 'content-type': 'application/json' }).end('[{"errorCode":"CUSTOM_UNAUTHORIZED","message":"no"}]')
  })
  const head = await rawBytes(`${rig.base}/services/apexrest/refuse`, { method: 'HEAD', headers: rig.full })
  t.equal(head.status, 401)
  t.equal(head.body.length, 0)
  t.equal(rig.logins(), 1, 'no new login')
  t.equal(rig.calls.length, 1, 'not sent again')
})
