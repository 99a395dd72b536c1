import t from 'tap'
import { acmeDefinition, bearer, listenTestApp, startSim, tempFileStore } from '../helper.ts'
import { http } from '../support/http.ts'
import { captureLogs } from '../support/log-capture.ts'
import { echoInstance } from './echo-instance.ts'
import { proxyCallers, proxyRig } from './support.ts'

const SECRET_QUERY = `/services/data/v62.0/query?q=${encodeURIComponent("SELECT Id FROM Account WHERE Name = 'Secret Deal'")}`

t.test('metrics per caller and connection, and an access line without the path\'s values', async (t) => {
  const logs = captureLogs('info')
  const { base, callers, url } = await proxyRig(t, { logger: logs.logger })
  t.equal((await http(`${base}${SECRET_QUERY}`, { headers: bearer(callers.limitedKey) })).status, 200)
  t.equal((await http(`${base}/services/data/v62.0/sobjects/Account/001000000000000AAA`, { headers: bearer(callers.limitedKey) })).status, 404)
  t.equal((await http(`${base}/services/data/v62.0/tooling/query`, { headers: bearer(callers.limitedKey) })).status, 403)

  const metrics = (await http(`${url}/metrics`)).text
  t.match(metrics, /sfb_proxy_requests_total\{caller="limited",connection="acme",status_class="2xx"\} 1/)
  t.match(metrics, /sfb_proxy_requests_total\{caller="limited",connection="acme",status_class="4xx"\} 1/, 'Salesforce\'s 404, not the broker\'s own 403')
  t.match(metrics, /sfb_proxy_duration_seconds_count\{caller="limited",connection="acme"\} 2/)
  t.match(metrics, /sfb_proxy_api_usage_ratio\{connection="acme"\} 0\.\d+/)

  const lines = logs.records().filter(r => r.msg === 'request' && r.route === '/v1/connections/:name/salesforce/*')
  t.equal(lines.length, 3)
  t.same(lines.map(l => [l.method, l.status, l.caller]), [['GET', 200, 'limited'], ['GET', 404, 'limited'], ['GET', 403, 'limited']])
  t.notOk(logs.text().includes('Secret Deal') || logs.text().includes('Secret%20Deal'), 'no query values in the log')
  t.notOk(logs.text().includes('001000000000000AAA'), 'no path values in the log')
})

t.test('a caller\'s cap of proxied calls per minute: 429 with Retry-After, before Salesforce', async (t) => {
  const callers = proxyCallers({ proxyCallsPerMinute: 2 })
  // the cap counts per UTC minute: the broker's clock holds still one second into a minute, or the
  // calls of a slow run could fall on both sides of a minute's end (a stress run got 200 for the third)
  // (one reading of the time: two could fall a millisecond apart, and the clock would stand 999 ms into the minute)
  const startedAt = Date.now()
  const inAMinute = startedAt - (startedAt % 60_000) + 1_000
  const { base, sim } = await proxyRig(t, { callers, overrides: { clock: () => inAMinute } })
  const call = () => http(`${base}/services/data/v62.0/limits`, { headers: bearer(callers.limitedKey) })
  t.equal((await call()).status, 200)
  t.equal((await call()).status, 200)
  const capped = await call()
  t.equal(capped.status, 429)
  t.equal(capped.json.code, 'proxy_quota_exceeded')
  t.same(capped.json.quota, { period: 'minute', limit: 2 })
  t.equal(Number(capped.headers.get('retry-after')), 59, 'until the minute ends')
  t.equal(sim.org('acme').apiRequestsUsed, 2, 'the capped call never reached Salesforce')
  t.equal((await http(`${base}/services/data/v62.0/limits`, { headers: bearer(callers.fullKey) })).status, 200, 'other callers are not capped')
})

t.test('the org\'s daily API usage from proxied answers turns health warn above API_USAGE_WARN_RATIO', async (t) => {
  const echo = await echoInstance(t) // answers Sforce-Limit-Info: api-usage=900/1000
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim), 0)
  const callers = proxyCallers()
  const { url } = await listenTestApp(t, { secretStore: store, principals: callers, env: { API_USAGE_WARN_RATIO: '0.85' }, overrides: { login: echo.login } })
  t.equal((await http(`${url}/v1/connections/acme/salesforce/services/data/v62.0/limits`, { headers: bearer(callers.fullKey) })).status, 200)
  const health = await http(`${url}/health/salesforce?connection=acme`, { headers: bearer(callers.adminKey) })
  const acme = health.json.connections.find((c: { connection: string }) => c.connection === 'acme')
  t.equal(acme.status, 'warn')
  t.same(acme.apiUsage, { used: 900, max: 1000 })
  t.match(acme.message, /90 % of its daily API requests/)
})
