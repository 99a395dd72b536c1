import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { parseAllDocuments } from 'yaml'
import { FILE_VARIANTS, loadConfig, unknownVariableWarnings } from '../../src/config.ts'
import { CHART_DIR, chartValues, findObject, readYaml, renderChart, renderNotes, templateFiles, type K8sObject, type RenderedChart } from './helm-chart.ts'
import { CONFIG_VARIABLES, FILE_VARIABLES, configDefault, dockerStages, getRoutes, readRepoFile } from './repo.ts'
import { findInlineSecrets } from './secrets-scan.ts'

/** What `helm template` renders, checked as a user of the chart would: by the objects it makes. */

/** Variables Node itself reads; the chart may set them besides the broker's own. */
const NODE_VARIABLES = new Set(['NODE_EXTRA_CA_CERTS', 'NODE_OPTIONS'])
const CI_VALUES = readYaml(join(CHART_DIR, 'ci/test-values.yaml'))
const chart = renderChart([CI_VALUES])

function get (chart: RenderedChart, kind: string): K8sObject {
  const object = findObject(chart, kind)
  if (object === undefined) throw new Error(`no ${kind} rendered`)
  return object
}

const container = (chart: RenderedChart): any => get(chart, 'Deployment').spec.template.spec.containers[0]

/** Every leaf path of a values document (`image.tag`, `probes.startup.periodSeconds`…). */
function leafPaths (value: unknown, prefix = ''): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Object.keys(value).length === 0) return [prefix]
  return Object.entries(value).flatMap(([k, v]) => leafPaths(v, prefix === '' ? k : `${prefix}.${k}`))
}

/** `.Values.x.y` references in the templates (also `$.Values.x.y`). */
function referencedValues (): Set<string> {
  const refs = new Set<string>()
  for (const file of templateFiles()) {
    const source = readFileSync(join(CHART_DIR, 'templates', file), 'utf8')
    for (const match of source.matchAll(/\.Values((?:\.[A-Za-z0-9_]+)+)/g)) refs.add(match[1].slice(1))
  }
  return refs
}

t.test('Chart.yaml is a v2 application chart', async (t) => {
  const meta = readYaml(join(CHART_DIR, 'Chart.yaml'))
  t.equal(meta.apiVersion, 'v2')
  t.equal(meta.name, 'sf-broker')
  t.equal(meta.type, 'application')
  t.equal(meta.appVersion, JSON.parse(readRepoFile('package.json')).version, 'appVersion is the package version')
})

t.test('every values.yaml entry is used by a template, and every template value exists', async (t) => {
  const values = chartValues()
  const refs = referencedValues()
  const leaves = leafPaths(values)
  for (const leaf of leaves) {
    // a reference to a parent (toYaml .Values.resources) uses the whole subtree
    const used = [...refs].some(ref => leaf === ref || leaf.startsWith(ref + '.'))
    t.ok(used, `.Values.${leaf} is referenced`)
  }
  for (const ref of refs) {
    const exists = ref.split('.').reduce<any>((node, key) => node?.[key], values) !== undefined
    t.ok(exists, `.Values.${ref} is defined in values.yaml`)
  }
})

t.test('every values.yaml key carries a comment', async (t) => {
  const lines = readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8').split('\n')
  // keys inside list items are example data (NetworkPolicy peers): their list's key is documented
  const ancestors: Array<{ indent: number, listItem: boolean }> = []
  for (const [i, line] of lines.entries()) {
    const entry = /^(\s*)(- )?[A-Za-z][\w./-]*:/.exec(line)
    if (entry === null) continue
    const indent = entry[1].length
    while (ancestors.length > 0 && ancestors[ancestors.length - 1].indent >= indent) ancestors.pop()
    const inList = entry[2] !== undefined || ancestors.some(a => a.listItem)
    ancestors.push({ indent, listItem: entry[2] !== undefined })
    if (inList || /:\s*$/.test(line)) continue // parents are documented by their children
    const previous = lines.slice(0, i).reverse().find(l => l.trim() !== '') ?? ''
    t.ok(previous.trim().startsWith('#'), `values.yaml:${i + 1} ${line.trim()}`)
  }
})

