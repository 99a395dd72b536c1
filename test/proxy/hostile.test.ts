import t from 'tap'
import { bearer } from '../helper.ts'
import { http } from '../support/http.ts'
import { echoRig as rig } from './echo-instance.ts'
import { get, rawRequest } from './raw-request.ts'

t.test('paths that could mean something else to another parser are refused before Salesforce', async (t) => {
  const { echo, url, callers, prefix } = await rig(t)
  const auth = bearer(callers.fullKey)
  const refused = [
    '/services/data/v62.0/sobjects/Account/../../tooling/query',
    '/services/data/v62.0/./limits',
    '/services/data/v62.0/sobjects/Account%2F..%2F..%2Ftooling',
    '/services/data/v62.0/sobjects/Account%2f001',
    '/services/data/v62.0/sobjects/%2e%2e/limits',
    '/services/data/v62.0/sobjects/Account%252F001',
    '/services/data/v62.0/sobjects//Account',
    '/services/data/v62.0/limits;x=1',
    '/services/data/v62.0/sobjects/Account%5C..%5Climits',
    '/services/data/v62.0/sobjects/%C0%AE%C0%AE',
    '/services/data/v62.0/sobjects/Account%',
  ]
  for (const path of refused) {
    const res = await rawRequest(url, get(prefix + path, auth))
    t.equal(res.status, 400, path)
    t.match(res.head, /content-type: application\/problem\+json/i, path)
    t.notOk(res.body.includes('tooling') || res.body.includes('Account'), `${path}: the answer does not echo the path`)
  }
  const elsewhere = ['/services/oauth2/revoke', '/services/Soap/u/62.0', '/services/async/62.0/job', '/services/datax/v62.0/limits']
  for (const path of elsewhere) {
    const res = await rawRequest(url, get(prefix + path, auth))
    t.equal(res.status, 404, `${path} is not forwarded`)
  }
  t.same(echo.seen, [], 'nothing reached the instance')
})

t.test('the target host is always the instance: absolute-form, Host and X-Forwarded-* change nothing', async (t) => {
  const { echo, url, callers, prefix } = await rig(t)
  const absolute = await rawRequest(url, get(`http://evil.example${prefix}/services/data/v62.0/limits`, bearer(callers.fullKey)))
  t.not(absolute.status, 200, 'absolute-form is not proxied')
  t.same(echo.seen, [])

  const spoofed = await rawRequest(url, get(`${prefix}/services/data/v62.0/limits?x=1`, {
    ...bearer(callers.fullKey),
    'X-Forwarded-Host': 'evil.example',
    'X-Forwarded-For': '10.0.0.1',
    'X-Forwarded-Proto': 'http',
    Forwarded: 'host=evil.example',
    'X-Real-IP': '10.0.0.1',
  }).replace('Host: 127.0.0.1', 'Host: evil.example'))
  t.equal(spoofed.status, 200)
  t.equal(echo.seen.length, 1)
  const sent = echo.seen[0]
  t.equal(sent.headers.host, new URL(echo.url).host, 'Host is the instance')
  t.equal(sent.url, '/services/data/v62.0/limits?x=1', 'the checked path, the query unchanged')
  for (const h of ['x-forwarded-host', 'x-forwarded-for', 'x-forwarded-proto', 'forwarded', 'x-real-ip']) t.notOk(h in sent.headers, `${h} dropped`)
})

