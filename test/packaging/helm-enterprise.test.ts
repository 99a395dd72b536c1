import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { loadConfig } from '../../src/config.ts'
import { CHART_DIR, findObject, readYaml, renderChart, renderNotes, type RenderedChart } from './helm-chart.ts'
import { CONFIG_VARIABLES, FILE_VARIABLES } from './repo.ts'

/** The chart's TLS, proxy, Vault Agent / namespace / CA values, rendered by the real helm. */
const VALUES = readYaml(join(CHART_DIR, 'ci/enterprise-values.yaml'))
const chart = renderChart([VALUES])
const get = (c: RenderedChart, kind: string): any => findObject(c, kind) ?? (() => { throw new Error(`no ${kind}`) })()
const deployment = get(chart, 'Deployment')
const pod = deployment.spec.template.spec
const container = pod.containers[0]
const configMap = get(chart, 'ConfigMap').data as Record<string, string>
const mountOf = (name: string) => container.volumeMounts.find((m: any) => m.name === name)
const volumeOf = (name: string) => pod.volumes.find((v: any) => v.name === name)

t.test('TLS: the certificate Secret is mounted where TLS_CERT_FILE/TLS_KEY_FILE point, probes and scrapes use HTTPS', async (t) => {
  t.equal(configMap.TLS_CERT_FILE, `${mountOf('tls').mountPath}/tls.crt`)
  t.equal(configMap.TLS_KEY_FILE, `${mountOf('tls').mountPath}/tls.key`)
  t.same(volumeOf('tls').secret.items, [{ key: 'tls.crt', path: 'tls.crt' }, { key: 'tls.key', path: 'tls.key' }])
  t.equal(volumeOf('tls').secret.secretName, 'sf-broker-tls')
  for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) t.equal(container[probe].httpGet.scheme, 'HTTPS', probe)
  const endpoint = get(chart, 'ServiceMonitor').spec.endpoints[0]
  t.equal(endpoint.scheme, 'https')
  t.same(endpoint.tlsConfig, { ca: { secret: { name: 'sf-broker-tls', key: 'ca.crt' } }, serverName: 'rel-sf-broker.brokers.svc' })
  const plain = renderChart([readYaml(join(CHART_DIR, 'ci/test-values.yaml'))])
  t.equal(get(plain, 'Deployment').spec.template.spec.containers[0].readinessProbe.httpGet.scheme, undefined, 'plain HTTP without tls.existingSecret')
  t.match(renderNotes([VALUES]), 'https://rel-sf-broker.brokers.svc:3000/v1/connections/<name>/session', 'NOTES.txt gives callers the https URL')
})

t.test('Vault Agent, namespace, CA and client certificate: annotations, mounts and variables agree', async (t) => {
  const annotations = deployment.spec.template.metadata.annotations
  t.match(annotations, { 'vault.hashicorp.com/agent-inject': 'true', 'vault.hashicorp.com/agent-inject-token': 'true', 'vault.hashicorp.com/role': 'sf-broker', 'vault.hashicorp.com/namespace': 'platform/brokers' })
  t.equal(configMap.VAULT_TOKEN_FILE, '/vault/secrets/token', 'where the injector writes the token')
  t.notOk(container.env.some((e: any) => e.name === 'VAULT_TOKEN'), 'no token Secret besides the Agent')
  t.equal(pod.automountServiceAccountToken, true, 'the Agent logs in with the ServiceAccount token')
  t.equal(configMap.VAULT_NAMESPACE, 'platform/brokers')
  t.equal(configMap.VAULT_CACERT, `${mountOf('vault-tls').mountPath}/ca.crt`)
  t.equal(configMap.VAULT_CLIENT_CERT, `${mountOf('vault-tls').mountPath}/tls.crt`)
  t.same(volumeOf('vault-tls').secret.items.map((i: any) => i.path), ['ca.crt', 'tls.crt', 'tls.key'])
  t.equal(configMap.HTTPS_PROXY, 'http://proxy.corp.example:3128')
  t.equal(configMap.NO_PROXY, '.svc,.cluster.local')
  t.match(container.env.find((e: any) => e.name === 'SESSION_ENCRYPTION_KEY_PREVIOUS'), { valueFrom: { secretKeyRef: { name: 'sf-broker-session-key', key: 'SESSION_ENCRYPTION_KEY_PREVIOUS' } } })
  t.throws(() => renderChart([VALUES, { vault: { authMethod: 'approle', existingSecret: 'x' } }]), /vault.agent.enabled needs vault.authMethod=token/)
  t.throws(() => renderChart([VALUES, { proxy: { httpsProxy: 'proxy.corp:3128' } }]), /httpsProxy/, 'the schema wants a URL')
})

t.test('what the pod would see is a valid configuration', async (t) => {
  const names = [...container.env.map((e: any) => e.name), ...Object.keys(configMap)]
  // NODE_OPTIONS is Node's own (the heap limit the chart derives from the memory limit), not a broker setting
  const nodesOwn = new Set(['NODE_OPTIONS'])
  // and sfb's, the admin CLI in the image (`kubectl exec … -- sfb`): with TLS on, the URL and CA it needs
  const sfbOwn = new Set(['SFB_URL', 'SFB_CA_FILE'])
  for (const name of names) t.ok(CONFIG_VARIABLES.has(name) || FILE_VARIABLES.has(name) || nodesOwn.has(name) || sfbOwn.has(name), `${name} is a variable the broker, Node or sfb reads`)
  // the mounted files, as the kubelet and the Agent would write them, at temporary places
  const dir = mkdtempSync(join(tmpdir(), 'sfb-chart-files-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const files: Record<string, string> = {}
  for (const variable of ['TLS_CERT_FILE', 'TLS_KEY_FILE', 'VAULT_CACERT', 'VAULT_CLIENT_CERT', 'VAULT_CLIENT_KEY', 'VAULT_TOKEN_FILE', 'PRINCIPALS_FILE']) {
    files[variable] = join(dir, variable)
    writeFileSync(files[variable], variable === 'PRINCIPALS_FILE' ? '{"principals":[]}' : 'placeholder')
  }
  const key = Buffer.alloc(32, 3).toString('base64')
  // the container's literal variables too (sfb's among them): none may read as a misspelt setting
  const literals = Object.fromEntries(container.env.filter((e: any) => e.value !== undefined).map((e: any) => [e.name, e.value]))
  const config = loadConfig({ ...literals, ...configMap, ...files, SESSION_ENCRYPTION_KEY: key, SESSION_ENCRYPTION_KEY_PREVIOUS: key, REDIS_URL: 'rediss://:pw@redis:6379/0' })
  t.equal(config.VAULT_AUTH_METHOD, 'token')
  t.equal(config.VAULT_NAMESPACE, 'platform/brokers')
  t.equal(config.HTTPS_PROXY, 'http://proxy.corp.example:3128')
  t.equal(config.VAULT_STARTUP_TIMEOUT_SECONDS, 120)
})
