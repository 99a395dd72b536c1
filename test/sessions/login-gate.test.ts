import t from 'tap'
import pino from 'pino'
import { randomBytes } from 'node:crypto'
import { ACME, acmeDefinition, startSim } from '../helper.ts'
import { login as salesforceLogin, createLoginUrlPolicy } from '../../src/salesforce/index.ts'
import type { ConnectionDefinition } from '../../src/salesforce/types.ts'
import { LoginGate, type ObtainRequest } from '../../src/sessions/login-gate.ts'
import { MemorySharedState } from '../../src/shared-state/memory-state.ts'
import { transientHoldOffDoc } from '../../src/shared-state/state-names.ts'
import { ManualClock } from '../support/manual-clock.ts'

/**
 * The login gate on its own: in-memory shared state, the real login core against the simulator,
 * a manual clock for cool-downs. What every login path relies on, without an app around it.
 */

async function rig (t: Parameters<typeof startSim>[0], o: { threshold?: number, onAttempt?: () => void } = {}) {
  const sim = await startSim(t, undefined)
  const state = new MemorySharedState()
  const clock = new ManualClock()
  const policy = createLoginUrlPolicy({ extraAllowedOrigins: ['http://127.0.0.1:*'] })
  let sent = 0
  const gate = new LoginGate({
    core: (d: ConnectionDefinition) => { sent++; return salesforceLogin(d, { timeoutMs: 3000, allowedLoginHosts: policy }) },
    state,
    logger: pino({ level: 'silent' }),
    circuit: { baseCooldownMs: 60_000, maxCooldownMs: 600_000 },
    guard: { threshold: o.threshold ?? 3 },
    lifetime: { safetyMarginMs: 60_000, maxTtlMs: 900_000 },
    loginsPerHour: 3600,
    leaseTtlMs: 5000,
    waitTimeoutMs: 5000,
    hashKey: randomBytes(32),
    now: () => clock.now(),
    observer: { loginAttempt: () => o.onAttempt?.() },
  })
  const request = (definition: ConnectionDefinition, extra: Partial<ObtainRequest> = {}): ObtainRequest =>
    ({ connection: 'acme', definition, purpose: 'miss', storedVersion: 1, answeredBy: e => e.validUntil > clock.now(), ...extra })
  return { sim, state, clock, gate, request, sent: () => sent }
}

t.test('concurrent requests for one connection: one login, the others answered by its cached session', async (t) => {
  const { sim, gate, request, sent } = await rig(t)
  const told: string[] = []
  gate.onLogin(async e => { told.push(`${e.connection}/${e.version}/${e.purpose}`) })
  const outcomes = await Promise.all(Array.from({ length: 5 }, () => gate.obtain(request(acmeDefinition(sim, 'jwt_bearer')))))
  t.equal(sent(), 1, 'one login')
  t.equal(sim.stats('acme').attempts, 1)
  t.ok(outcomes.every(o => o.ok))
  t.equal(new Set(outcomes.map(o => o.ok ? o.session.accessToken : '')).size, 1, 'one session for all')
  t.equal(outcomes.filter(o => o.ok && o.fromCache).length, 4, 'four answered by the cache, under the lease')
  t.same(told, ['acme/1/miss'], 'listeners told of the login once')
})

t.test('a refused stored password opens the circuit: the next request sends nothing until the cool-down ends', async (t) => {
  const { sim, clock, gate, request, sent } = await rig(t, { threshold: 5 })
  const wrong = acmeDefinition(sim, 'soap', { password: 'wrong' })
  const first = await gate.obtain(request(wrong))
  t.ok(!first.ok && 'failure' in first && first.circuit, 'the circuit opened')
  t.ok(!first.ok && 'failure' in first && first.counted, 'counted toward the lockout')
  const second = await gate.obtain(request(wrong))
  t.ok(!second.ok && 'refusal' in second && second.refusal.kind === 'circuit_open')
  t.equal(sent(), 1, 'nothing sent while the circuit is open')
  await clock.advance(5 * 60_000)
  const probe = await gate.obtain(request(acmeDefinition(sim, 'soap')))
  t.ok(probe.ok, 'after the cool-down the right password logs in')
  t.equal(sim.org('acme').users.get(ACME.username)?.failedLogins, 0, 'Salesforce\'s count reset by the success')
})

