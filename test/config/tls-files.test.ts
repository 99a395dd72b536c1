import t from 'tap'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError } from '../../src/config.ts'
import { buildTestApp, TEST_KEY } from '../helper.ts'
import { makePki } from '../support/redis-tls.ts'

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
  ]
  for (const [name, env, pattern] of cases) {
    const err = await buildTestApp(t, { env, secretStore: env.SECRET_STORE === 'vault' ? 'configured' : undefined }).then(() => undefined, (e: unknown) => e)
    t.type(err, ConfigError, `${name}: a configuration error (exit 78)`)
    t.match((err as Error | undefined)?.message, pattern, name)
    t.notMatch((err as Error | undefined)?.message ?? '', /BEGIN|PRIVATE KEY|not a PEM/, 'nothing of the files quoted')
  }
})
