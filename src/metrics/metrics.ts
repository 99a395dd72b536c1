import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { BUDGET_WINDOW_MS } from '../sessions/login-budget.ts'
import type { LoginObserver } from '../sessions/login-gate.ts'
import type { SessionObserver } from '../sessions/session-service.ts'
import { RouteHistogram } from './route-histogram.ts'

/**
 * The broker's Prometheus metrics, in a registry of its own (not prom-client's global one) so
 * several apps in one process — tests, benchmarks — don't collide.
 */
export class BrokerMetrics {
  readonly registry = new Registry()
  /**
   * Session answers are counted here and handed to prom-client when it is read (scrape): its inc()
   * with labels costs about 0.3 µs, on every request of the hot path.
   */
  private readonly served = new Map<string, Map<string, { labels: { connection: string, outcome: string }, n: number }>>()
  readonly sessionRequests: Counter<'connection' | 'outcome'> = new Counter({
    name: 'sfb_session_requests_total',
    help: 'Session requests by connection and outcome (hit = served from cache, miss = needed a login, error = problem answer)',
    labelNames: ['connection', 'outcome'] as const,
    registers: [this.registry],
    collect: () => {
      for (const byConnection of this.served.values()) {
        for (const counted of byConnection.values()) {
          if (counted.n === 0) continue
          this.sessionRequests.inc(counted.labels, counted.n)
          counted.n = 0
        }
      }
    },
  })

  readonly logins = new Counter({
    name: 'sfb_salesforce_logins_total',
    help: 'Salesforce logins by flow and classification (ok or the failure class)',
    labelNames: ['flow', 'classification'] as const,
    registers: [this.registry],
  })

