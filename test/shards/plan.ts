import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * `npm test` runs the test files in a few processes (shards) instead of one process each: a tap
 * test process costs about 4 s of CPU before its first assertion (tap's module hooks, which Node 22
 * runs on a loader thread, type-stripping, the broker's imports), which was most of the suite's
 * time on 2 cores. Every file still runs alone as well (`npx tap test/…/x.test.ts`): the files
 * know nothing of shards; `import t from 'tap'` is the shard's root test, so each file's top-level
 * tests run one after another in the order the files are imported.
 *
 * Under `npm test` the shards claim files as they go (CLAIMS_VARIABLE below): each goes down one
 * list of every file, heaviest first by its weight (the seconds it took in a recent run,
 * weights.json; a file not listed there weighs the median), so the shards end within a short file
 * of each other however long a file waited this time. Run by hand (`tap` alone), each shard runs a
 * share dealt in advance by the same weights (assignShards).
 *
 * Five shards, all at once: each costs its start (tap, the broker's imports, coverage of every
 * module it loads) again, and on 2 cores a shard's waits (Redis failing over, a child starting)
 * are filled by the other shards and by eslint and tsc (scripts/test.ts). Measured on a 2-core VM
 * where the suite is CPU-bound (2026-12-06): shares dealt in advance, 6 shards 2 min 37–39 s (the
 * shards ended 131–150 s: a file's wait differs from run to run); claimed as they go, 4 shards
 * 2 min 41 s (idle cores while shards waited), 5 shards 2 min 27 s and 2 min 31 s (280–284 s of
 * CPU, shards ending within a second), 6 shards 2 min 34 s (296 s of CPU).
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

/** Every file, heaviest first (a file not in `weights` weighs the median; ties by path). */
export function byWeight (files: string[], weights: Record<string, number>): Array<{ file: string, weight: number }> {
  const known = Object.values(weights).sort((a, b) => a - b)
  const median = known.length > 0 ? known[Math.floor(known.length / 2)] : 1
  return files.map(file => ({ file, weight: weights[file] ?? median }))
    .sort((a, b) => b.weight - a.weight || a.file.localeCompare(b.file))
}

export function assignShards (files: string[], weights: Record<string, number>, count: number): string[][] {
  const shards = Array.from({ length: count }, () => ({ files: [] as string[], total: 0 }))
  for (const { file, weight } of byWeight(files, weights)) {
    const lightest = shards.reduce((min, s) => s.total < min.total ? s : min)
    lightest.files.push(file)
    lightest.total += weight
  }
  // heaviest first within a shard too: what is left for the end is short files, which keep both
  // cores busy until every shard ends, instead of one long wait (an npm install, a failover) alone
  return shards.map(s => s.files)
}

/**
 * The folder in which one run's shards claim their files (scripts/test.ts makes it for `npm test`).
 * With it, a shard does not run a share dealt in advance: each goes down the list of every file,
 * heaviest first, and runs the files it claims first, so a shard whose files waited longer than
 * their weights said (a slow failover, an npm install) takes fewer of the rest, and the shards end
 * within a short file of each other. Without it (`tap` run by hand), the shares of assignShards.
 */
export const CLAIMS_VARIABLE = 'SFB_TEST_CLAIMS'

/** True for the one shard that claims `file` first in `dir`: an exclusive create, which one process wins. */
export function claim (dir: string, file: string): boolean {
  try {
    closeSync(openSync(join(dir, encodeURIComponent(file)), 'wx'))
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  }
}

export const SHARD_COUNT = 5

export function readWeights (): Record<string, number> {
  return JSON.parse(readFileSync(join(import.meta.dirname, 'weights.json'), 'utf8')) as Record<string, number>
}

/** One file's line in a shard's output (a tap comment), read back by `npm run shard-weights` with FILE_TIME. */
export function fileTime (file: string, wallSeconds: number, cpuSeconds: number): string {
  return `file-time ${file} wall=${wallSeconds.toFixed(1)}s cpu=${cpuSeconds.toFixed(1)}s`
}
export const FILE_TIME = /^\s*# file-time (\S+) wall=([\d.]+)s cpu=([\d.]+)s$/gm
