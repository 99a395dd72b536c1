import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { loadConfig } from '../src/config.ts'
import { redisTopology } from '../src/shared-state/redis-client.ts'

const KEY = Buffer.alloc(32, 7).toString('base64')
const base = { SECRET_STORE: 'file', FILE_STORE_KEY: KEY, PRINCIPALS_JSON: '{"principals":[]}', SESSION_ENCRYPTION_KEY: KEY }

function failure (env: Record<string, string>): string {
  try {
    loadConfig(env)
  } catch (err) {
    return (err as Error).message
  }
  return 'no error'
}

t.test('one server, Sentinel or Cluster: the topology follows the variables', async (t) => {
  t.equal(redisTopology(loadConfig({ ...base, SHARED_STATE: 'memory' })), undefined, 'no Redis: in memory, when asked for')
  t.equal(redisTopology(loadConfig({ ...base, REDIS_URL: 'rediss://redis.internal:6380' })), 'standalone')
  const sentinel = loadConfig({ ...base, REDIS_SENTINELS: 'sentinel-0:26379, sentinel-1:26379,[::1]:26380', REDIS_SENTINEL_NAME: 'mymaster' })
  t.equal(redisTopology(sentinel), 'sentinel')
  const cluster = loadConfig({ ...base, REDIS_CLUSTER_NODES: 'redis://redis-0:6379,rediss://redis-1:6379' })
  t.equal(redisTopology(cluster), 'cluster')
})

t.test('bad Redis settings exit with one line naming the variable and the fix', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sfb-config-redis-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const pem = join(dir, 'ca.pem')
  await writeFile(pem, '-----BEGIN CERTIFICATE-----\n')
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ ...base, REDIS_SENTINELS: 'sentinel-0' }, /^invalid REDIS_SENTINELS: expected host:port of each sentinel, comma-separated \(e\.g\./],
    [{ ...base, REDIS_SENTINELS: 'sentinel-0:26379' }, /^missing REDIS_SENTINEL_NAME: required with REDIS_SENTINELS; set it to the name/],
    [{ ...base, REDIS_SENTINEL_NAME: 'mymaster' }, /^missing REDIS_SENTINELS: required with REDIS_SENTINEL_NAME/],
    [{ ...base, REDIS_SENTINELS: 's:1', REDIS_SENTINEL_NAME: 'my master' }, /^invalid REDIS_SENTINEL_NAME: expected the name of a "sentinel monitor" line/],
    [{ ...base, REDIS_CLUSTER_NODES: 'redis-0:6379' }, /^invalid REDIS_CLUSTER_NODES: expected redis:\/\/ or rediss:\/\/ URLs/],
    [{ ...base, REDIS_CLUSTER_NODES: 'redis://a:1,http://b:2' }, /^invalid REDIS_CLUSTER_NODES/],
    [{ ...base, REDIS_URL: 'redis://a:1', REDIS_CLUSTER_NODES: 'redis://a:1' }, /^invalid REDIS_CLUSTER_NODES: set only one of REDIS_URL \(one server\), REDIS_SENTINELS \(Sentinel\) or REDIS_CLUSTER_NODES \(Cluster\); unset REDIS_CLUSTER_NODES$/],
    [{ ...base, REDIS_SENTINELS: 's:1', REDIS_SENTINEL_NAME: 'm', REDIS_CLUSTER_NODES: 'redis://a:1' }, /^invalid REDIS_CLUSTER_NODES: set only one of/],
    [{ ...base, SESSION_ENCRYPTION_KEY: '', REDIS_CLUSTER_NODES: 'redis://a:1' }, /^missing SESSION_ENCRYPTION_KEY: required when REDIS_CLUSTER_NODES is set/],
    [{ ...base, REDIS_PASSWORD: 'hunter2-hunter2' }, /^missing REDIS_URL: REDIS_PASSWORD is set but no Redis is/],
    [{ ...base, REDIS_URL: 'redis://a:1', REDIS_TLS_CERT_FILE: pem }, /^missing REDIS_TLS_KEY_FILE: a client certificate needs both/],
    [{ ...base, REDIS_URL: 'redis://a:1', REDIS_TLS_KEY_FILE: pem }, /^missing REDIS_TLS_CERT_FILE/],
    [{ ...base, REDIS_URL: 'redis://a:1', REDIS_TLS_CA_FILE: join(dir, 'nope.pem') }, /^invalid REDIS_TLS_CA_FILE: cannot read the file \(ENOENT\); mount the PEM file/],
    [{ ...base, REDIS_URL: 'redis://a:1', REDIS_KEY_PREFIX: 'sfb:{x}:' }, /^invalid REDIS_KEY_PREFIX: expected a prefix without \{ or \}/],
  ]
  for (const [env, pattern] of cases) {
    const message = failure(env)
    t.match(message, pattern, JSON.stringify(env))
    t.notOk(message.includes('\n'), 'one line')
    t.notMatch(message, 'hunter2', 'the password is never echoed')
  }
  t.equal(loadConfig({ ...base, REDIS_URL: 'redis://a:1', REDIS_TLS_CA_FILE: pem }).REDIS_TLS_CA_FILE, pem)
})

