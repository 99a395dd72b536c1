import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { CLAIMS_VARIABLE } from '../test/shards/plan.ts'

/**
 * The suite's flakiness under load, measured as the README reports it (Development, "Flakiness under
 * load"): RUNS runs of the whole suite, tap without coverage and the shards claiming their files as
 * under `npm test`, each with `stress --cpu <cores>` beside it for its whole length. One line per
 * run, then the tally; the output of a failed run is kept and named.
 *   npm run stress-series -- [RUNS (default 20)] [more tap arguments…]
 * Needs `stress` on the PATH (Debian: apt-get install stress): the load is the real tool's, not an
 * imitation. Ctrl-C stops the series (twice: at once); the run it interrupts is not counted.
 */
const ROOT = join(import.meta.dirname, '..')
const args = process.argv.slice(2)
const runs = /^\d+$/.test(args[0] ?? '') ? Number(args.shift()) : 20
if (runs < 1) {
  process.stderr.write('stress-series: RUNS must be at least 1\n')
  process.exit(64)
}
if (spawnSync('stress', ['--version'], { stdio: 'ignore' }).error !== undefined) {
  process.stderr.write('stress-series: `stress` is not on the PATH (Debian: apt-get install stress)\n')
  process.exit(69) // EX_UNAVAILABLE
}

const logs = mkdtempSync(join(tmpdir(), 'sfb-stress-series-'))
const cores = availableParallelism()
const stop = new AbortController()
/** the process groups of the run in progress: a signal stops both at once (stress is detached: no terminal reaches it) */
const current: { tap?: number, stress?: number } = {}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    // tap lets a shard finish what it is doing on SIGTERM (a minute, under stress); asked again, it goes at once
    const again = stop.signal.aborted
    stop.abort()
    stopGroup(current.tap, again ? 'SIGKILL' : 'SIGTERM')
    stopGroup(current.stress, 'SIGTERM')
  })
}
/** a backstop should this script die without its handlers (SIGKILL): stress ends by itself */
const STRESS_TIMEOUT_SECONDS = 3600

/** stress forks a worker per core, tap a process per shard: the whole process group goes. */
function stopGroup (pid: number | undefined, signal: NodeJS.Signals = 'SIGTERM'): void {
  if (pid === undefined) return
  try { process.kill(-pid, signal) } catch {}
}

let passed = 0
let counted = 0
const failedLogs: string[] = []
for (let run = 1; run <= runs && !stop.signal.aborted; run++) {
  const claims = mkdtempSync(join(tmpdir(), 'sfb-test-claims-'))
  const log = join(logs, `run-${run}.log`)
  const out = createWriteStream(log)
  const stress = spawn('stress', ['--cpu', String(cores), '--timeout', String(STRESS_TIMEOUT_SECONDS)], { stdio: 'ignore', detached: true })
  const started = performance.now()
  const tap = spawn(join(ROOT, 'node_modules', '.bin', 'tap'), ['--disable-coverage', ...args], {
    cwd: ROOT,
    env: { ...process.env, TAP_TYPE_STRIP_ONLY: '1', [CLAIMS_VARIABLE]: claims },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  current.tap = tap.pid
  current.stress = stress.pid
  let text = ''
  for (const stream of [tap.stdout, tap.stderr]) {
    stream.on('data', (chunk: Buffer) => { out.write(chunk); text += chunk.toString('utf8') })
  }
  let code: number | null
  try {
    // once() rejects on 'error' (no tap: npm ci first): stress must not outlive the script
    [code] = await once(tap, 'close') as [number | null]
  } finally {
    current.tap = undefined
    current.stress = undefined
    stopGroup(stress.pid)
    out.end()
    rmSync(claims, { recursive: true, force: true })
  }
  const seconds = Math.round((performance.now() - started) / 1000)
  const load = loadavg()[0].toFixed(1)
  if (stop.signal.aborted) break
  counted++
  const totals = /^# \{ total: (\d+), pass: (\d+)/m.exec(text)
  const summary = totals ? `${totals[2]} of ${totals[1]} assertions` : 'no totals'
  if (code === 0) {
    passed++
    rmSync(log, { force: true })
    process.stdout.write(`run ${run}/${runs}: passed, ${seconds} s, load ${load}, ${summary}\n`)
  } else {
    failedLogs.push(log)
    // the failing assertions and files as tap names them (indented by nesting)
    const failures = text.split('\n').filter(line => /^\s*not ok /.test(line)).map(line => line.trim()).slice(0, 6)
    process.stdout.write(`run ${run}/${runs}: FAILED (exit ${code}), ${seconds} s, load ${load}, ${summary}\n${failures.map(f => `  ${f}\n`).join('')}  output: ${log}\n`)
  }
}
process.stdout.write(`${passed} of ${counted} runs passed beside stress --cpu ${cores}${failedLogs.length > 0 ? `; failed runs' output in ${logs}` : ''}\n`)
if (failedLogs.length === 0) rmSync(logs, { recursive: true, force: true })
// 130: stopped by a signal, as a shell reports Ctrl-C
process.exitCode = stop.signal.aborted ? 130 : passed === counted && counted > 0 ? 0 : 1
