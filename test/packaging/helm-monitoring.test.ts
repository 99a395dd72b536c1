import { createHash } from 'node:crypto'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { CHART_DIR, findObject, readYaml, renderChart, renderNotes, type K8sObject, type RenderedChart } from './helm-chart.ts'
import { SCRAPE_SERIES, exportedSeries, parsePromql } from './promql.ts'
import { getRoutes, readRepoFile } from './repo.ts'

/** What operators get besides the Deployment: alerts, the dashboard, the Ingress, restarts on change. */

const CI_VALUES = readYaml(join(CHART_DIR, 'ci/test-values.yaml'))
const FULL_VALUES = readYaml(join(CHART_DIR, 'ci/full-values.yaml'))
const full = renderChart([FULL_VALUES])
const exported = await exportedSeries()
/** The series the dashboard is built on. */
const CHARTED = [
  'sfb_session_requests_total', 'sfb_salesforce_logins_total', 'sfb_salesforce_login_duration_seconds_bucket',
  'sfb_connection_validation_status', 'sfb_circuit_open', 'sfb_salesforce_api_usage_ratio',
  'sfb_connection_missing_permissions', 'sfb_connection_password_expiry_timestamp_seconds',
  'sfb_dependency_duration_seconds_bucket', 'sfb_dependency_errors_total',
  'sfb_process_cpu_seconds_total', 'sfb_process_resident_memory_bytes', 'sfb_nodejs_eventloop_lag_p99_seconds',
  'sfb_salesforce_logins_used', 'sfb_salesforce_logins_limit', 'sfb_connection_flow_sunset_timestamp_seconds', 'sfb_connection_certificate_expiry_timestamp_seconds',
]

function get (chart: RenderedChart, kind: string, name?: string): K8sObject {
  const object = chart.objects.find(o => o.kind === kind && (name === undefined || o.metadata.name === name))
  if (object === undefined) throw new Error(`no ${kind} ${name ?? ''} rendered`)
  return object
}

/** Checks one PromQL expression: it parses, and every series in it is the broker's. */
function checkQuery (t: Test, expr: string, what: string): string[] {
  const { errors, metrics } = parsePromql(expr)
  t.equal(errors, 0, `${what} parses as PromQL: ${expr}`)
  t.ok(metrics.length > 0, `${what} selects a series`)
  for (const metric of metrics) t.ok(exported.has(metric) || SCRAPE_SERIES.has(metric), `${what}: ${metric} is a series the broker exports (or Prometheus' up of its scrape)`)
  return metrics
}

t.test('alerts, ServiceMonitor, dashboard and Ingress are off by default', async (t) => {
  const chart = renderChart([CI_VALUES])
  for (const kind of ['PrometheusRule', 'ServiceMonitor', 'Ingress']) t.equal(findObject(chart, kind), undefined, kind)
  t.equal(chart.objects.filter(o => o.kind === 'ConfigMap').length, 1, 'only the settings ConfigMap')
})

