import t from 'tap'
import { ConfigError, loadConfig } from '../src/config.ts'

const KEY = Buffer.alloc(32, 7).toString('base64')
const base = { SECRET_STORE: 'file', FILE_STORE_KEY: KEY, PRINCIPALS_JSON: '{"principals":[]}', SHARED_STATE: 'memory' }

t.test('defaults apply and strings are converted to typed values', async (t) => {
  const c = loadConfig({ ...base, PORT: '8080', TRUST_PROXY: 'true' })
  t.equal(c.PORT, 8080)
  t.equal(c.TRUST_PROXY, true)
  t.equal(c.SESSION_MAX_TTL_SECONDS, 900)
  t.equal(c.HOST, '0.0.0.0')
})

t.test('a bad variable is named in a line of its own', async (t) => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ ...base, PORT: '99999' }, /^invalid PORT: /],
    [{ ...base, PORT: 'abc' }, /^invalid PORT: /],
    [{ ...base, LOG_LEVEL: 'loud' }, /^invalid LOG_LEVEL/],
    [{ ...base, FILE_STORE_KEY: 'short' }, /^invalid FILE_STORE_KEY/],
    [{ ...base, REDIS_URL: 'http://x' }, /^invalid REDIS_URL/],
    [{ ...base, SHARED_STATE: '', REDIS_URL: 'redis://127.0.0.1:6379' }, /^missing SESSION_ENCRYPTION_KEY/],
    [{ SECRET_STORE: 'vault', PRINCIPALS_JSON: '{}' }, /^missing VAULT_ADDR/],
    [{ SECRET_STORE: 'vault', VAULT_ADDR: 'http://v:8200', VAULT_AUTH_METHOD: 'approle', PRINCIPALS_JSON: '{}' }, /^missing VAULT_ROLE_ID/],
    [{ SECRET_STORE: 'vault', VAULT_ADDR: 'http://v:8200', PRINCIPALS_JSON: '{}' }, /^missing VAULT_KUBERNETES_ROLE/],
    [{ SECRET_STORE: 'file', FILE_STORE_KEY: KEY }, /^missing PRINCIPALS_FILE/],
    [{ ...base, CIRCUIT_COOLDOWN_SECONDS: '600', CIRCUIT_MAX_COOLDOWN_SECONDS: '60' }, /^invalid CIRCUIT_MAX_COOLDOWN_SECONDS/],
    // Transit custody needs Vault; the certificate validity is bounded
    [{ ...base, JWT_KEY_CUSTODY: 'vault-transit' }, /^invalid JWT_KEY_CUSTODY: vault-transit needs SECRET_STORE=vault/],
    [{ ...base, JWT_KEY_CUSTODY: 'hsm' }, /^invalid JWT_KEY_CUSTODY/],
    [{ ...base, JWT_CERT_VALIDITY_DAYS: '0' }, /^invalid JWT_CERT_VALIDITY_DAYS/],
    // Caller JWTs are only checked against an audience and an issuer the operator named
    [{ ...base, JWKS_URL: 'https://issuer.example/jwks' }, /^missing JWT_AUDIENCE: required when JWKS_URL is set.*set JWT_AUDIENCE/],
    [{ ...base, JWKS_URL: 'https://issuer.example/jwks', JWT_AUDIENCE: 'sf-broker' }, /^missing JWT_ISSUER: required when JWKS_URL is set.*set JWT_ISSUER/],
    [{ ...base, JWKS_URL: 'http://issuer.example/jwks', JWT_AUDIENCE: 'sf-broker', JWT_ISSUER: 'https://issuer.example' }, /^invalid JWKS_URL: .*https/],
    [{ ...base, JWKS_URL: 'http://127.0.0.1.evil.example/jwks', JWT_AUDIENCE: 'sf-broker', JWT_ISSUER: 'https://issuer.example' }, /^invalid JWKS_URL: /],
    [{ ...base, JWKS_URL: 'https://issuer.example/jwks', JWT_AUDIENCE: 'sf-broker', JWT_ISSUER: 'https://issuer.example', JWT_MAX_TTL_SECONDS: '0' }, /^invalid JWT_MAX_TTL_SECONDS/],
  ]
  for (const [env, pattern] of cases) {
    let problems: readonly string[] = []
    try {
      loadConfig(env)
    } catch (err) {
      t.type(err, ConfigError)
      problems = (err as ConfigError).problems
    }
    t.ok(problems.some(line => pattern.test(line)), `${JSON.stringify(env)}: ${problems.join(' | ')}`)
    t.ok(problems.every(line => !line.includes('\n')), 'one line each')
  }
})

