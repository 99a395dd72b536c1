import t from 'tap'
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { systemClock } from '../src/clock.ts'
import { ManualClock } from './support/manual-clock.ts'

const T0 = Date.UTC(2026, 0, 1)

t.test('manual clock: time moves only by advance(), timers fire in due order at their own moment', async (t) => {
  const clock = new ManualClock(T0)
  const fired: [string, number][] = []
  clock.setTimer(300, () => fired.push(['c', clock.now()]))
  clock.setTimer(100, () => fired.push(['a', clock.now()]))
  clock.setTimer(100, () => fired.push(['b', clock.now()]))
  clock.setTimer(-5, () => fired.push(['late', clock.now()]))
  t.equal(clock.now(), T0)
  t.equal(clock.pending, 4)
  t.equal(clock.nextAt, T0)
  await clock.advance(250)
  t.same(fired, [['late', T0], ['a', T0 + 100], ['b', T0 + 100]], 'a negative delay is due now; equal moments keep the order they were set in')
  t.equal(clock.now(), T0 + 250)
  await clock.advance(50)
  t.same(fired.at(-1), ['c', T0 + 300], 'a timer due exactly at the end fires')
  t.equal(clock.pending, 0)
  t.equal(clock.nextAt, undefined)
  await t.rejects(clock.advance(-1), RangeError)
})

t.test('manual clock: timers set by timers fire in the same advance when due within it; cancel() stops one', async (t) => {
  const clock = new ManualClock(T0)
  const fired: number[] = []
  const every = (ms: number) => { clock.setTimer(ms, () => { fired.push(clock.now() - T0); every(ms) }) }
  every(100)
  const cancelled = clock.setTimer(150, () => fired.push(-1))
  cancelled.cancel()
  await clock.advance(350)
  t.same(fired, [100, 200, 300])
  t.equal(clock.nextAt, T0 + 400, 'the next one waits for the next advance')
  cancelled.cancel()
  t.equal(clock.pending, 1, 'cancel after the fact changes nothing')
})

t.test('manual clock: promise work a timer starts runs before the next timer fires', async (t) => {
  const clock = new ManualClock(T0)
  const order: string[] = []
  clock.setTimer(10, () => {
    const work = async () => {
      for (let i = 0; i < 5; i++) await Promise.resolve()
      order.push('first timer work done')
    }
    work().catch(() => {})
  })
  clock.setTimer(20, () => order.push('second timer'))
  await clock.advance(20)
  t.same(order, ['first timer work done', 'second timer'])
})

t.test('manual clock: untilRearmed waits for the timer the fired work sets after its I/O', async (t) => {
  const clock = new ManualClock(T0)
  const renewals: number[] = []
  // a keeper that reads something (real I/O, several event-loop turns) before arming the next renewal
  const renew = () => {
    readFile(fileURLToPath(import.meta.url)).then(() => {
      renewals.push(clock.now() - T0)
      clock.setTimer(1000, renew)
    }, () => {})
  }
  clock.setTimer(1000, renew)
  await clock.advance(3500, { untilRearmed: true })
  t.same(renewals, [1000, 2000, 3000], 'each renewal armed the next one before time moved past it')
  t.equal(clock.nextAt, T0 + 4000)
})

t.test('manual clock: untilRearmed fails, naming where the timer was set, when the fired work sets no other', async (t) => {
  const clock = new ManualClock(T0)
  const armOnce = () => clock.setTimer(1000, () => {})
  armOnce()
  await t.rejects(clock.advance(3500, { untilRearmed: true, rearmWithinMs: 50 }), /no timer was set within 50 ms; it had been set at .*armOnce/)
})

t.test('manual clock: runNext and advanceTo', async (t) => {
  const clock = new ManualClock(T0)
  t.equal(await clock.runNext(), undefined, 'nothing to run')
  let ran = false
  clock.setTimer(5000, () => { ran = true })
  t.equal(await clock.runNext(), T0 + 5000)
  t.ok(ran)
  await clock.advanceTo(T0 + 4000)
  t.equal(clock.now(), T0 + 5000, 'advanceTo never goes back')
  await clock.advanceTo(T0 + 9000)
  t.equal(clock.now(), T0 + 9000)
})

t.test('system clock: real time, timers that fire and cancel', async (t) => {
  const before = Date.now()
  t.ok(systemClock.now() >= before)
  // its timers are unref'd: something else must hold the process open while the test waits on one
  const hold = setTimeout(() => {}, 10_000)
  t.teardown(() => clearTimeout(hold))
  await new Promise<void>(resolve => { systemClock.setTimer(1, resolve) })
  let fired = false
  systemClock.setTimer(0, () => { fired = true }).cancel()
  await new Promise(resolve => setTimeout(resolve, 5))
  t.notOk(fired, 'a cancelled timer never fires')
})

t.test('system clock: a pending timer does not keep the process alive', async (t) => {
  const module = new URL('../src/clock.ts', import.meta.url).href
  const script = `import { systemClock } from ${JSON.stringify(module)}; systemClock.setTimer(600000, () => process.exit(3))`
  const started = Date.now()
  await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 })
  t.ok(Date.now() - started < 20_000, 'exited without waiting for the timer')
})
