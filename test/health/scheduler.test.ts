import t from 'tap'
import pino from 'pino'
import { ValidationScheduler } from '../../src/health/scheduler.ts'
import { validateLease } from '../../src/shared-state/state-names.ts'
import { MemorySharedState } from '../../src/shared-state/memory-state.ts'
import { ManualClock } from '../support/manual-clock.ts'

const INTERVAL = 60_000
const T0 = Date.UTC(2026, 0, 1) // a round boundary: epoch multiples of the interval

/** Replicas sharing one state and one clock; records who validated what, when. */
function fleet (t: { teardown (fn: () => unknown): void }, replicas: number, names: string[]) {
  const clock = new ManualClock(T0)
  const state = new MemorySharedState()
  const validated: { replica: number, name: string, at: number }[] = []
  const elsewhere: { replica: number, name: string, at: number }[] = []
  const schedulers = Array.from({ length: replicas }, (_, replica) => new ValidationScheduler({
    intervalMs: INTERVAL,
    listConnections: async () => names,
    validate: async (name) => { validated.push({ replica, name, at: clock.now() }); return null },
    validatedElsewhere: async (name) => { elsewhere.push({ replica, name, at: clock.now() }) },
    state,
    logger: pino({ level: 'silent' }),
    clock,
  }))
  t.teardown(() => Promise.all(schedulers.map(s => s.stop())))
  return { clock, state, schedulers, validated, elsewhere }
}

t.test('every replica aims at the same round: the first lease wins, the others hear it was done elsewhere', async (t) => {
  const { clock, schedulers, validated, elsewhere } = fleet(t, 3, ['acme', 'globex'])
  for (const s of schedulers) s.start()
  await clock.advance(INTERVAL - 1) // the first round
  for (let round = 1; round <= 3; round++) await clock.advance(INTERVAL)
  const roundOf = (at: number) => Math.floor((at - T0) / INTERVAL)
  for (const name of ['acme', 'globex']) {
    t.same(validated.filter(v => v.name === name).map(v => roundOf(v.at)), [0, 1, 2, 3], `${name}: validated once per round, fleet-wide`)
    t.equal(elsewhere.filter(e => e.name === name).length, 4 * 2, `${name}: the two other replicas were told each round`)
  }
  const slots = validated.filter(v => roundOf(v.at) === 2).map(v => (v.at - T0) % INTERVAL)
  t.ok(slots.every(at => at <= INTERVAL * 0.85), 'slots fall in the first 85 % of the round')
})

t.test('the lease is per round: a round moved through faster than its lease lasts is still validated', async (t) => {
  // the lease's TTL runs in the shared state's (real) time, far longer than this test: only its
  // name, which carries the round, lets the next round's validation through
  const { clock, schedulers, validated, state } = fleet(t, 1, ['acme'])
  schedulers[0].start()
  await clock.advance(INTERVAL - 1)
  await clock.advance(INTERVAL)
  t.equal(validated.length, 2)
  t.notOk(await state.acquireLease(validateLease('acme', T0 + INTERVAL), 'someone-else', 1000), 'the round\'s lease is held')
  t.ok(await state.acquireLease(validateLease('acme', T0 + 2 * INTERVAL), 'someone-else', 1000), 'the next round\'s is another lease')
  await clock.advance(INTERVAL)
  t.equal(validated.length, 2, 'a round whose lease someone else took is not validated here')
})

t.test('stop() cancels the timers: no round after it', async (t) => {
  const { clock, schedulers, validated } = fleet(t, 1, ['acme'])
  schedulers[0].start()
  await clock.advance(INTERVAL - 1)
  await schedulers[0].stop()
  t.equal(clock.pending, 0)
  await clock.advance(5 * INTERVAL)
  t.equal(validated.length, 1)
})

t.test('idle() resolves once the work after a result is done; a slot that finds its connection busy skips its round', async (t) => {
  const clock = new ManualClock(T0)
  const validated: number[] = []
  let finishAfterResult: () => void = () => {}
  const scheduler = new ValidationScheduler({
    intervalMs: INTERVAL,
    listConnections: async () => ['acme'],
    // the result is recorded first; the work after it (gauges, date thresholds, a due rotation) is held
    validate: async () => {
      validated.push(clock.now())
      await new Promise<void>((resolve) => { finishAfterResult = resolve })
      return null
    },
    state: new MemorySharedState(),
    logger: pino({ level: 'silent' }),
    clock,
  })
  t.teardown(() => { finishAfterResult(); return scheduler.stop() })
  scheduler.start()
  await clock.advance(INTERVAL - 1) // the first round
  t.equal(validated.length, 1)
  let idle = false
  const waited = scheduler.idle().then(() => { idle = true })
  await clock.advance(INTERVAL) // the second round, while the first one's work still runs
  t.equal(validated.length, 1, 'the second round found acme busy and skipped it')
  t.notOk(idle, 'not idle while the first round\'s work runs')
  finishAfterResult()
  await waited
  t.ok(idle, 'idle once that work is done')
  await clock.advance(INTERVAL)
  t.equal(validated.length, 2, 'the third round validates again')
})
