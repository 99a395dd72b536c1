import t from 'tap'
import { rawRequest } from './raw-request.ts'
import { scriptedRig } from '../support/scripted-instance.ts'

const ok = (_req: unknown, res: import('node:http').ServerResponse) => { res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}') }

t.test('a segment starting with two dots, or ending with them before another, is refused as malformed_url before a session is fetched', async (t) => {
  // @fastify/reply-from refuses any path holding "/.." or "../": such a call used to fail there, as a
  // generic 400, after a login and a counted call
  const rig = await scriptedRig(t, ok)
  const { host } = new URL(rig.url)
  const prefix = '/v1/connections/acme/salesforce'
  const send = (path: string) => rawRequest(rig.url, `GET ${prefix}${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\nAuthorization: ${rig.full.authorization}\r\n\r\n`)
  for (const path of ['/services/apexrest/files/..hidden', '/services/apexrest/files/v1../latest', '/services/apexrest/files/...', '/services/apexrest/files/..']) {
    const res = await send(path)
    t.equal(res.status, 400, path)
    t.match(res.body, /malformed_url/, `${path}: malformed_url`)
  }
  t.equal(rig.logins(), 0, 'no session was fetched for them')
  t.equal(rig.calls.length, 0, 'none reached the instance')
  const last = await send('/services/data/v62.0/sobjects/Account/Ext_Id__c/v1..')
  t.equal(last.status, 200, 'two dots ending the last segment are forwarded (reply-from lets them pass)')
  t.equal(rig.calls.length, 1)
})
