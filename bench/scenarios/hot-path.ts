import { join } from 'node:path'
import { startBroker } from '../lib/broker.ts'
import { spawnChild } from '../lib/children.ts'
import type { BenchContext, ScenarioOutcome } from '../lib/context.ts'
import { clientCredentialsConnection, ORG, seedStore } from '../lib/fixtures.ts'
import { round, runLoad, type LoadResult } from '../lib/measure.ts'

export const HOT_PATH = {
  connections: 50,
  durationSeconds: 6,
  warmupSeconds: 2,
  throughputRatioTarget: 0.9,
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
  const broker = await startBroker({ name: 'broker-hot', repoRoot: ctx.repoRoot, store, caller: ctx.caller, redisUrl: ctx.redis.url, sessionEncryptionKey: ctx.sessionKey })
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
      baselineRuns.push(await load(baselineUrl))
      const cpuBefore = await broker.cpuSeconds()
      brokerRuns.push(await load(sessionUrl, headers))
      brokerRuns.push(await load(sessionUrl, headers))
      const cpuAfter = await broker.cpuSeconds()
      baselineRuns.push(await load(baselineUrl))
      const logins = await ctx.sim.stats(ORG)
      const rss = await broker.rssBytes()
      const served = brokerRuns.reduce((n, r) => n + r.responses, 0)
      const cpuMsPer1k = cpuBefore === null || cpuAfter === null || served === 0 ? null : round((cpuAfter - cpuBefore) * 1000 * 1000 / served, 1)
      return outcome(bodyBytes, baselineBytes, brokerRuns, baselineRuns, logins.attempts, rss.bytes, cpuMsPer1k)
    } finally {
      await baselineChild.stop()
    }
  } finally {
    await broker.child.stop()
  }
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

function outcome (bodyBytes: number, baselineBytes: number, brokerRuns: LoadResult[], baselineRuns: LoadResult[], logins: number, rssBytes: number, cpuMsPer1k: number | null): ScenarioOutcome {
  const broker = combine(brokerRuns)
  const baseline = combine(baselineRuns)
  const throughputRatio = round(broker.requestsPerSecond / baseline.requestsPerSecond, 3)
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
      { scenario: s, metric: 'broker CPU per 1,000 requests', value: cpuMsPer1k === null ? 'not reported' : `${cpuMsPer1k} ms` },
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
      brokerCpuMsPer1kRequests: cpuMsPer1k,
      runs: { broker: brokerRuns, baseline: baselineRuns },
    },
  }
}

export function fmtInt (n: number): string {
  return Math.round(n).toLocaleString('en-US')
}
