import t from 'tap'
import { bearer } from '../helper.ts'
import { http } from '../support/http.ts'
import { proxyRig } from './support.ts'

const QUERY = `/services/data/v62.0/query?q=${encodeURIComponent('SELECT Id FROM Account')}`

t.test('a healed call is one proxied call in the metrics, not a 4xx the caller never saw plus a 2xx', async (t) => {
  const { sim, url, base, callers } = await proxyRig(t)
  const auth = bearer(callers.limitedKey)
  t.equal((await http(`${base}${QUERY}`, { headers: auth })).status, 200)
  sim.expireSessions('acme')
  t.equal((await http(`${base}${QUERY}`, { headers: auth })).status, 200, 'healed')
  t.equal(sim.stats('acme').attempts, 2)
  const metrics = (await http(`${url}/metrics`)).text
  t.match(metrics, /sfb_proxy_requests_total\{caller="limited",connection="acme",status_class="2xx"\} 2/)
  t.notMatch(metrics, /sfb_proxy_requests_total\{caller="limited",connection="acme",status_class="4xx"\}/, 'the caller got two 200s: no 4xx counted against it')
  t.match(metrics, /sfb_proxy_duration_seconds_count\{caller="limited",connection="acme"\} 2\n/, 'two calls, two latencies')
})