  readonly loginDuration = new Histogram({
    name: 'sfb_salesforce_login_duration_seconds',
    help: 'Salesforce login latency',
    labelNames: ['flow'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    registers: [this.registry],
  })

  /** when each connection's last count of the rolling hour was made (the broker's clock) */
  private readonly loginCountedAt = new Map<string, number>()

  readonly loginsUsed = new Gauge({
    name: 'sfb_salesforce_logins_used',
    help: "Logins spent in the rolling hour for the connection's Salesforce user (all its connections and flows), as last counted by this replica; gone an hour after that count, when every login it counted has left the window",
    labelNames: ['connection'] as const,
    registers: [this.registry],
    // set at scrape time: a count is only refreshed by the connection's next login, which may come hours later
    // (sessions are cached), and the alert on this gauge (SfBrokerLoginBudget) must not go on firing meanwhile
    collect: () => this.refreshLoginCounts(),
  })

  readonly loginsLimit = new Gauge({
    name: 'sfb_salesforce_logins_limit',
    help: 'Logins Salesforce allows per user per rolling hour (SALESFORCE_LOGINS_PER_HOUR)',
    registers: [this.registry],
  })

  readonly validationStatus = new Gauge({
    name: 'sfb_connection_validation_status',
    help: 'Latest credential validation per connection: 1 ok, 0.75 warn (the user is not ready: permissions, password expiry), 0.5 degraded, 0 failing',
    labelNames: ['connection'] as const,
    registers: [this.registry],
  })

  readonly certificateExpiry = new Gauge({
    name: 'sfb_connection_certificate_expiry_timestamp_seconds',
    help: 'When the certificate of a JWT bearer connection expires (Unix seconds); only connections whose certificate the broker made',
    labelNames: ['connection'] as const,
    registers: [this.registry],
  })

  readonly certificateIssued = new Gauge({
    name: 'sfb_connection_certificate_issued_timestamp_seconds',
    help: 'When the key and certificate of a JWT bearer connection were made (Unix seconds): their age is time() minus this',
    labelNames: ['connection'] as const,
    registers: [this.registry],
  })

  readonly flowSunset = new Gauge({
    name: 'sfb_connection_flow_sunset_timestamp_seconds',
    help: 'When Salesforce retires the login flow of the connection (Unix seconds); only connections on soap or oauth_password',
    labelNames: ['connection', 'flow'] as const,
    registers: [this.registry],
  })

  readonly circuitOpen = new Gauge({
    name: 'sfb_circuit_open',
    help: '1 while logins for the connection are paused after a credential failure',
    labelNames: ['connection'] as const,
    registers: [this.registry],
  })

  readonly apiUsage = new Gauge({
    name: 'sfb_salesforce_api_usage_ratio',
    help: 'Daily API requests used / max, per connection, from the last validation',
    labelNames: ['connection'] as const,
    registers: [this.registry],
  })

  readonly missingPermissions = new Gauge({
    name: 'sfb_connection_missing_permissions',
    help: 'Declared requiredPermissions the integration user lacks, from the last full check (absent when none are declared)',
    labelNames: ['connection'] as const,
    registers: [this.registry],
  })

  readonly excessPermissions = new Gauge({
    name: 'sfb_connection_excess_permissions',
    help: 'Privileged rights (Modify All Data, View All Data, Manage Users, Author Apex, Customize Application…) the integration user holds beyond requiredPermissions, from the last full check (absent when none are declared)',
    labelNames: ['connection'] as const,
    registers: [this.registry],
  })

  readonly passwordExpiry = new Gauge({
    name: 'sfb_connection_password_expiry_timestamp_seconds',
    help: 'When the integration user\'s password expires (LastPasswordChangeDate + passwordExpiresAfterDays), for alerting ahead',
    labelNames: ['connection'] as const,
    registers: [this.registry],
  })

  readonly dependencyDuration = new Histogram({
    name: 'sfb_dependency_duration_seconds',
    help: 'Latency of calls to the secret store (vault/file) and shared state (redis)',
    labelNames: ['dependency', 'op', 'outcome'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  })

  readonly dependencyErrors = new Counter({
    name: 'sfb_dependency_errors_total',
    help: 'Failed calls to the secret store and shared state',
    labelNames: ['dependency', 'op'] as const,
    registers: [this.registry],
  })

  /** Every answer, by route pattern (never the raw path: bounded cardinality) and status. */
  readonly httpDuration = new RouteHistogram(this.registry, [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30])

  private readonly now: () => number

  /** `now`: the broker's clock, the one the login gate stamps its counts with */
  constructor (now: () => number = Date.now) {
    this.now = now
    collectDefaultMetrics({ register: this.registry, prefix: 'sfb_' })
  }

  /** A count older than the hour it covers claims logins that have all left the window: its series goes. */
  private refreshLoginCounts (): void {
    const now = this.now()
    for (const [connection, at] of this.loginCountedAt) {
      if (now - at < BUDGET_WINDOW_MS) continue
      this.loginCountedAt.delete(connection)
      this.loginsUsed.remove({ connection })
    }
  }

  observeHttp (method: string, route: string, status: number, ms: number): void {
    this.httpDuration.observe(method, route, status, ms / 1000)
  }

  /** Feeds login counts and the login budget from the login gate: the one place logins are recorded. */
  loginObserver (): LoginObserver {
    return {
      loginAttempt: (_connection, flow, classification, durationMs) => {
        this.logins.inc({ flow, classification })
        this.loginDuration.observe({ flow }, durationMs / 1000)
      },
      loginBudget: (connection, used, limit, at) => {
        this.loginCountedAt.set(connection, at)
        this.loginsUsed.set({ connection }, used)
        this.loginsLimit.set(limit)
      },
    }
  }

  /** Feeds session counts from the session service. */
  sessionObserver (): SessionObserver {
    return {
      // by outcome, then connection: no key string built (and hashed) per request
      sessionServed: (connection, outcome) => {
        let byConnection = this.served.get(outcome)
        if (byConnection === undefined) {
          byConnection = new Map()
          this.served.set(outcome, byConnection)
        }
        const counted = byConnection.get(connection)
        if (counted) counted.n++
        else byConnection.set(connection, { labels: { connection, outcome }, n: 1 })
      },
    }
  }

  /** Wraps every method of a dependency so its latency and errors are measured. */
  instrument<T extends object> (dependency: string, target: T, ops: ReadonlyArray<keyof T & string>): T {
    for (const op of ops) {
      const original = target[op]
      if (typeof original !== 'function') continue
      const fn = original as unknown as (...args: unknown[]) => Promise<unknown>
      const timed = async (...args: unknown[]) => {
        const end = this.dependencyDuration.startTimer({ dependency, op })
        try {
          const value = await fn.apply(target, args)
          end({ outcome: 'ok' })
          return value
        } catch (err) {
          end({ outcome: 'error' })
          this.dependencyErrors.inc({ dependency, op })
          throw err
        }
      }
      Object.defineProperty(target, op, { value: timed, configurable: true, writable: true })
    }
    return target
  }
}
