import t from 'tap'
import { RedisKeys } from '../../src/shared-state/redis-keys.ts'
import type { CircuitState } from '../../src/shared-state/shared-state.ts'
import { betweenNextAnswer, replicaBesideAnother } from '../support/redis-interleave.ts'

/**
 * A replica keeps a copy of each circuit it reads, and writes it back to Redis when Redis has none
 * (Redis restarted empty). A circuit an admin cleared on another replica while this replica's read
 * was on the way must not come back: the copy of the read landing after the clear was heard made the
 * next read write the cleared circuit back, pausing every replica's logins again.
 */
const open: CircuitState = {
  secretVersion: 1,
  classification: 'invalid_credentials',
  message: 'INVALID_LOGIN: Invalid username, password, security token; or user locked out.',
  hint: 'check the password',
  failures: 1,
  openedAt: Date.now(),
  retryAt: Date.now() + 3_600_000,
}

for (const read of ['getCircuit', 'readMany'] as const) {
  t.test(`a circuit cleared during a ${read} stays cleared`, async (t) => {
    const { redis, other, primary, replica } = await replicaBesideAnother(t)
    await other.putCircuit('acme', open)

    let heard = () => {}
    const clearHeard = new Promise<void>((resolve) => { heard = resolve })
    replica.onEvent((e) => { if (e.type === 'circuit' && e.state === null) heard() })
    // the replica's read is answered by Redis before the clear, and reaches it after the clear was heard
    betweenNextAnswer(t, primary.client, async () => {
      // as LoginGate.clearCircuit does (an admin's successful validation, a new secret)
      await other.clearCircuit('acme')
      await other.publish({ type: 'circuit', connection: 'acme', state: null })
      await clearHeard
    })

    if (read === 'getCircuit') await replica.getCircuit('acme')
    else await replica.readMany([{ kind: 'circuit', connection: 'acme' }] as const)

    t.equal(await replica.getCircuit('acme'), null, 'the next read finds the circuit cleared')
    t.equal(await redis.client().exists(new RedisKeys('p:').circuit('acme')), 0, 'and it is not written back to Redis')
  })
}
