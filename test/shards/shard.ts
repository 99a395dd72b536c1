import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import t from 'tap'

/**
 * `npm test` runs the test files in a few processes (shards) instead of one process each: a tap
 * test process costs about 4 s of CPU before its first assertion (tap's module hooks, which Node 22
 * runs on a loader thread, type-stripping, the broker's imports), which was most of the suite's
 * time on 2 cores. Every file still runs alone as well (`npx tap test/…/x.test.ts`): the files
 * know nothing of shards; `import t from 'tap'` is the shard's root test, so each file's top-level
 * tests run one after another in the order the files are imported.
 *
 * Files are dealt to shards by their weight (the seconds each took in a recent run, weights.json;
 * a file not listed there weighs the median), heaviest first, each to the lightest shard: the
 * shards end together, whichever two run at once.
 */

const ROOT = join(import.meta.dirname, '..', '..')
/** Where test files live: the broker's tests and each package's own. */
const TEST_DIRS = ['test', ...readdirSync(join(ROOT, 'packages')).map(p => join('packages', p, 'test'))]

export function testFiles (): string[] {
  return TEST_DIRS.flatMap(dir => readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter(f => f.endsWith('.test.ts'))
    .map(f => join(dir, f)))
    .sort()
}

export function assignShards (files: string[], weights: Record<string, number>, count: number): string[][] {
  const known = Object.values(weights).sort((a, b) => a - b)
  const median = known.length > 0 ? known[Math.floor(known.length / 2)] : 1
  const weighed = files.map(file => ({ file, weight: weights[file] ?? median }))
    .sort((a, b) => b.weight - a.weight || a.file.localeCompare(b.file))
  const shards = Array.from({ length: count }, () => ({ files: [] as string[], total: 0 }))
  for (const { file, weight } of weighed) {
    const lightest = shards.reduce((min, s) => s.total < min.total ? s : min)
    lightest.files.push(file)
    lightest.total += weight
  }
  return shards.map(s => s.files.sort())
}

export const SHARD_COUNT = 8

export function readWeights (): Record<string, number> {
  return JSON.parse(readFileSync(join(import.meta.dirname, 'weights.json'), 'utf8')) as Record<string, number>
}

/** CPU seconds of this process (all its threads) and of the children it has waited for. */
function cpuSeconds (): number {
  const own = process.cpuUsage()
  // /proc/self/stat fields 16 and 17 (cutime, cstime): reaped children's CPU in clock ticks (100 a second on Linux)
  const fields = readFileSync('/proc/self/stat', 'utf8').replace(/^.*\) /, '').split(' ')
  const children = (Number(fields[13]) + Number(fields[14])) / 100
  return (own.user + own.system) / 1e6 + (Number.isFinite(children) ? children : 0)
}

/** One file's line in a shard's output (a tap comment), read back by `npm run shard-weights` with FILE_TIME. */
export function fileTime (file: string, wallSeconds: number, cpuSeconds: number): string {
  return `file-time ${file} wall=${wallSeconds.toFixed(1)}s cpu=${cpuSeconds.toFixed(1)}s`
}
export const FILE_TIME = /^\s*# file-time (\S+) wall=([\d.]+)s cpu=([\d.]+)s$/gm

/**
 * Runs shard `index`'s files (1-based) in path order, each as a test named by its path that imports
 * it (and fails if it cannot be loaded). The file's own top-level tests go to the same root, after
 * that one; the next file is imported only when they are done, so what a file starts at its top
 * level (a broker, a browser) starts when its tests are next, as when it ran alone. Each file's wall
 * and CPU time (its tests included: from its import to the next file's) is printed as a comment.
 */
export async function runShard (index: number): Promise<void> {
  const files = assignShards(testFiles(), readWeights(), SHARD_COUNT)[index - 1]
  let running: { file: string, wall: number, cpu: number } | undefined
  const timeRunning = (): void => {
    if (running === undefined) return
    t.comment(fileTime(running.file, (performance.now() - running.wall) / 1000, cpuSeconds() - running.cpu))
    running = undefined
  }
  t.teardown(timeRunning)
  for (const file of files) {
    await t.test(file, async () => {
      timeRunning()
      running = { file, wall: performance.now(), cpu: cpuSeconds() }
      await import(pathToFileURL(join(ROOT, file)).href)
    })
  }
}
