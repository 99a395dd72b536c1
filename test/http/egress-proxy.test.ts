import t from 'tap'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { SignJWT, exportJWK, generateKeyPair } from 'jose'
import { acmeDefinition, bearer, buildTestApp, startSim, tempFileStore } from '../helper.ts'
import { startConnectProxy } from '../support/connect-proxy.ts'
import { parsePrincipals } from '../../src/auth/principals.ts'
import { loadConfig } from '../../src/config.ts'

const hostPort = (url: string) => new URL(url).host

t.test('HTTPS_PROXY/HTTP_PROXY carry Salesforce logins and the JWKS through a CONNECT tunnel; a NO_PROXY host is reached directly', async (t) => {
  const proxy = await startConnectProxy()
  t.teardown(() => proxy.close())
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  // the login host through the proxy; the org's My Domain listed in NO_PROXY
  await store.write('via-proxy', acmeDefinition(sim, 'jwt_bearer'), 0)
  await store.write('direct', acmeDefinition(sim, 'client_credentials'), 0)
  const myDomain = hostPort(sim.myDomainUrl('acme'))

  const { publicKey, privateKey } = await generateKeyPair('RS256')
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }
  const jwks = createServer((req, res) => { res.setHeader('content-type', 'application/json'); res.end(JSON.stringify({ keys: [jwk] })) })
  await new Promise<void>(resolve => jwks.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => jwks.close(() => resolve())))
  const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/openid/v1/jwks`

  const sub = 'system:serviceaccount:billing:billing'
  const doc = { principals: [{ id: 'billing', kind: 'service', jwtSubjects: [sub], connections: ['*'] }] }
  const { app } = await buildTestApp(t, {
    secretStore: store,
    principals: { directory: parsePrincipals(doc), json: JSON.stringify(doc), billingKey: '', reportingKey: '', adminKey: '' },
    // lower case, as many images set them (the simulator and the JWKS speak plain http on loopback)
    env: { JWKS_URL: jwksUrl, JWT_ISSUER: 'https://issuer.example', JWT_AUDIENCE: 'sf-broker', http_proxy: proxy.url, no_proxy: `example.org, ${myDomain}` },
  })
  const token = await new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setSubject(sub).setIssuer('https://issuer.example')
    .setAudience('sf-broker').setIssuedAt().setExpirationTime('10m').sign(privateKey)
  const ask = (name: string) => app.inject({ method: 'POST', url: `/v1/connections/${name}/session`, headers: bearer(token) })

  const viaProxy = await ask('via-proxy')
  t.equal(viaProxy.statusCode, 200, viaProxy.body)
  t.ok((proxy.tunnels.get(hostPort(jwksUrl)) ?? 0) >= 1, 'the JWKS was fetched through a tunnel')
  t.ok((proxy.tunnels.get(hostPort(sim.loginUrl)) ?? 0) >= 1, 'the login went through a tunnel to the login host')
  t.equal(sim.stats('acme').attempts, 1)

  const direct = await ask('direct')
  t.equal(direct.statusCode, 200, direct.body)
  t.equal(sim.stats('acme').attempts, 2, 'the NO_PROXY login happened')
  t.equal(proxy.tunnels.get(myDomain) ?? 0, 0, 'but not through the proxy')
})

t.test('proxy variables: upper case wins over lower case, and must be URLs', async (t) => {
  const base = { SECRET_STORE: 'file', FILE_STORE_KEY: Buffer.alloc(32, 7).toString('base64'), PRINCIPALS_JSON: '{"principals":[]}', SHARED_STATE: 'memory' }
  const c = loadConfig({ ...base, HTTPS_PROXY: 'http://proxy.corp:3128', https_proxy: 'http://other:1', no_proxy: '.svc,.cluster.local' })
  t.equal(c.HTTPS_PROXY, 'http://proxy.corp:3128')
  t.equal(c.NO_PROXY, '.svc,.cluster.local')
  t.throws(() => loadConfig({ ...base, HTTPS_PROXY: 'proxy.corp:3128' }), /^invalid HTTPS_PROXY/)
  for (const port of ['99999', '0', 'abc', '-1']) {
    t.throws(() => loadConfig({ ...base, HTTPS_PROXY: `http://proxy.corp:${port}` }), /^invalid HTTPS_PROXY: .*port from 1 to 65535/, `port ${port}`)
    t.throws(() => loadConfig({ ...base, HTTP_PROXY: `http://proxy.corp:${port}` }), /^invalid HTTP_PROXY: /, `port ${port}`)
  }
})
