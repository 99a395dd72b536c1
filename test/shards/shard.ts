import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import t from 'tap'
import { assignShards, byWeight, claim, CLAIMS_VARIABLE, fileTime, readWeights, SHARD_COUNT, testFiles } from './plan.ts'

/** A shard's process (test/shards/N.shard.ts): which files it runs is decided in plan.ts. */

const ROOT = join(import.meta.dirname, '..', '..')

/** CPU seconds of this process (all its threads) and of the children it has waited for. */
function cpuSeconds (): number {
  const own = process.cpuUsage()
  // /proc/self/stat fields 16 and 17 (cutime, cstime): reaped children's CPU in clock ticks (100 a second on Linux)
  const fields = readFileSync('/proc/self/stat', 'utf8').replace(/^.*\) /, '').split(' ')
  const children = (Number(fields[13]) + Number(fields[14])) / 100
  return (own.user + own.system) / 1e6 + (Number.isFinite(children) ? children : 0)
}

/**
 * Runs shard `index`'s files (1-based), or under `npm test` the files it claims first (plan.ts),
 * heaviest first, each as a test named by its path that imports it (and fails if it cannot be
 * loaded). The file's own top-level tests go to the same root, after that one; the next file is
 * imported only when they are done, so what a file starts at its top level (a broker, a browser)
 * starts when its tests are next, as when it ran alone. Each file's wall and CPU time (its tests
 * included: from its import to the next file's) is printed as a comment.
 */
export async function runShard (index: number): Promise<void> {
  const claims = process.env[CLAIMS_VARIABLE]
  const files = claims !== undefined
    ? byWeight(testFiles(), readWeights()).map(w => w.file)
    : assignShards(testFiles(), readWeights(), SHARD_COUNT)[index - 1]
  let running: { file: string, wall: number, cpu: number } | undefined
  const timeRunning = (): void => {
    if (running === undefined) return
    t.comment(fileTime(running.file, (performance.now() - running.wall) / 1000, cpuSeconds() - running.cpu))
    running = undefined
  }
  t.teardown(timeRunning)
  for (const file of files) {
    if (claims !== undefined && !claim(claims, file)) continue
    await t.test(file, async () => {
      timeRunning()
      running = { file, wall: performance.now(), cpu: cpuSeconds() }
      await import(pathToFileURL(join(ROOT, file)).href)
    })
  }
}
