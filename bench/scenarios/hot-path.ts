import { join } from 'node:path'
import { startBroker } from '../lib/broker.ts'
import { processCpuSeconds, sleep, spawnChild, type StartedChild } from '../lib/children.ts'
import type { BenchContext, Row, ScenarioOutcome } from '../lib/context.ts'
import { countAccessLines, CpuMeter } from '../lib/cpu.ts'
import { clientCredentialsConnection, ORG, seedStore } from '../lib/fixtures.ts'
import { round, runLoad, type LoadResult } from '../lib/measure.ts'
import { startSamePromises } from '../lib/same-promises.ts'

export const HOT_PATH = {
  connections: 50,
  durationSeconds: 6,
  warmupSeconds: 2,
  throughputRatioTarget: 0.9,
  /** broker CPU per request / bare Fastify's, access line on */
  cpuRatioTarget: 1.25,
  /** broker CPU per request / the same-promises reference's: what the broker costs beyond its promises */
  samePromisesCpuRatioTarget: 1.10,
  p99RatioTarget: 1.5,
}

const CONNECTION = 'hot'

interface Side { name: string, url: string, headers?: Record<string, string>, cpu: CpuMeter, runs: LoadResult[] }

/**
 * Cached-session throughput, tail latency and CPU per request of one broker (Redis-backed, real
 * API-key auth, access line on) against two yardsticks answering a body of the same size: bare
 * Fastify, and Fastify keeping the broker's per-request promises and nothing else (access line,
 * request id, API-key check, the same headers; bench/same-promises-server.ts). Runs go
 * A-B-C-C-B-A so drift (CPU frequency, GC of the load generator) falls on every side equally.
 */