t.test('REDIS_PASSWORD may come from REDIS_PASSWORD_FILE (a mounted secret)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sfb-config-redis-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'redis-password')
  await writeFile(file, 'from-a-mounted-secret\n')
  const c = loadConfig({ ...base, REDIS_CLUSTER_NODES: 'redis://a:1', REDIS_USERNAME: 'sf-broker', REDIS_PASSWORD_FILE: file })
  t.equal(c.REDIS_PASSWORD, 'from-a-mounted-secret')
  t.match(failure({ ...base, REDIS_URL: 'redis://a:1', REDIS_PASSWORD: 'x', REDIS_PASSWORD_FILE: file }), /^invalid REDIS_PASSWORD_FILE: set either REDIS_PASSWORD or REDIS_PASSWORD_FILE/)
})

t.test('a Redis or syslog address the pattern lets through but no client can use exits 78 naming the variable, never the password', async (t) => {
  // a password with / or # not percent-encoded, a port past 65535: these used to stop the broker with
  // "failed to start: Invalid URL" (exit 1, no variable named), or retry a sentinel it could never reach
  const memory = { SECRET_STORE: 'file', FILE_STORE_KEY: KEY, PRINCIPALS_JSON: '{"principals":[]}', SHARED_STATE: 'memory' }
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ ...base, REDIS_URL: 'redis://:hunter2/x@redis:6379' }, /^invalid REDIS_URL: not a URL with a host and a port from 1 to 65535; .*percent-encode .*REDIS_PASSWORD/],
    [{ ...base, REDIS_URL: 'redis://app:hunter2#x@redis:6379' }, /^invalid REDIS_URL: /],
    [{ ...base, REDIS_URL: 'rediss://:hunter2@redis:99999' }, /^invalid REDIS_URL: not a URL with a host and a port from 1 to 65535/],
    [{ ...base, REDIS_URL: 'redis://:hunter2@redis:0' }, /^invalid REDIS_URL: /],
    [{ ...base, REDIS_CLUSTER_NODES: 'redis://redis-0:6379,redis://:hunter2/@redis-1:6379' }, /^invalid REDIS_CLUSTER_NODES: one entry is not a URL with a host and a port from 1 to 65535; /],
    [{ ...base, REDIS_SENTINELS: 'sentinel-0:26379,sentinel-1:99999', REDIS_SENTINEL_NAME: 'mymaster' }, /^invalid REDIS_SENTINELS: a port is not from 1 to 65535; /],
    [{ ...memory, AUDIT_SYSLOG_URL: 'tcp://siem:99999' }, /^invalid AUDIT_SYSLOG_URL: not a URL with a host and a port from 1 to 65535; use tcp:\/\/host:port or udp:\/\/host:port/],
    [{ ...memory, AUDIT_SYSLOG_URL: 'udp://siem:0' }, /^invalid AUDIT_SYSLOG_URL: /],
  ]
  for (const [env, pattern] of cases) {
    const message = failure(env)
    t.match(message, pattern, JSON.stringify(env))
    t.notOk(message.includes('\n'), 'one line')
    t.notMatch(message, 'hunter2', 'the password is never echoed')
  }
  // what still starts: default ports, IPv6, a database number, encoded characters in the password
  t.ok(loadConfig({ ...base, REDIS_URL: 'redis://:hunter2%2Fx%23y@redis/2' }))
  t.ok(loadConfig({ ...base, REDIS_URL: 'rediss://[::1]:6380' }))
  t.ok(loadConfig({ ...base, REDIS_CLUSTER_NODES: 'redis://redis-0,rediss://[fd00::1]:6379' }))
  t.ok(loadConfig({ ...base, REDIS_SENTINELS: 'sentinel-0:26379,[::1]:26380', REDIS_SENTINEL_NAME: 'mymaster' }))
  t.ok(loadConfig({ ...memory, AUDIT_SYSLOG_URL: 'udp://siem' }))
  t.ok(loadConfig({ ...memory, AUDIT_SYSLOG_URL: 'tcp://[fd00::2]:6514' }))
})
