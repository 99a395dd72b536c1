import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import { usageFromHeader } from '../salesforce/session-check.ts'
import type { ApiUsage } from '../salesforce/types.ts'
import type { Documents } from '../shared-state/shared-state.ts'
import { apiUsageDoc } from '../shared-state/state-names.ts'

export interface StoredApiUsage extends ApiUsage { at: number }

/** the usage is written to the shared state at most this often per connection and replica */
const USAGE_WRITE_INTERVAL_MS = 5_000
const DAY_MS = 86_400_000

export interface ProxyCaps { perMinute?: number, perDay?: number }
export type Admission = { ok: true } | { ok: false, period: 'minute' | 'day', limit: number, retryAfterSeconds: number }

/**
 * What the proxy counts: requests, Salesforce's status classes and latency per caller and
 * connection; the org's daily API usage from each answer's Sforce-Limit-Info; and each caller's
 * optional cap of proxied calls per minute and per day (fixed windows, counted by this replica).
 */
export class ProxyAccounting {
  readonly requests: Counter<'caller' | 'connection' | 'status_class'>
  readonly duration: Histogram<'caller' | 'connection'>
  readonly apiUsage: Gauge<'connection'>
  private readonly state: Documents
  private readonly now: () => number
  private readonly windows = new Map<string, { start: number, n: number }>()
  private readonly usageWritten = new Map<string, number>()

  constructor (opts: { registry: Registry, state: Documents, now?: () => number }) {
    this.state = opts.state
    this.now = opts.now ?? Date.now
    this.requests = new Counter({
      name: 'sfb_proxy_requests_total',
      help: 'Proxied Salesforce calls by caller, connection and status class of the answer (2xx…5xx; refusals by the broker itself are not counted here)',
      labelNames: ['caller', 'connection', 'status_class'] as const,
      registers: [opts.registry],
    })
    this.duration = new Histogram({
      name: 'sfb_proxy_duration_seconds',
      help: 'Latency of proxied Salesforce calls (until the answer\'s headers), by caller and connection',
      labelNames: ['caller', 'connection'] as const,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [opts.registry],
    })
    this.apiUsage = new Gauge({
      name: 'sfb_proxy_api_usage_ratio',
      help: 'Daily API requests used / max of the org, from the Sforce-Limit-Info of the last proxied answer per connection',
      labelNames: ['connection'] as const,
      registers: [opts.registry],
    })
  }

  /** Counts one proxied call against the caller's caps; refuses it (without counting) when one is used up. */
  admit (caller: string, caps: ProxyCaps): Admission {
    if (caps.perMinute === undefined && caps.perDay === undefined) return { ok: true }
    const now = this.now()
    const checks: Array<{ period: 'minute' | 'day', limit: number, ms: number }> = []
    if (caps.perMinute !== undefined) checks.push({ period: 'minute', limit: caps.perMinute, ms: 60_000 })
    if (caps.perDay !== undefined) checks.push({ period: 'day', limit: caps.perDay, ms: DAY_MS })
    const counted = checks.map(c => ({ ...c, window: this.window(`${caller}\u0000${c.period}`, c.ms, now) }))
    for (const c of counted) {
      if (c.window.n >= c.limit) return { ok: false, period: c.period, limit: c.limit, retryAfterSeconds: Math.max(1, Math.ceil((c.window.start + c.ms - now) / 1000)) }
    }
    for (const c of counted) c.window.n++
    return { ok: true }
  }

  observe (caller: string, connection: string, status: number, ms: number): void {
    this.requests.inc({ caller, connection, status_class: `${Math.floor(status / 100)}xx` })
    this.duration.observe({ caller, connection }, ms / 1000)
  }

  /** Reads Sforce-Limit-Info off an answer: the gauge now, the shared state every few seconds. */
  usage (connection: string, header: string | string[] | undefined): void {
    const usage = usageFromHeader(typeof header === 'string' ? header : null)
    if (!usage || usage.max <= 0) return
    this.apiUsage.set({ connection }, usage.used / usage.max)
    const now = this.now()
    if (now - (this.usageWritten.get(connection) ?? 0) < USAGE_WRITE_INTERVAL_MS) return
    this.usageWritten.set(connection, now)
    const stored: StoredApiUsage = { ...usage, at: now }
    this.state.putJson(apiUsageDoc(connection), stored, DAY_MS).catch(() => {})
  }

  private window (key: string, ms: number, now: number): { start: number, n: number } {
    let w = this.windows.get(key)
    if (!w || now - w.start >= ms) {
      w = { start: now - (now % ms), n: 0 }
      this.windows.set(key, w)
    }
    return w
  }
}