t.test('every template renders to valid YAML with the CI values', async (t) => {
  const kinds = chart.objects.map(o => o.kind).sort()
  t.same(kinds, ['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'NetworkPolicy', 'PodDisruptionBudget', 'Service', 'ServiceAccount'])
  for (const object of chart.objects) {
    t.equal(object.metadata.namespace, 'brokers', `${object.kind} is namespaced to the release`)
    t.equal(object.metadata.labels?.['app.kubernetes.io/name'], 'sf-broker')
  }
  t.match(renderNotes([CI_VALUES]), /rel-sf-broker\.brokers\.svc:3000/, 'NOTES.txt, as helm install prints it')
})

t.test('without the required Secret names the chart refuses to render, naming the value', async (t) => {
  t.throws(() => renderChart(), { message: /vault\.address is required/ })
  t.throws(() => renderChart([{ vault: CI_VALUES.vault }]), { message: /(sessionEncryption|redis|principals)\.existingSecret is required/ })
  t.throws(() => renderChart([CI_VALUES, { config: { VAULT_ADDR: 'http://x' } }]), { message: /config\.VAULT_ADDR: set it through its own value/ })
  // values.schema.json: helm itself refuses, naming the value and what it allows
  t.throws(() => renderChart([CI_VALUES, { vault: { authMethod: 'userpass' } }]), { message: /'\/vault\/authMethod': value must be one of 'kubernetes', 'approle', 'token'/ })
  t.throws(() => renderChart([CI_VALUES, { networkPolicy: { ingressFrom: [] } }]), { message: /an empty list would allow everyone/ })
})

t.test('the Deployment: 2+ replicas, probes on real routes, the image port', async (t) => {
  const noHpa = renderChart([CI_VALUES, { autoscaling: { enabled: false } }])
  t.ok(get(noHpa, 'Deployment').spec.replicas >= 2, 'replicas >= 2 by default')
  t.notOk('replicas' in get(chart, 'Deployment').spec, 'the HPA owns the replica count when enabled')
  t.equal(findObject(noHpa, 'HorizontalPodAutoscaler'), undefined)

  const c = container(chart)
  const routes = getRoutes()
  t.equal(c.livenessProbe.httpGet.path, '/health/live')
  t.equal(c.startupProbe.httpGet.path, '/health/live')
  t.equal(c.readinessProbe.httpGet.path, '/health/ready')
  for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
    t.ok(routes.has(c[probe].httpGet.path), `${probe} path is a route in src/routes`)
    t.equal(c[probe].httpGet.port, 'http')
  }
  const expose = dockerStages(readRepoFile('Dockerfile')).at(-1)?.instructions.find(i => i.keyword === 'EXPOSE')?.args
  t.same(c.ports, [{ name: 'http', containerPort: Number(expose), protocol: 'TCP' }], 'the port the Dockerfile EXPOSEs')
  t.equal(Number(expose), configDefault('PORT'), 'which is the PORT default')
  t.equal(get(chart, 'ConfigMap').data?.PORT, String(c.ports[0].containerPort))
  t.equal(get(chart, 'Service').spec.ports[0].targetPort, 'http')
})

t.test('the pod is locked down: non-root, read-only root, no capabilities, RuntimeDefault seccomp', async (t) => {
  const pod = get(chart, 'Deployment').spec.template.spec
  const c = container(chart)
  t.match(pod.securityContext, { runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: 'RuntimeDefault' } })
  t.match(c.securityContext, {
    runAsNonRoot: true,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  })
  t.match(readRepoFile('Dockerfile'), `USER ${pod.securityContext.runAsUser}:`, 'the uid the image runs as')
  const tmp = pod.volumes.find((v: any) => v.name === 'tmp')
  t.ok(tmp.emptyDir, '/tmp is an emptyDir')
  t.same(c.volumeMounts.find((m: any) => m.name === 'tmp'), { name: 'tmp', mountPath: '/tmp' })
  t.equal(pod.automountServiceAccountToken, false, 'no Kubernetes API token in the pod')
  t.ok(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory)
  t.ok(pod.terminationGracePeriodSeconds > 10 + Number(c.lifecycle.preStop.exec.command[1]), 'grace period covers preStop + the 10 s drain')
})

