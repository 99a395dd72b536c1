import t from 'tap'
import { Counter, Histogram, Registry } from 'prom-client'
import { ProxyCallMetrics } from '../../src/proxy/call-metrics.ts'

const BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

t.test('the proxy call metrics render exactly as prom-client\'s Counter and Histogram fed the same calls', async (t) => {
  const ours = new Registry()
  const calls = new ProxyCallMetrics(ours, BUCKETS)
  const theirs = new Registry()
  const requests = new Counter({ name: 'sfb_proxy_requests_total', help: 'Proxied Salesforce calls by caller, connection and status class of the answer (2xx…5xx; refusals by the broker itself are not counted here)', labelNames: ['caller', 'connection', 'status_class'], registers: [theirs] })
  const duration = new Histogram({ name: 'sfb_proxy_duration_seconds', help: 'Latency of proxied Salesforce calls (until the answer\'s headers), by caller and connection', labelNames: ['caller', 'connection'], buckets: BUCKETS, registers: [theirs] })
  const fed: Array<[string, string, number, number]> = [
    ['svc', 'acme', 200, 0.004], ['svc', 'acme', 200, 0.01], ['svc', 'acme', 404, 0.3], ['svc', 'globex', 503, 31],
    ['other', 'acme', 201, 0.05], ['svc', 'acme', 302, 2.5], ['other', 'acme', 200, 0.0101],
  ]
  for (const [caller, connection, status, seconds] of fed) {
    calls.observe(caller, connection, status, seconds)
    requests.inc({ caller, connection, status_class: `${Math.floor(status / 100)}xx` })
    duration.observe({ caller, connection }, seconds)
  }
  // the same lines; prom-client orders series by first use, so compare them sorted
  const lines = async (r: Registry) => (await r.metrics()).split('\n').filter(Boolean).sort()
  t.same(await lines(ours), await lines(theirs))
})
