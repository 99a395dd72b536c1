/**
 * The hot path counted in instructions instead of CPU seconds: the broker, the same-promises
 * reference and bare Fastify (the hot-path bench's three sides, bench/scenarios/hot-path.ts) each
 * run under valgrind's callgrind, which counts every instruction the process executes (all its
 * threads: JIT compiler, garbage collector, libuv) whatever else the machine is doing, and
 * estimates cycles from its cache simulation.
 *   node bench/instructions-hot.ts [requests] [warm-up requests]     (default 4000 measured after 12000)
 * What it does not see, and why its ratio is not the CPU target's:
 *   - kernel work (the socket's system calls): strace shows the same calls per answer for the
 *     broker and the reference;
 *   - a real core's speed on a bigger program (its caches, branch prediction): the estimated cycles
 *     are callgrind's model, not the machine;
 *   - under callgrind a process runs some 50 times slower, so work done once per millisecond (the
 *     log's time stamp, the session answer's expiresAt) is spread over a request or two instead of
 *     dozens: it weighs more here than at full speed;
 *   - V8 optimises on its own timing: in some runs one side (either) keeps process.nextTick on a
 *     slow path (SLOW_PATH below, about 50 thousand instructions per request), reported apart, and
 *     a side whose optimising compiler is still busy counts that thread's work too;
 *   - a major garbage collection comes every couple of hundred thousand requests and costs a window
 *     of 4,000 about 100 thousand instructions per request when it falls in it: each side's main
 *     thread is reported apart from V8's helper threads (concurrent marking, background compiling),
 *     and the main threads' ratio without the slow path is the steadiest figure.
 * Needs valgrind (Debian's package).
 */