t.test('a decimal for a whole-number setting is refused, not rounded down', async (t) => {
  for (const [variable, value] of [['LOGIN_RETRIES', '1.5'], ['PORT', '8080.9'], ['LOCKOUT_THRESHOLD', '3e1'], ['LOCKOUT_WINDOW_SECONDS', '60.5']]) {
    const err = t.throws(() => loadConfig({ ...base, [variable]: value })) as ConfigError
    t.same(err.problems.filter(p => p.startsWith(`invalid ${variable}:`)).length, 1, `${variable}=${value}: ${err.problems.join(' | ')}`)
    t.match(err.problems.join('\n'), new RegExp(`^invalid ${variable}: expected a whole number`, 'm'))
    t.notOk(err.problems.join('\n').includes(value), 'the value is not echoed')
  }
  t.equal(loadConfig({ ...base, LOGIN_RETRIES: ' 4 ', PORT: '+8080' }).LOGIN_RETRIES, 4, 'spaces around and a sign still read as the number')
})

t.test('JWKS_URL may be plain http only on a loopback address', async (t) => {
  const jwt = { JWT_AUDIENCE: 'sf-broker', JWT_ISSUER: 'https://issuer.example' }
  for (const url of ['https://issuer.example/jwks', 'http://127.0.0.1:8080/jwks', 'http://localhost/jwks', 'http://[::1]:9000/jwks', 'http://127.8.0.1/jwks']) {
    t.equal(loadConfig({ ...base, ...jwt, JWKS_URL: url }).JWKS_URL, url, url)
  }
  t.equal(loadConfig(base).JWT_MAX_TTL_SECONDS, 3600, 'a one-hour maximum lifetime by default')
})

