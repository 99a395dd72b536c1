import t from 'tap'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { SignJWT, exportJWK, generateKeyPair } from 'jose'
import { acmeDefinition, bearer, buildTestApp, startSim, tempFileStore } from '../helper.ts'
import { generateApiKey } from '../../src/auth/api-key.ts'
import { parsePrincipals } from '../../src/auth/principals.ts'

const SUB = 'system:serviceaccount:billing:billing'
const ISS = 'https://kubernetes.default.svc.cluster.local'
const AUD = 'sf-broker'

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
  const doc = { principals: [{ id: 'billing', kind: 'service', jwtSubjects: [SUB], connections: ['acme'] }, { id: 'ops', kind: 'admin', apiKeySha256: [admin.sha256] }] }
  const { app } = await buildTestApp(t, {
    secretStore: store,
    principals: { directory: parsePrincipals(doc), json: JSON.stringify(doc), billingKey: '', reportingKey: '', adminKey: admin.key },
    env: { JWKS_URL: jwksUrl, JWT_ISSUER: ISS, JWT_AUDIENCE: AUD },
  })
  const sign = (claims: { sub?: string, iss?: string, aud?: string, exp?: string | number }, key = privateKey, kid = 'k1') =>
    new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid }).setSubject(claims.sub ?? SUB).setIssuer(claims.iss ?? ISS)
      .setAudience(claims.aud ?? AUD).setIssuedAt().setExpirationTime(claims.exp ?? '10m').sign(key)
  const ask = async (token: string) => (await app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(token) })).statusCode

  t.equal(await ask(await sign({})), 200, 'a valid service-account token')
  t.equal(await ask(await sign({ aud: 'someone-else' })), 401, 'wrong audience')
  t.equal(await ask(await sign({ iss: 'https://evil.example' })), 401, 'wrong issuer')
  t.equal(await ask(await sign({ exp: Math.floor(Date.now() / 1000) - 3600 })), 401, 'expired')
  t.equal(await ask(await sign({ sub: 'system:serviceaccount:other:other' })), 401, 'unknown subject')
  const other = await generateKeyPair('RS256')
  t.equal(await ask(await sign({}, other.privateKey)), 401, 'signed by a key not in the JWKS')
  t.equal(await ask(await sign({}, other.privateKey, 'unknown-kid')), 401, 'unknown key id')
  const [h, p] = (await sign({})).split('.')
  t.equal(await ask(`${h}.${p}.`), 401, 'signature stripped')
  t.equal(await ask(`${Buffer.from('{"alg":"none"}').toString('base64url')}.${p}.`), 401, 'alg none')
  t.ok(jwksHits >= 1 && jwksHits <= 3, `JWKS fetched and cached (${jwksHits} fetches)`)
})
