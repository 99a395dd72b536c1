import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ConfigError } from '../../src/config.ts'
import { buildTestApp, TEST_KEY } from '../helper.ts'
import { makePki, startSecureRedis } from '../support/redis-tls.ts'

/**
 * The PEM files of Vault's and Redis' TLS settings, read at start: a file that is not what its variable
 * names stops the broker with one line naming the variable (exit 78). Node's TLS takes a CA file with
 * no certificate in it without a word, and OpenSSL's words for a broken client pair name no file:
 * the broker used to start, then fail every connection to Vault or Redis. (Good files pass the check:
 * test/sessions/redis-secure.test.ts and test/secrets/vault-enterprise.test.ts connect with them.)
 */
t.test('a damaged CA file or client pair for Vault or Redis is a configuration error naming the variable', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sfb-tls-files-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const pki = await makePki(dir)
  const garbage = join(dir, 'garbage.pem')
  await writeFile(garbage, 'not a PEM file\n')
  // a bundle whose second certificate was cut short (a copy and paste that lost lines)
  const damaged = join(dir, 'damaged.pem')
  const ca = await readFile(pki.caFile, 'utf8')
  await writeFile(damaged, `${ca}${ca.replace(/\n[A-Za-z0-9+/=]+\n/, '\n')}`)

  const vault = { SECRET_STORE: 'vault', VAULT_ADDR: 'https://127.0.0.1:1', VAULT_AUTH_METHOD: 'token', VAULT_TOKEN: 'hvs.test-token', VAULT_STARTUP_TIMEOUT_SECONDS: '1' }
  const redis = { REDIS_URL: 'rediss://127.0.0.1:1', SESSION_ENCRYPTION_KEY: TEST_KEY }
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['Vault CA, no certificate', { ...vault, VAULT_CACERT: garbage }, /^invalid VAULT_CACERT: no PEM certificate in the file; /],
    ['Vault CA, a damaged certificate', { ...vault, VAULT_CACERT: damaged }, /^invalid VAULT_CACERT: a certificate in the file does not parse; /],
    ['Vault client certificate', { ...vault, VAULT_CLIENT_CERT: pki.clientKey, VAULT_CLIENT_KEY: pki.clientKey }, /^invalid VAULT_CLIENT_CERT: no PEM certificate in the file; /],
    ['Vault client key of another certificate', { ...vault, VAULT_CLIENT_CERT: pki.clientCert, VAULT_CLIENT_KEY: pki.serverKey }, /^invalid VAULT_CLIENT_KEY: not the private key of the certificate in VAULT_CLIENT_CERT; /],
    ['Redis CA, no certificate', { ...redis, REDIS_TLS_CA_FILE: garbage }, /^invalid REDIS_TLS_CA_FILE: no PEM certificate in the file; /],
    ['Redis client key', { ...redis, REDIS_TLS_CA_FILE: pki.caFile, REDIS_TLS_CERT_FILE: pki.clientCert, REDIS_TLS_KEY_FILE: garbage }, /^invalid REDIS_TLS_KEY_FILE: no unencrypted PEM private key in the file; /],
    ['Redis client key of another certificate', { ...redis, REDIS_TLS_CERT_FILE: pki.clientCert, REDIS_TLS_KEY_FILE: pki.serverKey }, /^invalid REDIS_TLS_KEY_FILE: not the private key of the certificate in REDIS_TLS_CERT_FILE; /],
    // a Secret volume mounted at the file's path (no subPath) makes it a folder, as for Vault's files
    ['Redis CA, a folder', { ...redis, REDIS_TLS_CA_FILE: dir }, /^invalid REDIS_TLS_CA_FILE: cannot read the file \(EISDIR\); /],
    ['Vault CA, a folder', { ...vault, VAULT_CACERT: dir }, /^invalid VAULT_CACERT: cannot read the file \(EISDIR\); /],
  ]
  for (const [name, env, pattern] of cases) {
    const err = await buildTestApp(t, { env, secretStore: env.SECRET_STORE === 'vault' ? 'configured' : undefined }).then(() => undefined, (e: unknown) => e)
    t.type(err, ConfigError, `${name}: a configuration error (exit 78)`)
    t.match((err as Error | undefined)?.message, pattern, name)
    t.notMatch((err as Error | undefined)?.message ?? '', /BEGIN|PRIVATE KEY|not a PEM/, 'nothing of the files quoted')
    t.notOk(((err as Error | undefined)?.message ?? '').includes(dir), 'no path quoted')
  }
})

/**
 * What Node's TLS takes as a CA bundle, the check takes too: OpenSSL's own TRUSTED CERTIFICATE blocks
 * (`openssl x509 -trustout`; RHEL's and Fedora's ca-bundle.trust.crt) and the old X509 CERTIFICATE
 * label, which OpenSSL reads as certificates (PEM_read_bio_X509_AUX), and CRLF line ends. A broker
 * that reached Redis with such a file must not stop at start once upgraded.
 */
t.test('a CA bundle in a form Node takes (TRUSTED CERTIFICATE, X509 CERTIFICATE, CRLF) starts the broker, which reaches Redis with it', async (t) => {
  const redis = await startSecureRedis()
  t.teardown(() => redis.close())
  const dir = await mkdtemp(join(tmpdir(), 'sfb-tls-bundles-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const trusted = join(dir, 'ca.trust.crt')
  await promisify(execFile)('openssl', ['x509', '-in', redis.pki.caFile, '-trustout', '-addtrust', 'serverAuth', '-out', trusted])
  const ca = await readFile(redis.pki.caFile, 'utf8')
  const oldLabel = join(dir, 'ca-x509.crt')
  await writeFile(oldLabel, ca.replace(/(BEGIN|END) CERTIFICATE/g, '$1 X509 CERTIFICATE'))
  const crlf = join(dir, 'ca-crlf.crt')
  await writeFile(crlf, ca.replace(/\n/g, '\r\n'))

  for (const [name, file] of [['TRUSTED CERTIFICATE', trusted], ['X509 CERTIFICATE', oldLabel], ['CRLF line ends', crlf]] as const) {
    const env = {
      REDIS_URL: `rediss://127.0.0.1:${redis.port}`,
      REDIS_USERNAME: redis.username,
      REDIS_PASSWORD: redis.password,
      REDIS_TLS_CA_FILE: file,
      REDIS_TLS_CERT_FILE: redis.pki.clientCert,
      REDIS_TLS_KEY_FILE: redis.pki.clientKey,
      SESSION_ENCRYPTION_KEY: TEST_KEY,
      REDIS_KEY_PREFIX: 'sfbtest:',
    }
    const built = await buildTestApp(t, { env }).then(({ app }) => app, (err: unknown) => err as Error)
    if (built instanceof Error) {
      t.fail(`${name}: the broker did not start (${built.message})`)
      continue
    }
    let ready = 0
    for (let i = 0; i < 100 && ready !== 200; i++) {
      ready = (await built.inject({ url: '/health/ready' })).statusCode
      if (ready !== 200) await new Promise(resolve => setTimeout(resolve, 100))
    }
    t.equal(ready, 200, `${name}: ready, Redis reached over TLS with that CA file`)
  }
})