t.test('the grace period covers the preStop sleep and the broker\'s drain (SHUTDOWN_TIMEOUT_MS), or helm refuses', async (t) => {
  // the kubelet counts terminationGracePeriodSeconds from the preStop hook; SIGTERM comes after it, and the
  // broker may take SHUTDOWN_TIMEOUT_MS to answer what is in flight: a SIGKILL before that cuts those requests
  const stopSeconds = (rendered: RenderedChart) => {
    const pod = get(rendered, 'Deployment').spec.template.spec
    const shutdownMs = Number(get(rendered, 'ConfigMap').data?.SHUTDOWN_TIMEOUT_MS ?? configDefault('SHUTDOWN_TIMEOUT_MS'))
    return { grace: pod.terminationGracePeriodSeconds, needed: Number(pod.containers[0].lifecycle.preStop.exec.command[1]) + shutdownMs / 1000 }
  }
  for (const override of [
    { config: { SHUTDOWN_TIMEOUT_MS: '30000' } },
    { config: { SHUTDOWN_TIMEOUT_MS: 25000 } },
    { preStopSleepSeconds: 20, config: { SHUTDOWN_TIMEOUT_MS: '10000' } },
    { terminationGracePeriodSeconds: 12 },
  ]) {
    let rendered: RenderedChart | undefined
    try {
      rendered = renderChart([CI_VALUES, override])
    } catch (err) {
      t.match((err as Error).message, /terminationGracePeriodSeconds/, `${JSON.stringify(override)}: refused, naming terminationGracePeriodSeconds`)
      continue
    }
    const { grace, needed } = stopSeconds(rendered)
    t.ok(grace > needed, `${JSON.stringify(override)}: grace ${grace} s > preStop + drain ${needed} s`)
  }
  for (const override of [{}, { terminationGracePeriodSeconds: 70, config: { SHUTDOWN_TIMEOUT_MS: '60000' } }]) {
    const { grace, needed } = stopSeconds(renderChart([CI_VALUES, override]))
    t.ok(grace > needed, `${JSON.stringify(override)}: renders, grace ${grace} s > ${needed} s`)
  }
})

t.test('Vault Kubernetes auth uses a projected token with audience vault, where the broker reads it', async (t) => {
  const pod = get(chart, 'Deployment').spec.template.spec
  const token = pod.volumes.find((v: any) => v.name === 'vault-token').projected.sources[0].serviceAccountToken
  t.equal(token.audience, 'vault')
  t.ok(token.expirationSeconds >= 600, 'the kubelet accepts it (>= 10 min)')
  const mount = container(chart).volumeMounts.find((m: any) => m.name === 'vault-token').mountPath
  t.equal(get(chart, 'ConfigMap').data?.VAULT_KUBERNETES_TOKEN_PATH, `${mount}/${token.path}`)
  t.equal(get(chart, 'ServiceAccount').metadata.name, pod.serviceAccountName)
})

t.test('secrets only arrive by reference, and every variable is one the broker reads', async (t) => {
  // the mounted Secret file, as the kubelet writes it (here, outside the pod)
  const tokenDir = mkdtempSync(join(tmpdir(), 'sfb-metrics-token-'))
  t.teardown(() => rmSync(tokenDir, { recursive: true, force: true }))
  const tokenFile = join(tokenDir, 'token')
  writeFileSync(tokenFile, 'placeholder-metrics-token')
  for (const authMethod of ['kubernetes', 'approle', 'token']) {
    const rendered = renderChart([CI_VALUES, { vault: { authMethod, existingSecret: 'vault-creds' }, extraCaCertificates: { configMapName: 'ca' }, metrics: { existingSecret: 'metrics-token' } }])
    const c = container(rendered)
    const configMap = get(rendered, 'ConfigMap').data as Record<string, string>
    const names = [...c.env.map((e: any) => e.name), ...Object.keys(configMap)]
    for (const name of names) t.ok(CONFIG_VARIABLES.has(name) || FILE_VARIABLES.has(name) || NODE_VARIABLES.has(name), `${authMethod}: ${name} is a variable the broker (or node) reads`)
    // a secret read from a file comes from a mounted Secret, at the path the variable names
    const tokenMount = c.volumeMounts.find((m: any) => m.name === 'metrics-token')
    t.equal(configMap.METRICS_TOKEN_FILE, `${tokenMount.mountPath}/token`)
    const tokenVolume = get(rendered, 'Deployment').spec.template.spec.volumes.find((v: any) => v.name === 'metrics-token')
    t.same(tokenVolume.secret.items, [{ key: 'METRICS_TOKEN', path: 'token' }])
    t.equal(tokenVolume.secret.secretName, 'metrics-token')
    for (const e of c.env.filter((e: any) => CONFIG_VARIABLES.has(e.name))) {
      t.ok(e.valueFrom?.secretKeyRef, `${authMethod}: ${e.name} comes from a Secret`)
    }
    t.same(c.envFrom, [{ configMapRef: { name: 'rel-sf-broker' } }])

    // what the pod would see, with placeholder Secret contents, is a valid configuration
    const secretValues: Record<string, string> = {
      SESSION_ENCRYPTION_KEY: Buffer.alloc(32, 2).toString('base64'),
      REDIS_URL: 'rediss://:pw@redis:6379/0',
      VAULT_TOKEN: 'placeholder',
      VAULT_ROLE_ID: 'placeholder',
      VAULT_SECRET_ID: 'placeholder',
    }
    const env = Object.fromEntries(c.env.filter((e: any) => e.valueFrom).map((e: any) => [e.name, secretValues[e.name]]))
    const config = loadConfig({ ...configMap, ...env, METRICS_TOKEN_FILE: tokenFile })
    t.equal(config.VAULT_AUTH_METHOD, authMethod)
    t.equal(config.METRICS_TOKEN, 'placeholder-metrics-token', 'the broker reads the mounted token')
    t.equal(config.HOST, '0.0.0.0', 'probes reach the pod')
  }
  t.same(findInlineSecrets(chartValues()), [], 'values.yaml holds no secret')
})

