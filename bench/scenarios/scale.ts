import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { startBroker } from '../lib/broker.ts'
import { sleep } from '../lib/children.ts'
import type { BenchContext, Row, ScenarioOutcome } from '../lib/context.ts'
import { clientCredentialsConnection, ORG, seedStore } from '../lib/fixtures.ts'
import { round } from '../lib/measure.ts'

export const SCALE = {
  connections: 1000,
  intervalSeconds: 20,
  fullIntervalSeconds: 20,
  maxPerSecond: 100,
  loginLatencyMs: 100,
  pollMs: 250,
  /** sampling puts a "1 s" window anywhere between 1.0 and 1.25 s; rates are normalised, this absorbs the rest */
  rateTolerance: 0.05,
  /** a round counts as spread when Salesforce saw calls in at least this share of its seconds */
  minActiveShare: 0.75,
  /** no validation call this long after start: the scheduler is not running */
  detectSeconds: 6,
}

interface Sample { t: number, logins: number, rest: number }

/**
 * A thousand connections re-validated by one broker's scheduler. The simulator's counters are
 * polled every 250 ms from start until one whole wall-clock-aligned round has passed; the
 * per-second deltas show whether validations are spread over the round and whether any second
 * exceeds VALIDATION_MAX_PER_SECOND. Every Salesforce call counts: a full validation is a login
 * plus one /limits read, a cheap one only the read.
 */
