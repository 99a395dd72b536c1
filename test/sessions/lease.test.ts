import t from 'tap'
import { underLease } from '../../src/sessions/lease.ts'
import { MemorySharedState } from '../../src/shared-state/memory-state.ts'

t.test('the holder runs the work; the lease is released after it', async (t) => {
  const state = new MemorySharedState()
  const r = await underLease({ state, name: 'x', ttlMs: 1000, deadline: Date.now() + 1000 }, async () => 42)
  t.same(r, { kind: 'ran', value: 42 })
  t.equal(await state.acquireLease('x', 'other', 1000), true, 'released')
})

t.test('a waiter returns what settles it, without running the work', async (t) => {
  const state = new MemorySharedState()
  await state.acquireLease('x', 'someone', 60_000)
  let done = false
  setTimeout(() => { done = true }, 50)
  let ran = false
  const r = await underLease({ state, name: 'x', ttlMs: 1000, deadline: Date.now() + 5000, settled: async () => (done ? 'theirs' : undefined) }, async () => { ran = true; return 'mine' })
  t.same(r, { kind: 'settled', value: 'theirs' })
  t.equal(ran, false)
})

t.test('a waiter gives up at its deadline with a clear result', async (t) => {
  const state = new MemorySharedState()
  await state.acquireLease('x', 'someone', 60_000)
  const r = await underLease({ state, name: 'x', ttlMs: 1000, deadline: Date.now() + 100 }, async () => 'mine')
  t.same(r, { kind: 'timeout' })
})

t.test('the lease is renewed while the work runs, and a holder that stops renewing is replaced after one ttl', async (t) => {
  const state = new MemorySharedState()
  let release!: () => void
  const long = underLease({ state, name: 'x', ttlMs: 300, deadline: Date.now() + 5000 }, () => new Promise<string>(resolve => { release = () => resolve('long') }))
  await new Promise(resolve => setTimeout(resolve, 700))
  t.equal(await state.acquireLease('x', 'other', 300), false, 'still held after twice its ttl: renewed')
  release()
  t.same(await long, { kind: 'ran', value: 'long' })

  // a dead holder (took the lease, never renews): the next one gets it once the ttl passed
  await state.acquireLease('y', 'dead', 300)
  const started = Date.now()
  const next = await underLease({ state, name: 'y', ttlMs: 300, deadline: Date.now() + 5000 }, async () => 'replaced')
  t.same(next, { kind: 'ran', value: 'replaced' })
  t.ok(Date.now() - started < 2000, 'within a few ttl, not the old 35 s')
})
