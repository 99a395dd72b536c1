import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

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
 * shards end together. A shard runs its files in that order, heaviest first.
 *
 * Four shards, all at once: each costs its start (tap, the broker's imports, coverage of every
 * module it loads) again, and on 2 cores a shard's waits (Redis failing over, a child starting)
 * are filled by the other shards and by eslint and tsc (scripts/test.ts). Measured on 2 cores with
 * the static checks beside, on a VM where the suite is CPU-bound: 3 shards 198 s wall and 321 s
 * CPU, 4 shards 199 s and 350 s, 8 shards (before) 231 s and 423 s; on a faster VM, where a shard
 * spends half its time waiting: 3 shards 156 s and 232 s, 4 shards 138 s and 230–239 s.
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
  // heaviest first within a shard too: what is left for the end is short files, which keep both
  // cores busy until every shard ends, instead of one long wait (an npm install, a failover) alone
  return shards.map(s => s.files)
}

export const SHARD_COUNT = 6

export function readWeights (): Record<string, number> {
  return JSON.parse(readFileSync(join(import.meta.dirname, 'weights.json'), 'utf8')) as Record<string, number>
}

/** One file's line in a shard's output (a tap comment), read back by `npm run shard-weights` with FILE_TIME. */
export function fileTime (file: string, wallSeconds: number, cpuSeconds: number): string {
  return `file-time ${file} wall=${wallSeconds.toFixed(1)}s cpu=${cpuSeconds.toFixed(1)}s`
}
export const FILE_TIME = /^\s*# file-time (\S+) wall=([\d.]+)s cpu=([\d.]+)s$/gm
