import { basename, dirname, join } from 'node:path'
import t from 'tap'
import { CHART_DIR, ciValuesFiles, readYaml, renderChart, renderNotes, type RenderedChart } from './helm-chart.ts'
import { readRepoFile } from './repo.ts'

/** What a platform team needs before and around `helm install`: memory, sfb in the pod, the Secrets to create. */

const CI_VALUES = readYaml(join(CHART_DIR, 'ci/test-values.yaml'))

function container (chart: RenderedChart): any {
  const deployment = chart.objects.find(o => o.kind === 'Deployment')
  if (!deployment) throw new Error('no Deployment rendered')
  return deployment.spec.template.spec.containers[0]
}

const envOf = (chart: RenderedChart, name: string): string | undefined => container(chart).env.find((e: { name: string }) => e.name === name)?.value

t.test('the heap limit follows the memory limit by default', async (t) => {
  const chart = renderChart([CI_VALUES])
  const limit = container(chart).resources.limits.memory
  t.equal(limit, '384Mi', 'the default memory limit')
  t.equal(envOf(chart, 'NODE_OPTIONS'), '--max-old-space-size=288', '75 % of 384 MiB')
  t.equal(envOf(renderChart([CI_VALUES, { resources: { limits: { memory: '1Gi' } } }]), 'NODE_OPTIONS'), '--max-old-space-size=768')
  t.equal(envOf(renderChart([CI_VALUES, { resources: { limits: { memory: '512M' } } }]), 'NODE_OPTIONS'), '--max-old-space-size=366', 'decimal megabytes: 512,000,000 bytes is 488 MiB')
  t.equal(envOf(renderChart([CI_VALUES, { heapLimitPercent: 50 }]), 'NODE_OPTIONS'), '--max-old-space-size=192')
  // a plain number of bytes, as a values file gives it (YAML and JSON numbers reach the template as float64)
  const bytes = renderChart([CI_VALUES, { resources: { limits: { memory: 402653184 } } }])
  t.equal(container(bytes).resources.limits.memory, 402653184)
  const heapMiB = Number(/^--max-old-space-size=(\d+)$/.exec(envOf(bytes, 'NODE_OPTIONS') ?? '')?.[1])
  t.ok(Math.abs(heapMiB - 288) <= 1, `402653184 bytes (384 MiB): a heap of 75 % of it, ${heapMiB} MiB`)
  t.equal(envOf(renderChart([CI_VALUES, { heapLimitPercent: 0 }]), 'NODE_OPTIONS'), undefined, '0: Node decides')
  const own = renderChart([CI_VALUES, { extraEnv: [{ name: 'NODE_OPTIONS', value: '--max-old-space-size=100' }] }])
  t.same(container(own).env.filter((e: { name: string }) => e.name === 'NODE_OPTIONS').map((e: { value: string }) => e.value), ['--max-old-space-size=100'], 'an operator\'s NODE_OPTIONS replaces the derived one')
  t.throws(() => renderChart([CI_VALUES, { resources: { limits: { memory: '1Pi' } } }]), { message: /resources\.limits\.memory "1Pi": use Mi or Gi/ }, 'a unit the chart cannot size a heap for is named')
})

t.test('sfb in the pod: the admin key Secret is mounted where SFB_ADMIN_KEY_FILE points', async (t) => {
  t.equal(envOf(renderChart([CI_VALUES]), 'SFB_ADMIN_KEY_FILE'), undefined, 'none by default')
  const chart = renderChart([CI_VALUES, { sfb: { adminKeySecret: 'sf-broker-sfb' } }])
  const file = envOf(chart, 'SFB_ADMIN_KEY_FILE') as string
  const mount = container(chart).volumeMounts.find((m: { name: string }) => m.name === 'sfb-admin-key')
  t.equal(file, `${mount.mountPath}/key`)
  t.equal(mount.readOnly, true)
  const volume = chart.objects.find(o => o.kind === 'Deployment')!.spec.template.spec.volumes.find((v: { name: string }) => v.name === 'sfb-admin-key')
  t.match(volume.secret, { secretName: 'sf-broker-sfb', items: [{ key: 'key', path: 'key' }] })
})

