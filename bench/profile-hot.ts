/**
 * CPU profile of the hot path: one broker (Redis, real API key, access line on) under the hot-path
 * load, run with `node --cpu-prof`. Prints the functions with the most self time, grouped by where
 * they live, per request; the .cpuprofile (open it in Chrome DevTools) stays in the printed folder.
 *   node bench/profile-hot.ts [seconds] [session|proxy|same-promises]
 * `proxy` profiles proxy mode instead: GET /services/data/v62.0/limits forwarded to the simulator;
 * `same-promises` the hot-path bench's reference (bench/same-promises-server.ts), to set beside `session`.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startBroker } from './lib/broker.ts'
import { installExitGuards, setLogDir, stopAll } from './lib/children.ts'
import { benchCaller, benchOrg, clientCredentialsConnection, ORG, randomKeyBase64, seedStore } from './lib/fixtures.ts'
import { runLoad } from './lib/measure.ts'
import { startBenchRedis } from './lib/redis.ts'
import { startSamePromises } from './lib/same-promises.ts'
import { startSimulatorProcess } from './lib/simulator.ts'

interface ProfileNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, hitCount?: number }
interface CpuProfile { nodes: ProfileNode[], startTime: number, endTime: number, samples: number[], timeDeltas: number[] }

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const seconds = Number(process.argv[2] ?? '8')
const target = process.argv[3] ?? 'session'
if (target !== 'session' && target !== 'proxy' && target !== 'same-promises') {
  process.stderr.write('profile-hot: the second argument is session, proxy or same-promises\n')
  process.exit(64)
}

installExitGuards()
const workDir = await mkdtemp(join(tmpdir(), 'sf-broker-profile-'))
setLogDir(workDir)
const profDir = join(workDir, 'prof')
try {
  const [redis, sim] = await Promise.all([startBenchRedis(), startSimulatorProcess({ repoRoot, workDir, orgs: [benchOrg()] })])
  const caller = benchCaller()
  const store = await seedStore(join(workDir, 'hot.enc'), [['hot', clientCredentialsConnection(sim.myDomainUrl(ORG))]])
  const broker = await startBroker({
    name: 'broker-profiled',
    repoRoot,
    store,
    caller,
    redisUrl: redis.url,
    sessionEncryptionKey: randomKeyBase64(),
    env: { LOG_LEVEL: 'info', NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profDir}` },
  })
  const method = target === 'proxy' ? 'GET' : 'POST'
  let url = target === 'proxy' ? `${broker.url}/v1/connections/hot/salesforce/services/data/v62.0/limits` : `${broker.url}/v1/connections/hot/session`
  const headers = { authorization: `Bearer ${caller.key}` }
  let profiled = broker.child
  if (target === 'same-promises') {
    // the hot-path bench's reference, answering a body as long as the broker's, profiled the same way
    const bodyBytes = Buffer.byteLength(await (await fetch(url, { method, headers })).text())
    const samePromises = await startSamePromises({ name: 'same-promises-profiled', repoRoot, caller, bodyBytes, nodeArgs: [`--cpu-prof-dir=${profDir}`, '--cpu-prof'] })
    await broker.child.stop()
    await rm(profDir, { recursive: true, force: true })
    profiled = samePromises.child
    url = samePromises.sessionUrl
  }
  const warm = await runLoad({ url, method, headers, connections: 50, durationSeconds: 2 })
  const result = await runLoad({ url, method, headers, connections: 50, durationSeconds: seconds })
  await profiled.stop()
  const file = join(profDir, (await readdir(profDir)).find(f => f.endsWith('.cpuprofile')) as string)
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile
  report(profile, result.responses, result.requestsPerSecond, warm.durationSeconds)
  process.stdout.write(`\nprofile: ${file}\n`)
} finally {
  await stopAll()
}

/** Self time per function (µs per request over the whole profile), top 40, and totals per package. */
function report (p: CpuProfile, answered: number, rps: number, _warmupSeconds: number): void {
  // only the samples of the measured run: the last `seconds` before the broker was stopped (start-up,
  // module loading and the warm-up come before; stopping takes a few ms)
  const from = p.endTime - seconds * 1e6
  const self = new Map<number, number>()
  let at = p.startTime
  for (let i = 0; i < p.samples.length; i++) {
    at += p.timeDeltas[i] ?? 0
    if (at >= from) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0))
  }
  const byFn = new Map<string, number>()
  const byPkg = new Map<string, number>()
  for (const node of p.nodes) {
    const us = self.get(node.id) ?? 0
    if (us === 0) continue
    const where = place(node.callFrame.url)
    const key = `${node.callFrame.functionName || '(anonymous)'}  ${where}:${node.callFrame.lineNumber + 1}`
    byFn.set(key, (byFn.get(key) ?? 0) + us)
    byPkg.set(where.split(':')[0], (byPkg.get(where.split(':')[0]) ?? 0) + us)
  }
  const requests = Math.max(answered, 1)
  const perReq = (us: number) => (us / requests).toFixed(2)
  process.stdout.write(`${requests} requests in the measured ${seconds} s (${Math.round(rps)}/s); samples of that run only, wall time per request (idle included)\n\n`)
  const byPurpose = new Map<string, number>()
  for (const node of p.nodes) {
    const us = self.get(node.id) ?? 0
    if (us > 0) byPurpose.set(purpose(node.callFrame), (byPurpose.get(purpose(node.callFrame)) ?? 0) + us)
  }
  process.stdout.write('µs/request  by what it buys (wall time of the main thread; idle and socket writes wait on the machine)\n')
  for (const [k, v] of [...byPurpose].sort((a, b) => b[1] - a[1])) process.stdout.write(`${perReq(v).padStart(10)}  ${k}\n`)
  process.stdout.write('\nµs/request  by package or folder\n')
  for (const [k, v] of [...byPkg].sort((a, b) => b[1] - a[1]).slice(0, 25)) process.stdout.write(`${perReq(v).padStart(10)}  ${k}\n`)
  process.stdout.write('\nµs/request  by function (self time)\n')
  for (const [k, v] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, 45)) process.stdout.write(`${perReq(v).padStart(10)}  ${k}\n`)
}

