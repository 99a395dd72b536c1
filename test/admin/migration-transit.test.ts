import t, { type Test } from 'tap'
import { X509Certificate, createPublicKey, type KeyObject } from 'node:crypto'
import nodeVault from 'node-vault'
import { Redis } from 'ioredis'
import type { FastifyInstance } from 'fastify'
import { ACME, acmeDefinition, bearer, buildTestApp, startSim } from '../helper.ts'
import { generateTestKeyPair } from '../../packages/simulator/src/index.ts'
import { startRedis } from '../support/redis.ts'
import { BROKER_KV_POLICY, startVaultStandIn } from '../support/vault-standin.ts'
import { captureLogs } from '../support/log-capture.ts'
import { testPrincipals } from '../support/principals.ts'

const ECA = '3MVG9eca.transit.app'
const MIGRATION = '/v1/admin/connections/acme/migration'

/** Every form a private key's bytes could leave in: PEM lines, base64 and hex of its DER encodings and of d. */
function privateKeyForms (key: KeyObject): string[] {
  const pkcs8 = key.export({ type: 'pkcs8', format: 'der' })
  const pkcs1 = key.export({ type: 'pkcs1', format: 'der' })
  const d = Buffer.from(key.export({ format: 'jwk' }).d as string, 'base64url')
  const forms = [pkcs8.toString('base64'), pkcs1.toString('base64'), d.toString('base64'), d.toString('base64url'), d.toString('hex')]
  const pemLines = (key.export({ type: 'pkcs8', format: 'pem' }) as string).split('\n').filter(l => l.length === 64)
  const pkcs1Lines = (key.export({ type: 'pkcs1', format: 'pem' }) as string).split('\n').filter(l => l.length === 64)
  // a middle slice of each long form is enough to recognise it anywhere
  return [...forms.map(f => f.slice(f.length / 2, f.length / 2 + 40)), ...pemLines.slice(2, 6), ...pkcs1Lines.slice(2, 6)]
}

async function redisDump (url: string): Promise<string> {
  const client = new Redis<'legacy'>(url)
  try {
    const out: string[] = []
    for (const key of await client.keys('*')) {
      const type = await client.type(key)
      if (type === 'string') out.push(await client.get(key) ?? '')
      else if (type === 'set') out.push(...await client.smembers(key))
      else if (type === 'hash') out.push(JSON.stringify(await client.hgetall(key)))
      else if (type === 'zset') out.push(...await client.zrange(key, '0', '-1'))
      else if (type === 'list') out.push(...await client.lrange(key, 0, -1))
      else if (type === 'stream') out.push(JSON.stringify(await client.xrange(key, '-', '+')))
      out.push(key)
    }
    return out.join('\n')
  } finally {
    client.disconnect()
  }
}

/**
 * The Vault stand-in with the broker's policy (its KV paths and its Transit keys), an AppRole for it,
 * and the broker's settings for it with JWT_KEY_CUSTODY=vault-transit.
 */
async function transitVault (t: Test) {
  const vault = await startVaultStandIn()
  t.teardown(() => vault.close())
  vault.setPolicy('sf-broker', [
    ...BROKER_KV_POLICY,
    { path: 'transit/keys/sf-broker-*', capabilities: ['read', 'update'] },
    { path: 'transit/sign/sf-broker-*', capabilities: ['update'] },
  ])
  const role = vault.enableAppRole('sf-broker', { policies: ['sf-broker'] })
  const env = { SECRET_STORE: 'vault', VAULT_ADDR: vault.url, VAULT_AUTH_METHOD: 'approle', VAULT_ROLE_ID: role.roleId, VAULT_SECRET_ID: role.secretId, JWT_KEY_CUSTODY: 'vault-transit', SECRET_CACHE_TTL_SECONDS: '1' }
  return { vault, env }
}

