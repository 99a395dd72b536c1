import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { serverExit } from './support/server-exit.ts'
import { createBroker } from '../src/broker.ts'
import { ConfigError, loadConfig, unknownVariableWarnings } from '../src/config.ts'

/** Every configuration error says what is allowed and how to fix it, and exits 78. */

const KEY = Buffer.alloc(32, 7).toString('base64')
const BASE = { SECRET_STORE: 'file', FILE_STORE_KEY: KEY, PRINCIPALS_JSON: '{"principals":[]}', SHARED_STATE: 'memory' }

function errorOf (env: Record<string, string>): string {
  try {
    loadConfig(env)
  } catch (err) {
    if (err instanceof ConfigError) return err.message
    throw err
  }
  return 'no error'
}

t.test('an enum lists its allowed values', async (t) => {
  t.equal(errorOf({ ...BASE, LOG_LEVEL: 'loud' }), 'invalid LOG_LEVEL: must be one of: fatal, error, warn, info, debug, trace, silent')
  t.equal(errorOf({ ...BASE, SECRET_STORE: 'disk' }), 'invalid SECRET_STORE: must be one of: vault, file')
  t.equal(errorOf({ ...BASE, TRUST_PROXY: 'yes please' }), 'invalid TRUST_PROXY: must be one of: true, false')
})

t.test('MAX_HEADER_BYTES: an integer from 4096 to 1048576', async (t) => {
  t.equal(loadConfig(BASE).MAX_HEADER_BYTES, 16384, 'Node\'s own default')
  t.equal(loadConfig({ ...BASE, MAX_HEADER_BYTES: '65536' }).MAX_HEADER_BYTES, 65536)
  for (const bad of ['100', '2000000', '16k', '-1']) t.match(errorOf({ ...BASE, MAX_HEADER_BYTES: bad }), /^invalid MAX_HEADER_BYTES: /, bad)
})

t.test('a key says how to make one, not a regular expression', async (t) => {
  const message = errorOf({ ...BASE, FILE_STORE_KEY: 'too-short' })
  t.equal(message, 'invalid FILE_STORE_KEY: expected 32 random bytes, base64 (openssl rand -base64 32)')
  t.notMatch(message, /\^|\$|\{43\}/)
})

t.test('unknown variables with the broker\'s prefixes are named, with the likely meant one', async (t) => {
  t.same(unknownVariableWarnings({ VAULT_ADRR: 'https://vault:8200' }), ['unknown variable VAULT_ADRR; did you mean VAULT_ADDR?'])
  t.same(unknownVariableWarnings({ REDIS_ULR: 'redis://r:6379', LOGIN_TIMOUT_MS: '5000' }), [
    'unknown variable LOGIN_TIMOUT_MS; did you mean LOGIN_TIMEOUT_MS?',
    'unknown variable REDIS_ULR; did you mean REDIS_URL?',
  ])
  t.same(unknownVariableWarnings({ VAULT_SOMETHING_ELSE_ENTIRELY: 'x' }), ['unknown variable VAULT_SOMETHING_ELSE_ENTIRELY (not a setting of sf-broker; see the README\'s configuration table)'])
  t.same(unknownVariableWarnings({
    PATH: '/bin',
    HOME: '/root',
    NODE_ENV: 'production',
    VAULT_ADDR: 'https://v',
    VAULT_TOKEN_FILE: '/t',
    https_proxy: 'http://p',
    // Kubernetes service links of Services named redis and vault
    REDIS_SERVICE_HOST: '10.0.0.1',
    REDIS_SERVICE_PORT: '6379',
    REDIS_PORT: 'tcp://10.0.0.1:6379',
    REDIS_PORT_6379_TCP_ADDR: '10.0.0.1',
    VAULT_SERVICE_PORT_HTTPS: '8200',
  }), [], 'known settings, *_FILE variants, other programs\' variables and Kubernetes service links are fine')
})

