import t from 'tap'
import { ConfigError, loadConfig } from '../src/config.ts'

const KEY = Buffer.alloc(32, 7).toString('base64')
const base = { SECRET_STORE: 'file', FILE_STORE_KEY: KEY, PRINCIPALS_JSON: '{"principals":[]}' }

t.test('defaults apply and strings are converted to typed values', async (t) => {
  const c = loadConfig({ ...base, PORT: '8080', TRUST_PROXY: 'true' })
  t.equal(c.PORT, 8080)
  t.equal(c.TRUST_PROXY, true)
  t.equal(c.SESSION_MAX_TTL_SECONDS, 900)
  t.equal(c.HOST, '0.0.0.0')
})

t.test('a bad variable is named in a one-line message', async (t) => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ ...base, PORT: '99999' }, /^invalid PORT: /],
    [{ ...base, PORT: 'abc' }, /^invalid PORT: /],
    [{ ...base, LOG_LEVEL: 'loud' }, /^invalid LOG_LEVEL/],
    [{ ...base, FILE_STORE_KEY: 'short' }, /^invalid FILE_STORE_KEY/],
    [{ ...base, REDIS_URL: 'http://x' }, /^invalid REDIS_URL/],
    [{ ...base, REDIS_URL: 'redis://127.0.0.1:6379' }, /^missing SESSION_ENCRYPTION_KEY/],
    [{ SECRET_STORE: 'vault', PRINCIPALS_JSON: '{}' }, /^missing VAULT_ADDR/],
    [{ SECRET_STORE: 'vault', VAULT_ADDR: 'http://v:8200', VAULT_AUTH_METHOD: 'approle', PRINCIPALS_JSON: '{}' }, /^missing VAULT_ROLE_ID/],
    [{ SECRET_STORE: 'vault', VAULT_ADDR: 'http://v:8200', PRINCIPALS_JSON: '{}' }, /^missing VAULT_KUBERNETES_ROLE/],
    [{ SECRET_STORE: 'file', FILE_STORE_KEY: KEY }, /^missing PRINCIPALS_FILE/],
    [{ ...base, CIRCUIT_COOLDOWN_SECONDS: '600', CIRCUIT_MAX_COOLDOWN_SECONDS: '60' }, /^invalid CIRCUIT_MAX_COOLDOWN_SECONDS/],
  ]
  for (const [env, pattern] of cases) {
    let message = ''
    try {
      loadConfig(env)
    } catch (err) {
      t.type(err, ConfigError)
      message = (err as Error).message
    }
    t.match(message, pattern, JSON.stringify(env))
    t.notMatch(message, '\n')
  }
})

t.test('a configuration error never echoes a secret value', async (t) => {
  const secret = 'hunter2-super-secret'
  try {
    loadConfig({ ...base, FILE_STORE_KEY: secret })
    t.fail('should throw')
  } catch (err) {
    t.notMatch((err as Error).message, secret)
  }
})

t.test('empty variables count as unset', async (t) => {
  const c = loadConfig({ ...base, REDIS_URL: '', PORT: '' })
  t.equal(c.REDIS_URL, undefined)
  t.equal(c.PORT, 3000)
})
