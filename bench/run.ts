/**
 * sf-broker benchmarks (npm run bench [-- --only hot,cold,bad,scale,proxy]).
 *
 *   hot    cached sessions from one Redis-backed broker vs bare Fastify and a same-promises Fastify (CPU, p99)
 *   cold   1,000 simultaneous requests for a never-used connection over 3 replicas: one login
 *   bad    the same with a wrong password: at most one failed login, every answer a 503 problem
 *   scale  10,000 connections re-validated by the scheduler: spread, rate cap, memory
 *   proxy  proxy mode vs calling the simulator directly (latency, throughput, CPU); a 100 MiB upload (RSS)
 *
 * Servers (brokers, baseline, simulator, Redis) run as child processes, stopped however the run
 * ends. Prints a table and writes every number to bench/results/<ISO time>.json. A missed target
 * is reported, not turned into a failing exit code; a scenario that cannot run is.
 */
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { installExitGuards, setLogDir, stopAll } from './lib/children.ts'
import type { BenchContext, Row, ScenarioOutcome } from './lib/context.ts'
import { benchCaller, benchOrg, randomKeyBase64 } from './lib/fixtures.ts'
import { startBenchRedis } from './lib/redis.ts'
import { formatTable } from './lib/report.ts'
import { startSimulatorProcess } from './lib/simulator.ts'
import { hotPath } from './scenarios/hot-path.ts'
import { proxy } from './scenarios/proxy.ts'
import { scale } from './scenarios/scale.ts'
import { storms } from './scenarios/storms.ts'

const SCENARIOS = ['hot', 'cold', 'bad', 'scale', 'proxy'] as const
type Scenario = typeof SCENARIOS[number]

/** Hard stop for the whole run: nothing here may hang a CI job. */
const RUN_TIMEOUT_MS = 8 * 60_000

const benchDir = dirname(fileURLToPath(import.meta.url))
const repoRoot = resolve(benchDir, '..')
const began = Date.now()

function log (line: string): void {
  process.stderr.write(`[bench +${((Date.now() - began) / 1000).toFixed(1)}s] ${line}\n`)
}

function parseOnly (argv: string[]): Set<Scenario> {
  const i = argv.findIndex(a => a === '--only' || a.startsWith('--only='))
  if (i === -1) return new Set(SCENARIOS)
  const value = argv[i].includes('=') ? argv[i].slice('--only='.length) : argv[i + 1]
  const chosen = (value ?? '').split(',').map(s => s.trim()).filter(Boolean)
  const unknown = chosen.filter(s => !(SCENARIOS as readonly string[]).includes(s))
  if (chosen.length === 0 || unknown.length > 0) {
    process.stderr.write(`bench: --only takes a comma-separated subset of ${SCENARIOS.join(',')}${unknown.length ? ` (unknown: ${unknown.join(', ')})` : ''}\n`)
    process.exit(64) // EX_USAGE
  }
  return new Set(chosen as Scenario[])
}

async function gitInfo (): Promise<{ commit: string, dirty: boolean } | null> {
  const git = promisify(execFile)
  try {
    const commit = (await git('git', ['rev-parse', 'HEAD'], { cwd: repoRoot })).stdout.trim()
    const dirty = (await git('git', ['status', '--porcelain'], { cwd: repoRoot })).stdout.trim() !== ''
    return { commit, dirty }
  } catch {
    return null
  }
}

function round2 (v: number): number {
  return Math.round(v * 100) / 100
}

function failedRow (scenario: string, err: unknown): Row {
  return { scenario, metric: 'error', value: (err as Error).message.slice(0, 200), pass: false }
}

