import type { Registry } from 'prom-client'

const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const

interface Series {
  caller: string
  connection: string
  /** answers per status class (index = first digit − 1) */
  byClass: Float64Array
  /** observations per latency bucket (not cumulative); the last one is +Inf */
  buckets: Float64Array
  sum: number
  count: number
}

interface RenderedMetric {
  name: string
  help: string
  type: 'counter' | 'histogram'
  aggregator: 'sum'
  get: () => Promise<{ name: string, help: string, type: string, aggregator: string, values: Array<{ metricName?: string, labels: Record<string, string | number>, value: number }> }>
}

/**
 * `sfb_proxy_requests_total` (by caller, connection and status class) and `sfb_proxy_duration_seconds`
 * (by caller and connection), fed on every proxied call. Written in place of prom-client's Counter and
 * Histogram for the reason of src/metrics/route-histogram.ts: their inc()/observe() validate and
 * hash the label object on every call; here a series is found by two Map lookups on strings the
 * call already holds. prom-client's registry renders both like its own metrics.
 */
export class ProxyCallMetrics {
  private readonly series: Series[] = []
  private readonly byCaller = new Map<string, Map<string, Series>>()
  private readonly bounds: readonly number[]

  constructor (registry: Registry, bounds: readonly number[]) {
    this.bounds = bounds
    const requests: RenderedMetric = {
      name: 'sfb_proxy_requests_total',
      help: 'Proxied Salesforce calls by caller, connection and status class of the answer (2xx…5xx; refusals by the broker itself are not counted here)',
      type: 'counter',
      aggregator: 'sum',
      get: async () => ({ ...meta(requests), values: this.requestValues() }),
    }
    const duration: RenderedMetric = {
      name: 'sfb_proxy_duration_seconds',
      help: 'Latency of proxied Salesforce calls (until the answer\'s headers), by caller and connection',
      type: 'histogram',
      aggregator: 'sum',
      get: async () => ({ ...meta(duration), values: this.durationValues() }),
    }
    registry.registerMetric(requests as never)
    registry.registerMetric(duration as never)
  }

  observe (caller: string, connection: string, status: number, seconds: number): void {
    let byConnection = this.byCaller.get(caller)
    if (byConnection === undefined) {
      byConnection = new Map()
      this.byCaller.set(caller, byConnection)
    }
    let s = byConnection.get(connection)
    if (s === undefined) {
      s = { caller, connection, byClass: new Float64Array(STATUS_CLASSES.length), buckets: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 }
      byConnection.set(connection, s)
      this.series.push(s)
    }
    const statusClass = Math.floor(status / 100) - 1
    if (statusClass >= 0 && statusClass < STATUS_CLASSES.length) s.byClass[statusClass]++
    let i = 0
    while (i < this.bounds.length && seconds > this.bounds[i]) i++
    s.buckets[i]++
    s.sum += seconds
    s.count++
  }

  private requestValues () {
    const values: Array<{ labels: Record<string, string>, value: number }> = []
    for (const s of this.series) {
      for (let c = 0; c < STATUS_CLASSES.length; c++) {
        if (s.byClass[c] > 0) values.push({ labels: { caller: s.caller, connection: s.connection, status_class: STATUS_CLASSES[c] }, value: s.byClass[c] })
      }
    }
    return values
  }

  private durationValues () {
    const values: Array<{ metricName: string, labels: Record<string, string | number>, value: number }> = []
    const name = 'sfb_proxy_duration_seconds'
    for (const s of this.series) {
      const labels = { caller: s.caller, connection: s.connection }
      let cumulative = 0
      for (let i = 0; i <= this.bounds.length; i++) {
        cumulative += s.buckets[i]
        values.push({ metricName: `${name}_bucket`, labels: { le: i < this.bounds.length ? this.bounds[i] : '+Inf', ...labels }, value: cumulative })
      }
      values.push({ metricName: `${name}_sum`, labels, value: s.sum })
      values.push({ metricName: `${name}_count`, labels, value: s.count })
    }
    return values
  }
}

function meta (m: RenderedMetric) {
  return { name: m.name, help: m.help, type: m.type, aggregator: m.aggregator }
}