t.test('the failure guard stops one short of the lockout; a failing candidate is never sent twice', async (t) => {
  const { sim, gate, sent } = await rig(t, { threshold: 3 })
  const candidate = (password: string): ObtainRequest => ({ connection: 'acme', definition: acmeDefinition(sim, 'soap', { password }), purpose: 'admin' })
  t.ok(!(await gate.obtain(candidate('wrong-1'))).ok)
  const again = await gate.obtain(candidate('wrong-1'))
  t.ok(!again.ok && 'refusal' in again && again.refusal.kind === 'candidate_failed', 'the same candidate is not sent again')
  t.ok(!(await gate.obtain(candidate('wrong-2'))).ok)
  const third = await gate.obtain(candidate('wrong-3'))
  t.ok(!third.ok && 'refusal' in third && third.refusal.kind === 'guarded', 'the third failure would lock the user: not sent')
  t.equal(sent(), 2)
  t.equal(sim.org('acme').users.get(ACME.username)?.lockedUntil, 0, 'not locked')
})

t.test('a transient failure holds callers off briefly, fleet-wide; checks are not held off; retries stay under the lease', async (t) => {
  const { sim, clock, gate, request, sent } = await rig(t)
  const jwt = acmeDefinition(sim, 'jwt_bearer')
  sim.setDown(true)
  const failed = await gate.obtain(request(jwt, { retries: 1 }))
  t.ok(!failed.ok && 'failure' in failed && failed.holdOff, 'the hold-off started')
  t.equal(sent(), 2, 'one retry under the lease')
  const held = await gate.obtain(request(jwt))
  t.ok(!held.ok && 'refusal' in held && held.refusal.kind === 'held_off', 'the next caller is held off')
  t.equal(sent(), 2, 'without a login')
  sim.setDown(false)
  const check = await gate.obtain(request(jwt, { purpose: 'scheduled', answeredBy: () => false }))
  t.ok(check.ok, 'a scheduled check is not held off')
  await clock.advance(2_000)
  t.ok((await gate.obtain(request(jwt))).ok, 'callers are served (from the check\'s session)')
  t.equal(sent(), 3)
})

t.test('the caller\'s policy runs under the lease before a login, and may refuse it', async (t) => {
  const { sim, gate, request, sent } = await rig(t)
  await t.rejects(gate.obtain(request(acmeDefinition(sim, 'jwt_bearer'), { beforeLogin: async () => { throw new Error('stale secret') } })), /stale secret/)
  t.equal(sent(), 0, 'nothing sent')
  const ok = await gate.obtain(request(acmeDefinition(sim, 'jwt_bearer')))
  t.ok(ok.ok, 'the lease was released: the next request logs in')
})

t.test('a stopping caller\'s login sends nothing more after its signal aborted: its lease is handed on', async (t) => {
  const stop = new AbortController()
  // the first attempt has failed: the replica stops while the retry's backoff (at least 100 ms) runs
  const { sim, state, gate, request, sent } = await rig(t, { onAttempt: () => { setTimeout(() => stop.abort(), 20) } })
  const jwt = acmeDefinition(sim, 'jwt_bearer')
  sim.setDown(true)
  await gate.obtain(request(jwt, { retries: 3, deadline: Date.now() + 30_000, signal: stop.signal })).catch((err: unknown) => err)
  t.ok(stop.signal.aborted)
  // the abandoned work ends by recording the transient failure's hold-off: after it, nothing can be sent
  for (;;) {
    if (await state.getJson(transientHoldOffDoc('acme'))) break
    await new Promise(resolve => setImmediate(resolve))
  }
  t.equal(sent(), 1, 'no retry after the abort')
})

t.test('a transient failure is retried within the caller\'s wait, whatever the gate\'s clock reads: the wait is real time', async (t) => {
  let attempts = 0
  const { sim, clock, gate, request } = await rig(t, { onAttempt: () => { if (++attempts === 1) sim.setDown(false) } })
  // the gate's clock a day ahead of the machine's (a test's, or a skewed one); deadlines bound real waiting
  await clock.advance(86_400_000)
  sim.setDown(true)
  const outcome = await gate.obtain(request(acmeDefinition(sim, 'jwt_bearer'), { retries: 2, deadline: Date.now() + 5000 }))
  t.equal(attempts, 2, 'the failed login was tried again')
  t.ok(outcome.ok, 'and the second one was served')
})