export async function hotPath (ctx: BenchContext): Promise<ScenarioOutcome> {
  const store = await seedStore(join(ctx.workDir, 'hot.enc'), [[CONNECTION, clientCredentialsConnection(ctx.sim.myDomainUrl(ORG))]])
  await ctx.sim.setLatency(0)
  await ctx.sim.resetStats()
  const logLevel = process.env.HOT_LOG_LEVEL ?? 'info'
  // LOG_LEVEL=info: the access line of every request is written (to a file, as a log shipper would read it)
  const broker = await startBroker({ name: 'broker-hot', repoRoot: ctx.repoRoot, store, caller: ctx.caller, redisUrl: ctx.redis.url, sessionEncryptionKey: ctx.sessionKey, env: { LOG_LEVEL: logLevel } })
  const children: StartedChild[] = []
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
    children.push(baselineChild)
    const baselineUrl = `${(JSON.parse(firstLine as string) as { url: string }).url}/v1/connections/${CONNECTION}/session`
    const baselineBytes = Buffer.byteLength(await (await fetch(baselineUrl, { method: 'POST' })).text())

    // its log goes to a file the child writes itself, as the broker's does
    const { sessionUrl: samePromisesUrl, child: samePromisesChild } = await startSamePromises({ name: 'same-promises', repoRoot: ctx.repoRoot, caller: ctx.caller, bodyBytes, logLevel })
    children.push(samePromisesChild)
    const check = await fetch(samePromisesUrl, { method: 'POST', headers })
    const samePromisesBytes = Buffer.byteLength(await check.text())
    if (check.status !== 200) throw new Error(`hot path: the same-promises reference answered ${check.status}`)
    const headerNames = { broker: [...first.headers.keys()].sort(), samePromises: [...check.headers.keys()].sort() }

    const baseline: Side = { name: 'baseline', url: baselineUrl, cpu: new CpuMeter(() => processCpuSeconds(baselineChild.proc.pid)), runs: [] }
    const samePromises: Side = { name: 'same-promises', url: samePromisesUrl, headers, cpu: new CpuMeter(() => processCpuSeconds(samePromisesChild.proc.pid)), runs: [] }
    const brokerSide: Side = { name: 'broker', url: sessionUrl, headers, cpu: new CpuMeter(() => broker.cpuSeconds()), runs: [] }
    const load = (side: Side, seconds = HOT_PATH.durationSeconds) =>
      runLoad({ url: side.url, method: 'POST', headers: side.headers, connections: HOT_PATH.connections, durationSeconds: seconds })
    const measured = async (side: Side) => { side.runs.push(await side.cpu.during(() => load(side))) }

    ctx.log(`hot path: warming up (${HOT_PATH.warmupSeconds} s each), answer ${bodyBytes} bytes`)
    for (const side of [baseline, samePromises, brokerSide]) await load(side, HOT_PATH.warmupSeconds)

    ctx.log(`hot path: 6 runs of ${HOT_PATH.durationSeconds} s, ${HOT_PATH.connections} connections (baseline, same-promises, broker, broker, same-promises, baseline)`)
    await sleep(500) // the warm-up's lines are written (the broker batches its log writes)
    const linesBefore = { broker: await countAccessLines(broker.child.logFile), samePromises: await countAccessLines(samePromisesChild.logFile) }
    for (const side of [baseline, samePromises, brokerSide, brokerSide, samePromises, baseline]) await measured(side)
    const logins = await ctx.sim.stats(ORG)
    const rss = await broker.rssBytes()
    // the access lines of the measured runs reach the log (lines are flushed at least every 250 ms)
    await sleep(500)
    const accessLines = {
      broker: (await countAccessLines(broker.child.logFile)) - linesBefore.broker,
      samePromises: (await countAccessLines(samePromisesChild.logFile)) - linesBefore.samePromises,
    }
    return outcome({ broker: bodyBytes, samePromises: samePromisesBytes, baseline: baselineBytes }, { broker: brokerSide, samePromises, baseline }, logins.attempts, rss.bytes, accessLines, headerNames)
  } finally {
    for (const child of children) await child.stop()
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

const ratio = (a: number | null, b: number | null): number | null => (a === null || b === null ? null : round(a / b, 3))
const times = (r: number | null): string => (r === null ? 'not measured' : `${r.toFixed(2)}×`)
const answeredBy = (runs: LoadResult[]): number => runs.reduce((n, r) => n + r.responses, 0)
/** requests cut off when a run ends are answered and logged but not counted by autocannon */
const onePerAnswer = (lines: number, runs: LoadResult[]): boolean => lines >= answeredBy(runs) && lines <= answeredBy(runs) + runs.length * HOT_PATH.connections

function outcome (
  answerBytes: Record<'broker' | 'samePromises' | 'baseline', number>,
  sides: Record<'broker' | 'samePromises' | 'baseline', Side>,
  logins: number, rssBytes: number,
  accessLines: { broker: number, samePromises: number },
  headerNames: { broker: string[], samePromises: string[] }
): ScenarioOutcome {
  const broker = combine(sides.broker.runs)
  const samePromises = combine(sides.samePromises.runs)
  const baseline = combine(sides.baseline.runs)
  const cpu = {
    broker: sides.broker.cpu.msPer1k(sides.broker.runs),
    samePromises: sides.samePromises.cpu.msPer1k(sides.samePromises.runs),
    baseline: sides.baseline.cpu.msPer1k(sides.baseline.runs),
  }
  const throughputRatio = round(broker.requestsPerSecond / baseline.requestsPerSecond, 3)
  const cpuRatio = ratio(cpu.broker, cpu.baseline)
  const samePromisesCpuRatio = ratio(cpu.broker, cpu.samePromises)
  const promisesCpuRatio = ratio(cpu.samePromises, cpu.baseline)
  const p99Ratio = round(broker.p99Ms / baseline.p99Ms, 3)
  const clean = broker.non2xx === 0 && broker.errors === 0
  const headersDiffer = headerNames.broker.join() !== headerNames.samePromises.join()
  const s = 'hot path'
  const rows: Row[] = [
    { scenario: s, metric: 'req/s broker / same-promises / bare Fastify', value: `${fmtInt(broker.requestsPerSecond)} / ${fmtInt(samePromises.requestsPerSecond)} / ${fmtInt(baseline.requestsPerSecond)}` },
    { scenario: s, metric: 'throughput broker/baseline', value: `${throughputRatio.toFixed(2)}×`, target: `≥ ${HOT_PATH.throughputRatioTarget.toFixed(2)}×`, pass: throughputRatio >= HOT_PATH.throughputRatioTarget },
    { scenario: s, metric: 'broker p50 / p99', value: `${broker.p50Ms.toFixed(2)} / ${broker.p99Ms.toFixed(2)} ms` },
    { scenario: s, metric: 'same-promises p50 / p99', value: `${samePromises.p50Ms.toFixed(2)} / ${samePromises.p99Ms.toFixed(2)} ms` },
    { scenario: s, metric: 'baseline p50 / p99', value: `${baseline.p50Ms.toFixed(2)} / ${baseline.p99Ms.toFixed(2)} ms` },
    { scenario: s, metric: 'p99 broker/baseline', value: `${p99Ratio.toFixed(2)}×`, target: `≤ ${HOT_PATH.p99RatioTarget.toFixed(2)}×`, pass: p99Ratio <= HOT_PATH.p99RatioTarget },
    { scenario: s, metric: 'broker non-2xx / errors', value: `${broker.non2xx} / ${broker.errors}`, target: '0 / 0', pass: clean },
    { scenario: s, metric: 'CPU per 1,000 requests broker / same-promises / baseline', value: cpu.broker === null || cpu.samePromises === null || cpu.baseline === null ? 'not measured (no /proc)' : `${cpu.broker} / ${cpu.samePromises} / ${cpu.baseline} ms` },
    { scenario: s, metric: 'CPU per request broker/same-promises', value: times(samePromisesCpuRatio), target: `≤ ${HOT_PATH.samePromisesCpuRatioTarget.toFixed(2)}×`, pass: samePromisesCpuRatio === null ? null : samePromisesCpuRatio <= HOT_PATH.samePromisesCpuRatioTarget },
    { scenario: s, metric: 'CPU per request broker/baseline', value: times(cpuRatio), target: `≤ ${HOT_PATH.cpuRatioTarget.toFixed(2)}×`, pass: cpuRatio === null ? null : cpuRatio <= HOT_PATH.cpuRatioTarget },
    { scenario: s, metric: 'CPU per request same-promises/baseline (the promises)', value: times(promisesCpuRatio) },
    { scenario: s, metric: 'access lines written / answers, broker', value: `${fmtInt(accessLines.broker)} / ${fmtInt(answeredBy(sides.broker.runs))}`, target: 'one per answer', pass: onePerAnswer(accessLines.broker, sides.broker.runs) },
    { scenario: s, metric: 'access lines written / answers, same-promises', value: `${fmtInt(accessLines.samePromises)} / ${fmtInt(answeredBy(sides.samePromises.runs))}`, target: 'one per answer', pass: onePerAnswer(accessLines.samePromises, sides.samePromises.runs) },
    { scenario: s, metric: 'answer bytes / header names broker vs same-promises', value: `${answerBytes.broker} / ${answerBytes.samePromises}; ${headersDiffer ? 'headers differ' : 'same headers'}`, target: 'same', pass: answerBytes.broker === answerBytes.samePromises && !headersDiffer },
    { scenario: s, metric: 'Salesforce logins during the runs', value: String(logins), target: '1 (warm-up)', pass: logins === 1 },
  ]
  return {
    rows,
    data: {
      settings: HOT_PATH,
      answerBytes,
      headerNames,
      broker,
      samePromises,
      baseline,
      throughputRatio,
      p99Ratio,
      salesforceLogins: logins,
      brokerRssBytes: rssBytes,
      brokerCpuMsPer1kRequests: cpu.broker,
      samePromisesCpuMsPer1kRequests: cpu.samePromises,
      baselineCpuMsPer1kRequests: cpu.baseline,
      cpuRatio,
      samePromisesCpuRatio,
      promisesCpuRatio,
      accessLines,
      runs: { broker: sides.broker.runs, samePromises: sides.samePromises.runs, baseline: sides.baseline.runs },
    },
  }
}

export function fmtInt (n: number): string {
  return Math.round(n).toLocaleString('en-US')
}
