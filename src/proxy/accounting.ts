import type { Logger } from 'pino'
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import { usageFromHeader } from '../salesforce/session-check.ts'
import type { ApiUsage } from '../salesforce/types.ts'
import type { Documents, Quota, SharedState, Windows } from '../shared-state/shared-state.ts'
import { apiUsageDoc, proxyCallsQuota } from '../shared-state/state-names.ts'

export interface StoredApiUsage extends ApiUsage { at: number }

/** the usage is written to the shared state at most this often per connection and replica */
const USAGE_WRITE_INTERVAL_MS = 5_000
const MINUTE_MS = 60_000
const DAY_MS = 86_400_000
/** a window's count outlives its end by this much: a replica whose clock lags another's still finds it */
const QUOTA_TTL_MARGIN_MS = 60_000

export interface ProxyCaps { perMinute?: number, perDay?: number }
export type Admission = { ok: true } | { ok: false, period: 'minute' | 'day', limit: number, retryAfterSeconds: number }

/**
 * What the proxy counts: requests, Salesforce's status classes and latency per caller and
 * connection; the org's daily API usage from each answer's Sforce-Limit-Info; and each caller's
 * optional cap of proxied calls per minute and per day: fixed windows (UTC minutes and days by the
 * broker's clock) counted fleet-wide in the shared state, so a cap means the same with 1 replica or 10.
 */
export class ProxyAccounting {
  readonly requests: Counter<'caller' | 'connection' | 'status_class'>
  readonly duration: Histogram<'caller' | 'connection'>
  readonly apiUsage: Gauge<'connection'>
  private readonly state: Documents & Windows & Pick<SharedState, 'tiers'>
  private readonly now: () => number
  private readonly logger: Logger | undefined
  /** true while Redis is unreachable and caps are counted by this replica alone */
  private perReplica = false
  private readonly usageWritten = new Map<string, number>()

  constructor (opts: { registry: Registry, state: Documents & Windows & Pick<SharedState, 'tiers'>, now?: () => number, logger?: Logger }) {
    this.state = opts.state
    this.now = opts.now ?? Date.now
    this.logger = opts.logger
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

  /** Counts one proxied call against the caller's caps, fleet-wide; refuses it (without counting) when one is used up. */
  async admit (caller: string, caps: ProxyCaps): Promise<Admission> {
    if (caps.perMinute === undefined && caps.perDay === undefined) return { ok: true }
    const now = this.now()
    const windows: Array<{ period: 'minute' | 'day', limit: number, end: number, quota: Quota }> = []
    for (const [period, limit, ms] of [['minute', caps.perMinute, MINUTE_MS], ['day', caps.perDay, DAY_MS]] as const) {
      if (limit === undefined) continue
      const start = now - (now % ms)
      windows.push({ period, limit, end: start + ms, quota: { key: proxyCallsQuota(caller, period, start), limit, ttlMs: start + ms - now + QUOTA_TTL_MARGIN_MS } })
    }
    const full = await this.take(windows.map(w => w.quota))
    if (full < 0) return { ok: true }
    const w = windows[full]
    return { ok: false, period: w.period, limit: w.limit, retryAfterSeconds: Math.max(1, Math.ceil((w.end - now) / 1000)) }
  }

  /**
   * The fleet's count when Redis answers. When it does not, each replica counts its own calls
   * (the process-memory tier, which also counted this replica's share while Redis was up): a cap
   * of N then admits up to N per replica until Redis is back. Deliberately not "refuse every
   * capped call": a cap protects the org's daily API budget from one runaway caller, and a
   * Redis outage is no reason to stop that caller's legitimate traffic, whereas the lockout guard
   * (sessions/login-gate.ts), which protects the integration user from being locked out, fails closed.
   * Said once in the log when it starts and when it ends.
   */
  private async take (quotas: Quota[]): Promise<number> {
    const tiers = this.state.tiers
    if (!tiers) return this.state.takeQuotas(quotas)
    try {
      const full = await tiers.fleet.takeQuotas(quotas)
      if (this.perReplica) {
        this.perReplica = false
        this.logger?.info('proxy call caps counted fleet-wide again')
      }
      if (full < 0) await tiers.local.takeQuotas(quotas)
      return full
    } catch (err) {
      if (!this.perReplica) {
        this.perReplica = true
        this.logger?.warn({ err: { message: (err as Error).message } }, 'proxy call caps counted per replica while the shared state is unreachable: a cap of N admits up to N on each replica')
      }
      return tiers.local.takeQuotas(quotas)
    }
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
}