t.test('sfb in the pod reaches a broker serving HTTPS: the certificate\'s name points at the pod, its CA is trusted', async (t) => {
  t.equal(envOf(renderChart([CI_VALUES]), 'SFB_URL'), undefined, 'plain HTTP: the image\'s default, http://127.0.0.1:$PORT')
  // with tls.existingSecret the broker speaks HTTPS only: that default would get no answer from `kubectl exec … -- sfb`
  const chart = renderChart([CI_VALUES, { tls: { existingSecret: 'sf-broker-tls' }, serviceMonitor: { enabled: true } }])
  const url = new URL(envOf(chart, 'SFB_URL') ?? 'http://unset')
  t.equal(url.protocol, 'https:')
  t.equal(Number(url.port), container(chart).ports[0].containerPort, 'this pod\'s own port')
  const pod = chart.objects.find(o => o.kind === 'Deployment')!.spec.template.spec
  t.same(pod.hostAliases, [{ ip: '127.0.0.1', hostnames: [url.hostname] }], 'the name resolves to this pod, not to the Service')
  const monitor = chart.objects.find(o => o.kind === 'ServiceMonitor')!
  t.equal(monitor.spec.endpoints[0].tlsConfig.serverName, url.hostname, 'the name the certificate is issued for (the one Prometheus checks)')
  const caFile = envOf(chart, 'SFB_CA_FILE') as string
  const mount = container(chart).volumeMounts.find((m: { mountPath: string }) => m.mountPath === dirname(caFile))
  t.ok(mount?.readOnly, 'the CA file is mounted')
  const volume = pod.volumes.find((v: { name: string }) => v.name === mount?.name)
  // optional: a certificate from a public CA comes in a Secret without ca.crt, and the pod must start all the same
  t.same(volume?.secret, { secretName: 'sf-broker-tls', optional: true, defaultMode: 288, items: [{ key: 'ca.crt', path: basename(caFile) }] }, 'tls.caKey of the same Secret')
})

t.test('the Secrets to create are named in values.yaml and the README before install', async (t) => {
  const values = readRepoFile('helm/sf-broker/values.yaml')
  const header = values.slice(0, values.indexOf('replicaCount:'))
  const readme = readRepoFile('README.md')
  const helmSection = readme.slice(readme.indexOf('### Helm chart'))
  const beforeInstall = helmSection.slice(0, helmSection.indexOf('helm install'))
  for (const value of ['sessionEncryption.existingSecret', 'redis.existingSecret', 'principals.existingSecret']) {
    t.match(header, value, `values.yaml's header names ${value}`)
  }
  for (const secret of ['sf-broker-session-key', 'sf-broker-redis', 'sf-broker-principals']) {
    t.match(header, `kubectl create secret generic ${secret}`, `values.yaml says how to create ${secret}`)
    t.match(beforeInstall, `create secret generic ${secret}`, `the README creates ${secret} before helm install`)
  }
})

t.test('NOTES.txt lists the Secrets the pods read, each by its name, and no other', async (t) => {
  for (const file of ciValuesFiles()) {
    const values = readYaml(file)
    const pod = renderChart([values]).objects.find(o => o.kind === 'Deployment')!.spec.template.spec
    const referenced = new Set<string>([
      ...pod.containers[0].env.flatMap((e: any) => e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef.name] : []),
      ...pod.volumes.flatMap((v: any) => v.secret ? [v.secret.secretName] : []),
    ])
    const notes = renderNotes([values])
    const listed = notes.slice(notes.indexOf('The pods read these Secrets'), notes.indexOf('\n\n', notes.indexOf('The pods read these Secrets')) >>> 0)
    const name = file.slice(file.lastIndexOf('/') + 1)
    for (const secret of referenced) t.match(listed, new RegExp(`^  ${secret}[ :]`, 'm'), `${name}: NOTES names ${secret}`)
    t.notMatch(listed, /^\s+(\(key|:)/m, `${name}: no line for a Secret this release does not use (an empty name)`)
  }
})

t.test('the image repository says how to publish and pin; the README shows it', async (t) => {
  const values = readRepoFile('helm/sf-broker/values.yaml')
  const image = values.slice(values.indexOf('image:'), values.indexOf('imagePullSecrets:'))
  t.match(image, /docker push/)
  t.match(image, /digest/)
  const readme = readRepoFile('README.md')
  t.match(readme, /\*\*Publish and pin\.\*\*/)
  t.match(readme, /--set image\.digest=sha256:/)
})
