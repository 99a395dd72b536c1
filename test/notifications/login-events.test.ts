import t from 'tap'
import { Notifier } from '../../src/notifications/notifier.ts'
import { loginEvents } from '../../src/notifications/login-events.ts'
import { MemorySharedState } from '../../src/shared-state/memory-state.ts'
import { captureLogs } from '../support/log-capture.ts'

/**
 * The gate's observer side of the events, on the in-memory shared state (the demo's): the login
 * gate reports every login's budget and each time its failure guard trips; the events say each
 * once per span. The end-to-end path (gate → receiver) is in webhooks.test.ts and fleet.test.ts.
 */
function observed () {
  const state = new MemorySharedState()
  const notifier = new Notifier({ state, logger: captureLogs('silent').logger })
  const observer = loginEvents(notifier)
  // the in-memory state answers within a few turns of the event loop: after twenty every raise has settled
  const events = async () => {
    for (let i = 0; i < 20; i++) await new Promise(resolve => setImmediate(resolve))
    return notifier.recent(50)
  }
  return { observer, events }
}

t.test('the guard tripping is told once per connection, however many replicas report it', async (t) => {
  const { observer, events } = observed()
  observer.guardTripped?.('acme', 2, 3)
  observer.guardTripped?.('acme', 2, 3)
  observer.guardTripped?.('globex', 4, 5)
  const recent = await events()
  t.equal(recent.length, 2)
  t.same(recent.map(e => [e.type, e.connection, e.data]).sort(), [
    ['login.guard_tripped', 'acme', { failures: 2, lockoutThreshold: 3 }],
    ['login.guard_tripped', 'globex', { failures: 4, lockoutThreshold: 5 }],
  ])
})

t.test('the budget reserve is told at 80 %, once per hour', async (t) => {
  const { observer, events } = observed()
  for (let used = 1; used <= 10; used++) observer.loginBudget?.('acme', used, 10)
  const recent = await events()
  t.equal(recent.length, 1)
  t.match(recent[0], { type: 'login.budget_reserve_reached', connection: 'acme', data: { used: 8, limit: 10, reservePercent: 80 } })
})
