import t, { type Test } from 'tap'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { SignJWT, exportJWK, generateKeyPair } from 'jose'
import { acmeDefinition, bearer, buildTestApp, startSim, tempFileStore } from '../helper.ts'
import { generateApiKey } from '../../src/auth/api-key.ts'
import { parsePrincipals } from '../../src/auth/principals.ts'
import { captureLogs } from '../support/log-capture.ts'

const SUB = 'system:serviceaccount:billing:billing'
const ISS = 'https://kubernetes.default.svc.cluster.local'
const AUD = 'sf-broker'
const ADMIN_SUB = 'system:serviceaccount:ops:ops'

/** A broker whose one caller, billing, is the JWT subject SUB granted acme, its keys at `jwksUrl`; answers the session route's status for a token. */
async function billingBroker (t: Test, jwksUrl: string, env: Record<string, string> = {}): Promise<(token: string) => Promise<number>> {
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim), 0)
  const doc = { principals: [{ id: 'billing', kind: 'service', jwtSubjects: [SUB], connections: ['acme'] }] }
  const { app } = await buildTestApp(t, {
    secretStore: store,
    principals: { directory: parsePrincipals(doc), json: JSON.stringify(doc), billingKey: '', reportingKey: '', adminKey: '' },
    env: { JWKS_URL: jwksUrl, JWT_ISSUER: ISS, JWT_AUDIENCE: AUD, ...env },
  })
  return async (token) => (await app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(token) })).statusCode
}