t.test('the PrometheusRule alerts on a broker down, a 5xx rate, failing connections, open circuits, the login budget, flow sunsets and certificates', async (t) => {
  const rule = get(full, 'PrometheusRule')
  t.equal(rule.metadata.labels?.release, 'prometheus', 'the label Prometheus selects rules by')
  const rules = rule.spec.groups.flatMap((g: any) => g.rules)
  const byName = new Map<string, any>(rules.map((r: any) => [r.alert, r]))
  t.same([...byName.keys()].sort(), ['SfBrokerCertificateExpiring', 'SfBrokerCircuitOpen', 'SfBrokerConnectionFailing', 'SfBrokerDown', 'SfBrokerFlowSunset', 'SfBrokerHighErrorRate', 'SfBrokerLoginBudgetHigh'])
  const service = get(full, 'Service').metadata.name
  for (const r of rules) {
    checkQuery(t, r.expr, r.alert)
    t.match(r.expr, `job="${service}"`, `${r.alert}: this release's series only (the ServiceMonitor's job is the Service name)`)
    t.match(r.labels, { severity: /^(critical|warning)$/, team: 'platform' })
    t.ok(r.annotations.summary && r.annotations.description, `${r.alert} says what and what to do`)
  }
  t.match(byName.get('SfBrokerConnectionFailing'), { expr: /sfb_connection_validation_status\b.*== 0$/, for: '10m' })
  t.match(byName.get('SfBrokerCircuitOpen'), { expr: /sfb_circuit_open\b.*== 1$/, for: '5m' })
  t.match(byName.get('SfBrokerLoginBudgetHigh').expr, /sfb_salesforce_logins_used\b.*\/.*sfb_salesforce_logins_limit\b.* > 0\.8$/, 'over 80 % of the hourly logins')
  t.match(byName.get('SfBrokerFlowSunset').expr, /sfb_connection_flow_sunset_timestamp_seconds\b.* - time\(\) < 30 \* 86400$/, 'under 30 days')
  t.match(byName.get('SfBrokerCertificateExpiring').expr, /certificate_expiry_timestamp_seconds\b.* - time\(\) < 30 \* 86400$/)
  t.match(byName.get('SfBrokerDown'), { expr: /^\(max by \(namespace\) \(up\{.*\}\) == 0\) or absent\(up\{/, for: '5m', labels: { severity: 'critical' } })
  t.match(byName.get('SfBrokerHighErrorRate'), { expr: /http_request_duration_seconds_count\{.*status_code=~"5\.\."\}\[5m\]\)\) \/ .*http_request_duration_seconds_count\{.*\[5m\]\)\) > 0\.05$/, for: '10m' })

  const tuned = renderChart([FULL_VALUES, { prometheusRule: { loginBudgetRatio: 0.5, flowSunsetDays: 90, connectionFailingFor: '30m' } }])
  const tunedRules = get(tuned, 'PrometheusRule').spec.groups[0].rules
  t.match(tunedRules.find((r: any) => r.alert === 'SfBrokerLoginBudgetHigh').expr, / > 0\.5$/, 'thresholds come from the values')
  t.match(tunedRules.find((r: any) => r.alert === 'SfBrokerFlowSunset').expr, / < 90 \* 86400$/)
  t.equal(tunedRules.find((r: any) => r.alert === 'SfBrokerConnectionFailing').for, '30m')
})

t.test('the alerts need the scrape that gives their job label: without the ServiceMonitor helm refuses them', async (t) => {
  // every rule selects job="<Service name>", the label the chart's ServiceMonitor scrape carries; scraped any
  // other way (or not at all), absent(up{job=…}) holds from the start: SfBrokerDown pages for good, the rest never fire
  let rendered: RenderedChart | undefined
  try {
    rendered = renderChart([CI_VALUES, { prometheusRule: { enabled: true } }])
  } catch (err) {
    t.match((err as Error).message, /prometheusRule\.enabled needs serviceMonitor\.enabled/, 'refused, naming the value to set')
  }
  if (rendered !== undefined) {
    const monitor = findObject(rendered, 'ServiceMonitor')
    t.ok(monitor, 'a PrometheusRule comes with the ServiceMonitor whose scrape its job selector names')
  }
  const both = renderChart([CI_VALUES, { prometheusRule: { enabled: true }, serviceMonitor: { enabled: true } }])
  const service = get(both, 'Service').metadata.name
  t.same(get(both, 'ServiceMonitor').spec.selector.matchLabels, get(both, 'Service').spec.selector, 'the ServiceMonitor scrapes the Service (job = its name)')
  for (const r of get(both, 'PrometheusRule').spec.groups[0].rules) t.match(r.expr, `job="${service}"`, r.alert)
})

t.test('the Grafana dashboard is a ConfigMap the sidecar loads, charting the broker\'s series', async (t) => {
  const configMap = get(full, 'ConfigMap', 'rel-sf-broker-dashboard')
  t.equal(configMap.metadata.labels?.grafana_dashboard, '1', 'the sidecar\'s label')
  t.equal(configMap.metadata.namespace, 'monitoring', 'where the sidecar looks')
  t.equal(configMap.metadata.annotations?.grafana_folder, 'Salesforce')
  const dashboard = JSON.parse(configMap.data?.['sf-broker.json'] as string)
  t.equal(dashboard.uid, 'sf-broker')
  const variables = dashboard.templating.list.map((v: any) => v.name)
  t.same(variables, ['datasource', 'namespace', 'job'])
  const charted = new Set<string>()
  const panels = dashboard.panels.filter((p: any) => p.type !== 'row')
  t.ok(panels.length >= 10)
  for (const panel of panels) {
    for (const target of panel.targets) {
      // Grafana's variables, as Grafana substitutes them, before PromQL sees the query
      const expr = target.expr.replaceAll('$__rate_interval', '1m').replaceAll('$namespace', 'brokers').replaceAll('$job', 'rel-sf-broker')
      for (const metric of checkQuery(t, expr, panel.title)) charted.add(metric)
      t.match(target.expr, 'namespace="$namespace",job="$job"', `${panel.title}: one release at a time`)
    }
  }
  // The broker's own series as of this dashboard (a listed name must still be exported, so the list
  // cannot go stale unnoticed; a series added later gets its panel with the change that adds it).
  for (const metric of CHARTED) {
    t.ok(exported.has(metric), `${metric} is exported`)
    t.ok(charted.has(metric), `the dashboard charts ${metric}`)
  }
})

