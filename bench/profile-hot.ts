/**
 * CPU profile of the hot path: one broker (Redis, real API key, access line on) under the hot-path
 * load, run with `node --cpu-prof`. Prints the functions with the most self time, grouped by where
 * they live, per request; the .cpuprofile (open it in Chrome DevTools) stays in the printed folder.
 *   node bench/profile-hot.ts [seconds]
 */
import { mkdtemp, readdir, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startBroker } from './lib/broker.ts'
import { installExitGuards, setLogDir, stopAll } from './lib/children.ts'
import { benchCaller, benchOrg, clientCredentialsConnection, ORG, randomKeyBase64, seedStore } from './lib/fixtures.ts'
import { runLoad } from './lib/measure.ts'
import { startRedis } from './lib/redis.ts'
import { startSimulatorProcess } from './lib/simulator.ts'

interface ProfileNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, hitCount?: number }
interface CpuProfile { nodes: ProfileNode[], startTime: number, endTime: number, samples: number[], timeDeltas: number[] }

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const seconds = Number(process.argv[2] ?? '8')

installExitGuards()
const workDir = await mkdtemp(join(tmpdir(), 'sf-broker-profile-'))
setLogDir(workDir)
const profDir = join(workDir, 'prof')
try {
  const [redis, sim] = await Promise.all([startRedis(), startSimulatorProcess({ repoRoot, workDir, orgs: [benchOrg()] })])
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
  const url = `${broker.url}/v1/connections/hot/session`
  const headers = { authorization: `Bearer ${caller.key}` }
  const warm = await runLoad({ url, method: 'POST', headers, connections: 50, durationSeconds: 2 })
  const result = await runLoad({ url, method: 'POST', headers, connections: 50, durationSeconds: seconds })
  await broker.child.stop()
  const file = join(profDir, (await readdir(profDir)).find(f => f.endsWith('.cpuprofile')) as string)
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile
  // the profile covers the warm-up too
  report(profile, warm.responses + result.responses, result.requestsPerSecond)
  process.stdout.write(`\nprofile: ${file}\n`)
} finally {
  await stopAll()
}

/** Self time per function (µs per request over the whole profile), top 40, and totals per package. */
function report (p: CpuProfile, answered: number, rps: number): void {
  const self = new Map<number, number>()
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0))
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
  const totalSeconds = (p.endTime - p.startTime) / 1e6
  const requests = Math.max(answered, 1)
  const perReq = (us: number) => (us / requests).toFixed(2)
  process.stdout.write(`${requests} requests (warm-up included), ${Math.round(rps)}/s in the measured run; the profile spans ${totalSeconds.toFixed(1)} s, start-up included\n\n`)
  process.stdout.write('µs/request  by package or folder\n')
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