t.test('JWT_KEY_CUSTODY=vault-transit: the key never leaves Vault, the certificate carries Transit\'s public key, 2 replicas serve throughout', async (t) => {
  const sim = await startSim(t)
  const { vault, env } = await transitVault(t)
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const principals = testPrincipals(['acme'], 1_000_000)
  const logs = captureLogs('debug')
  const apps: FastifyInstance[] = []
  for (let i = 0; i < 2; i++) {
    apps.push((await buildTestApp(t, {
      secretStore: 'configured',
      redisUrl: redis.url,
      principals,
      logger: logs.logger,
      env: { LOG_LEVEL: 'debug', ...env },
    })).app)
  }
  const answers: string[] = []
  const admin = async (i: number, method: 'GET' | 'POST' | 'PUT', url: string, payload?: object) => {
    const res = await apps[i].inject({ method, url, payload, headers: bearer(principals.adminKey) })
    answers.push(JSON.stringify(res.headers), res.body)
    return res
  }
  const session = async (i: number) => {
    const res = await apps[i % 2].inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })
    answers.push(res.body)
    return res
  }
  const setup = async (method: 'PUT', path: string, body?: object) => {
    const res = await fetch(`${sim.loginUrl}/_sim/orgs/acme${path}`, { method, headers: { 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined })
    t.ok(res.ok, `Setup: ${path}`)
  }

  t.equal((await admin(0, 'PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'oauth_password'))).statusCode, 201)
  t.equal((await session(0)).statusCode, 200)
  const statuses: number[] = []
  const run = { on: true }
  const traffic = Promise.all([0, 1].map(async w => {
    for (let i = w; run.on; i += 2) {
      statuses.push((await session(i)).statusCode)
      await new Promise(resolve => setImmediate(resolve))
    }
  }))

  const started = await admin(0, 'POST', MIGRATION, { flow: 'jwt_bearer', clientId: ECA })
  t.equal(started.statusCode, 201, started.body)
  const view = started.json()
  t.equal(view.certificate.keyCustody, 'vault-transit')
  t.same(view.to.secretsSet, [], 'no secret field: the key is in Vault')
  const keyName: string = view.certificate.transitKey
  t.match(keyName, /^sf-broker-acme-/)

  // the certificate's public key is Transit's, read through node-vault as any Vault client would
  const client = nodeVault({ endpoint: vault.url, token: vault.rootToken })
  Object.assign(client, { pathPrefix: '' })
  const key = await client.read(`transit/keys/${keyName}`) as { data: { exportable: boolean, type: string, keys: Record<string, { public_key: string }> } }
  t.equal(key.data.exportable, false, 'created with exportable=false')
  t.equal(key.data.type, 'rsa-2048')
  const cert = new X509Certificate(view.certificate.pem)
  t.equal(cert.publicKey.export({ type: 'spki', format: 'pem' }), createPublicKey(key.data.keys['1'].public_key).export({ type: 'spki', format: 'pem' }), 'the certificate carries Transit\'s public key')
  t.ok(cert.verify(createPublicKey(key.data.keys['1'].public_key)), 'and Transit signed the certificate')
  t.ok((vault.transit.signCount.get(keyName) ?? 0) >= 1)

  await setup('PUT', `/apps/${ECA}`, { clientSecret: 'eca-secret-0123456789', permittedUsers: 'admin_approved', certificatePem: view.certificate.pem })
  await setup('PUT', `/apps/${ECA}/preauthorized/${ACME.username}`)
  const ok = (await admin(1, 'POST', `${MIGRATION}/validate`)).json()
  t.equal(ok.classification, 'ok', JSON.stringify(ok))
  const signedBefore = vault.transit.signCount.get(keyName) ?? 0
  const done = await admin(0, 'POST', `${MIGRATION}/complete`)
  t.equal(done.statusCode, 200, done.body)
  const after = await Promise.all(Array.from({ length: 20 }, (_, i) => session(i)))
  t.same([...new Set(after.map(a => a.statusCode))], [200])
  run.on = false
  await traffic
  t.same([...new Set(statuses)], [200], `zero failed session requests (${statuses.length})`)
  t.equal((vault.transit.signCount.get(keyName) ?? 0) - signedBefore, 1, 'the one login after the switch was signed by Transit')

  // no byte of the private key anywhere the broker writes
  const privateKey = vault.transit.privateKeyForTest(keyName)!
  const forms = privateKeyForms(privateKey)
  const d = Buffer.from(privateKey.export({ format: 'jwk' }).d as string, 'base64url')
  const whereItIs = [privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64'), privateKey.export({ type: 'pkcs1', format: 'der' }).toString('base64'), d.toString('base64'), d.toString('base64url'), d.toString('hex'), privateKey.export({ type: 'pkcs8', format: 'pem' }), privateKey.export({ type: 'pkcs1', format: 'pem' })].join('\n')
  t.ok(forms.every(f => whereItIs.includes(f)), 'the search recognises the key where it is')
  const kvRead = async (path: string) => JSON.stringify(await client.read(path).catch(() => null))
  const kv = [await kvRead('secret/data/sf-broker/acme'), await kvRead('secret/data/sf-broker/acme?version=1'), await kvRead('secret/data/sf-broker/_migrations/acme?version=1')].join('\n')
  t.match(kv, keyName, 'KV names the Transit key')
  t.notMatch(kv, /privateKey|PRIVATE KEY/, 'KV holds no private key')
  const places = { redis: await redisDump(redis.url), kv, logs: logs.text(), answers: answers.join('\n') }
  for (const [place, text] of Object.entries(places)) {
    t.ok(text.length > 0, `${place} was read`)
    t.notOk(forms.some(f => text.includes(f)), `no private key bytes in ${place}`)
  }
})

/** One broker on Vault with JWT_KEY_CUSTODY=vault-transit, its jwt_bearer connection "acme" signing with a Transit key (moved there by a certificate rotation). */
async function transitConnection (t: Test) {
  const sim = await startSim(t)
  const { vault, env } = await transitVault(t)
  const principals = testPrincipals(['acme'], 1_000_000)
  const { app } = await buildTestApp(t, { secretStore: 'configured', principals, env })
  const admin = (method: 'GET' | 'POST' | 'PUT' | 'PATCH', url: string, payload?: object) => app.inject({ method, url, payload, headers: bearer(principals.adminKey) })
  const certificate = async (certificatePem: string) => {
    const res = await fetch(`${sim.loginUrl}/_sim/orgs/acme/apps/${ACME.clientId}/certificate`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ certificatePem }) })
    t.ok(res.ok, 'Setup: certificate uploaded')
  }
  t.equal((await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'jwt_bearer'))).statusCode, 201)
  const rotation = (await admin('POST', '/v1/admin/connections/acme/certificate-rotation')).json()
  await certificate(rotation.certificate.pem)
  t.equal((await admin('POST', '/v1/admin/connections/acme/certificate-rotation/validate')).json().classification, 'ok')
  t.equal((await admin('POST', '/v1/admin/connections/acme/certificate-rotation/complete')).statusCode, 200)
  const keyName: string = rotation.certificate.transitKey
  return { sim, vault, app, principals, admin, certificate, keyName }
}

