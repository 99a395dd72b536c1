import { join } from 'node:path'
import { startBroker } from '../lib/broker.ts'
import { processCpuSeconds, sleep, spawnChild, type StartedChild } from '../lib/children.ts'
import type { BenchContext, Row, ScenarioOutcome } from '../lib/context.ts'
import { countAccessLines, CpuMeter, measuredBy } from '../lib/cpu.ts'
import { clientCredentialsConnection, ORG, seedStore } from '../lib/fixtures.ts'
import { round, runLoad, type LoadResult } from '../lib/measure.ts'
import { mib } from './scale.ts'
import { fmtInt } from './hot-path.ts'
import { proxiedUpload, UPLOAD, type UploadResult } from './proxy-upload.ts'

export const PROXY = {
  /** a REST read every org answers, about 600 bytes of JSON with Sforce-Limit-Info */
  resource: 'services/data/v62.0/limits',
  /** throughput and CPU: as many callers as the hot path */
  connections: 50,
  durationSeconds: 6,
  /** latency: one caller at a time, so the figure is the proxy's own time, not queueing */
  latencyConnections: 1,
  latencySeconds: 4,
  warmupSeconds: 2,
  addedP50TargetMs: 0.3,
  throughputRatioTarget: 0.8,
}

const CONNECTION = 'proxied'

/** brokerCpu: the forwarder's CPU (the broker's, or the bare forwarder's for the yardstick; the idle broker's for direct calls) */
interface Side { url: string, headers: Record<string, string>, latencyRuns: LoadResult[], runs: LoadResult[], brokerCpu: CpuMeter, simulatorCpu: CpuMeter }

/**
 * Proxy mode against calling Salesforce directly, both ends real processes: one broker (Redis, real
 * API key, access line on) forwarding GET /services/data/v62.0/limits with its cached session to the
 * simulator, and the same GET sent straight to the simulator with that session, and through the
 * bare forwarder (bench/bare-proxy-server.ts: node:http and undici with no broker logic, the floor
 * for any Node proxy on this machine). A-B-C-C-B-A, first one caller at a time (latency), then 50
 * (throughput; CPU of the forwarder and the simulator per 1,000 answers). Before that, on the fresh broker, a 100 MiB Bulk API 2.0 upload streams through it (twice)
 * while its RSS is sampled.
 */
