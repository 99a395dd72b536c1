import { spawn } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { FILE_TIME, testFiles } from '../test/shards/plan.ts'

/**
 * Rewrites test/shards/weights.json from one run of the shards as `npm test` runs them (coverage
 * off): each shard prints every file's wall and CPU seconds (`# file-time`), and the wall seconds
 * become the file's weight. Only the balance of the shards depends on it; run it when files were
 * added or grew (`npm run shard-weights`, about as long as the tap part of `npm test`). The ten
 * files that took the most CPU are printed, since that, not waiting, is what 2 cores run out of.
 * `npm run shard-weights -- FILE` reads the times from a saved `npm test` output instead.
 */
const ROOT = join(import.meta.dirname, '..')
const files = testFiles()
const saved = process.argv[2]

async function runShards (): Promise<{ out: string, code: number | null }> {
  const child = spawn(join(ROOT, 'node_modules', '.bin', 'tap'), ['--disable-coverage', '-R', 'tap'], {
    cwd: ROOT,
    env: { ...process.env, TAP_TYPE_STRIP_ONLY: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d })
  const code = await new Promise<number | null>(resolve => child.on('close', resolve))
  return { out, code }
}

const { out, code } = saved ? { out: await readFile(saved, 'utf8'), code: null } : await runShards()
const weights: Record<string, number> = {}
const cpu: Array<[string, number]> = []
for (const [, file, wall, seconds] of out.matchAll(FILE_TIME)) {
  if (!files.includes(file)) continue
  weights[file] = Number(wall)
  cpu.push([file, Number(seconds)])
}
const missing = files.filter(f => weights[f] === undefined)
if (missing.length === files.length) {
  console.error(`no file times in ${saved ?? `tap's output (tap exited ${code})`}; weights.json left as it was`)
  process.exit(1)
}
await writeFile(join(ROOT, 'test', 'shards', 'weights.json'), JSON.stringify(Object.fromEntries(Object.entries(weights).sort()), null, 0).replace(/,"/g, ',\n"') + '\n')
console.log(`${Object.keys(weights).length} files weighed${missing.length ? `; no time for ${missing.join(', ')}` : ''}; ${saved ? `times read from ${saved}` : `tap exited ${code}`}`)
console.log('most CPU:\n' + cpu.sort((a, b) => b[1] - a[1]).slice(0, 10).map(([f, s]) => `  ${s.toFixed(1)} s ${f}`).join('\n'))