t.test('the server: warnings on stderr, exit 78 for every configuration error, principals included', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sfb-config-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))

  const typo = await serverExit({ ...BASE, PORT: 'x', VAULT_ADRR: 'https://vault:8200', MAX_HEADER_BYTES: '100' })
  t.equal(typo.code, 78)
  t.match(typo.stderr, /^sf-broker: configuration error: unknown variable VAULT_ADRR; did you mean VAULT_ADDR\?/m)
  t.match(typo.stderr, /^sf-broker: configuration error: invalid PORT: /m, 'every problem in one start')
  t.match(typo.stderr, /^sf-broker: configuration error: invalid MAX_HEADER_BYTES: /m)

  // serve() reads the environment it is given, not the process's: the unknown-variable check names its typo
  const given = spawn(process.execPath, ['--input-type=module', '-e', `import { exitOnStartupError, serve } from ${JSON.stringify(new URL('../src/serve.ts', import.meta.url).href)}
serve(${JSON.stringify({ ...BASE, PORT: 'x', VAULT_ADRR: 'https://vault:8200' })}).catch(exitOnStartupError)`], { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'ignore', 'pipe'] })
  let givenErr = ''
  given.stderr.setEncoding('utf8').on('data', (d: string) => { givenErr += d })
  const [givenCode] = await once(given, 'close') as [number | null]
  t.equal(givenCode, 78, givenErr)
  t.match(givenErr, /unknown variable VAULT_ADRR; did you mean VAULT_ADDR\?/, 'the typo in the given environment is named')

  const proxy = await serverExit({ ...BASE, HTTPS_PROXY: 'http://proxy.corp:99999' })
  t.equal(proxy.code, 78, proxy.stderr)
  t.match(proxy.stderr, /^sf-broker: configuration error: invalid HTTPS_PROXY: /m, 'a proxy port out of range is named, not a stack')
  t.notMatch(proxy.stderr, /\n\s+at /, 'no stack trace')

  const missing = join(dir, 'principals.json')
  const noFile = await serverExit({ SECRET_STORE: 'file', FILE_STORE_KEY: KEY, PRINCIPALS_FILE: missing, SHARED_STATE: 'memory' })
  t.equal(noFile.code, 78, noFile.stderr)
  t.equal(noFile.stderr.trim().split('\n').pop(), `sf-broker: configuration error: invalid PRINCIPALS_FILE: cannot read ${missing} (ENOENT); mount the principals document at that path or set PRINCIPALS_JSON`)

  await writeFile(missing, '{"principals":[{"id":"x","kind":"wizard"}]}')
  const bad = await serverExit({ SECRET_STORE: 'file', FILE_STORE_KEY: KEY, PRINCIPALS_FILE: missing, SHARED_STATE: 'memory' })
  t.equal(bad.code, 78, bad.stderr)
  t.match(bad.stderr, /^sf-broker: configuration error: invalid PRINCIPALS_FILE: /)

  const json = await serverExit({ ...BASE, PRINCIPALS_JSON: '{"principals":[{"id":"a","kind":"admin","apiKeySha256":["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]},{"id":"a","kind":"admin","apiKeySha256":["bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"]}]}' })
  t.equal(json.code, 78, json.stderr)
  t.match(json.stderr, /^sf-broker: configuration error: invalid PRINCIPALS_JSON: .*duplicate id "a"/)

  // the servers above ran outside tap's coverage (support/server-exit.ts): the same refusals in-process
  const dup = { ...BASE, PRINCIPALS_JSON: '{"principals":[{"id":"a","kind":"admin","apiKeySha256":["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]},{"id":"a","kind":"admin","apiKeySha256":["bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"]}]}' }
  await t.rejects(createBroker(loadConfig(dup)), { name: 'ConfigError', message: /^invalid PRINCIPALS_JSON: .*duplicate id "a"/ })
  await rm(missing)
  await t.rejects(createBroker(loadConfig({ SECRET_STORE: 'file', FILE_STORE_KEY: KEY, PRINCIPALS_FILE: missing, SHARED_STATE: 'memory' })), { name: 'ConfigError', message: /^invalid PRINCIPALS_FILE: cannot read .* \(ENOENT\)/ })
})

t.test('a bad value read from <VARIABLE>_FILE names the _FILE variable, never the content', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sfb-config-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'file-store-key')
  await writeFile(file, 'not-a-key-at-all\n')
  const message = errorOf({ SECRET_STORE: 'file', FILE_STORE_KEY_FILE: file, PRINCIPALS_JSON: '{"principals":[]}', SHARED_STATE: 'memory' })
  t.equal(message, 'invalid FILE_STORE_KEY_FILE: the file\'s content is not a valid FILE_STORE_KEY: expected 32 random bytes, base64 (openssl rand -base64 32)')
  t.notMatch(message, 'not-a-key-at-all')
})

t.test('REDIS_FAILOVER_WAIT_MS at or above LOGIN_WAIT_TIMEOUT_MS: the requests behind a login that waits for the failover would give up first', async (t) => {
  const sentinel = { ...BASE, SHARED_STATE: 'redis', REDIS_SENTINELS: '127.0.0.1:26379', REDIS_SENTINEL_NAME: 'mymaster', SESSION_ENCRYPTION_KEY: KEY }
  t.equal(errorOf({ ...sentinel, REDIS_FAILOVER_WAIT_MS: '20000' }), 'invalid REDIS_FAILOVER_WAIT_MS (5000 unless set): must be below LOGIN_WAIT_TIMEOUT_MS, or 0 for no wait: a request waiting behind a login gives up after LOGIN_WAIT_TIMEOUT_MS, and during a failover that login waits REDIS_FAILOVER_WAIT_MS first; raise LOGIN_WAIT_TIMEOUT_MS above it, lower REDIS_FAILOVER_WAIT_MS, or set it to 0')
  t.match(errorOf({ ...BASE, SHARED_STATE: 'redis', REDIS_CLUSTER_NODES: 'redis://127.0.0.1:7000', SESSION_ENCRYPTION_KEY: KEY, REDIS_FAILOVER_WAIT_MS: '9000', LOGIN_WAIT_TIMEOUT_MS: '8000' }), /^invalid REDIS_FAILOVER_WAIT_MS \(5000 unless set\): must be below LOGIN_WAIT_TIMEOUT_MS/, 'Cluster too')
  t.equal(errorOf({ ...sentinel, REDIS_FAILOVER_WAIT_MS: '20000', LOGIN_WAIT_TIMEOUT_MS: '30000' }), 'no error')
  t.equal(errorOf(sentinel), 'no error', 'the defaults: 5 s below 20 s')
  t.equal(errorOf({ ...sentinel, REDIS_FAILOVER_WAIT_MS: '0', LOGIN_WAIT_TIMEOUT_MS: '1000' }), 'no error', '0: no wait')
  // a login wait lowered below the failover wait's default names the default it meets
  t.match(errorOf({ ...sentinel, LOGIN_WAIT_TIMEOUT_MS: '4000' }), /^invalid REDIS_FAILOVER_WAIT_MS \(5000 unless set\)/)
  // one server: no failover to wait for (the setting does nothing there)
  t.equal(errorOf({ ...BASE, SHARED_STATE: 'redis', REDIS_URL: 'redis://127.0.0.1:6379', SESSION_ENCRYPTION_KEY: KEY, LOGIN_WAIT_TIMEOUT_MS: '3000' }), 'no error')
})
