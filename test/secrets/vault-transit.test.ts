import t from 'tap'
import { X509Certificate, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto'
import nodeVault from 'node-vault'
import pino from 'pino'
import { startVaultStandIn } from '../support/vault-standin.ts'
import { VaultSecretStore } from '../../src/secrets/vault-store.ts'
import { TransitKeys, transitKeyName } from '../../src/secrets/vault-transit.ts'
import { buildSelfSignedCertificate } from '../../src/salesforce/x509.ts'

/** What node-vault rejects with: Vault's status and body. */
async function refusal (p: Promise<unknown>): Promise<{ status?: number, body?: unknown } | null> {
  return p.then(() => null, (e: { response?: { statusCode: number, body: unknown } }) => ({ status: e.response?.statusCode, body: e.response?.body }))
}

/** Raw node-vault against the stand-in: the answers real Vault gives (builtin/logical/transit). */
t.test('Transit stand-in answers as Vault: create (upsert), read, sign, errors', async (t) => {
  const vault = await startVaultStandIn()
  t.teardown(() => vault.close())
  const v = nodeVault({ endpoint: vault.url, token: vault.rootToken })
  Object.assign(v, { pathPrefix: '' })
  const created = await v.write('transit/keys/k1', { type: 'rsa-2048', exportable: false }) as { data: { type: string, latest_version: number, supports_signing: boolean, keys: Record<string, { public_key: string, name: string }> }, warnings: unknown }
  t.equal(created.data.type, 'rsa-2048')
  t.equal(created.data.keys['1'].name, 'rsa-2048')
  t.match(created.data.keys['1'].public_key, /^-----BEGIN PUBLIC KEY-----/)
  t.equal(created.warnings, null)
  const again = await v.write('transit/keys/k1', { type: 'rsa-2048' }) as { warnings: string[] }
  t.same(again.warnings, ['key k1 already existed'], 'path_keys.go: an upsert of an existing key warns')
  const pub = createPublicKey(created.data.keys['1'].public_key)

  const input = Buffer.from('header.claims')
  const signed = await v.write('transit/sign/k1/sha2-256', { input: input.toString('base64'), signature_algorithm: 'pkcs1v15' }) as { data: { signature: string } }
  t.match(signed.data.signature, /^vault:v1:[A-Za-z0-9+/=]+$/)
  t.ok(verify('sha256', input, pub, Buffer.from(signed.data.signature.slice(9), 'base64')), 'PKCS#1 v1.5 over SHA-256: what RS256 needs')
  const pss = await v.write('transit/sign/k1', { input: input.toString('base64') }) as { data: { signature: string } }
  t.notOk(verify('sha256', input, pub, Buffer.from(pss.data.signature.slice(9), 'base64')), 'the default is PSS, which an RS256 verifier refuses')

  t.same(await refusal(v.write('transit/sign/nope/sha2-256', { input: 'aGk=' })), { status: 400, body: { errors: ['encryption key not found'] } })
  t.same(await refusal(v.write('transit/sign/k1/md5', { input: 'aGk=' })), { status: 400, body: { errors: ['invalid hash algorithm "md5"'] } })
  t.same(await refusal(v.write('transit/keys/k2', { type: 'rsa-1024' })), { status: 400, body: { errors: ['unknown key type rsa-1024'] } })
  await v.write('transit/keys/aes', {})
  t.same(await refusal(v.write('transit/sign/aes', { input: 'aGk=' })), { status: 400, body: { errors: ['key type aes256-gcm96 does not support signing'] } })
  t.match(await refusal(v.read('transit/keys/missing')), { status: 404 })
})

t.test('the broker\'s TransitKeys through its Vault store: policy-scoped, exportable keys refused, certificates signed in Vault', async (t) => {
  const vault = await startVaultStandIn()
  t.teardown(() => vault.close())
  vault.setPolicy('p', [{ path: 'transit/keys/sf-broker-*', capabilities: ['read', 'update'] }, { path: 'transit/sign/sf-broker-*', capabilities: ['update'] }])
  const store = new VaultSecretStore({ endpoint: vault.url, auth: { method: 'token', token: vault.createToken({ policies: ['p'] }) }, logger: pino({ level: 'silent' }) })
  await store.start()
  t.teardown(() => store.close())
  const transit = new TransitKeys(store, 'transit')
  const name = transitKeyName('acme', new Date('2026-11-30T10:00:00.123Z'))
  t.equal(name, 'sf-broker-acme-20261130-100000Z')
  const key = await transit.create(name)
  const signature = await transit.signer(name)(Buffer.from('abc'))
  t.ok(verify('sha256', Buffer.from('abc'), createPublicKey(key.publicKeyPem), signature))
  await t.rejects(transit.create('other-key'), /permission_denied/, 'outside the policy: refused, and said so')

  const root = nodeVault({ endpoint: vault.url, token: vault.rootToken })
  Object.assign(root, { pathPrefix: '' })
  await root.write('transit/keys/sf-broker-exportable', { type: 'rsa-2048', exportable: true })
  await t.rejects(transit.create('sf-broker-exportable'), /exportable/, 'a key that can leave Vault is never used')

  const pem = await buildSelfSignedCertificate({ spkiDer: createPublicKey(key.publicKeyPem).export({ type: 'spki', format: 'der' }), commonName: 'acme', notBefore: new Date(), notAfter: new Date(Date.now() + 86_400_000), sign: tbs => transit.sign(name, tbs) })
  const cert = new X509Certificate(pem)
  t.ok(cert.verify(createPublicKey(key.publicKeyPem)), 'node:crypto parses the DER and verifies Transit\'s signature')
})

t.test('x509: DER a parser accepts — validity across 2050 (GeneralizedTime), long names, positive serials', async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const notAfter = new Date('2051-06-01T00:00:00Z')
  const pem = await buildSelfSignedCertificate({ spkiDer: publicKey.export({ type: 'spki', format: 'der' }), commonName: 'x'.repeat(200), notBefore: new Date('2026-01-01T00:00:00Z'), notAfter, sign: async tbs => sign('sha256', tbs, privateKey) })
  const cert = new X509Certificate(pem)
  t.equal(new Date(cert.validTo).toISOString(), notAfter.toISOString())
  t.equal(new Date(cert.validFrom).toISOString(), '2026-01-01T00:00:00.000Z')
  t.match(cert.subject, /CN=x{200}/)
  t.equal(cert.issuer, cert.subject, 'self-signed')
  t.notOk(cert.ca, 'not a CA')
  t.ok(cert.verify(publicKey))
  t.notOk(cert.verify(createPublicKey(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }))), 'another key does not verify it')
})