t.test('the Ingress serves TLS only, for the API paths, to the Service\'s port', async (t) => {
  const ingress = get(full, 'Ingress')
  t.equal(ingress.spec.ingressClassName, 'nginx')
  t.same(ingress.spec.tls, [{ hosts: ['sf-broker.example.com'], secretName: 'sf-broker-tls' }])
  t.equal(ingress.spec.rules[0].host, 'sf-broker.example.com')
  const paths = ingress.spec.rules[0].http.paths
  t.same(paths.map((p: any) => p.path), ['/v1/connections'])
  t.match(readRepoFile('src/routes/sessions.ts'), "app.post('/v1/connections/:name/session'", 'the callers\' session route lives under /v1/connections')
  for (const route of ['/metrics', '/health/ready', '/docs', '/v1/admin/connections', '/v1/admin/audit']) t.notOk(paths.some((p: any) => route.startsWith(p.path)), `${route} stays inside the cluster`)
  const defaults = readYaml(join(CHART_DIR, 'values.yaml'))
  for (const admin of [...getRoutes()].filter(route => route.startsWith('/v1/admin'))) {
    t.notOk(defaults.ingress.paths.some((p: string) => admin.startsWith(p)), `the default Ingress does not expose ${admin}`)
  }
  t.same(paths[0].backend.service, { name: get(full, 'Service').metadata.name, port: { name: get(full, 'Service').spec.ports[0].name } })
  t.equal(get(full, 'ConfigMap', 'rel-sf-broker').data?.TRUST_PROXY, 'true', 'full-values trusts the proxy that forwards')
  const noTls = { ingress: { enabled: true, host: 'sf-broker.example.com' } }
  t.throws(() => renderChart([CI_VALUES, noTls]), { message: /ingress\.tlsSecretName is required when ingress\.enabled: the Ingress serves TLS only/ })
  t.throws(() => renderChart([CI_VALUES, { ingress: { enabled: true, tlsSecretName: 'tls' } }]), { message: /ingress\.host is required/ })
  t.match(renderNotes([FULL_VALUES]), 'https://sf-broker.example.com/v1/connections/<name>/session', 'NOTES.txt gives callers the public URL')
  t.notMatch(renderNotes([CI_VALUES]), 'through the Ingress')
})

t.test('pods restart when their settings or the principals Secret change', async (t) => {
  const annotations = (chart: RenderedChart): Record<string, string> => get(chart, 'Deployment').spec.template.metadata.annotations
  const base = annotations(renderChart([CI_VALUES]))
  t.match(base, { 'checksum/config': /^[a-f0-9]{64}$/, 'checksum/principals': /^[a-f0-9]{64}$/ })
  const relogged = annotations(renderChart([CI_VALUES, { config: { LOG_LEVEL: 'debug' } }]))
  t.not(relogged['checksum/config'], base['checksum/config'], 'a settings change rolls the pods')
  // the principals hash is taken from the Secret in the cluster (lookup) at install/upgrade;
  // an offline render sees no Secret, so it hashes nothing, the same every time
  t.equal(base['checksum/principals'], createHash('sha256').update('""').digest('hex'))
  t.equal(relogged['checksum/principals'], base['checksum/principals'])
})

t.test('the README documents every alert, the dashboard and the ingress values', async (t) => {
  const readme = readRepoFile('README.md')
  for (const r of get(full, 'PrometheusRule').spec.groups.flatMap((g: any) => g.rules)) t.match(readme, `\`${r.alert}\``, r.alert)
  t.notMatch(readme, /(does not|do not|not) export(ed)? yet/, 'the README calls no exported series missing')
  for (const key of ['prometheusRule', 'grafanaDashboard', 'ingress', 'serviceMonitor']) t.match(readme, `\`${key}.*\``, `values table lists ${key}`)
  t.match(readme, 'grafana_dashboard: "1"')
})