t.test('callers authenticate with JWTs verified against a JWKS (e.g. Kubernetes service-account tokens)', async (t) => {
  const { publicKey, privateKey } = await generateKeyPair('RS256')
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }
  let jwksHits = 0
  const jwks = createServer((req, res) => {
    jwksHits++
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ keys: [jwk] }))
  })
  await new Promise<void>(resolve => jwks.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => jwks.close(() => resolve())))
  const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/openid/v1/jwks`

  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim), 0)
  const admin = generateApiKey('ops')
  const doc = { principals: [{ id: 'billing', kind: 'service', jwtSubjects: [SUB], connections: ['acme'] }, { id: 'ops', kind: 'admin', apiKeySha256: [admin.sha256], jwtSubjects: [ADMIN_SUB] }] }
  const logs = captureLogs('info')
  const { app } = await buildTestApp(t, {
    secretStore: store,
    principals: { directory: parsePrincipals(doc), json: JSON.stringify(doc), billingKey: '', reportingKey: '', adminKey: admin.key },
    env: { JWKS_URL: jwksUrl, JWT_ISSUER: ISS, JWT_AUDIENCE: AUD },
    logger: logs.logger,
  })
  const sign = (claims: { sub?: string, iss?: string, aud?: string, exp?: string | number }, key = privateKey, kid = 'k1') =>
    new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid }).setSubject(claims.sub ?? SUB).setIssuer(claims.iss ?? ISS)
      .setAudience(claims.aud ?? AUD).setIssuedAt().setExpirationTime(claims.exp ?? '10m').sign(key)
  const ask = async (token: string) => (await app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(token) })).statusCode

  t.equal(await ask(await sign({})), 200, 'a valid service-account token')
  t.equal(await ask(await sign({ aud: 'someone-else' })), 401, 'wrong audience')
  const wrongIssuer = await sign({ iss: 'https://evil.example' })
  t.equal(await ask(wrongIssuer), 401, 'wrong issuer')
  // an operator whose JWT_ISSUER or JWT_AUDIENCE is wrong sees why in the log: the claim, never the token or its value
  const refusals = () => logs.records().filter(r => r.msg === 'caller JWT refused').map(r => r.reason)
  t.same(refusals(), ['aud claim', 'iss claim'])
  t.notMatch(logs.text(), wrongIssuer.split('.')[1])
  t.notMatch(logs.text(), 'evil.example')
  t.equal(await ask(await sign({ exp: Math.floor(Date.now() / 1000) - 3600 })), 401, 'expired')
  t.equal(await ask(await sign({ sub: 'system:serviceaccount:other:other' })), 401, 'unknown subject')
  t.equal(refusals().at(-1), 'no principal has this subject')
  t.notMatch(logs.text(), 'serviceaccount:other')
  const other = await generateKeyPair('RS256')
  t.equal(await ask(await sign({}, other.privateKey)), 401, 'signed by a key not in the JWKS')
  t.equal(await ask(await sign({}, other.privateKey, 'unknown-kid')), 401, 'unknown key id')
  const [h, p] = (await sign({})).split('.')
  t.equal(await ask(`${h}.${p}.`), 401, 'signature stripped')
  t.equal(await ask(`${Buffer.from('{"alg":"none"}').toString('base64url')}.${p}.`), 401, 'alg none')
  t.ok(jwksHits >= 1 && jwksHits <= 3, `JWKS fetched and cached (${jwksHits} fetches)`)

  // a token minted for another audience (here: Vault's) must not open the broker's doors
  const now = Math.floor(Date.now() / 1000)
  const mint = (claims: Record<string, unknown>) => new SignJWT({ sub: SUB, iss: ISS, aud: AUD, ...claims }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(privateKey)
  const adminCall = async (token: string) => (await app.inject({ method: 'GET', url: '/v1/admin/connections/acme', headers: bearer(token) }))
  t.equal((await adminCall(await mint({ sub: ADMIN_SUB, iat: now, exp: now + 600 }))).statusCode, 200, 'an admin JWT for the broker works on admin routes')
  t.equal(await ask(await mint({ aud: 'vault', iat: now, exp: now + 600 })), 401, 'aud "vault" refused on the session route')
  const vaultAdmin = await adminCall(await mint({ sub: ADMIN_SUB, aud: 'vault', iat: now, exp: now + 600 }))
  t.equal(vaultAdmin.statusCode, 401, 'aud "vault" refused on admin routes')
  t.equal(vaultAdmin.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.equal(vaultAdmin.json().type, 'urn:sf-broker:problem:unauthenticated')
  t.equal(await ask(await mint({ aud: ['vault', 'other'], iat: now, exp: now + 600 })), 401, 'an audience list without the broker refused')
  t.equal(await ask(await mint({ iat: now })), 401, 'no exp: refused (a token that never expires is a password)')
  t.equal(await ask(await mint({ iat: now, exp: now + 3600 })), 200, 'a one-hour token (JWT_MAX_TTL_SECONDS default) is accepted')
  t.equal(await ask(await mint({ iat: now, exp: now + 3601 + 60 })), 401, 'a lifetime (exp - iat) over JWT_MAX_TTL_SECONDS refused')
  t.equal(await ask(await mint({ iat: now - 86_400 * 365, exp: now + 600 })), 401, 'a year-long token refused even late in its life')
  t.equal(await ask(await mint({ exp: now + 600 })), 200, 'no iat: a short remaining lifetime is accepted')
  t.equal(await ask(await mint({ iat: now + 86_400 * 365, exp: now + 86_400 * 365 + 600 })), 401, 'iat a year ahead: a short exp - iat does not make a year-long token short')
  t.equal(await ask(await mint({ iat: now + 3000, exp: now + 3600 })), 401, 'iat in the future beyond clock tolerance refused')
  t.equal(await ask(await mint({ iat: now + 5, exp: now + 600 })), 200, 'iat a few seconds ahead (the issuer\'s clock) is tolerated')
  t.equal(await ask(await mint({ exp: now + 86_400 })), 401, 'no iat: exp - now over JWT_MAX_TTL_SECONDS refused')
})

t.test('JWT_MAX_TTL_SECONDS sets the longest lifetime accepted', async (t) => {
  const { publicKey, privateKey } = await generateKeyPair('ES256')
  const jwk = { ...(await exportJWK(publicKey)), kid: 'e1', alg: 'ES256', use: 'sig' }
  const jwks = createServer((req, res) => { res.setHeader('content-type', 'application/json'); res.end(JSON.stringify({ keys: [jwk] })) })
  await new Promise<void>(resolve => jwks.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => jwks.close(() => resolve())))
  const ask = await billingBroker(t, `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks`, { JWT_MAX_TTL_SECONDS: '600' })
  const now = Math.floor(Date.now() / 1000)
  const mint = (claims: Record<string, unknown>) => new SignJWT({ sub: SUB, iss: ISS, aud: AUD, ...claims }).setProtectedHeader({ alg: 'ES256', kid: 'e1' }).sign(privateKey)
  t.equal(await ask(await mint({ iat: now, exp: now + 600 })), 200)
  t.equal(await ask(await mint({ iat: now, exp: now + 1800 })), 401)
})

t.test('callers keep working on the key set fetched before while the JWKS cannot be reached', async (t) => {
  const { publicKey, privateKey } = await generateKeyPair('RS256')
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }
  // the issuer (e.g. the Kubernetes API server during a control-plane upgrade) answers 503 while `down`
  let down = false
  let jwksHits = 0
  const jwks = createServer((req, res) => {
    jwksHits++
    if (down) {
      res.statusCode = 503
      res.end()
      return
    }
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ keys: [jwk] }))
  })
  await new Promise<void>(resolve => jwks.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => jwks.close(() => resolve())))
  const ask = await billingBroker(t, `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/openid/v1/jwks`)
  const mint = (kid = 'k1') => new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid }).setSubject(SUB).setIssuer(ISS)
    .setAudience(AUD).setIssuedAt().setExpirationTime('10m').sign(privateKey)

  t.equal(await ask(await mint()), 200, 'the key set is fetched and the caller served')
  down = true
  // the key set the broker holds is older than the verifier's cache age (10 minutes): the next
  // request asks the issuer again. Only the wall clock moves; the token stays valid.
  const realNow = Date.now
  const later = 11 * 60_000
  Date.now = () => realNow() + later
  t.teardown(() => { Date.now = realNow })
  const hitsBefore = jwksHits
  t.equal(await ask(await mint()), 200, 'a valid token is still accepted while the issuer answers 503')
  t.ok(jwksHits > hitsBefore, 'the issuer was asked again')
  t.equal(await ask(await mint()), 200, 'and on the next request too')
  t.equal(await ask(await mint('k-unknown')), 401, 'a key the last key set did not hold is still refused')
  down = false
  Date.now = () => realNow() + 2 * later
  const hitsDown = jwksHits
  t.equal(await ask(await mint()), 200, 'the issuer is back')
  t.equal(jwksHits, hitsDown + 1, 'the key set is fetched again')
})