import { execFile } from 'node:child_process'
import { mkdtemp, readdir, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import autocannon from 'autocannon'
import { startBroker } from './lib/broker.ts'
import { installExitGuards, nodeCommand, setLogDir, spawnChild, stopAll, type StartedChild } from './lib/children.ts'
import { benchCaller, benchOrg, clientCredentialsConnection, ORG, randomKeyBase64, seedStore } from './lib/fixtures.ts'
import { startBenchRedis } from './lib/redis.ts'
import { startSamePromises } from './lib/same-promises.ts'
import { startSimulatorProcess } from './lib/simulator.ts'

const run = promisify(execFile)
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const requests = Number(process.argv[2] ?? '4000')
/** V8 optimises by invocation counts: fewer warm-up requests leave its compiler running in the measured ones */
const warmUp = Number(process.argv[3] ?? '12000')
const CONNECTIONS = 10
/** under callgrind a process runs some 50 times slower: starting the broker takes a minute or more */
const READY_TIMEOUT_MS = 300_000

/**
 * V8's runtime function behind the slow path seen in some runs, of either server. Node's
 * process.nextTick (lib/internal/process/task_queues.js) builds each tick object as a literal with
 * three symbol keys and two more properties; when TurboFan compiles nextTick, or a stream function
 * that inlines it, without feedback for that literal, every property is defined through this runtime
 * call: about 8 ticks × 5 properties, 40 calls and 50 thousand instructions per request (found with
 * callgrind's --separate-callers and a --perf-basic-prof map). It is Node's JIT state, not the
 * server's code, so the report gives each side's count with and without it.
 */
const SLOW_PATH = 'v8::internal::Runtime_DefineKeyedOwnPropertyInLiteral('

interface Side { name: string, url: string, headers?: Record<string, string>, child: StartedChild }

installExitGuards()
const workDir = await mkdtemp(join(tmpdir(), 'sf-broker-instructions-'))
setLogDir(workDir)
// callgrind_control reaches a process through vgdb's shared files, named after the user and host
// in the environment: the children's is trimmed, so both sides are given the same names and place
const vgdbPrefix = `--vgdb-prefix=${join(workDir, 'vgdb')}`
// (HOST is also where the broker listens)
const vgdbNames = { LOGNAME: 'bench', USER: 'bench', HOST: '127.0.0.1', HOSTNAME: '127.0.0.1' }
// --separate-threads: one dump per thread, so the main thread (the requests' own work) is counted apart from
// V8's helper threads (concurrent marking, sweeping, background compiling), whose work falls in a window or not
const callgrind = (name: string) => ['valgrind', '--tool=callgrind', '--cache-sim=yes', '--instr-atstart=no', '--separate-threads=yes', vgdbPrefix, `--callgrind-out-file=${join(workDir, `callgrind.${name}`)}`]
const control = async (command: string, pid: string) => {
  const { stdout, stderr } = await run('callgrind_control', [vgdbPrefix, command, pid], { env: { ...process.env, ...vgdbNames } })
  if (/error|failed/i.test(stdout + stderr)) throw new Error(`instructions-hot: callgrind_control ${command} ${pid}: ${stdout}${stderr}`)
}

try {
  await run('valgrind', ['--version']).catch(() => { throw new Error('instructions-hot: valgrind is not installed (Debian: apt-get install valgrind)') })
  const [redis, sim] = await Promise.all([startBenchRedis(), startSimulatorProcess({ repoRoot, workDir, orgs: [benchOrg()] })])
  const caller = benchCaller()
  const headers = { authorization: `Bearer ${caller.key}` }
  const store = await seedStore(join(workDir, 'hot.enc'), [['hot', clientCredentialsConnection(sim.myDomainUrl(ORG))]])
  process.stdout.write('starting the broker under callgrind (a minute or two)\n')
  const broker = await startBroker({
    name: 'broker',
    repoRoot,
    store,
    caller,
    redisUrl: redis.url,
    sessionEncryptionKey: randomKeyBase64(),
    env: { LOG_LEVEL: 'info', ...vgdbNames },
    runUnder: callgrind('broker'),
    readyTimeoutMs: READY_TIMEOUT_MS,
  })
  const sessionUrl = `${broker.url}/v1/connections/hot/session`
  const first = await fetch(sessionUrl, { method: 'POST', headers, signal: AbortSignal.timeout(60_000) })
  const bodyBytes = Buffer.byteLength(await first.text())
  if (first.status !== 200) throw new Error(`instructions-hot: the broker answered ${first.status}`)

  const env = { PATH: process.env.PATH, NODE_ENV: 'production', BODY_BYTES: String(bodyBytes), ...vgdbNames }
  const samePromises = await startSamePromises({ name: 'same-promises', repoRoot, caller, bodyBytes, runUnder: callgrind('same-promises'), env: vgdbNames, readyTimeoutMs: READY_TIMEOUT_MS })
  const { child: baseline, firstLine } = await spawnChild({
    name: 'baseline',
    ...nodeCommand('bench/baseline-server.ts', { runUnder: callgrind('baseline') }),
    cwd: repoRoot,
    env,
    captureFirstLine: true,
    firstLineTimeoutMs: READY_TIMEOUT_MS,
  })
  const baselineUrl = `${(JSON.parse(firstLine as string) as { url: string }).url}/v1/connections/hot/session`

  const sides: Side[] = [
    { name: 'broker', url: sessionUrl, headers, child: broker.child },
    { name: 'same-promises', url: samePromises.sessionUrl, headers, child: samePromises.child },
    { name: 'baseline', url: baselineUrl, child: baseline },
  ]
  const perRequest = new Map<string, Counted>()
  for (const side of sides) {
    // warm-up: the JIT tiers up by invocation counts, so the measured requests run optimised code
    await load(side, warmUp)
    const pid = String(side.child.proc.pid)
    await control('--instr=on', pid)
    const answered = await load(side, requests)
    await control('--instr=off', pid)
    await control('--dump', pid)
    const counted = await dumped(side.name)
    const slowPath = { instructions: counted.slowPath.instructions / answered, calls: counted.slowPath.calls / answered }
    perRequest.set(side.name, { instructions: counted.instructions / answered, cycles: counted.cycles / answered, mainThread: counted.mainThread / answered, slowPath })
    const thousands = (v: number) => Math.round(v / answered / 1000).toLocaleString('en')
    process.stdout.write(`${side.name}: ${answered} answers, ${thousands(counted.instructions)}k instructions and ${thousands(counted.cycles)}k estimated cycles per request ` +
      `(main thread ${thousands(counted.mainThread)}k, V8's helper threads ${thousands(counted.instructions - counted.mainThread)}k); ` +
      `V8's literal slow path ${Math.round(slowPath.calls)} calls and ${Math.round(slowPath.instructions / 1000)}k instructions of them\n`)
  }
  const [b, s, bare] = ['broker', 'same-promises', 'baseline'].map(name => perRequest.get(name) as Counted)
  const ratios = (x: Counted, y: Counted) => `${(x.instructions / y.instructions).toFixed(3)}× in instructions, ${(x.cycles / y.cycles).toFixed(3)}× in estimated cycles`
  process.stdout.write(`broker / same-promises: ${ratios(b, s)}\n`)
  const withoutSlowPath = (x: Counted) => x.instructions - x.slowPath.instructions
  process.stdout.write(`broker / same-promises without V8's literal slow path (either side may fall into it): ${(withoutSlowPath(b) / withoutSlowPath(s)).toFixed(3)}× in instructions\n`)
  // the main thread without the slow path: the requests' own work, without what V8's helper threads happened to do in the window
  const steady = (x: Counted) => x.mainThread - x.slowPath.instructions
  process.stdout.write(`broker / same-promises, main thread without the slow path: ${(steady(b) / steady(s)).toFixed(3)}× (${Math.round(steady(b) / 1000)}k / ${Math.round(steady(s) / 1000)}k per request; bare Fastify ${Math.round(steady(bare) / 1000)}k)\n`)
  process.stdout.write(`broker / bare Fastify: ${ratios(b, bare)}\n`)
  process.stdout.write(`same-promises / bare Fastify: ${ratios(s, bare)}\n`)
} finally {
  await stopAll()
}

/** Sends `amount` requests (closed loop); returns how many were answered 200. */
async function load (side: Side, amount: number): Promise<number> {
  const result = await autocannon({ url: side.url, method: 'POST', headers: side.headers ?? {}, connections: CONNECTIONS, amount, timeout: 60 })
  const ok = result.statusCodeStats['200']?.count ?? 0
  if (ok !== amount) throw new Error(`instructions-hot: ${side.name} answered ${ok} of ${amount} requests with 2xx`)
  return ok
}

interface Counted {
  instructions: number
  cycles: number
  /** of the instructions, those of the process's first thread: JavaScript, the event loop, the GC's pauses */
  mainThread: number
  /** instructions spent in V8's runtime defining object-literal properties (see SLOW_PATH), and its calls */
  slowPath: { instructions: number, calls: number }
}

/**
 * A side's newest callgrind dump: instructions (Ir) and callgrind's own cycle estimate from its
 * cache simulation (Ir + 10 × first-level misses + 100 × last-level misses, as callgrind_annotate's
 * CEst): a larger program pays in cache misses what its instruction count does not show.
 */
async function dumped (name: string): Promise<Counted> {
  // callgrind.NAME.1-01, .1-02…: dump 1 of thread 1, 2…; callgrind.NAME-01… are written at exit
  const dumpName = new RegExp(`^callgrind\\.${name}\\.(\\d+)-(\\d+)$`)
  const files = (await readdir(workDir)).map(f => ({ f, m: dumpName.exec(f) })).filter(x => x.m !== null)
  const newest = Math.max(...files.map(x => Number(x.m?.[1])))
  const threads = files.filter(x => Number(x.m?.[1]) === newest).sort((a, b) => Number(a.m?.[2]) - Number(b.m?.[2]))
  if (threads.length === 0) throw new Error(`instructions-hot: no callgrind dump for ${name} in ${workDir}`)
  let instructions = 0
  let cycles = 0
  let mainThread = 0
  let slowPath = { instructions: 0, calls: 0 }
  for (const [i, { f }] of threads.entries()) {
    const text = await readFile(join(workDir, f), 'utf8')
    const events = /^events: (.+)$/m.exec(text)?.[1].trim().split(/\s+/)
    const totals = /^totals: (.+)$/m.exec(text)?.[1].trim().split(/\s+/).map(Number)
    if (!events || !totals) throw new Error(`instructions-hot: no totals in the callgrind dump ${f}`)
    const n = (event: string) => totals[events.indexOf(event)] ?? 0
    const l1Misses = n('I1mr') + n('D1mr') + n('D1mw')
    const llMisses = n('ILmr') + n('DLmr') + n('DLmw')
    instructions += n('Ir')
    cycles += n('Ir') + 10 * l1Misses + 100 * llMisses
    if (i === 0) {
      mainThread = n('Ir')
      // the slow path is JavaScript's, so the main thread's
      slowPath = await slowPathIn(join(workDir, f))
    }
  }
  return { instructions, cycles, mainThread, slowPath }
}

/** SLOW_PATH's inclusive instructions and calls in one dump, from callgrind_annotate (valgrind's own reader). */
async function slowPathIn (file: string): Promise<{ instructions: number, calls: number }> {
  const { stdout } = await run('callgrind_annotate', ['--tree=caller', '--inclusive=yes', '--threshold=100', file], { maxBuffer: 256 * 1024 * 1024 })
  const lines = stdout.split('\n')
  const at = lines.findIndex(line => line.includes(`*  ???:${SLOW_PATH}`) || line.includes(`* ???:${SLOW_PATH}`))
  if (at < 0) return { instructions: 0, calls: 0 }
  const number = (text: string) => Number(text.replaceAll(',', ''))
  // the function's own line starts with its inclusive Ir; the lines above it are its callers, each "(Nx)"
  const instructions = number(/^\s*([\d,]+)/.exec(lines[at])?.[1] ?? '0')
  let calls = 0
  for (let i = at - 1; i >= 0 && lines[i].includes('< '); i--) calls += number(/\(([\d,]+)x\)/.exec(lines[i])?.[1] ?? '0')
  return { instructions, calls }
}