function place (url: string): string {
  if (!url) return '(native/V8)'
  const nm = url.lastIndexOf('node_modules/')
  if (nm !== -1) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/')
    const pkg = rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]
    return `${pkg}:${rest.slice(rest[0].startsWith('@') ? 2 : 1).join('/')}`
  }
  if (url.startsWith('node:')) return `node:${url.slice(5)}`
  const src = url.indexOf('/src/')
  return src !== -1 ? `src:${url.slice(src + 5)}` : url
}

/** What a function's time is spent for, for the README's hot-path table. */
function purpose (frame: ProfileNode['callFrame']): string {
  const { url, functionName } = frame
  if (!url) {
    if (functionName === '(idle)') return 'idle (waiting for the next request)'
    if (functionName === '(garbage collector)') return 'garbage collection'
    if (functionName === 'writev' || functionName === 'writeBuffer') return 'socket writes (kernel: TCP over loopback)'
    if (functionName === 'writeString') return 'access line: log file writes (batched)'
    return `V8/native: ${functionName}`
  }
  if (url.includes('/pino/') || url.includes('sonic-boom') || url.includes('/src/logger.ts') || url.includes('/src/http/access-log.ts')) return 'access line: pino formatting'
  if (url.includes('/src/auth/')) return 'caller authentication and rate limit'
  if (url.includes('/src/proxy/') || url.includes('/src/routes/proxy.ts') || url.includes('/src/salesforce/scrub')) return 'proxy: path check, policy, headers, scrubbing'
  if (url.includes('/undici/') || url.includes('/reply-from/')) return 'proxy: upstream request (undici, reply-from)'
  if (url.includes('/src/sessions/') || url.includes('/src/secrets/') || url.includes('/src/routes/')) return 'session lookup and answer'
  if (url.includes('/src/metrics/') || url.includes('prom-client')) return 'metrics'
  if (url.includes('/src/http/request-id.ts') || url.includes('internal/crypto/random')) return 'request id (random UUID)'
  if (url.includes('find-my-way')) return 'routing'
  if (url.includes('/fastify/') || url.includes('ajv') || url.includes('fast-json-stringify') || url.includes('/src/app.ts') || url.includes('toad-cache')) return 'Fastify request lifecycle (hooks, validation, reply)'
  if (url.startsWith('node:')) return 'Node HTTP (parse, headers, streams, timers)'
  return 'other'
}