t.test('a secret setting is never a value: config (a ConfigMap) refuses it, extraEnv takes it from a Secret only', async (t) => {
  // the settings the broker also reads from <NAME>_FILE are its secrets, and VAULT_TOKEN (read from VAULT_TOKEN_FILE)
  const secretSettings = [...FILE_VARIANTS, 'VAULT_TOKEN']
  t.ok(secretSettings.includes('WEBHOOK_SECRET') && secretSettings.includes('FILE_STORE_KEY'), 'the list is the config schema\'s')
  for (const name of secretSettings) {
    t.throws(() => renderChart([CI_VALUES, { config: { [name]: 'placeholder-secret-value-0123456789abcdef' } }]), { message: new RegExp(`config\\.${name}:`) }, `config.${name} is refused`)
    t.throws(() => renderChart([CI_VALUES, { extraEnv: [{ name, value: 'placeholder-secret-value-0123456789abcdef' }] }]), { message: new RegExp(`extraEnv ${name}:.*secretKeyRef`) }, `extraEnv ${name} with a literal value is refused`)
  }
  // the way to give one: a reference to a Secret the operator created
  const fromSecret = renderChart([CI_VALUES, { extraEnv: [{ name: 'WEBHOOK_SECRET', valueFrom: { secretKeyRef: { name: 'sf-broker-webhook', key: 'WEBHOOK_SECRET' } } }] }])
  t.same(container(fromSecret).env.find((e: any) => e.name === 'WEBHOOK_SECRET').valueFrom, { secretKeyRef: { name: 'sf-broker-webhook', key: 'WEBHOOK_SECRET' } })
  t.notOk('WEBHOOK_SECRET' in (get(fromSecret, 'ConfigMap').data ?? {}))
})

t.test('config.AUDIT_FILE is refused: the pod\'s only writable path is its small in-memory /tmp', async (t) => {
  // the root filesystem is read-only and the Deployment gives no pod a volume of its own: the file would
  // grow in the 64Mi /tmp until the kubelet evicts the pod, and go with it
  t.throws(() => renderChart([CI_VALUES, { config: { AUDIT_FILE: '/tmp/audit.jsonl' } }]), { message: /config\.AUDIT_FILE:.*AUDIT_SYSLOG_URL/ })
  t.ok(renderChart([CI_VALUES, { config: { AUDIT_SYSLOG_URL: 'tcp://collector.logging.svc:514' }, networkPolicy: { enabled: false } }]), 'the syslog sink is the way')
})

/** The pod's environment as the broker would read it, with placeholder Secret contents. */
function podEnvironment (rendered: RenderedChart): NodeJS.ProcessEnv {
  const secretValues: Record<string, string> = { SESSION_ENCRYPTION_KEY: Buffer.alloc(32, 2).toString('base64'), REDIS_URL: 'rediss://:pw@redis:6379/0' }
  const env = Object.fromEntries(container(rendered).env.map((e: any) => [e.name, e.value ?? secretValues[e.name] ?? 'placeholder']))
  return { ...get(rendered, 'ConfigMap').data, ...env }
}