async function main (): Promise<number> {
  const only = parseOnly(process.argv.slice(2))
  installExitGuards()
  const watchdog = setTimeout(() => {
    log(`run exceeded ${RUN_TIMEOUT_MS / 60_000} min: stopping`)
    stopAll().finally(() => process.exit(1))
  }, RUN_TIMEOUT_MS)
  watchdog.unref()

  const startedAt = new Date()
  const workDir = await mkdtemp(join(tmpdir(), 'sf-broker-bench-'))
  setLogDir(workDir)
  log(`scenarios: ${[...only].join(', ')}; child logs in ${workDir}`)
  const loadBefore = loadavg()
  if (loadBefore[0] > cpus().length * 0.5) {
    log(`warning: load average ${loadBefore[0].toFixed(1)} on ${cpus().length} CPUs: other work competes with the benchmark, numbers will be noisy`)
  }

  const rows: Row[] = []
  const results: Record<string, unknown> = {}
  let crashed = false
  const record = (name: string, outcome: ScenarioOutcome | undefined) => {
    if (!outcome) return
    rows.push(...outcome.rows)
    results[name] = outcome.data
  }
  const fail = (name: string, label: string, err: unknown) => {
    crashed = true
    log(`${label} failed: ${(err as Error).stack ?? String(err)}`)
    rows.push(failedRow(label, err))
    results[name] = { error: (err as Error).message }
  }

  try {
    log('starting Redis and the Salesforce simulator')
    const [redis, sim] = await Promise.all([startBenchRedis(), startSimulatorProcess({ repoRoot, workDir, orgs: [benchOrg()] })])
    const ctx: BenchContext = { repoRoot, workDir, redis, sim, caller: benchCaller(), sessionKey: randomKeyBase64(), log }

    if (only.has('hot')) {
      try { record('hot', await hotPath(ctx)) } catch (err) { fail('hot', 'hot path', err) }
      await redis.flush()
    }
    if (only.has('proxy')) {
      try { record('proxy', await proxy(ctx)) } catch (err) { fail('proxy', 'proxy', err) }
      await redis.flush()
    }
    if (only.has('cold') || only.has('bad')) {
      try {
        const out = await storms(ctx, { cold: only.has('cold'), bad: only.has('bad') })
        record('cold', out.cold)
        record('bad', out.bad)
      } catch (err) { fail('storms', 'storms', err) }
      await redis.flush()
    }
    if (only.has('scale')) {
      try { record('scale', await scale(ctx)) } catch (err) { fail('scale', 'scale', err) }
    }
  } catch (err) {
    fail('setup', 'setup', err)
  } finally {
    await stopAll()
    clearTimeout(watchdog)
  }

  const finishedAt = new Date()
  const table = formatTable(rows)
  const loadAfter = loadavg()[0]
  process.stdout.write(`\n${table}\n\nload average (1 min) before / after: ${loadBefore[0].toFixed(1)} / ${loadAfter.toFixed(1)} on ${cpus().length} CPUs\n\n`)

  const document = {
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationSeconds: Math.round((finishedAt.getTime() - startedAt.getTime()) / 100) / 10,
    scenarios: [...only],
    git: await gitInfo(),
    node: process.version,
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', totalMemoryBytes: totalmem(), platform: process.platform },
    // 1-minute load average: a busy machine makes every number here unreliable
    loadAverage: { before: round2(loadBefore[0]), after: round2(loadAfter) },
    results,
    table: rows,
  }
  const resultsDir = join(benchDir, 'results')
  await mkdir(resultsDir, { recursive: true })
  // colons in file names trouble some tools (and Windows checkouts)
  const file = join(resultsDir, `${startedAt.toISOString().replace(/:/g, '-')}.json`)
  await writeFile(file, JSON.stringify(document, null, 2) + '\n')
  log(`results written to ${file}`)
  if (crashed) {
    log(`child logs kept in ${workDir}`)
  } else {
    await rm(workDir, { recursive: true, force: true })
  }
  return crashed ? 1 : 0
}

main().then(
  (code) => { process.exit(code) },
  async (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`)
    await stopAll()
    process.exit(1)
  }
)
