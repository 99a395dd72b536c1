import type { Registry } from 'prom-client'

interface Series {
  labels: { method: string, route: string, status_code: number }
  /** observations per bucket (not cumulative); the last one is +Inf */
  counts: Float64Array
  sum: number
  count: number
}

/**
 * `http_request_duration_seconds`: a Prometheus histogram of every answer by method, route pattern and
 * status. Written in place of prom-client's Histogram because it is fed on every request: its
 * observe() re-validates and re-hashes the labels each time (about 0.5 µs, a tenth of the hot
 * path's own CPU, measured with bench/profile-hot.ts); here a series is found by Map lookups on strings
 * the request already holds (building a key string per request cost more than the lookups).
 * prom-client's registry renders it like any other metric (registerMetric accepts anything with
 * name, help, type and get()).
 */
export class RouteHistogram {
  readonly name = 'http_request_duration_seconds'
  readonly help = 'HTTP requests by method, route pattern and status code, and how long they took'
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  private readonly series: Series[] = []
  /** route → method → status → series: the route and method strings are the same objects on every request, so no key is built */
  private readonly byRoute = new Map<string, Map<string, Map<number, Series>>>()
  private readonly bounds: readonly number[]

  constructor (registry: Registry, bounds: readonly number[]) {
    this.bounds = bounds
    registry.registerMetric(this as never)
  }

  observe (method: string, route: string, status: number, seconds: number): void {
    let byMethod = this.byRoute.get(route)
    if (byMethod === undefined) {
      byMethod = new Map()
      this.byRoute.set(route, byMethod)
    }
    let byStatus = byMethod.get(method)
    if (byStatus === undefined) {
      byStatus = new Map()
      byMethod.set(method, byStatus)
    }
    let s = byStatus.get(status)
    if (s === undefined) {
      s = { labels: { method, route, status_code: status }, counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 }
      byStatus.set(status, s)
      this.series.push(s)
    }
    let i = 0
    while (i < this.bounds.length && seconds > this.bounds[i]) i++
    s.counts[i]++
    s.sum += seconds
    s.count++
  }

  /** The exposition values, as prom-client's own histograms give them (cumulative buckets, le="+Inf", _sum, _count). */
  async get () {
    const values: Array<{ metricName: string, labels: Record<string, string | number>, value: number }> = []
    for (const s of this.series) {
      let cumulative = 0
      for (let i = 0; i <= this.bounds.length; i++) {
        cumulative += s.counts[i]
        values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le: i < this.bounds.length ? this.bounds[i] : '+Inf' }, value: cumulative })
      }
      values.push({ metricName: `${this.name}_sum`, labels: s.labels, value: s.sum })
      values.push({ metricName: `${this.name}_count`, labels: s.labels, value: s.count })
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator }
  }

  reset (): void {
    this.series.length = 0
    this.byRoute.clear()
  }
}
