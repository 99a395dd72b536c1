import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { assignShards, FILE_TIME, fileTime, readWeights, SHARD_COUNT, testFiles } from './shards/plan.ts'

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

t.test('each file\'s time, as a shard prints it, is what shard-weights reads back', async (t) => {
  const printed = `    # ${fileTime('test/a.test.ts', 12.345, 3.21)}\n    # ${fileTime('packages/client/test/b.test.ts', 0.04, 0)}\n`
  t.same([...printed.matchAll(FILE_TIME)].map(m => m.slice(1)), [['test/a.test.ts', '12.3', '3.2'], ['packages/client/test/b.test.ts', '0.0', '0.0']])
})
