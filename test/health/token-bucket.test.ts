import t from 'tap'
import { TokenBucket, TokenBucketClosedError } from '../../src/health/token-bucket.ts'
import { ManualClock } from '../support/manual-clock.ts'

const T0 = Date.UTC(2026, 0, 1)

/** Starts `count` takes and records the clock's time when each one is granted. */
function takeAll (bucket: TokenBucket, clock: ManualClock, count: number): { granted: number[], done: Promise<void[]> } {
  const granted: number[] = []
  const done = Promise.all(Array.from({ length: count }, () => bucket.take().then(() => { granted.push(clock.now() - T0) })))
  return { granted, done }
}

t.test('tokens go out at the rate, in order, however many callers wait: a ceiling per second', async (t) => {
  const clock = new ManualClock(T0)
  const bucket = new TokenBucket(2, 1, clock)
  const { granted, done } = takeAll(bucket, clock, 5)
  await clock.advance(0)
  t.same(granted, [0], 'the one token of a full bucket at once; the rest wait')
  await clock.advance(499)
  t.same(granted, [0], 'not a millisecond before the next token is due')
  await clock.advance(1)
  t.same(granted, [0, 500])
  await clock.advance(1500)
  await done
  t.same(granted, [0, 500, 1000, 1500, 2000], 'two a second, one after the other')
})

t.test('a quiet spell refills up to the capacity, never beyond', async (t) => {
  const clock = new ManualClock(T0)
  const bucket = new TokenBucket(1, 3, clock)
  await clock.advance(60_000)
  const { granted, done } = takeAll(bucket, clock, 5)
  await clock.advance(2000)
  await done
  t.same(granted, [60_000, 60_000, 60_000, 61_000, 62_000], 'a burst of the capacity, then the rate')
})

t.test('close() rejects the waiting takes and every later one, and sets no further timer', async (t) => {
  const clock = new ManualClock(T0)
  const bucket = new TokenBucket(1, 1, clock)
  await bucket.take()
  const waiting = [bucket.take(), bucket.take()]
  await clock.advance(0)
  t.equal(clock.pending, 1, 'the first waiter set its timer')
  bucket.close()
  for (const w of waiting) await t.rejects(w, TokenBucketClosedError)
  await t.rejects(bucket.take(), TokenBucketClosedError)
  t.equal(clock.pending, 0, 'the wait was cancelled')
})

t.test('a rate of zero or less is refused', async (t) => {
  t.throws(() => new TokenBucket(0), RangeError)
  t.throws(() => new TokenBucket(-1), RangeError)
})
