import t from 'tap'
import { returnedHeaderNames, returnedResponseHeaders } from '../../src/proxy/headers.ts'
import { rawBytes, scriptedRig } from '../support/scripted-instance.ts'

t.test('an Sforce-* header whose NAME holds the session (raw or encoded) is not passed to the caller', async (t) => {
  const rig = await scriptedRig(t, (_req, res, { token }) => {
    // RestContext.response.addHeader('Sforce-Debug-' + UserInfo.getSessionId(), '1'): every character of a session is a tchar
    res.writeHead(200, {
      'content-type': 'application/json',
      [`sforce-debug-${token}`]: '1',
      [`sforce-echo-${encodeURIComponent(token)}`]: '1',
      'sforce-limit-info': 'api-usage=1/15000',
    }).end('{}')
  })
  const res = await rawBytes(`${rig.base}/services/apexrest/debug`, { headers: rig.full })
  t.equal(res.status, 200)
  const token = rig.liveToken()
  const names = Object.keys(res.headers)
  t.notOk(names.some(n => n.startsWith('sforce-debug-') || n.startsWith('sforce-echo-')), 'no header name holds the session')
  t.equal(res.headers['sforce-limit-info'], 'api-usage=1/15000', 'the other Sforce-* headers pass')
  t.notOk(names.join('\n').includes(encodeURIComponent(token).toLowerCase()))
})

t.test('returnedHeaderNames leaves out what returnedResponseHeaders drops', async (t) => {
  const token = '00Dx0000000001!AQ.session-token-abcdefghijklmnopqrstuvwxyz'
  const upstream = { 'content-type': 'application/json', [`sforce-x-${token.toLowerCase()}`]: '1', 'sforce-locator': 'null' }
  t.same(Object.keys(returnedResponseHeaders(upstream, token)), ['content-type', 'sforce-locator'])
  t.same(returnedHeaderNames(upstream, token), ['content-type', 'sforce-locator'])
})
