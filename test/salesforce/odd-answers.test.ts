/**
 * Answers the simulator never gives but a real login host, proxy or outage can: a stand-in
 * Salesforce that answers each request with whatever the test scripts.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import t, { type Test } from 'tap'
import { checkSession, createLoginUrlPolicy, login, type ConnectionDefinition, type Flow } from '../../src/salesforce/index.ts'

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void

interface StandIn { url: string, requests: Array<{ method?: string, path?: string, body: string }>, answer: (h: Handler) => void }

async function standIn (t: Test): Promise<StandIn> {
  let handler: Handler = (_req, res) => { res.statusCode = 404; res.end() }
  const requests: StandIn['requests'] = []
  const server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', chunk => { body += chunk })
    req.on('end', () => {
      requests.push({ method: req.method, path: req.url, body })
      handler(req, res, body)
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, requests, answer: h => { handler = h } }
}

const POLICY = createLoginUrlPolicy({ extraAllowedOrigins: ['http://127.0.0.1:*'] })
const ORG = '00D5g000004XyZaEAK'
const USER_ID = '0055g00000ABCDeAAH'

function def (loginUrl: string, flow: Flow = 'client_credentials'): ConnectionDefinition {
  return flow === 'soap'
    ? { flow, loginUrl, apiVersion: '62.0', sessionTimeoutSeconds: 7200, username: 'u@x.example', password: 'pw-secret', securityToken: 'tok-secret' }
    : { flow, loginUrl, apiVersion: '62.0', sessionTimeoutSeconds: 7200, clientId: 'cid', clientSecret: 'shh-secret' }
}

function json (res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}

const run = (d: ConnectionDefinition) => login(d, { timeoutMs: 2000, allowedLoginHosts: POLICY })

t.test('OAuth: without an id URL the ids come from userinfo', async t => {
  const sf = await standIn(t)
  sf.answer((req, res) => {
    if (req.url === '/services/oauth2/token') return json(res, 200, { access_token: `${ORG}!AQ.token`, instance_url: sf.url, token_type: 'Bearer' })
    if (req.url === '/services/oauth2/userinfo' && req.headers.authorization === `Bearer ${ORG}!AQ.token`) {
      return json(res, 200, { user_id: USER_ID, organization_id: ORG })
    }
    json(res, 404, [])
  })
  const outcome = await run(def(sf.url))
  t.match(outcome, { ok: true, session: { orgId: ORG, userId: USER_ID, instanceUrl: sf.url, flow: 'client_credentials' } })
  t.match(sf.requests[0].body, /grant_type=client_credentials/)
})

t.test('OAuth: unusable success answers', async t => {
  const sf = await standIn(t)
  sf.answer((_req, res) => json(res, 200, { token_type: 'Bearer' }))
  t.match(await run(def(sf.url)), { ok: false, failure: { classification: 'unknown', message: /without access_token/ } })

  sf.answer((req, res) => req.url === '/services/oauth2/token'
    ? json(res, 200, { access_token: 'x', instance_url: sf.url, id: 'not a url' })
    : json(res, 403, 'Bad_OAuth_Token'))
  t.match(await run(def(sf.url)), { ok: false, failure: { classification: 'session_invalid', message: /identity/ } }, 'userinfo refused the fresh token')

  sf.answer((req, res) => req.url === '/services/oauth2/token'
    ? json(res, 200, { access_token: 'x', instance_url: sf.url, id: 'not a url' })
    : json(res, 200, { sub: 'nobody' }))
  t.match(await run(def(sf.url)), { ok: false, failure: { classification: 'unknown', message: /identity/ } }, 'userinfo without ids')

  sf.answer((_req, res) => json(res, 200, { access_token: 'x', instance_url: 'https://evil.example', id: `https://login.salesforce.com/id/${ORG}/${USER_ID}` }))
  t.match(await run(def(sf.url)), { ok: false, failure: { classification: 'unknown', message: /instance URL/ } })
})

t.test('OAuth: error pages, redirects and outages', async t => {
  const sf = await standIn(t)
  sf.answer((_req, res) => { res.writeHead(503, { 'content-type': 'text/html' }); res.end('<html>Maintenance</html>') })
  t.match(await run(def(sf.url)), { ok: false, failure: { classification: 'unreachable', retryable: true, httpStatus: 503 } })

  sf.answer((_req, res) => { res.writeHead(500); res.end('oops') })
  t.match(await run(def(sf.url)), { ok: false, failure: { classification: 'unknown', retryable: true, httpStatus: 500 } })

  let followed = false
  sf.answer((req, res) => {
    if (req.url === '/elsewhere') { followed = true; return json(res, 200, {}) }
    res.writeHead(302, { location: '/elsewhere' })
    res.end()
  })
  t.match(await run(def(sf.url)), { ok: false, failure: { classification: 'unknown', retryable: false, hint: /redirect/ } })
  t.notOk(followed, 'the redirect was not followed with the secret')

  sf.answer((_req, res) => json(res, 400, { error: 'invalid_grant', error_description: 'something Salesforce never said before' }))
  t.match(await run(def(sf.url)), { ok: false, failure: { classification: 'invalid_client' } }, 'client credentials: an unknown invalid_grant is about the app')
  sf.answer((_req, res) => json(res, 400, { error: 'invalid_grant', error_description: 'authentication failure' }))
  t.match(await run(def(sf.url)), { ok: false, failure: { classification: 'invalid_credentials', hint: /Run As user/ } },
    'client credentials: the catch-all gets advice about the app and its run-as user')
})

t.test('SOAP: odd answers', async t => {
  const sf = await standIn(t)
  sf.answer((_req, res) => { res.writeHead(200, { 'content-type': 'text/xml' }); res.end('<soapenv:Envelope><soapenv:Body><loginResponse/></soapenv:Body></soapenv:Envelope>') })
  t.match(await run(def(sf.url, 'soap')), { ok: false, failure: { classification: 'unknown' } })

  sf.answer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/xml' })
    res.end(`<Envelope><Body><loginResponse><result><passwordExpired>false</passwordExpired><serverUrl>https://evil.example/services/Soap/u/62.0/${ORG}</serverUrl>` +
      `<sessionId>${ORG}!AQ.x</sessionId><userId>${USER_ID}</userId><userInfo><organizationId>${ORG}</organizationId></userInfo></result></loginResponse></Body></Envelope>`)
  })
  t.match(await run(def(sf.url, 'soap')), { ok: false, failure: { classification: 'unknown', message: /instance URL/ } })

  sf.answer((_req, res, body) => {
    res.writeHead(200, { 'content-type': 'text/xml' })
    res.end(`<Envelope><Body><loginResponse><result><passwordExpired>false</passwordExpired><serverUrl>${sf.url}/services/Soap/u/62.0/${ORG}</serverUrl>` +
      `<sessionId>${ORG}!AQ.x</sessionId><userId>echo ${body.replace(/</g, '&lt;')}</userId><userInfo><organizationId>${ORG}</organizationId></userInfo></result></loginResponse></Body></Envelope>`)
  })
  t.match(await run(def(sf.url, 'soap')), { ok: false, failure: { classification: 'unknown', message: /valid userId/ } }, 'an id field that is no Salesforce id is refused')

  sf.answer((_req, res) => {
    res.writeHead(500, { 'content-type': 'text/xml' })
    res.end('<soapenv:Envelope><soapenv:Body><soapenv:Fault><faultcode>sf:PASSWORD_LOCKOUT</faultcode><faultstring>PASSWORD_LOCKOUT: locked &amp; loaded</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>')
  })
  t.match(await run(def(sf.url, 'soap')), { ok: false, failure: { classification: 'locked_out', message: 'PASSWORD_LOCKOUT: locked & loaded' } })

  sf.answer((_req, res) => { res.writeHead(502); res.end('bad gateway') })
  t.match(await run(def(sf.url, 'soap')), { ok: false, failure: { classification: 'unreachable', retryable: true } })
})

t.test('SOAP: passwordExpired=true is password_expired whatever else the answer lacks', async t => {
  const sf = await standIn(t)
  const answers = [
    '<result><passwordExpired>true</passwordExpired></result>',
    `<result><passwordExpired>true</passwordExpired><sessionId>${ORG}!AQ.x</sessionId></result>`,
    '<result><passwordExpired> true </passwordExpired><serverUrl>not a url</serverUrl><userInfo/></result>',
  ]
  for (const result of answers) {
    sf.answer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/xml' })
      res.end(`<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><loginResponse>${result}</loginResponse></soapenv:Body></soapenv:Envelope>`)
    })
    t.match(await run(def(sf.url, 'soap')), { ok: false, failure: { classification: 'password_expired', credentialFailure: true } }, result)
  }
})

t.test('plain-text 401/403 from the REST API or the identity service mean the session is invalid', async t => {
  const sf = await standIn(t)
  for (const [status, text] of [[403, 'Bad_OAuth_Token'], [401, 'Bad_OAuth_Token'], [403, 'Missing_OAuth_Token'], [401, '']] as const) {
    sf.answer((_req, res) => { res.writeHead(status, { 'content-type': 'text/plain;charset=UTF-8' }); res.end(text) })
    t.match(await checkSession({ accessToken: `${ORG}!AQ.dead`, instanceUrl: sf.url }, { apiVersion: '62.0', timeoutMs: 2000 }),
      { ok: false, failure: { classification: 'session_invalid', httpStatus: status } }, `limits ${status} ${text}`)
  }
  // the identity service answers a token it does not honour with a bare 403 (the simulator does the same)
  sf.answer((req, res) => {
    if (req.url === '/services/oauth2/token') return json(res, 200, { access_token: `${ORG}!AQ.token`, instance_url: sf.url, token_type: 'Bearer' })
    res.writeHead(403, { 'content-type': 'text/plain;charset=UTF-8' })
    res.end('Bad_OAuth_Token')
  })
  t.match(await run(def(sf.url)), { ok: false, failure: { classification: 'session_invalid', httpStatus: 403 } }, 'userinfo 403 during login')
})

t.test('SOAP: the envelope carries password+token, escaped, to the partner endpoint', async t => {
  const sf = await standIn(t)
  sf.answer((_req, res) => { res.writeHead(500); res.end('') })
  await run({ ...def(sf.url, 'soap'), username: 'a&b@x.example', password: 'p<w>' })
  t.equal(sf.requests[0].path, '/services/Soap/u/62.0')
  t.match(sf.requests[0].body, '<n1:username>a&amp;b@x.example</n1:username>')
  t.match(sf.requests[0].body, '<n1:password>p&lt;w&gt;tok-secret</n1:password>')
})

t.test('JWT bearer: the assertion Salesforce receives', async t => {
  const { generateKeyPairSync } = await import('node:crypto')
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const pkcs1 = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()
  const sf = await standIn(t)
  sf.answer((_req, res) => json(res, 400, { error: 'invalid_grant', error_description: 'invalid assertion' }))
  const before = Math.floor(Date.now() / 1000)
  const outcome = await run({ flow: 'jwt_bearer', loginUrl: sf.url, apiVersion: '62.0', sessionTimeoutSeconds: 7200, clientId: 'cid', username: 'u@x.example', privateKey: pkcs1 })
  t.match(outcome, { ok: false, failure: { classification: 'invalid_assertion' } })
  const form = new URLSearchParams(sf.requests[0].body)
  t.equal(form.get('grant_type'), 'urn:ietf:params:oauth:grant-type:jwt-bearer')
  const [header, claims] = (form.get('assertion') ?? '').split('.').slice(0, 2).map(p => JSON.parse(Buffer.from(p, 'base64url').toString()))
  t.same(header, { alg: 'RS256' })
  t.match(claims, { iss: 'cid', sub: 'u@x.example', aud: new URL(sf.url).origin })
  t.ok(claims.exp >= before + 170 && claims.exp <= before + 181, 'valid for 3 minutes')

  const { privateKey: ec } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const ecPem = ec.export({ type: 'pkcs8', format: 'pem' }).toString()
  sf.requests.length = 0
  t.match(await run({ flow: 'jwt_bearer', loginUrl: sf.url, apiVersion: '62.0', sessionTimeoutSeconds: 7200, clientId: 'cid', username: 'u@x.example', privateKey: ecPem }),
    { ok: false, failure: { classification: 'invalid_assertion', message: /RSA/ } })
  t.equal(sf.requests.length, 0, 'a non-RSA key is not used')
})