t.test('request headers by allow-list; the caller\'s credential, cookies and hop-by-hop headers stay behind', async (t) => {
  const { echo, base, callers } = await rig(t)
  const res = await http(`${base}/services/data/v62.0/limits`, {
    headers: {
      ...bearer(callers.fullKey),
      cookie: 'sid=caller-cookie',
      'sforce-call-options': 'client=billing',
      'sforce-query-options': 'batchSize=200',
      'x-sfdc-session': 'stolen-session',
      'x-custom': 'anything',
      'if-none-match': '"abc"',
      'proxy-authorization': 'Basic eA==',
    },
  })
  t.equal(res.status, 200)
  const sent = echo.seen[0].headers
  t.equal(sent['sforce-call-options'], 'client=billing')
  t.equal(sent['sforce-query-options'], 'batchSize=200')
  t.equal(sent['if-none-match'], '"abc"')
  t.match(sent.authorization, /^Bearer 00Decho!/, 'the broker\'s session, not the caller\'s key')
  t.notOk(String(sent.authorization).includes(callers.fullKey))
  for (const h of ['cookie', 'x-sfdc-session', 'x-custom', 'proxy-authorization']) t.notOk(h in sent, `${h} dropped`)
  t.equal(sent['accept-encoding'], 'identity')

  t.equal(res.headers.get('set-cookie'), null, 'Set-Cookie from upstream dropped')
  t.equal(res.headers.get('x-powered-by'), null)
  t.equal(res.headers.get('server'), null)
  t.equal(res.headers.get('sforce-limit-info'), 'api-usage=900/1000')
  t.equal(res.headers.get('cache-control'), 'no-store', 'Salesforce\'s caching policy does not replace the broker\'s no-store')
  t.equal(res.headers.get('expires'), null)
})

t.test('an instance that puts the session in response headers it may pass: scrubbed there too', async (t) => {
  const { echo, base, callers } = await rig(t)
  const res = await http(`${base}/services/data/v62.0/limits`, { headers: bearer(callers.fullKey) })
  const token = String(echo.seen.at(-1)?.headers.authorization).replace(/^Bearer /, '')
  const headers = [...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')
  t.notOk(headers.includes(token), 'no raw token in any header')
  t.notOk(headers.includes(Buffer.from(token).toString('base64')), 'nor its base64')
  t.equal(res.headers.get('sforce-debug-session'), '[redacted]')
  t.match(res.headers.get('warning'), /^199 - "session \[redacted\]"$/)
})

t.test('an instance that echoes the session: every form of it is scrubbed from the answer', async (t) => {
  const { echo, base, callers } = await rig(t)
  for (const path of ['/services/data/v62.0/limits', '/services/apexrest/unauthorised']) {
    const res = await http(`${base}${path}`, { headers: bearer(callers.fullKey) })
    const token = String(echo.seen.at(-1)?.headers.authorization).replace(/^Bearer /, '')
    t.ok(token.length > 40)
    t.notOk(res.text.includes(token), `${path}: raw token scrubbed`)
    t.notOk(res.text.includes(Buffer.from(token).toString('base64')), `${path}: base64 scrubbed`)
    t.notOk(res.text.includes(encodeURIComponent(token)), `${path}: percent-encoded scrubbed`)
    t.match(res.text, /\[redacted\]/)
  }
})

t.test('a renewed session is scrubbed too, and one session\'s scrubber does not stand in for another\'s', async (t) => {
  const { echo, url, base, callers } = await rig(t)
  const seenToken = (): string => String(echo.seen.at(-1)?.headers.authorization).replace(/^Bearer /, '')
  const first = await http(`${base}/services/data/v62.0/limits`, { headers: bearer(callers.fullKey) })
  const firstToken = seenToken()
  t.notOk(first.text.includes(firstToken), 'first session scrubbed')
  const revoked = await http(`${url}/v1/admin/connections/acme/sessions/revoke`, { method: 'POST', headers: bearer(callers.adminKey) })
  t.equal(revoked.status, 200)
  const second = await http(`${base}/services/data/v62.0/limits`, { headers: bearer(callers.fullKey) })
  const secondToken = seenToken()
  t.not(secondToken, firstToken, 'the call went out with a new session')
  t.notOk(second.text.includes(secondToken), 'the new session scrubbed')
  t.notOk(second.text.includes(Buffer.from(secondToken).toString('base64')), 'the new session\'s base64 form scrubbed')
  t.match(second.text, /\[redacted\]/)
})