export async function proxy (ctx: BenchContext): Promise<ScenarioOutcome> {
  const store = await seedStore(join(ctx.workDir, 'proxy.enc'), [[CONNECTION, clientCredentialsConnection(ctx.sim.myDomainUrl(ORG))]])
  await ctx.sim.setLatency(0)
  let bareChild: StartedChild | undefined
  const broker = await startBroker({ name: 'broker-proxy', repoRoot: ctx.repoRoot, store, caller: ctx.caller, redisUrl: ctx.redis.url, sessionEncryptionKey: ctx.sessionKey, env: { LOG_LEVEL: process.env.HOT_LOG_LEVEL ?? 'info' } })
  try {
    const callerHeaders = { authorization: `Bearer ${ctx.caller.key}` }
    // the session the broker holds, so the direct calls use the very same one
    const sessionRes = await fetch(`${broker.url}/v1/connections/${CONNECTION}/session`, { method: 'POST', headers: callerHeaders, signal: AbortSignal.timeout(10_000) })
    const sessionText = await sessionRes.text()
    if (sessionRes.status !== 200) throw new Error(`proxy: the session request answered ${sessionRes.status}: ${sessionText.slice(0, 300)}`)
    const session = JSON.parse(sessionText) as { accessToken: string, instanceUrl: string }
    await ctx.sim.resetStats()

    const proxyBase = `${broker.url}/v1/connections/${CONNECTION}/salesforce`
    ctx.log(`proxy: ${round(UPLOAD.bytes / 1024 / 1024, 0)} MiB Bulk API 2.0 upload through the fresh broker`)
    const uploadTo = { proxyBase, headers: callerHeaders, brokerPid: broker.child.proc.pid, simulatorPid: ctx.sim.child.proc.pid }
    const memoryBefore = await memoryOf(broker.url)
    const upload = await proxiedUpload(uploadTo)
    const memoryAfter = await memoryOf(broker.url)
    // The same upload again on the same broker: memory the first one holds on to would grow RSS again,
    // whereas buffers that merely wait for the garbage collector are reused.
    const again = await proxiedUpload(uploadTo)

    const meter = (pid: number | undefined) => new CpuMeter(() => processCpuSeconds(pid))
    const side = (url: string, headers: Record<string, string>): Side => ({ url, headers, latencyRuns: [], runs: [], brokerCpu: meter(broker.child.proc.pid), simulatorCpu: meter(ctx.sim.child.proc.pid) })
    const direct = side(`${session.instanceUrl}/${PROXY.resource}`, { authorization: `Bearer ${session.accessToken}` })
    const proxied = side(`${proxyBase}/${PROXY.resource}`, callerHeaders)
    const { child: bareForwarder, firstLine } = await spawnChild({
      name: 'bare-proxy',
      command: process.execPath,
      args: ['bench/bare-proxy-server.ts'],
      cwd: ctx.repoRoot,
      env: { PATH: process.env.PATH, NODE_ENV: 'production', UPSTREAM: session.instanceUrl, TOKEN: session.accessToken, PREFIX: `/v1/connections/${CONNECTION}/salesforce` },
      captureFirstLine: true,
    })
    bareChild = bareForwarder
    const bareUrl = (JSON.parse(firstLine as string) as { url: string }).url
    const bare: Side = { ...side(`${bareUrl}/v1/connections/${CONNECTION}/salesforce/${PROXY.resource}`, {}), brokerCpu: meter(bareForwarder.proc.pid) }
    const answerBytes = { direct: await answerLength(direct), proxied: await answerLength(proxied), bare: await answerLength(bare) }

    const load = (s: Side, connections: number, seconds: number) => runLoad({ url: s.url, method: 'GET', headers: s.headers, connections, durationSeconds: seconds })
    ctx.log(`proxy: warming up (${PROXY.warmupSeconds} s each), GET /${PROXY.resource}, answer ${answerBytes.proxied} bytes`)
    for (const s of [direct, bare, proxied]) await load(s, PROXY.connections, PROXY.warmupSeconds)
    await sleep(500) // the warm-up's access lines are written
    const linesBefore = await countAccessLines(broker.child.logFile)

    ctx.log(`proxy: 6 runs of ${PROXY.latencySeconds} s, ${PROXY.latencyConnections} connection, then 6 of ${PROXY.durationSeconds} s, ${PROXY.connections} connections (direct, bare forwarder, proxied, proxied, bare forwarder, direct)`)
    const order = [direct, bare, proxied, proxied, bare, direct]
    for (const s of order) s.latencyRuns.push(await load(s, PROXY.latencyConnections, PROXY.latencySeconds))
    for (const s of order) s.runs.push(await measuredBy([s.brokerCpu, s.simulatorCpu], () => load(s, PROXY.connections, PROXY.durationSeconds)))
    const logins = await ctx.sim.stats(ORG)
    await sleep(500)
    const accessLines = (await countAccessLines(broker.child.logFile)) - linesBefore
    return outcome(direct, proxied, bare, answerBytes, upload, again, { before: memoryBefore, after: memoryAfter }, logins.attempts, accessLines)
  } finally {
    await Promise.all([broker.child.stop(), bareChild?.stop()])
  }
}

type Memory = Record<'newSpace' | 'oldSpace' | 'largeObjectSpace' | 'external', number>

/**
 * Where the broker's memory is, from its /metrics (prom-client's defaults): RSS growth in the young
 * generation (V8 enlarges it under a high allocation rate) or in external memory (buffers, held or
 * waiting for the collector) reads differently from growth in the old space.
 */
