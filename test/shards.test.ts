import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { tmpdir } from 'node:os'
import { assignShards, byWeight, claim, FILE_TIME, fileTime, readWeights, SHARD_COUNT, testFiles } from './shards/plan.ts'

const ROOT = join(import.meta.dirname, '..')

t.test('every test file runs in exactly one shard, and npm test runs every shard', async (t) => {
  const files = testFiles()
  t.ok(files.includes('test/shards.test.ts') && files.some(f => f.startsWith('packages/client/test/')), 'the broker\'s and the packages\' tests')
  const shards = assignShards(files, readWeights(), SHARD_COUNT)
  t.same(shards.flat().sort(), files, 'each file once')
  t.ok(shards.every(s => s.length > 0), 'no empty shard')
  const tap = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).tap as { include: string[] }
  t.same(tap.include, ['test/shards/*.shard.ts'])
  for (let i = 1; i <= SHARD_COUNT; i++) {
    const shard = join(ROOT, 'test', 'shards', `${i}.shard.ts`)
    t.ok(existsSync(shard) && readFileSync(shard, 'utf8').includes(`runShard(${i})`), `shard ${i} exists and runs its files`)
  }
  t.notOk(existsSync(join(ROOT, 'test', 'shards', `${SHARD_COUNT + 1}.shard.ts`)), 'no shard beyond the count')
})

t.test('dealing by weight: heaviest first, each to the lightest shard; unknown files weigh the median', async (t) => {
  const shards = assignShards(['a', 'b', 'c', 'd', 'new'], { a: 10, b: 6, c: 5, d: 1 }, 2)
  // a(10) → 1; b(6) → 2; new (median 6) → 2 (12); c(5) → 1 (15); d(1) → 2 (13); each run heaviest first
  t.same(shards, [['a', 'c'], ['b', 'new', 'd']])
})

t.test('claimed as they go: each file by the one shard that claims it first, in the same heaviest-first order', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sfb-claims-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const order = byWeight(['c', 'new', 'a', 'test/b.test.ts'], { a: 10, 'test/b.test.ts': 6, c: 1 }).map(w => w.file)
  t.same(order, ['a', 'new', 'test/b.test.ts', 'c'], 'heaviest first; unknown files weigh the median (6), ties by path')
  // two shards going down the list: whatever the interleaving, every file goes to exactly one
  const first = order.filter(f => claim(dir, f))
  const second = order.filter(f => claim(dir, f))
  t.same(first, order)
  t.same(second, [], 'a file already claimed is not run again')
})

t.test('each file\'s time, as a shard prints it, is what shard-weights reads back', async (t) => {
  const printed = `    # ${fileTime('test/a.test.ts', 12.345, 3.21)}\n    # ${fileTime('packages/client/test/b.test.ts', 0.04, 0)}\n`
  t.same([...printed.matchAll(FILE_TIME)].map(m => m.slice(1)), [['test/a.test.ts', '12.3', '3.2'], ['packages/client/test/b.test.ts', '0.0', '0.0']])
})
