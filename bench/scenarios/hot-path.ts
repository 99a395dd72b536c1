import { createReadStream } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { startBroker } from '../lib/broker.ts'
import { processCpuSeconds, sleep, spawnChild } from '../lib/children.ts'
import type { BenchContext, ScenarioOutcome } from '../lib/context.ts'
import { clientCredentialsConnection, ORG, seedStore } from '../lib/fixtures.ts'
import { round, runLoad, type LoadResult } from '../lib/measure.ts'

export const HOT_PATH = {
  connections: 50,
  durationSeconds: 6,
  warmupSeconds: 2,
  throughputRatioTarget: 0.9,
  /** broker CPU per request / bare Fastify's, access line on */
  cpuRatioTarget: 1.25,
  p99RatioTarget: 1.5,
}

const CONNECTION = 'hot'

/**
 * Cached-session throughput and tail latency of one broker (Redis-backed, real API-key auth)
 * against bare Fastify answering a body of the same size. Runs alternate A-B-B-A so drift
 * (CPU frequency, GC of the load generator) falls on both sides equally.
 */
export async function hotPath (ctx: BenchContext): Promise<ScenarioOutcome> {
  const store = await seedStore(join(ctx.workDir, 'hot.enc'), [[CONNECTION, clientCredentialsConnection(ctx.sim.myDomainUrl(ORG))]])
  await ctx.sim.setLatency(0)
  await ctx.sim.resetStats()
  // LOG_LEVEL=info: the access line of every request is written (to a file, as a log shipper would read it)
  const broker = await startBroker({ name: 'broker-hot', repoRoot: ctx.repoRoot, store, caller: ctx.caller, redisUrl: ctx.redis.url, sessionEncryptionKey: ctx.sessionKey, env: { LOG_LEVEL: process.env.HOT_LOG_LEVEL ?? 'info' } })
  try {
    const sessionUrl = `${broker.url}/v1/connections/${CONNECTION}/session`
    const headers = { authorization: `Bearer ${ctx.caller.key}` }
    const first = await fetch(sessionUrl, { method: 'POST', headers, signal: AbortSignal.timeout(10_000) })
    const firstBody = await first.text()
    if (first.status !== 200) throw new Error(`hot path: the first session request answered ${first.status}: ${firstBody.slice(0, 300)}`)
    const bodyBytes = Buffer.byteLength(firstBody)

    const { child: baselineChild, firstLine } = await spawnChild({
      name: 'baseline',
      command: process.execPath,
      args: ['bench/baseline-server.ts'],
      cwd: ctx.repoRoot,
      env: { PATH: process.env.PATH, NODE_ENV: 'production', BODY_BYTES: String(bodyBytes) },
      captureFirstLine: true,
    })
    try {
      const baselineUrl = `${(JSON.parse(firstLine as string) as { url: string }).url}/v1/connections/${CONNECTION}/session`
      const baselineBytes = Buffer.byteLength(await (await fetch(baselineUrl, { method: 'POST' })).text())

      const load = (url: string, h?: Record<string, string>, seconds = HOT_PATH.durationSeconds) =>
        runLoad({ url, method: 'POST', headers: h, connections: HOT_PATH.connections, durationSeconds: seconds })
      ctx.log(`hot path: warming up (${HOT_PATH.warmupSeconds} s each), answer ${bodyBytes} bytes`)
      await load(baselineUrl, undefined, HOT_PATH.warmupSeconds)
      await load(sessionUrl, headers, HOT_PATH.warmupSeconds)

      ctx.log(`hot path: 4 runs of ${HOT_PATH.durationSeconds} s, ${HOT_PATH.connections} connections (baseline, broker, broker, baseline)`)
      const baselineRuns: LoadResult[] = []
      const brokerRuns: LoadResult[] = []
      const brokerCpu = new CpuMeter(() => broker.cpuSeconds())
      const baselineCpu = new CpuMeter(() => processCpuSeconds(baselineChild.proc.pid))
      await sleep(500) // the warm-up's lines are written (the broker batches its log writes)
      const accessLinesBefore = await countAccessLines(broker.child.logFile)
      baselineRuns.push(await baselineCpu.during(() => load(baselineUrl)))
      brokerRuns.push(await brokerCpu.during(() => load(sessionUrl, headers)))
      brokerRuns.push(await brokerCpu.during(() => load(sessionUrl, headers)))
      baselineRuns.push(await baselineCpu.during(() => load(baselineUrl)))
      const logins = await ctx.sim.stats(ORG)
      const rss = await broker.rssBytes()
      const cpu = {
        broker: brokerCpu.msPer1k(brokerRuns),
        baseline: baselineCpu.msPer1k(baselineRuns),
      }
      // the access lines of the measured runs reach the log (pino flushes its buffer at least every few KB)
      await sleep(500)
      const accessLines = (await countAccessLines(broker.child.logFile)) - accessLinesBefore
      return outcome(bodyBytes, baselineBytes, brokerRuns, baselineRuns, logins.attempts, rss.bytes, cpu, accessLines)
    } finally {
      await baselineChild.stop()
    }
  } finally {
    await broker.child.stop()
  }
}

/** CPU a child spends during load runs, per 1,000 answers. */
class CpuMeter {
  private seconds = 0
  private complete = true
  private readonly read: () => Promise<number | null>
  constructor (read: () => Promise<number | null>) { this.read = read }