t.test('a value the broker refuses at start is refused by helm, not by a crash-looping pod', async (t) => {
  const refused: Array<[string, unknown]> = [
    ['vault.timeoutMs', { vault: { timeoutMs: 50 } }],
    ['vault.kvMount', { vault: { kvMount: 'kv/v2' } }],
    ['vault.kvMount', { vault: { kvMount: 'team.kv' } }],
    ['vault.pathPrefix', { vault: { pathPrefix: '/sf-broker/' } }],
    ['vault.pathPrefix', { vault: { pathPrefix: 'team.a' } }],
    ['jwt.jwksUrl', { jwt: { jwksUrl: 'http://kubernetes.default.svc/openid/v1/jwks', issuer: 'https://kubernetes.default.svc', audience: 'sf-broker' } }],
    ['jwt', { jwt: { jwksUrl: 'https://kubernetes.default.svc/openid/v1/jwks' } }],
    ['jwt', { jwt: { jwksUrl: 'https://kubernetes.default.svc/openid/v1/jwks', audience: 'sf-broker' } }],
    ['jwt', { jwt: { issuer: 'https://kubernetes.default.svc', audience: 'sf-broker' } }],
    ['vault.address', { vault: { address: 'https://admin:placeholder-password@vault.vault.svc:8200' } }],
    ['jwt.jwksUrl', { jwt: { jwksUrl: 'https://reader:placeholder-password@kubernetes.default.svc/openid/v1/jwks', issuer: 'https://kubernetes.default.svc', audience: 'sf-broker' } }],
  ]
  for (const [value, override] of refused) {
    // what the pod would do with it: exit 78 at every start
    let rendered: RenderedChart | undefined
    try {
      rendered = renderChart([CI_VALUES, override])
    } catch (err) {
      // helm's schema error says /vault/timeoutMs, a template's fail vault.timeoutMs
      t.match((err as Error).message, new RegExp(value.split('.').join('\\W+')), `${JSON.stringify(override)}: helm names ${value}`)
      continue
    }
    t.throws(() => loadConfig(podEnvironment(rendered)), `${JSON.stringify(override)}: the broker refuses it`)
    t.fail(`${JSON.stringify(override)}: helm rendered a value the broker refuses at start`)
  }
  // their valid neighbours still render, and start
  for (const override of [
    { vault: { timeoutMs: 100, kvMount: 'kv-v2', pathPrefix: 'team_a/sf-broker' } },
    { jwt: { jwksUrl: 'https://issuer.example.com/openid/v1/jwks', issuer: 'https://issuer.example.com', audience: 'sf-broker' } },
    { jwt: { jwksUrl: 'http://127.0.0.1:8080/jwks', issuer: 'https://kubernetes.default.svc', audience: 'sf-broker' } },
  ]) {
    const config = loadConfig(podEnvironment(renderChart([CI_VALUES, override])))
    t.ok(config, `${JSON.stringify(override)} renders and starts`)
  }
})

t.test('a proxy password is never a value: helm refuses user:password@ in proxy.* and in an extraEnv proxy value', async (t) => {
  // undici sends a proxy URL's user:password as Proxy-Authorization, so an authenticated proxy is written that way
  const withPassword = 'http://svc-broker:placeholder-proxy-password@proxy.corp:3128'
  for (const key of ['httpsProxy', 'httpProxy']) {
    t.throws(() => renderChart([CI_VALUES, { proxy: { [key]: withPassword } }]), { message: new RegExp(`proxy\\W+${key}`) }, `proxy.${key} with a password is refused`)
  }
  for (const name of ['HTTPS_PROXY', 'HTTP_PROXY', 'https_proxy', 'http_proxy']) {
    t.throws(() => renderChart([CI_VALUES, { extraEnv: [{ name, value: withPassword }] }]), { message: new RegExp(`extraEnv ${name}:.*secretKeyRef`) }, `extraEnv ${name} with a password is refused`)
  }
  const proxyEgress = { networkPolicy: { extraEgress: [{ to: [{ ipBlock: { cidr: '10.0.0.10/32' } }], ports: [{ port: 3128, protocol: 'TCP' }] }] } }
  const plain = renderChart([CI_VALUES, { proxy: { httpsProxy: 'http://proxy.corp:3128', noProxy: '.svc' } }, proxyEgress])
  t.equal(get(plain, 'ConfigMap').data?.HTTPS_PROXY, 'http://proxy.corp:3128', 'a proxy without a password is a setting like any other')
  const fromSecret = renderChart([CI_VALUES, { extraEnv: [{ name: 'HTTPS_PROXY', valueFrom: { secretKeyRef: { name: 'egress-proxy', key: 'url' } } }] }])
  t.same(container(fromSecret).env.find((e: any) => e.name === 'HTTPS_PROXY').valueFrom, { secretKeyRef: { name: 'egress-proxy', key: 'url' } }, 'an authenticated proxy comes from a Secret')
})

