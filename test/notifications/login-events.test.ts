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

const RUN = Date.parse('2026-12-06T09:00:00Z')

t.test('the guard tripping is told once per run of failures, however many replicas report it; a run after a reset is a new event with a new id', async (t) => {
  const { observer, events } = observed()
  observer.guardTripped?.('acme', 2, 3, RUN)
  observer.guardTripped?.('acme', 2, 3, RUN)
  observer.guardTripped?.('globex', 4, 5, RUN)
  const recent = await events()
  t.equal(recent.length, 2)
  t.same(recent.map(e => [e.type, e.connection, e.data]).sort(), [
    ['login.guard_tripped', 'acme', { failures: 2, lockoutThreshold: 3 }],
    ['login.guard_tripped', 'globex', { failures: 4, lockoutThreshold: 5 }],
  ])
  // the admin reset the count; two more failures trip it again
  observer.guardTripped?.('acme', 2, 3, RUN + 600_000)
  const acme = (await events()).filter(e => e.connection === 'acme')
  t.equal(acme.length, 2, 'the second trip is told')
  t.not(acme[0].id, acme[1].id, 'with its own id: receivers drop ids they have handled')
})

t.test('the budget reserve is told at 80 %, once per hour, each hour with its own id', async (t) => {
  const { observer, events } = observed()
  for (let used = 1; used <= 10; used++) observer.loginBudget?.('acme', used, 10, RUN + used * 60_000)
  const recent = await events()
  t.equal(recent.length, 1)
  t.match(recent[0], { type: 'login.budget_reserve_reached', connection: 'acme', data: { used: 8, limit: 10, reservePercent: 80 } })
  observer.loginBudget?.('acme', 9, 10, RUN + 3_600_000 + 60_000)
  const both = await events()
  t.equal(both.length, 2, 'the next hour tells it again')
  t.not(both[0].id, both[1].id)
})