export async function scale (ctx: BenchContext): Promise<ScenarioOutcome> {
  ctx.log(`scale: seeding ${SCALE.connections} connections into the encrypted file store`)
  const seedStarted = performance.now()
  const definition = clientCredentialsConnection(ctx.sim.myDomainUrl(ORG))
  const names = Array.from({ length: SCALE.connections }, (_, i) => `scale-${String(i).padStart(4, '0')}`)
  const store = await seedStore(join(ctx.workDir, 'scale.enc'), names.map(n => [n, definition]))
  const seedSeconds = round((performance.now() - seedStarted) / 1000, 1)

  await ctx.sim.setLatency(SCALE.loginLatencyMs)
  await ctx.sim.resetStats()
  const intervalMs = SCALE.intervalSeconds * 1000
  const broker = await startBroker({
    name: 'broker-scale',
    repoRoot: ctx.repoRoot,
    store,
    caller: ctx.caller,
    redisUrl: ctx.redis.url,
    sessionEncryptionKey: ctx.sessionKey,
    env: {
      SCHEDULER_ENABLED: 'true',
      VALIDATION_INTERVAL_SECONDS: String(SCALE.intervalSeconds),
      FULL_VALIDATION_INTERVAL_SECONDS: String(SCALE.fullIntervalSeconds),
      VALIDATION_MAX_PER_SECOND: String(SCALE.maxPerSecond),
    },
  })
  try {
    const readyAt = Date.now()
    // rounds start on wall-clock multiples of the interval; watch the start-up round and the next whole one
    const roundStart = Math.ceil(readyAt / intervalMs) * intervalMs
    const roundEnd = roundStart + intervalMs
    ctx.log(`scale: observing ${round((roundEnd + 1000 - readyAt) / 1000, 0)} s (start-up, then one whole ${SCALE.intervalSeconds} s round)`)
    const samples: Sample[] = []
    const restAtStart = await ctx.sim.apiRequestsUsed(ORG)
    const cpuAtStart = await broker.cpuSeconds()
    const observeUntil = Math.min(roundEnd + 1000, readyAt + 2 * intervalMs + 2000)
    while (Date.now() < observeUntil) {
      const sentAt = Date.now()
      const [stats, rest] = await Promise.all([ctx.sim.stats(ORG), ctx.sim.apiRequestsUsed(ORG)])
      samples.push({ t: (sentAt + Date.now()) / 2, logins: stats.attempts, rest: rest - restAtStart })
      if (Date.now() - readyAt > SCALE.detectSeconds * 1000 && samples[samples.length - 1].logins + samples[samples.length - 1].rest === 0) {
        return unavailable(`no validation call reached Salesforce within ${SCALE.detectSeconds} s of start (scheduler not wired in?)`, seedSeconds, await broker.rssBytes())
      }
      await sleep(Math.max(0, SCALE.pollMs - (Date.now() - sentAt)))
    }
    const metricsText = await (await fetch(`${broker.url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text()
    const rss = await broker.rssBytes()
    const cpuAtEnd = await broker.cpuSeconds()
    const cpu = cpuAtStart === null || cpuAtEnd === null ? null : { seconds: round(cpuAtEnd - cpuAtStart, 2), overSeconds: round((samples[samples.length - 1].t - readyAt) / 1000, 1) }
    return outcome(samples, readyAt, roundStart, roundEnd, seedSeconds, metricsText, rss, cpu)
  } finally {
    await broker.child.stop()
    await ctx.sim.setLatency(0).catch(() => {})
  }
}

function unavailable (reason: string, seedSeconds: number, rss: { bytes: number }): ScenarioOutcome {
  return {
    rows: [
      { scenario: 'scale', metric: 'scheduler', value: 'scheduler not available', target: reason, pass: null },
      { scenario: 'scale', metric: `broker RSS (${SCALE.connections} connections, idle)`, value: mib(rss.bytes) },
    ],
    data: { settings: SCALE, available: false, reason, seedSeconds, brokerRssBytes: rss.bytes },
  }
}

/** Calls per whole second of [from, to), from the deltas between samples (each delta falls in its later sample's second). */
function perSecond (samples: Sample[], from: number, to: number, pick: (s: Sample) => number): number[] {
  const buckets = new Array<number>(Math.ceil((to - from) / 1000)).fill(0)
  for (let i = 1; i < samples.length; i++) {
    const k = Math.floor((samples[i].t - from) / 1000)
    if (k >= 0 && k < buckets.length) buckets[k] += pick(samples[i]) - pick(samples[i - 1])
  }
  return buckets
}

/** The highest rate over any window of at least 1 s between two samples, normalised to per second. */
function busiestSecond (samples: Sample[], pick: (s: Sample) => number): { perSecond: number, count: number, windowMs: number, atMs: number } {
  let best = { perSecond: 0, count: 0, windowMs: 0, atMs: 0 }
  for (let i = 0, j = 0; i < samples.length; i++) {
    while (j < samples.length && samples[j].t - samples[i].t < 1000) j++
    if (j >= samples.length) break
    const count = pick(samples[j]) - pick(samples[i])
    const windowMs = samples[j].t - samples[i].t
    const rate = count * 1000 / windowMs
    if (rate > best.perSecond) best = { perSecond: round(rate, 1), count, windowMs: round(windowMs, 0), atMs: round(samples[i].t, 0) }
  }
  return best
}

function countAt (samples: Sample[], t: number, pick: (s: Sample) => number): number {
  let value = 0
  for (const s of samples) if (s.t <= t) value = pick(s)
  return value
}

function outcome (samples: Sample[], readyAt: number, roundStart: number, roundEnd: number, seedSeconds: number, metricsText: string, rss: { bytes: number, source: string }, cpu: { seconds: number, overSeconds: number } | null): ScenarioOutcome {
  const calls = (s: Sample) => s.logins + s.rest
  const logins = (s: Sample) => s.logins
  const startup = {
    seconds: round((roundStart - readyAt) / 1000, 1),
    logins: countAt(samples, roundStart, logins),
    calls: countAt(samples, roundStart, calls),
    callsPerSecond: perSecond(samples, readyAt, roundStart, calls),
  }
  const steady = {
    logins: countAt(samples, roundEnd, logins) - countAt(samples, roundStart, logins),
    calls: countAt(samples, roundEnd, calls) - countAt(samples, roundStart, calls),
    callsPerSecond: perSecond(samples, roundStart, roundEnd, calls),
    loginsPerSecond: perSecond(samples, roundStart, roundEnd, logins),
  }
  const activeSeconds = steady.callsPerSecond.filter(n => n > 0).length
  const activeShare = round(activeSeconds / SCALE.intervalSeconds, 2)
  const busiestCalls = busiestSecond(samples, calls)
  const busiestLogins = busiestSecond(samples, logins)
  const limit = SCALE.maxPerSecond * (1 + SCALE.rateTolerance)
  const validated = [...metricsText.matchAll(/^sfb_connection_validation_status\{connection="scale-\d+"\} ([0-9.]+)$/gm)].map(m => Number(m[1]))
  const healthy = validated.filter(v => v === 1).length
  const s = 'scale'
  const rows: Row[] = [
    { scenario: s, metric: 'settings', value: `${SCALE.connections} conns, interval ${SCALE.intervalSeconds} s, full ${SCALE.fullIntervalSeconds} s, max ${SCALE.maxPerSecond}/s, login ${SCALE.loginLatencyMs} ms` },
    { scenario: s, metric: 'connections with a result (ok)', value: `${validated.length} (${healthy})`, target: `${SCALE.connections}`, pass: validated.length === SCALE.connections },
    { scenario: s, metric: `start-up (${startup.seconds} s): logins / calls`, value: `${startup.logins} / ${startup.calls}` },
    { scenario: s, metric: 'whole round: logins / calls', value: `${steady.logins} / ${steady.calls}` },
    { scenario: s, metric: 'whole round: calls per second', value: steady.callsPerSecond.join(' ') },
    { scenario: s, metric: 'whole round: seconds with calls', value: `${activeSeconds} of ${SCALE.intervalSeconds}`, target: `≥ ${Math.ceil(SCALE.minActiveShare * SCALE.intervalSeconds)}`, pass: activeShare >= SCALE.minActiveShare },
    { scenario: s, metric: 'busiest second, calls (whole run)', value: `${busiestCalls.perSecond}/s`, target: `≤ ${SCALE.maxPerSecond}/s (+${SCALE.rateTolerance * 100}%)`, pass: busiestCalls.perSecond <= limit },
    { scenario: s, metric: 'busiest second, logins (whole run)', value: `${busiestLogins.perSecond}/s`, target: `≤ ${SCALE.maxPerSecond}/s (+${SCALE.rateTolerance * 100}%)`, pass: busiestLogins.perSecond <= limit },
    { scenario: s, metric: `broker RSS (${rss.source})`, value: mib(rss.bytes) },
    { scenario: s, metric: 'broker CPU while observed', value: cpu ? `${cpu.seconds} s in ${cpu.overSeconds} s` : 'not reported' },
    { scenario: s, metric: 'seeding the file store', value: `${seedSeconds} s` },
  ]
  return {
    rows,
    data: {
      settings: SCALE,
      available: true,
      seedSeconds,
      readyAt: new Date(readyAt).toISOString(),
      roundStart: new Date(roundStart).toISOString(),
      startup,
      steady: { ...steady, activeSeconds, activeShare },
      busiestSecond: { calls: busiestCalls, logins: busiestLogins },
      connectionsWithResult: validated.length,
      connectionsOk: healthy,
      brokerRssBytes: rss.bytes,
      rssSource: rss.source,
      brokerCpu: cpu,
      samples: samples.map(x => ({ ms: round(x.t - readyAt, 0), logins: x.logins, rest: x.rest })),
    },
  }
}

export function mib (bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`
}