t.test('a config key the broker would refuse as a misspelt setting is refused by helm, and only such a key', async (t) => {
  // the broker exits 78 on a variable with one of its prefixes that is no setting (REDIS_ULR), every pod of the release
  const names = ['REDIS_ULR', 'LOGIN_TIMEOUT', 'WEBHOOK_URL', 'LOG_FORMAT', 'AUDIT_SYSLOG', 'SHUTDOWN_TIMEOUT', 'METRICS_TOKEN_PATH',
    'LOGIN_TIMEOUT_MS', 'AUDIT_FILE_KEEP', 'WEBHOOK_SECRET_FILE', 'NODE_ENV', 'OTEL_SERVICE_NAME', 'TZ', 'REDIS_PORT', 'VAULT_SERVICE_HOST', 'NO_COLOR']
  for (const name of names) {
    const brokerRefuses = unknownVariableWarnings({ [name]: 'x' }).length > 0
    let helmRefuses = false
    try {
      renderChart([CI_VALUES, { config: { [name]: '1' } }])
    } catch (err) {
      helmRefuses = true
      if (brokerRefuses) t.match((err as Error).message, new RegExp(`config\\.${name}: not a setting of sf-broker`), `${name}: helm says why`)
    }
    t.equal(helmRefuses, brokerRefuses, `config.${name}: helm ${brokerRefuses ? 'refuses it, as the broker would' : 'renders it, as the broker starts with it'}`)
  }
  t.ok(renderChart([CI_VALUES, { config: { REDIS_ULR: 'x', ALLOW_UNKNOWN_VARIABLES: 'true' } }]), 'ALLOW_UNKNOWN_VARIABLES=true: the broker warns and starts, so helm renders')
  // the chart's list of settings is the broker's
  const helpers = readFileSync(join(CHART_DIR, 'templates/_helpers.tpl'), 'utf8')
  const listed = /define "sf-broker\.settingNames" -\}\}\s*([A-Z0-9_ ]+?)\s*\{\{- end/.exec(helpers)?.[1].split(' ') ?? []
  t.same([...listed].sort(), [...CONFIG_VARIABLES, ...FILE_VARIABLES].sort(), 'sf-broker.settingNames lists every setting and <NAME>_FILE')
})

t.test('the secret scanner sees the shapes it is meant to', async (t) => {
  const found = findInlineSecrets({
    a: { password: 'hunter2', tokenKey: 'VAULT_TOKEN', existingSecret: 'name', SECRET_STORE: 'vault' },
    url: 'redis://:pw@redis:6379',
    key: Buffer.alloc(32).toString('base64'),
    cmd: ['redis-server', '--requirepass', 'pw'],
  })
  t.same(found.map(f => f.path).sort(), ['a.password', 'cmd[2]', 'key', 'url'])
})

t.test('HPA, PDB and spreading keep two pods up on different nodes', async (t) => {
  const hpa = get(chart, 'HorizontalPodAutoscaler')
  t.equal(hpa.apiVersion, 'autoscaling/v2')
  t.ok(hpa.spec.minReplicas >= 2)
  t.equal(hpa.spec.scaleTargetRef.name, get(chart, 'Deployment').metadata.name)
  const pdb = get(chart, 'PodDisruptionBudget')
  t.equal(pdb.apiVersion, 'policy/v1')
  t.equal(pdb.spec.minAvailable, 1)
  const selector = get(chart, 'Deployment').spec.selector.matchLabels
  t.same(pdb.spec.selector.matchLabels, selector)
  t.same(get(chart, 'Service').spec.selector, selector)
  const pod = get(chart, 'Deployment').spec.template.spec
  t.match(pod.topologySpreadConstraints, [{ topologyKey: 'kubernetes.io/hostname' }, { topologyKey: 'topology.kubernetes.io/zone' }])
  t.equal(pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey, 'kubernetes.io/hostname')
  t.same(get(chart, 'Deployment').spec.template.metadata.labels, selector)
})

