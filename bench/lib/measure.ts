import http from 'node:http'
import { performance } from 'node:perf_hooks'
import autocannon from 'autocannon'

export interface LatencySummary {
  count: number
  meanMs: number
  p50Ms: number
  p90Ms: number
  p99Ms: number
  maxMs: number
}

/** Nearest-rank percentile over exact samples (autocannon's own histogram rounds to whole ms). */
export function summarize (samples: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(samples).sort()
  const n = sorted.length
  if (n === 0) return { count: 0, meanMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, maxMs: 0 }
  const at = (p: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))]
  let sum = 0
  for (const v of sorted) sum += v
  return { count: n, meanMs: round(sum / n), p50Ms: round(at(0.5)), p90Ms: round(at(0.9)), p99Ms: round(at(0.99)), maxMs: round(sorted[n - 1]) }
}

export function round (v: number, digits = 2): number {
  const f = 10 ** digits
  return Math.round(v * f) / f
}

export interface LoadOptions {
  url: string
  method: 'GET' | 'POST'
  headers?: Record<string, string>
  connections: number
  durationSeconds: number
}

export interface LoadResult {
  requestsPerSecond: number
  responses: number
  non2xx: number
  errors: number
  timeouts: number
  durationSeconds: number
  latency: LatencySummary
  /** autocannon's own (whole-ms) numbers, for comparison with other autocannon runs */
  autocannon: { requestsAverage: number, latencyP99Ms: number, latencyAverageMs: number }
}

/** One closed-loop autocannon run; latency is taken from every 2xx response, not from autocannon's rounded histogram. */
export async function runLoad (o: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = []
  let responses = 0
  const instance = autocannon({
    url: o.url,
    method: o.method,
    headers: o.headers,
    connections: o.connections,
    duration: o.durationSeconds,
    timeout: 10,
  })
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTimeMs: number) => {
    responses++
    if (statusCode >= 200 && statusCode < 300) latencies.push(responseTimeMs)
  })
  const result = await instance
  const ok = latencies.length
  return {
    requestsPerSecond: round(ok / result.duration, 1),
    responses,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    durationSeconds: round(result.duration, 3),
    latency: summarize(latencies),
    autocannon: { requestsAverage: result.requests.average, latencyP99Ms: result.latency.p99, latencyAverageMs: result.latency.average },
  }
}

export interface StormResponse {
  target: string
  status: number
  contentType: string
  body: string
  latencyMs: number
  error?: string
}

export interface StormResult {
  responses: StormResponse[]
  /** time between the first and the last request leaving this process: how simultaneous the storm was */
  fireSpreadMs: number
  wallMs: number
}

/**
 * `count` requests in flight at once, spread round-robin over `targets`. Sockets are opened
 * beforehand (a keep-alive GET each), so the storm measures the broker, not TCP handshakes.
 */
export async function storm (o: { targets: string[], path: string, headers: Record<string, string>, count: number, timeoutMs: number }): Promise<StormResult> {
  const perTarget = Math.ceil(o.count / o.targets.length)
  const agent = new http.Agent({ keepAlive: true, maxSockets: perTarget, maxFreeSockets: perTarget, keepAliveMsecs: 30_000 })
  try {
    await Promise.all(o.targets.flatMap(target => Array.from({ length: perTarget }, () => send(agent, target, 'GET', '/health/live', {}, o.timeoutMs))))
    const started = performance.now()
    let lastFired = started
    const inFlight: Array<Promise<StormResponse>> = []
    for (let i = 0; i < o.count; i++) {
      inFlight.push(send(agent, o.targets[i % o.targets.length], 'POST', o.path, o.headers, o.timeoutMs))
      lastFired = performance.now()
    }
    const responses = await Promise.all(inFlight)
    return { responses, fireSpreadMs: round(lastFired - started), wallMs: round(performance.now() - started) }
  } finally {
    agent.destroy()
  }
}

function send (agent: http.Agent, target: string, method: string, path: string, headers: Record<string, string>, timeoutMs: number): Promise<StormResponse> {
  const url = new URL(path, target)
  const started = performance.now()
  return new Promise((resolve) => {
    const done = (r: Omit<StormResponse, 'target' | 'latencyMs'>) => resolve({ target, latencyMs: round(performance.now() - started), ...r })
    const req = http.request({ agent, host: url.hostname, port: url.port, method, path: url.pathname, headers: { ...headers, 'content-length': '0' }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => done({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', (err) => done({ status: 0, contentType: '', body: '', error: err.message }))
    })
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)))
    req.on('error', (err) => done({ status: 0, contentType: '', body: '', error: err.message }))
    req.end()
  })
}
