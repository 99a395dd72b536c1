import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { loadConfig } from '../../src/config.ts'
import { redisTopology } from '../../src/shared-state/redis-client.ts'
import { CHART_DIR, findObject, readYaml, renderChart, type K8sObject, type RenderedChart } from './helm-chart.ts'

/** The chart's Redis values (Sentinel, Cluster, ACL, TLS), rendered by the real helm and read back as the broker would. */

const get = (chart: RenderedChart, kind: string): K8sObject => {
  const object = findObject(chart, kind)
  if (object === undefined) throw new Error(`no ${kind} rendered`)
  return object
}
const podSpec = (chart: RenderedChart): any => get(chart, 'Deployment').spec.template.spec
const ci = (file: string) => readYaml(join(CHART_DIR, 'ci', file))

/**
 * The configuration the pod would load: the ConfigMap, the env (placeholder Secret values), and
 * every mounted file at the path the chart mounts it, written under a temporary root.
 */
function podConfig (t: { teardown (fn: () => void): void }, chart: RenderedChart) {
  const root = mkdtempSync(join(tmpdir(), 'sfb-helm-redis-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  const spec = podSpec(chart)
  const container = spec.containers[0]
  const data = { ...get(chart, 'ConfigMap').data } as Record<string, string>
  // mounted Secret items land at <mountPath>/<path>: write placeholders there, re-rooted
  for (const mount of container.volumeMounts) {
    const volume = spec.volumes.find((v: any) => v.name === mount.name)
    for (const item of volume.secret?.items ?? []) {
      mkdirSync(join(root, mount.mountPath), { recursive: true })
      writeFileSync(join(root, mount.mountPath, item.path), `placeholder ${item.key}\n`)
    }
  }
  for (const [name, value] of Object.entries(data)) if (name.endsWith('_FILE') && name.startsWith('REDIS_')) data[name] = join(root, value)
  const env = Object.fromEntries(container.env.filter((e: any) => e.valueFrom).map((e: any) => [e.name, e.name === 'SESSION_ENCRYPTION_KEY' ? Buffer.alloc(32, 2).toString('base64') : 'rediss://:pw@redis:6379/0']))
  return { data, env, config: loadConfig({ ...data, ...env, PRINCIPALS_JSON: '{"principals":[]}', PRINCIPALS_FILE: '' }) }
}

t.test('standalone by default: REDIS_URL from its Secret, nothing else', async (t) => {
  const chart = renderChart([ci('test-values.yaml')])
  const { config, data } = podConfig(t, chart)
  t.equal(redisTopology(config), 'standalone')
  t.notOk(Object.keys(data).some(k => /^REDIS_(SENTINEL|CLUSTER|USERNAME|PASSWORD|TLS)/.test(k)))
})

t.test('Sentinel with an ACL user, the password as a file and TLS with a client certificate', async (t) => {
  const chart = renderChart([ci('redis-sentinel-values.yaml')])
  const { config, env } = podConfig(t, chart)
  t.equal(redisTopology(config), 'sentinel')
  t.equal(config.REDIS_SENTINELS, 'redis-node-0.redis-headless:26379,redis-node-1.redis-headless:26379,redis-node-2.redis-headless:26379')
  t.equal(config.REDIS_SENTINEL_NAME, 'mymaster')
  t.equal(config.REDIS_USERNAME, 'sf-broker')
  t.equal(config.REDIS_PASSWORD, 'placeholder REDIS_PASSWORD', 'read from the mounted Secret, never an env value')
  t.notOk('REDIS_URL' in env, 'no REDIS_URL with Sentinel')
  t.match(config.REDIS_TLS_CA_FILE, /ca\.crt$/)
  t.match(config.REDIS_TLS_CERT_FILE, /tls\.crt$/)
  t.match(config.REDIS_TLS_KEY_FILE, /tls\.key$/)
  const tls = podSpec(chart).volumes.find((v: any) => v.name === 'redis-tls')
  t.same(tls.secret.items.map((i: any) => i.key), ['ca.crt', 'tls.crt', 'tls.key'])
  const policy = get(chart, 'NetworkPolicy')
  t.ok(policy.spec.egress.some((rule: any) => rule.ports.some((p: any) => p.port === 26379)), 'the sentinels\' port is open')
})

t.test('Cluster over rediss:// with the CA only', async (t) => {
  const chart = renderChart([ci('redis-cluster-values.yaml')])
  const { config } = podConfig(t, chart)
  t.equal(redisTopology(config), 'cluster')
  t.equal(config.REDIS_CLUSTER_NODES, 'rediss://redis-cluster-0.redis-cluster-headless:6379,rediss://redis-cluster-1.redis-cluster-headless:6379')
  t.equal(config.REDIS_TLS_CERT_FILE, undefined)
  t.match(config.REDIS_TLS_CA_FILE, /ca\.crt$/)
  const policy = get(chart, 'NetworkPolicy')
  t.notOk(policy.spec.egress.some((rule: any) => rule.ports.some((p: any) => p.port === 26379)), 'no sentinel port without Sentinel')
})

t.test('the NetworkPolicy lets the broker reach every Redis port its values name', async (t) => {
  // the sentinels or cluster nodes on other ports than networkPolicy.redis.*: without them, Redis is never reached
  const portsToRedis = (chart: RenderedChart): number[] => {
    const policy = get(chart, 'NetworkPolicy')
    const peers = JSON.stringify(policy.spec.egress.find((rule: any) => rule.ports.some((p: any) => p.port === 6379)).to)
    return policy.spec.egress.filter((rule: any) => JSON.stringify(rule.to) === peers).flatMap((rule: any) => rule.ports.map((p: any) => p.port))
  }
  const sentinel = renderChart([ci('redis-sentinel-values.yaml'), { redis: { sentinel: { addresses: ['sentinel-0.sentinel:5000', 'sentinel-1.sentinel:5000'] } } }])
  t.ok(portsToRedis(sentinel).includes(5000), 'the sentinels\' port in redis.sentinel.addresses')
  t.ok(portsToRedis(sentinel).includes(6379), 'and the primary\'s')
  const cluster = renderChart([ci('redis-cluster-values.yaml'), { redis: { cluster: { nodes: ['rediss://redis-cluster-0.redis-cluster:7000', 'redis://redis-cluster-1.redis-cluster:7001'] } } }])
  t.ok(portsToRedis(cluster).includes(7000) && portsToRedis(cluster).includes(7001), 'the ports of redis.cluster.nodes')
  t.same([...new Set(portsToRedis(renderChart([ci('test-values.yaml')])))], [6379], 'one server: networkPolicy.redis.port alone')
})

t.test('missing Redis values fail the render with the value to set', async (t) => {
  const base = ci('test-values.yaml')
  t.throws(() => renderChart([base, { redis: { mode: 'sentinel' } }]), { message: /redis\.sentinel\.addresses is required/ })
  t.throws(() => renderChart([base, { redis: { mode: 'cluster' } }]), { message: /redis\.cluster\.nodes is required/ })
  t.throws(() => renderChart([base, { redis: { mode: 'replicated' } }]), { message: /mode/ })
  t.throws(() => renderChart([base, { redis: { tls: { enabled: true } } }]), { message: /redis\.tls\.existingSecret is required/ })
  t.throws(() => renderChart([base, { redis: { cluster: { nodes: ['redis://:pw@redis-0:6379'] } } }]), { message: /nodes/ }, 'no password in a node URL')
})