t.test('the PDB never blocks a drain and the HPA\'s bounds are ones the API server accepts, or helm refuses', async (t) => {
  // minAvailable equal to the pods there are: every eviction is refused (429) and `kubectl drain` waits forever;
  // maxReplicas below minReplicas: the API server refuses the HPA, after helm said yes
  for (const override of [
    { autoscaling: { minReplicas: 1 } },
    { autoscaling: { enabled: false }, replicaCount: 1 },
    { autoscaling: { minReplicas: 2 }, podDisruptionBudget: { minAvailable: 2 } },
    { autoscaling: { minReplicas: 4, maxReplicas: 3 } },
  ]) {
    let rendered: RenderedChart | undefined
    try {
      rendered = renderChart([CI_VALUES, override])
    } catch (err) {
      t.match((err as Error).message, /minAvailable|maxReplicas/, `${JSON.stringify(override)}: refused, naming the value`)
      continue
    }
    const hpa = findObject(rendered, 'HorizontalPodAutoscaler')
    const fewest = hpa ? hpa.spec.minReplicas : get(rendered, 'Deployment').spec.replicas
    const pdb = findObject(rendered, 'PodDisruptionBudget')
    t.ok(pdb === undefined || typeof pdb.spec.minAvailable !== 'number' || pdb.spec.minAvailable < fewest, `${JSON.stringify(override)}: PDB minAvailable ${pdb?.spec.minAvailable} < ${fewest} pods`)
    t.ok(hpa === undefined || hpa.spec.maxReplicas >= hpa.spec.minReplicas, `${JSON.stringify(override)}: maxReplicas >= minReplicas`)
  }
  // the API server caps an autoscaler's stabilization window at one hour (autoscaling/v2 HPAScalingRules)
  t.throws(() => renderChart([CI_VALUES, { autoscaling: { scaleDownStabilizationSeconds: 7200 } }]), { message: /scaleDownStabilizationSeconds/ }, 'a window over 3600 s is refused by helm, not by the API server')
  t.equal(get(renderChart([CI_VALUES, { autoscaling: { scaleDownStabilizationSeconds: 3600 } }]), 'HorizontalPodAutoscaler').spec.behavior.scaleDown.stabilizationWindowSeconds, 3600)
  // the autoscaler aims at a share of resources.requests.cpu: without a CPU request it has no utilization to read
  // (FailedGetResourceMetric) and never scales
  t.throws(() => renderChart([CI_VALUES, { resources: { requests: { cpu: null } } }]), { message: /resources\.requests\.cpu/ }, 'no CPU request with the autoscaler on: refused')
  t.equal(findObject(renderChart([CI_VALUES, { resources: { requests: { cpu: null } }, autoscaling: { enabled: false } }]), 'HorizontalPodAutoscaler'), undefined, 'without the autoscaler a CPU request is the operator\'s choice')
  // one replica without a PDB is a choice the chart leaves to the operator (SHARED_STATE=memory needs exactly one)
  t.equal(findObject(renderChart([CI_VALUES, { autoscaling: { enabled: false }, replicaCount: 1, podDisruptionBudget: { enabled: false } }]), 'PodDisruptionBudget'), undefined)
  t.equal(get(renderChart([CI_VALUES, { autoscaling: { minReplicas: 2, maxReplicas: 2 } }]), 'PodDisruptionBudget').spec.minAvailable, 1)
})

t.test('podLabels and podAnnotations cannot repeat a key the chart sets on the pod', async (t) => {
  // a repeated key renders twice in one mapping: the API server keeps one, and a selector label that differs
  // from the Deployment's selector makes the Deployment invalid ("selector does not match template labels")
  for (const [value, override] of [
    ['podLabels', { podLabels: { 'app.kubernetes.io/name': 'payments' } }],
    ['podLabels', { podLabels: { 'app.kubernetes.io/instance': 'rel' } }],
    ['podAnnotations', { podAnnotations: { 'checksum/config': 'pinned' } }],
  ] as const) {
    t.throws(() => renderChart([CI_VALUES, override]), { message: new RegExp(`${value}\\.`) }, `${JSON.stringify(override)}: refused, naming ${value}`)
  }
  const own = get(renderChart([CI_VALUES, { podLabels: { team: 'platform' }, podAnnotations: { 'example.com/owner': 'platform' } }]), 'Deployment').spec.template.metadata
  t.equal(own.labels.team, 'platform')
  t.equal(own.annotations['example.com/owner'], 'platform')
})

t.test('the NetworkPolicy admits labelled callers and lets out only DNS, Redis, Vault and HTTPS', async (t) => {
  const policy = get(chart, 'NetworkPolicy')
  t.same(policy.spec.policyTypes, ['Ingress', 'Egress'])
  t.same(policy.spec.podSelector.matchLabels, get(chart, 'Deployment').spec.selector.matchLabels)
  t.equal(policy.spec.ingress.length, 1)
  t.same(policy.spec.ingress[0].ports, [{ port: container(chart).ports[0].containerPort, protocol: 'TCP' }])
  t.ok(policy.spec.ingress[0].from.length > 0, 'never an empty (allow-all) peer list')
  const egressPorts = policy.spec.egress.map((rule: any) => rule.ports.map((p: any) => `${p.port}/${p.protocol}`).join(','))
  t.same(egressPorts, ['53/UDP,53/TCP', '6379/TCP', '8200/TCP', '443/TCP'])
  for (const rule of policy.spec.egress) t.ok(rule.to.length > 0, 'every egress rule names its peers')
  t.ok(policy.spec.egress[3].to[0].ipBlock.except.includes('10.0.0.0/8'), 'HTTPS egress does not open the private network')
  t.equal(findObject(renderChart([CI_VALUES, { networkPolicy: { enabled: false } }]), 'NetworkPolicy'), undefined)
})

