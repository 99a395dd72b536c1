import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { testFiles } from '../test/shards/shard.ts'

/**
 * Rewrites test/shards/weights.json: runs every test file in a process of its own (as tap did before
 * the shards) and keeps the seconds each took. Only the balance of the shards depends on it; run it
 * when files were added or grew (`npm run shard-weights`, a few minutes).
 */
const ROOT = join(import.meta.dirname, '..')
const files = testFiles()
const child = spawn(join(ROOT, 'node_modules', '.bin', 'tap'), ['--disable-coverage', '-R', 'tap', ...files], {
  cwd: ROOT,
  env: { ...process.env, TAP_TYPE_STRIP_ONLY: '1' },
  stdio: ['ignore', 'pipe', 'inherit'],
})
let out = ''
child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d })
const code = await new Promise<number | null>(resolve => child.on('close', resolve))
const weights: Record<string, number> = {}
for (const [, file, ms] of out.matchAll(/^(?:not )?ok \d+ - (\S+) # time=([\d.]+)ms$/gm)) {
  if (files.includes(file)) weights[file] = Math.round(Number(ms) / 100) / 10
}
const missing = files.filter(f => weights[f] === undefined)
await writeFile(join(ROOT, 'test', 'shards', 'weights.json'), JSON.stringify(Object.fromEntries(Object.entries(weights).sort()), null, 0).replace(/,"/g, ',\n"') + '\n')
console.log(`${Object.keys(weights).length} files weighed${missing.length ? `; no time for ${missing.join(', ')}` : ''}; tap exited ${code}`)