async function memoryOf (brokerUrl: string): Promise<Memory> {
  const text = await (await fetch(`${brokerUrl}/metrics`, { signal: AbortSignal.timeout(5_000) })).text()
  const value = (pattern: string) => Number(new RegExp(`^${pattern}\\s+([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? Number.NaN)
  return {
    newSpace: value('sfb_nodejs_heap_space_size_total_bytes\\{space="new"\\}'),
    oldSpace: value('sfb_nodejs_heap_space_size_total_bytes\\{space="old"\\}'),
    external: value('sfb_nodejs_external_memory_bytes'),
    largeObjectSpace: value('sfb_nodejs_heap_space_size_total_bytes\\{space="large_object"\\}'),
  }
}

async function answerLength (s: Side): Promise<number> {
  const res = await fetch(s.url, { headers: s.headers, signal: AbortSignal.timeout(10_000) })
  const text = await res.text()
  if (res.status !== 200) throw new Error(`proxy: GET ${s.url} answered ${res.status}: ${text.slice(0, 300)}`)
  return Buffer.byteLength(text)
}

function combine (runs: LoadResult[]) {
  const mean = (f: (r: LoadResult) => number) => round(runs.reduce((s, r) => s + f(r), 0) / runs.length, 3)
  return {
    requestsPerSecond: mean(r => r.requestsPerSecond),
    p50Ms: mean(r => r.latency.p50Ms),
    p99Ms: mean(r => r.latency.p99Ms),
    answered: runs.reduce((n, r) => n + r.responses, 0),
    non2xx: runs.reduce((s, r) => s + r.non2xx, 0),
    errors: runs.reduce((s, r) => s + r.errors + r.timeouts, 0),
  }
}

function cpuOf (s: Side) {
  const broker = s.brokerCpu.msPer1k(s.runs)
  const simulator = s.simulatorCpu.msPer1k(s.runs)
  return { broker, simulator, total: broker === null || simulator === null ? null : round(broker + simulator, 1) }
}

function outcome (direct: Side, proxied: Side, bare: Side, answerBytes: { direct: number, proxied: number, bare: number }, upload: UploadResult, again: UploadResult, memory: { before: Memory, after: Memory }, logins: number, accessLines: number): ScenarioOutcome {
  const latency = { direct: combine(direct.latencyRuns), proxied: combine(proxied.latencyRuns), bare: combine(bare.latencyRuns) }
  const load = { direct: combine(direct.runs), proxied: combine(proxied.runs), bare: combine(bare.runs) }
  const cpu = { direct: cpuOf(direct), proxied: cpuOf(proxied), bare: cpuOf(bare) }
  const addedP50Ms = round(latency.proxied.p50Ms - latency.direct.p50Ms, 3)
  const bareAddedP50Ms = round(latency.bare.p50Ms - latency.direct.p50Ms, 3)
  const throughputRatio = round(load.proxied.requestsPerSecond / load.direct.requestsPerSecond, 3)
  const bareThroughputRatio = round(load.bare.requestsPerSecond / load.direct.requestsPerSecond, 3)
  const brokerPerBare = cpu.proxied.broker === null || cpu.bare.broker === null ? null : round(cpu.proxied.broker / cpu.bare.broker, 2)
  const all = [latency.proxied, load.proxied, latency.direct, load.direct, latency.bare, load.bare]
  const clean = all.every(r => r.non2xx === 0 && r.errors === 0)
  const answered = proxied.runs.reduce((n, r) => n + r.responses, 0) + proxied.latencyRuns.reduce((n, r) => n + r.responses, 0)
  const runCount = proxied.runs.length + proxied.latencyRuns.length
  const growth = upload.broker.peakBytes - upload.broker.beforeBytes
  const growthAgain = again.broker.peakBytes - again.broker.beforeBytes
  const ms = (v: number | null) => (v === null ? 'n/a' : `${v}`)
  const s = 'proxy GET'
  const u = 'proxy upload'
  const rows: Row[] = [
    { scenario: s, metric: `p50 / p99, ${PROXY.latencyConnections} caller: direct vs proxied`, value: `${latency.direct.p50Ms.toFixed(3)} / ${latency.direct.p99Ms.toFixed(2)} vs ${latency.proxied.p50Ms.toFixed(3)} / ${latency.proxied.p99Ms.toFixed(2)} ms` },
    { scenario: s, metric: 'added p50 (proxied − direct)', value: `${addedP50Ms.toFixed(3)} ms`, target: `≤ ${PROXY.addedP50TargetMs} ms`, pass: addedP50Ms <= PROXY.addedP50TargetMs },
    { scenario: s, metric: `req/s, ${PROXY.connections} connections: direct / proxied`, value: `${fmtInt(load.direct.requestsPerSecond)} / ${fmtInt(load.proxied.requestsPerSecond)}` },
    { scenario: s, metric: 'throughput proxied/direct', value: `${throughputRatio.toFixed(2)}×`, target: `≥ ${PROXY.throughputRatioTarget.toFixed(2)}×`, pass: throughputRatio >= PROXY.throughputRatioTarget },
    { scenario: s, metric: `p50 / p99, ${PROXY.connections} connections: direct vs proxied`, value: `${load.direct.p50Ms.toFixed(2)} / ${load.direct.p99Ms.toFixed(2)} vs ${load.proxied.p50Ms.toFixed(2)} / ${load.proxied.p99Ms.toFixed(2)} ms` },
    { scenario: s, metric: 'CPU per 1,000 requests, proxied: broker + simulator', value: `${ms(cpu.proxied.broker)} + ${ms(cpu.proxied.simulator)} = ${ms(cpu.proxied.total)} ms` },
    { scenario: s, metric: 'CPU per 1,000 requests, direct: simulator', value: `${ms(cpu.direct.simulator)} ms (broker idle: ${ms(cpu.direct.broker)} ms)` },
    { scenario: s, metric: 'yardstick, bare forwarder (node:http + undici): added p50, 1 caller', value: `${bareAddedP50Ms.toFixed(3)} ms` },
    { scenario: s, metric: 'yardstick: req/s, 50 connections; throughput bare/direct', value: `${fmtInt(load.bare.requestsPerSecond)}; ${bareThroughputRatio.toFixed(2)}×` },
    { scenario: s, metric: 'yardstick: CPU per 1,000 requests, bare forwarder + simulator', value: `${ms(cpu.bare.broker)} + ${ms(cpu.bare.simulator)} = ${ms(cpu.bare.total)} ms` },
    { scenario: s, metric: 'CPU per request broker/bare forwarder', value: brokerPerBare === null ? 'n/a' : `${brokerPerBare.toFixed(2)}×` },
    { scenario: s, metric: 'non-2xx / errors (all runs)', value: `${all.reduce((n, r) => n + r.non2xx, 0)} / ${all.reduce((n, r) => n + r.errors, 0)}`, target: '0 / 0', pass: clean },
    { scenario: s, metric: 'answer bytes direct / proxied / bare forwarder', value: `${answerBytes.direct} / ${answerBytes.proxied} / ${answerBytes.bare}`, target: 'same', pass: answerBytes.direct === answerBytes.proxied && answerBytes.direct === answerBytes.bare },
    { scenario: s, metric: 'access lines written / proxied answers', value: `${fmtInt(accessLines)} / ${fmtInt(answered)}`, target: 'one per answer', pass: accessLines >= answered && accessLines <= answered + runCount * PROXY.connections },
    { scenario: s, metric: 'Salesforce logins during the runs', value: String(logins), target: '0 (session cached)', pass: logins === 0 },
    { scenario: u, metric: 'Bulk API 2.0 upload through the proxy', value: `${(upload.bytes / 1024 / 1024).toFixed(1)} MiB (${fmtInt(upload.rows)} rows) in ${upload.seconds} s, ${upload.megabytesPerSecond} MB/s, ${upload.status}` },
    { scenario: u, metric: 'records Salesforce counted / sent', value: `${upload.recordsProcessed === null ? 'n/a' : fmtInt(upload.recordsProcessed)} / ${fmtInt(upload.rows)} (${upload.jobState ?? 'not closed'})`, target: 'all', pass: upload.recordsProcessed === upload.rows },
    { scenario: u, metric: `broker RSS before / peak (every ${UPLOAD.rssSampleMs} ms) / after`, value: `${mib(upload.broker.beforeBytes)} / ${mib(upload.broker.peakBytes)} / ${mib(upload.broker.afterBytes)}` },
    { scenario: u, metric: 'broker RSS growth (peak − before)', value: `${mib(growth)} (${(growth / 1e6).toFixed(1)} MB)`, target: `< ${UPLOAD.rssGrowthTargetBytes / 1e6} MB`, pass: growth < UPLOAD.rssGrowthTargetBytes },
    { scenario: u, metric: 'broker V8 new / old / large-object space / external, before → after', value: (['newSpace', 'oldSpace', 'largeObjectSpace', 'external'] as const).map(k => `${mib(memory.before[k])} → ${mib(memory.after[k])}`).join(' / ') },
    { scenario: u, metric: 'simulator RSS growth (peak − before)', value: mib(upload.simulator.peakBytes - upload.simulator.beforeBytes) },
    { scenario: u, metric: 'the same upload again: time, broker RSS growth', value: `${again.seconds} s, ${mib(growthAgain)} (${mib(again.broker.beforeBytes)} → peak ${mib(again.broker.peakBytes)})`, target: 'all records', pass: again.recordsProcessed === again.rows },
  ]
  return {
    rows,
    data: {
      settings: { ...PROXY, upload: UPLOAD },
      answerBytes,
      latency,
      load,
      addedP50Ms,
      throughputRatio,
      bareForwarder: { addedP50Ms: bareAddedP50Ms, throughputRatio: bareThroughputRatio, brokerCpuPerBare: brokerPerBare },
      cpuMsPer1kRequests: cpu,
      accessLines,
      salesforceLogins: logins,
      upload: { ...upload, brokerRssGrowthBytes: growth },
      uploadAgain: { ...again, brokerRssGrowthBytes: growthAgain },
      brokerMemoryAroundFirstUpload: memory,
      runs: { direct: { latency: direct.latencyRuns, load: direct.runs }, proxied: { latency: proxied.latencyRuns, load: proxied.runs }, bare: { latency: bare.latencyRuns, load: bare.runs } },
    },
  }
}