t.test('a destination the NetworkPolicy does not let out needs networkPolicy.extraEgress, or helm refuses', async (t) => {
  // egress is DNS, Redis, Vault and public addresses on 443 only: an in-cluster JWKS (the API server), a proxy on
  // 3128, an in-cluster webhook receiver or a syslog collector would be dropped, every call failing at run time
  const jwt = { issuer: 'https://kubernetes.default.svc.cluster.local', audience: 'sf-broker' }
  const unreachable: unknown[] = [
    { jwt: { ...jwt, jwksUrl: 'https://kubernetes.default.svc/openid/v1/jwks' } },
    { proxy: { httpsProxy: 'http://proxy.corp.example:3128' } },
    { config: { WEBHOOK_URLS: 'https://hooks.example.com/sfb,https://alerts.monitoring.svc.cluster.local/hook' } },
    { config: { WEBHOOK_URLS: 'https://10.20.0.7/hook' } },
    { config: { AUDIT_SYSLOG_URL: 'tcp://siem.example.com:6514' } },
  ]
  const apiServer = [{ to: [{ ipBlock: { cidr: '10.0.0.1/32' } }], ports: [{ port: 443, protocol: 'TCP' }, { port: 6443, protocol: 'TCP' }] }]
  for (const override of unreachable) {
    t.throws(() => renderChart([CI_VALUES, override]), { message: /networkPolicy\.extraEgress/ }, `${JSON.stringify(override)}: refused without a rule for it`)
    t.ok(findObject(renderChart([CI_VALUES, override, { networkPolicy: { extraEgress: apiServer } }]), 'NetworkPolicy'), 'renders with a rule of the operator\'s')
    t.equal(findObject(renderChart([CI_VALUES, override, { networkPolicy: { enabled: false } }]), 'NetworkPolicy'), undefined, 'renders without a NetworkPolicy')
  }
  for (const override of [
    { jwt: { ...jwt, jwksUrl: 'https://issuer.example.com/.well-known/jwks.json' } },
    { jwt: { ...jwt, jwksUrl: 'http://127.0.0.1:8080/jwks' } },
    { config: { WEBHOOK_URLS: 'https://hooks.example.com/sfb' } },
  ]) t.ok(findObject(renderChart([CI_VALUES, override]), 'NetworkPolicy'), `${JSON.stringify(override)}: public HTTPS (or this pod) is let out as it is`)
})

t.test('the ServiceMonitor is off by default and scrapes the Service when on', async (t) => {
  t.equal(findObject(chart, 'ServiceMonitor'), undefined)
  const on = renderChart([CI_VALUES, { serviceMonitor: { enabled: true, labels: { release: 'prometheus' } } }])
  const monitor = get(on, 'ServiceMonitor')
  t.equal(monitor.apiVersion, 'monitoring.coreos.com/v1')
  t.equal(monitor.metadata.labels?.release, 'prometheus')
  t.equal(monitor.spec.endpoints[0].port, get(on, 'Service').spec.ports[0].name)
  t.same(monitor.spec.selector.matchLabels, get(on, 'Service').spec.selector)
  t.equal(monitor.spec.endpoints[0].authorization, undefined, '/metrics is open without a token')
  const guarded = renderChart([CI_VALUES, { serviceMonitor: { enabled: true }, metrics: { existingSecret: 'metrics-token' } }])
  const volume = get(guarded, 'Deployment').spec.template.spec.volumes.find((v: any) => v.name === 'metrics-token')
  t.same(get(guarded, 'ServiceMonitor').spec.endpoints[0].authorization, {
    type: 'Bearer',
    credentials: { name: volume.secret.secretName, key: volume.secret.items[0].key },
  }, 'Prometheus presents the token the pods read')
})

t.test('each template\'s non-template skeleton is YAML too', async (t) => {
  // branches the test values leave off included: drop every action line, blank out inline actions
  for (const file of templateFiles().filter(f => f.endsWith('.yaml'))) {
    const skeleton = readFileSync(join(CHART_DIR, 'templates', file), 'utf8')
      .split('\n')
      .filter(line => !/^\s*\{\{.*\}\}\s*$/.test(line))
      .map(line => line.replace(/\{\{(?:[^`]|`[^`]*`)*?\}\}/g, 'x')) // a `raw string` may hold braces
      .join('\n')
    const docs = parseAllDocuments(skeleton)
    t.same(docs.flatMap(d => d.errors.map(e => e.message)), [], file)
  }
})