t.test('VAULT_ADDR and JWKS_URL with user:password@ are refused at start, without echoing the password', async (t) => {
  // fetch refuses such a URL ("Request cannot be constructed from a URL that includes credentials"): Vault would be
  // retried, not ready, until VAULT_STARTUP_TIMEOUT_SECONDS ended the process, and every caller JWT would be refused
  const password = 'hunter2-not-a-real-password'
  const vault = { SECRET_STORE: 'vault', VAULT_AUTH_METHOD: 'token', VAULT_TOKEN: 'placeholder', PRINCIPALS_JSON: '{"principals":[]}', SHARED_STATE: 'memory' }
  const jwt = { JWT_AUDIENCE: 'sf-broker', JWT_ISSUER: 'https://issuer.example' }
  const cases: Array<[Record<string, string>, string]> = [
    [{ ...vault, VAULT_ADDR: `https://admin:${password}@vault.example:8200` }, 'VAULT_ADDR'],
    [{ ...vault, VAULT_ADDR: `https://${password}@vault.example:8200` }, 'VAULT_ADDR'],
    [{ ...vault, VAULT_ADDR: 'https://' }, 'VAULT_ADDR'],
    [{ ...base, ...jwt, JWKS_URL: `https://reader:${password}@issuer.example/jwks` }, 'JWKS_URL'],
  ]
  for (const [env, variable] of cases) {
    const err = t.throws(() => loadConfig(env), `${variable}: refused`) as ConfigError
    t.match(err?.problems?.join('\n'), new RegExp(`^invalid ${variable}: `, 'm'), `names ${variable}`)
    t.notMatch(err?.message ?? '', password, 'the password is not echoed')
  }
  t.equal(loadConfig({ ...vault, VAULT_ADDR: 'https://vault.example:8200' }).VAULT_ADDR, 'https://vault.example:8200')
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

t.test('a secret setting can come from a file (METRICS_TOKEN_FILE), never echoed', async (t) => {
  const { mkdtemp, rm, writeFile } = await import('node:fs/promises')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const dir = await mkdtemp(join(tmpdir(), 'sfb-config-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'metrics-token')
  await writeFile(file, 'a-metrics-token-from-a-file-0123\r\n')
  t.equal(loadConfig({ ...base, METRICS_TOKEN_FILE: file }).METRICS_TOKEN, 'a-metrics-token-from-a-file-0123', 'the trailing newline is not part of it')
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ ...base, METRICS_TOKEN_FILE: file, METRICS_TOKEN: 'another-token-0123456789' }, /^invalid METRICS_TOKEN_FILE: set either METRICS_TOKEN or METRICS_TOKEN_FILE/],
    [{ ...base, METRICS_TOKEN_FILE: join(dir, 'missing') }, /^invalid METRICS_TOKEN_FILE: cannot read the file \(ENOENT\)/],
    [{ ...base, METRICS_TOKEN: 'short' }, /^invalid METRICS_TOKEN/],
    [{ ...base, HEALTH_DETAILS: 'everybody' }, /^invalid HEALTH_DETAILS/],
  ]
  for (const [env, pattern] of cases) {
    let message = ''
    try { loadConfig(env) } catch (err) { message = (err as Error).message }
    t.match(message, pattern)
    t.notMatch(message, 'a-metrics-token-from-a-file')
    t.notMatch(message, 'another-token')
  }
  t.equal(loadConfig(base).HEALTH_DETAILS, 'admin', 'details for admins by default')
  t.equal(loadConfig(base).METRICS_TOKEN, undefined)
})

t.test('every secret setting can come from a file, and the previous session key too', async (t) => {
  const { mkdtemp, rm, writeFile } = await import('node:fs/promises')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const dir = await mkdtemp(join(tmpdir(), 'sfb-config-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const put = async (name: string, value: string) => { await writeFile(join(dir, name), `${value}\n`); return join(dir, name) }
  const newKey = Buffer.alloc(32, 8).toString('base64')
  const oldKey = Buffer.alloc(32, 9).toString('base64')
  const files = {
    FILE_STORE_KEY_FILE: await put('file-store-key', KEY),
    SESSION_ENCRYPTION_KEY_FILE: await put('session-key', newKey),
    SESSION_ENCRYPTION_KEY_PREVIOUS_FILE: await put('session-key-previous', oldKey),
    VAULT_ROLE_ID_FILE: await put('role_id', 'the-role-id'),
    VAULT_SECRET_ID_FILE: await put('secret_id', 'the-secret-id'),
  }
  const c = loadConfig({
    PRINCIPALS_JSON: '{"principals":[]}',
    SECRET_STORE: 'vault',
    VAULT_ADDR: 'http://127.0.0.1:8200',
    VAULT_AUTH_METHOD: 'approle',
    REDIS_URL: 'redis://127.0.0.1:6379',
    ...files,
  })
  t.equal(c.FILE_STORE_KEY, KEY)
  t.equal(c.SESSION_ENCRYPTION_KEY, newKey)
  t.equal(c.SESSION_ENCRYPTION_KEY_PREVIOUS, oldKey)
  t.equal(c.VAULT_ROLE_ID, 'the-role-id')
  t.equal(c.VAULT_SECRET_ID, 'the-secret-id')
  // a Vault Agent sink is read (and re-read) by the token keeper, not copied into the config
  const sink = await put('token', 'hvs.from-a-file')
  const token = loadConfig({ ...base, SECRET_STORE: 'vault', VAULT_ADDR: 'http://127.0.0.1:8200', VAULT_AUTH_METHOD: 'token', VAULT_TOKEN_FILE: sink })
  t.equal(token.VAULT_TOKEN_FILE, sink)
  t.equal(token.VAULT_TOKEN, undefined)
  t.throws(() => loadConfig({ ...base, SECRET_STORE: 'vault', VAULT_ADDR: 'http://127.0.0.1:8200', VAULT_AUTH_METHOD: 'token', VAULT_TOKEN_FILE: sink, VAULT_TOKEN: 'x' }), /^invalid VAULT_TOKEN_FILE: set either/)
  t.throws(() => loadConfig({ ...base, SECRET_STORE: 'vault', VAULT_ADDR: 'http://127.0.0.1:8200', VAULT_AUTH_METHOD: 'token', VAULT_TOKEN: 'x', VAULT_CLIENT_CERT: sink }), /^missing VAULT_CLIENT_KEY/)
  t.throws(() => loadConfig({ ...base, SECRET_STORE: 'vault', VAULT_ADDR: 'http://127.0.0.1:8200', VAULT_AUTH_METHOD: 'token', VAULT_TOKEN: 'x', VAULT_CACERT: join(dir, 'missing-ca.pem') }), /^invalid VAULT_CACERT: cannot read the file \(ENOENT\)/)
  t.equal(token.VAULT_APPROLE_MOUNT, 'approle')
  t.equal(token.VAULT_STARTUP_TIMEOUT_SECONDS, 120)

  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ ...base, SESSION_ENCRYPTION_KEY_PREVIOUS: oldKey }, /^missing SESSION_ENCRYPTION_KEY: required when SESSION_ENCRYPTION_KEY_PREVIOUS is set/],
    [{ ...base, SESSION_ENCRYPTION_KEY: newKey, SESSION_ENCRYPTION_KEY_PREVIOUS: 'short' }, /^invalid SESSION_ENCRYPTION_KEY_PREVIOUS/],
    [{ ...base, FILE_STORE_KEY: undefined as unknown as string, FILE_STORE_KEY_FILE: await put('bad-key', 'not-base64') }, /^invalid FILE_STORE_KEY/],
  ]
  for (const [env, pattern] of cases) {
    let message = ''
    try { loadConfig(env) } catch (err) { message = (err as Error).message }
    t.match(message, pattern)
    t.notMatch(message, 'not-base64', 'the file content is never quoted')
  }
})

t.test('a LOGIN_URL_ALLOWLIST entry that is not an origin is a configuration error naming the variable', async (t) => {
  // it used to stop the broker with "failed to start: login URL allow-list entry … is not an origin" (exit 1)
  for (const value of ['not-a-url', 'http://127.0.0.1:*,ftp://sim.internal', 'https://sim.internal:70000', 'https://sim.internal/path']) {
    const err = t.throws(() => loadConfig({ ...base, LOGIN_URL_ALLOWLIST: value }), value) as ConfigError
    t.type(err, ConfigError)
    t.match(err?.problems, [/^invalid LOGIN_URL_ALLOWLIST: entry \d is not an origin; use comma-separated origins such as http:\/\/127\.0\.0\.1:8443 or http:\/\/127\.0\.0\.1:\*/])
  }
  t.equal(loadConfig({ ...base, LOGIN_URL_ALLOWLIST: 'http://127.0.0.1:*, https://[::1]:8443/' }).LOGIN_URL_ALLOWLIST, 'http://127.0.0.1:*, https://[::1]:8443/')
})
