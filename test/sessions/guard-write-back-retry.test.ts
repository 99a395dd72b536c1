import t from 'tap'
import pino from 'pino'
import { FallbackSharedState } from '../../src/shared-state/fallback-state.ts'
import { MemorySharedState } from '../../src/shared-state/memory-state.ts'
import { GuardStore } from '../../src/sessions/guard-store.ts'
import type { GuardState } from '../../src/sessions/login-guard.ts'
import { loginGuardDoc } from '../../src/shared-state/state-names.ts'
import { until } from '../support/redis-topologies.ts'

/**
 * The fleet tier as this test needs it: down (every command refused) or answering one read of a key
 * too late (ioredis' "Command timed out": Redis loading its data, or busy, as a replica recovers).
 */
class UnsteadyFleet extends MemorySharedState {
  down = false
  readonly slowOnce = new Set<string>()
  get connected (): boolean { return !this.down }

  override async getJson<T> (key: string): Promise<T | null> {
    if (this.down) throw new Error('Connection is closed.')
    if (this.slowOnce.delete(key)) throw new Error('Command timed out')
    return super.getJson<T>(key)
  }

  override async putJson (key: string, value: unknown, ttlMs?: number): Promise<void> {
    if (this.down) throw new Error('Connection is closed.')
    return super.putJson(key, value, ttlMs)
  }
}

t.test('a count Redis could not take is tried again until it is written, also when the first write-back fails while Redis answers everything else', async (t) => {
  const fleet = new UnsteadyFleet()
  const logger = pino({ level: 'silent' })
  const state = new FallbackSharedState(fleet, logger)
  const guards = new GuardStore({ state, logger, guard: { threshold: 3 }, now: Date.now })
  const key = loginGuardDoc('acme-user')
  fleet.down = true
  await guards.write('acme-user', { failures: [Date.now()], candidates: [] })
  t.equal(await fleet.getJson<GuardState>(key).catch(() => 'unreachable'), 'unreachable')
  fleet.down = false
  fleet.slowOnce.add(key) // the first write-back's read of the fleet's copy times out
  await until('the count reached Redis', async () => ((await fleet.getJson<GuardState>(key))?.failures.length ?? 0) === 1, 10_000)
  t.pass('written on a later try, though nothing else went wrong after the recovery')
})