  async during (run: () => Promise<LoadResult>): Promise<LoadResult> {
    const before = await this.read()
    const result = await run()
    const after = await this.read()
    if (before === null || after === null) this.complete = false
    else this.seconds += after - before
    return result
  }

  msPer1k (runs: LoadResult[]): number | null {
    const answered = runs.reduce((n, r) => n + r.responses, 0)
    return this.complete && answered > 0 ? round(this.seconds * 1000 * 1000 / answered, 1) : null
  }
}

/** Access lines in the broker's log: proof the measured runs wrote one per request. */
async function countAccessLines (file: string): Promise<number> {
  let n = 0
  const lines = createInterface({ input: createReadStream(file) })
  for await (const line of lines) if (line.includes('"msg":"request"')) n++
  return n
}

function combine (runs: LoadResult[]) {
  const mean = (f: (r: LoadResult) => number) => round(runs.reduce((s, r) => s + f(r), 0) / runs.length)
  return {
    requestsPerSecond: mean(r => r.requestsPerSecond),
    p50Ms: mean(r => r.latency.p50Ms),
    p99Ms: mean(r => r.latency.p99Ms),
    non2xx: runs.reduce((s, r) => s + r.non2xx, 0),
    errors: runs.reduce((s, r) => s + r.errors + r.timeouts, 0),
  }
}

function outcome (bodyBytes: number, baselineBytes: number, brokerRuns: LoadResult[], baselineRuns: LoadResult[], logins: number, rssBytes: number, cpu: { broker: number | null, baseline: number | null }, accessLines: number): ScenarioOutcome {
  const broker = combine(brokerRuns)
  const baseline = combine(baselineRuns)
  const throughputRatio = round(broker.requestsPerSecond / baseline.requestsPerSecond, 3)
  const cpuRatio = cpu.broker === null || cpu.baseline === null ? null : round(cpu.broker / cpu.baseline, 3)
  const answered = brokerRuns.reduce((n, r) => n + r.responses, 0)
  const p99Ratio = round(broker.p99Ms / baseline.p99Ms, 3)
  const clean = broker.non2xx === 0 && broker.errors === 0
  const s = 'hot path'
  return {
    rows: [
      { scenario: s, metric: 'broker req/s (cached session)', value: fmtInt(broker.requestsPerSecond) },
      { scenario: s, metric: 'baseline req/s (bare Fastify)', value: fmtInt(baseline.requestsPerSecond) },
      { scenario: s, metric: 'throughput broker/baseline', value: `${throughputRatio.toFixed(2)}×`, target: `≥ ${HOT_PATH.throughputRatioTarget.toFixed(2)}×`, pass: throughputRatio >= HOT_PATH.throughputRatioTarget },
      { scenario: s, metric: 'broker p50 / p99', value: `${broker.p50Ms.toFixed(2)} / ${broker.p99Ms.toFixed(2)} ms` },
      { scenario: s, metric: 'baseline p50 / p99', value: `${baseline.p50Ms.toFixed(2)} / ${baseline.p99Ms.toFixed(2)} ms` },
      { scenario: s, metric: 'p99 broker/baseline', value: `${p99Ratio.toFixed(2)}×`, target: `≤ ${HOT_PATH.p99RatioTarget.toFixed(2)}×`, pass: p99Ratio <= HOT_PATH.p99RatioTarget },
      { scenario: s, metric: 'broker non-2xx / errors', value: `${broker.non2xx} / ${broker.errors}`, target: '0 / 0', pass: clean },
      { scenario: s, metric: 'CPU per 1,000 requests broker / baseline', value: cpu.broker === null || cpu.baseline === null ? 'not measured (no /proc)' : `${cpu.broker} / ${cpu.baseline} ms` },
      { scenario: s, metric: 'CPU per request broker/baseline', value: cpuRatio === null ? 'not measured' : `${cpuRatio.toFixed(2)}×`, target: `≤ ${HOT_PATH.cpuRatioTarget.toFixed(2)}×`, pass: cpuRatio === null ? null : cpuRatio <= HOT_PATH.cpuRatioTarget },
      // requests cut off when a run ends are answered and logged but not counted by autocannon
      { scenario: s, metric: 'access lines written / answers', value: `${fmtInt(accessLines)} / ${fmtInt(answered)}`, target: 'one per answer', pass: accessLines >= answered && accessLines <= answered + brokerRuns.length * HOT_PATH.connections },
      { scenario: s, metric: 'Salesforce logins during the runs', value: String(logins), target: '1 (warm-up)', pass: logins === 1 },
    ],
    data: {
      settings: HOT_PATH,
      answerBytes: { broker: bodyBytes, baseline: baselineBytes },
      broker,
      baseline,
      throughputRatio,
      p99Ratio,
      salesforceLogins: logins,
      brokerRssBytes: rssBytes,
      brokerCpuMsPer1kRequests: cpu.broker,
      baselineCpuMsPer1kRequests: cpu.baseline,
      cpuRatio,
      accessLines,
      runs: { broker: brokerRuns, baseline: baselineRuns },
    },
  }
}

export function fmtInt (n: number): string {
  return Math.round(n).toLocaleString('en-US')
}