// A jwt_bearer connection whose key is in Transit names it (`transitKey`), and a login signs with
// the key it names. A key given by hand (PATCH …/credentials {"privateKey"}) replaces it: the
// validating login must sign with the key given, and so must every login after the write.
t.test('a private key given by hand to a connection whose key was in Vault Transit is the key validated and used', async (t) => {
  const { vault, app, principals, admin, certificate, keyName } = await transitConnection(t)

  // later an admin brings a key of their own: its certificate in the app, the key through the API
  const own = generateTestKeyPair()
  await certificate(own.certificatePem)
  const signed = vault.transit.signCount.get(keyName) ?? 0
  const checked = await admin('POST', '/v1/admin/connections/acme/validate', { privateKey: own.privateKeyPem })
  t.match(checked.json(), { ok: true, source: 'candidate' }, 'the candidate key is the one validated')
  const rotated = await admin('PATCH', '/v1/admin/connections/acme/credentials', { privateKey: own.privateKeyPem })
  t.equal(rotated.statusCode, 200, rotated.body)
  t.equal(vault.transit.signCount.get(keyName) ?? 0, signed, 'nothing signed by the Transit key the given key replaces')
  const session = await app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })
  t.equal(session.statusCode, 200, session.body)
  const health = (await admin('GET', '/health/salesforce?connection=acme')).json().connections[0]
  t.notOk(health.certificate?.keyCustody === 'vault-transit', 'health no longer shows the Transit key\'s certificate')
})

// The Transit key signs assertions as the stored private key would: an assertion is a bearer
// credential for its user (posted to the token endpoint it names), so it goes only to the host,
// user and app the key is stored for, as a stored private key does.
t.test('a validation candidate for another user or host of a connection whose key is in Vault Transit must bring its own key', async (t) => {
  const { sim, vault, admin, keyName } = await transitConnection(t)
  const signed = vault.transit.signCount.get(keyName) ?? 0
  const attempts = sim.stats().attempts
  for (const candidate of [{ username: 'ceo@acme.example' }, { loginUrl: sim.myDomainUrl('acme') }]) {
    const refused = await admin('POST', '/v1/admin/connections/acme/validate', candidate)
    t.equal(refused.statusCode, 400, refused.body)
    t.match(refused.json(), { type: 'urn:sf-broker:problem:bad_request', errors: [{ path: 'body/privateKey' }] })
  }
  t.equal(vault.transit.signCount.get(keyName) ?? 0, signed, 'the Transit key signed no assertion for them')
  t.equal(sim.stats().attempts, attempts, 'nothing was sent')
})

t.test('a migration start whose key Vault Transit does not make is audited as an error, and leaves nothing pending', async (t) => {
  const sim = await startSim(t)
  const vault = await startVaultStandIn()
  t.teardown(() => vault.close())
  // the role's policy lacks the Transit paths: the key cannot be made
  vault.setPolicy('sf-broker', BROKER_KV_POLICY)
  const role = vault.enableAppRole('sf-broker', { policies: ['sf-broker'] })
  const principals = testPrincipals(['acme'], 1_000_000)
  const { app } = await buildTestApp(t, {
    secretStore: 'configured',
    principals,
    env: { SECRET_STORE: 'vault', VAULT_ADDR: vault.url, VAULT_AUTH_METHOD: 'approle', VAULT_ROLE_ID: role.roleId, VAULT_SECRET_ID: role.secretId, JWT_KEY_CUSTODY: 'vault-transit' },
  })
  const admin = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: object) => app.inject({ method, url, payload, headers: bearer(principals.adminKey) })
  t.equal((await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'oauth_password'))).statusCode, 201)
  const started = await admin('POST', MIGRATION, { flow: 'jwt_bearer', clientId: ECA })
  t.equal(started.statusCode, 503, started.body)
  t.equal(started.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.equal((await admin('GET', MIGRATION)).statusCode, 404, 'nothing pending')
  const events = (await admin('GET', '/v1/admin/audit?connection=acme&action=migration.start')).json().events
  t.match(events, [{ outcome: 'error' }], 'the attempt is in the audit')
})
