import t, { type Test } from 'tap'
import pino from 'pino'
import { randomBytes } from 'node:crypto'
import type { ClassifiedFailure, ConnectionDefinition, LoginOutcome } from '../../src/salesforce/types.ts'
import { LoginGate, type LoginGateOptions, type ObtainRequest } from '../../src/sessions/login-gate.ts'
import { loginIdentity } from '../../src/sessions/login-identity.ts'
import type { GuardState } from '../../src/sessions/login-guard.ts'
import { FallbackSharedState } from '../../src/shared-state/fallback-state.ts'
import { MemorySharedState } from '../../src/shared-state/memory-state.ts'
import type { StateRead, StateReadValue } from '../../src/shared-state/shared-state.ts'
import { loginGuardDoc, loginInFlightDoc, loginUserLease } from '../../src/shared-state/state-names.ts'
import { until } from '../support/redis-topologies.ts'

/**
 * A replica that stops hands its user's lease on while its own password login may still be on its
 * way; one that is killed hands nothing on, its lease runs out. Two gates over one shared state are
 * two replicas; the Salesforce here judges each login the moment it arrives (and locks the user at
 * 3, as an org may), and answers when the test lets it.
 */

const WRONG: ClassifiedFailure = { classification: 'invalid_credentials', retryable: false, credentialFailure: true, message: 'INVALID_LOGIN', hint: '' }

function deferred (): { promise: Promise<void>, resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>(_resolve => { resolve = _resolve })
  return { promise, resolve }
}

function salesforce (right: string, lockAt = 3) {
  const sf = { failed: 0, locked: false, sent: [] as string[], arrived: deferred(), answer: new Map<string, Promise<void>>() }
  const core = async (d: ConnectionDefinition): Promise<LoginOutcome> => {
    const password = (d as { password: string }).password
    sf.sent.push(password)
    let ok = false
    if (!sf.locked) {
      if (password === right) {
        sf.failed = 0
        ok = true
      } else if (++sf.failed >= lockAt) sf.locked = true
    }
    sf.arrived.resolve()
    await sf.answer.get(password)
    return ok
      ? { ok: true, session: { accessToken: 'tok', instanceUrl: 'https://acme.my.salesforce.com', userId: '005000000000001AAA', orgId: '00D000000000001AAA', issuedAt: Date.now(), flow: 'soap' } }
      : { ok: false, failure: WRONG }
  }
  return { sf, core }
}

/** Redis slow to take the login budget: the take waits until the test lets it go. */
class HeldBudgetState extends MemorySharedState {
  held: ReturnType<typeof deferred> | undefined
  entered = deferred()
  lastTake: Promise<number> | undefined
  override addToWindowBelow (key: string, windowMs: number, limit: number): Promise<number> {
    this.entered.resolve()
    const held = this.held
    this.lastTake = (async () => {
      if (held) await held.promise
      return super.addToWindowBelow(key, windowMs, limit)
    })()
    return this.lastTake
  }
}

/**
 * A replica's view of the shared state that dies with it: once killed, nothing it asks of Redis is
 * ever answered (no renewal of its lease, no count, no note taken back), as for a process killed
 * with SIGKILL.
 */
function mortal (state: MemorySharedState): { state: MemorySharedState, kill: () => void } {
  let dead = false
  const view = new Proxy(state, {
    get (target, name) {
      const value: unknown = Reflect.get(target, name)
      if (typeof value !== 'function') return value
      return (...args: unknown[]) => dead ? new Promise(() => {}) : (value as (...a: unknown[]) => unknown).apply(target, args)
    },
  })
  return { state: view, kill: () => { dead = true } }
}

function gate (state: MemorySharedState, core: (d: ConnectionDefinition) => Promise<LoginOutcome>, leaseTtlMs = 5000): LoginGate {
  return new LoginGate(gateOptions(state, core, leaseTtlMs))
}

function gateOptions (state: MemorySharedState, core: (d: ConnectionDefinition) => Promise<LoginOutcome>, leaseTtlMs: number): LoginGateOptions {
  return {
    core,
    state,
    logger: pino({ level: 'silent' }),
    circuit: { baseCooldownMs: 60_000, maxCooldownMs: 600_000 },
    guard: { threshold: 3 },
    lifetime: { safetyMarginMs: 60_000, maxTtlMs: 900_000 },
    loginsPerHour: 3600,
    leaseTtlMs,
    waitTimeoutMs: 5000,
    hashKey: randomBytes(32),
  }
}

const definition = (password: string): ConnectionDefinition =>
  ({ flow: 'soap', loginUrl: 'https://login.salesforce.com', username: 'integration@acme.example', password, securityToken: 'tok', apiVersion: '62.0', sessionTimeoutSeconds: 7200 }) as ConnectionDefinition
const candidate = (password: string, extra: Partial<ObtainRequest> = {}): ObtainRequest => ({ connection: 'acme', definition: definition(password), purpose: 'admin', ...extra })
const identity = loginIdentity(definition('x'))

/** A's login of `password` goes out; once `reached` (Salesforce judged it, or a step the test holds), A stops and hands the lease on. */
async function stopOnce (t: Test, a: LoginGate, password: string, reached: Promise<void>, afterStop?: () => void): Promise<void> {
  const stop = new AbortController()
  const fromA = a.obtain(candidate(password, { signal: stop.signal })).catch((err: unknown) => err)
  await reached
  stop.abort()
  afterStop?.()
  t.ok(await fromA instanceof Error, 'A stopped waiting and handed the lease on')
}

/** Two replicas on one state: A's right password was judged by Salesforce (its count is zero) and A stopped before the answer came; `answerRight` lets it through. */
async function abandonedSuccess (t: Test, now?: () => number) {
  const { sf, core } = salesforce('right')
  const state = new MemorySharedState()
  const a = new LoginGate({ ...gateOptions(state, core, 5000), ...(now ? { now } : {}) })
  const b = new LoginGate({ ...gateOptions(state, core, 5000), ...(now ? { now } : {}) })
  const answerRight = deferred()
  sf.answer.set('right', answerRight.promise)
  await stopOnce(t, a, 'right', sf.arrived.promise)
  return { sf, core, state, b, answerRight }
}

/** Two more wrong candidates: the second would be Salesforce's third failure, so the guard holds it back and the user stays unlocked. */
async function twoMoreWrongAreStopped (t: Test, g: LoginGate, sf: { locked: boolean }): Promise<void> {
  await g.obtain(candidate('wrong-b'))
  const third = await g.obtain(candidate('wrong-c'))
  t.ok(!third.ok && 'refusal' in third && third.refusal.kind === 'guarded', 'the third wrong candidate is held back: the failures before it were counted')
  t.equal(sf.locked, false, 'the user is not locked')
}

t.test('a replica stopped while its gate takes the budget sends no login after handing the lease on', async (t) => {
  const { sf, core } = salesforce('right')
  const state = new HeldBudgetState()
  const a = gate(state, core)
  const b = gate(state, core)
  sf.failed = 1
  await state.putJson(loginGuardDoc(identity), { failures: [Date.now() - 1000], candidates: [] } satisfies GuardState)

  state.held = deferred()
  await stopOnce(t, a, 'wrong-a', state.entered.promise)
  // the budget answers A late; B, the next holder, sends its own candidate
  state.held.resolve()
  await state.lastTake
  await new Promise(resolve => setImmediate(resolve))
  state.held = undefined
  await b.obtain(candidate('wrong-b'))
  t.same(sf.sent, ['wrong-b'], 'A sent nothing once stopped')
  t.equal(sf.locked, false)
})

t.test('the late success of an abandoned login resets the count as of when it was sent: a failure the next holder counted since stays', async (t) => {
  const { sf, state, b, answerRight } = await abandonedSuccess(t)
  t.equal((await state.getJson<GuardState>(loginGuardDoc(identity)))?.failures.length, 1, 'the login in flight counted as failed meanwhile')

  const fromB = await b.obtain(candidate('wrong-b'))
  t.ok(!fromB.ok && 'failure' in fromB && fromB.counted, 'B\'s wrong candidate: counted')
  t.equal(sf.failed, 1, 'Salesforce counts one failure, after A\'s success')

  answerRight.resolve() // A's success answers now
  await until('A\'s late success is written', async () => (await state.getJson<GuardState>(loginGuardDoc(identity)))?.resetAt !== undefined)
  const guard = await state.getJson<GuardState>(loginGuardDoc(identity))
  t.ok((guard?.failures.length ?? 0) >= sf.failed, `the guard never counts fewer than Salesforce (guard ${guard?.failures.length}, Salesforce ${sf.failed})`)
  await b.obtain(candidate('wrong-c'))
  await b.obtain(candidate('wrong-d'))
  t.equal(sf.locked, false, 'two more wrong candidates do not lock the user')
})

t.test('a replica killed while Salesforce judges its password login: the next holder of the lease counts that login as failed', async (t) => {
  const { sf, core } = salesforce('right')
  const state = new MemorySharedState()
  const doomed = mortal(state)
  // a short lease: a killed holder is replaced within one ttl
  const a = gate(doomed.state, core, 150)
  const b = gate(state, core, 150)
  sf.answer.set('wrong-a', new Promise(() => {})) // A never hears back: it is killed first

  a.obtain(candidate('wrong-a')).catch(() => {})
  await sf.arrived.promise
  doomed.kill()
  t.equal(sf.failed, 1, 'Salesforce judged A\'s login: one failure')

  // B waits for A's lease to run out, then sends its own wrong candidate: room for one before the lockout
  const fromB = await b.obtain(candidate('wrong-b'))
  t.ok(!fromB.ok && 'failure' in fromB && fromB.counted, 'B\'s wrong candidate went out and was counted')
  t.equal(sf.failed, 2)
  const third = await b.obtain(candidate('wrong-c'))
  t.ok(!third.ok && 'refusal' in third && third.refusal.kind === 'guarded', 'the third wrong candidate is held back: it would lock the user')
  t.same(sf.sent, ['wrong-a', 'wrong-b'])
  t.equal(sf.locked, false, 'the user is not locked')
  t.equal((await state.getJson<GuardState>(loginGuardDoc(identity)))?.failures.length, 2, 'the guard counts what Salesforce counts')
})

t.test('a login answered and counted leaves nothing for the next holder to count again', async (t) => {
  const { sf, core } = salesforce('right')
  const state = new MemorySharedState()
  const a = gate(state, core)
  const b = gate(state, core)
  t.ok(!(await a.obtain(candidate('wrong-a'))).ok)
  t.ok((await b.obtain(candidate('right'))).ok, 'a success resets the count')
  t.ok(!(await a.obtain(candidate('wrong-b'))).ok)
  const fromB = await b.obtain(candidate('wrong-c'))
  t.ok(!fromB.ok && 'failure' in fromB, 'one more wrong candidate may go: the count is one, not more')
  t.equal(sf.failed, 2)
  t.equal(sf.locked, false)
  t.equal((await state.getJson<GuardState>(loginGuardDoc(identity)))?.failures.length, 2)
})

t.test('a password login retried after a failure where nothing reached Salesforce: its own note is not counted', async (t) => {
  const state = new MemorySharedState()
  let sent = 0
  const neverSent: ClassifiedFailure = { classification: 'unreachable', retryable: true, credentialFailure: false, message: 'connect ECONNREFUSED', hint: '' }
  const g = gate(state, async () => { sent++; return { ok: false, failure: neverSent } })
  const outcome = await g.obtain({ connection: 'acme', definition: definition('right'), purpose: 'miss', storedVersion: 1, retries: 2 })
  t.equal(sent, 3, 'sent, then retried twice')
  t.notOk(!outcome.ok && 'refusal' in outcome && outcome.refusal.kind === 'guarded', 'not refused by the lockout guard')
  t.equal((await state.getJson<GuardState>(loginGuardDoc(identity)))?.failures.length ?? 0, 0, 'Salesforce counted nothing: neither does the guard')
})

t.test('a replica killed mid-login, then a cache hit under the lease: the note stays until a password login counts it', async (t) => {
  const { sf, core } = salesforce('right')
  const state = new MemorySharedState()
  const b = gate(state, core, 150)
  const stored = (password: string, extra: Partial<ObtainRequest>): ObtainRequest => ({ connection: 'acme', definition: definition(password), storedVersion: 1, purpose: 'miss', ...extra })
  t.ok((await b.obtain(stored('right', { answeredBy: () => true }))).ok, 'a session is cached for version 1')
  // the password was changed in Setup; A refreshes with the stored one and is killed while Salesforce judges it
  const doomed = mortal(state)
  const a = gate(doomed.state, core, 150)
  sf.arrived = deferred()
  sf.answer.set('stale', new Promise(() => {}))
  a.obtain(stored('stale', { purpose: 'refresh', answeredBy: () => false })).catch(() => {})
  await sf.arrived.promise
  doomed.kill()
  t.equal(sf.failed, 1)

  // a caller on B, once A's lease ran out: B takes the lease, and the cached session answers it, no login
  await until('A\'s lease ran out', async () => await state.acquireLease(loginUserLease(identity), 'probe', 1) && await state.releaseLease(loginUserLease(identity), 'probe'))
  const hit = await b.obtain(stored('stale', { answeredBy: () => true }))
  t.ok(hit.ok && hit.fromCache, 'served from the cache')
  t.ok(await state.getJson(loginInFlightDoc(identity)), 'A\'s note is still there')
  await twoMoreWrongAreStopped(t, b, sf)
})

t.test('a reset stamped by a replica whose clock runs ahead does not hide a killed login', async (t) => {
  const { sf, core } = salesforce('right')
  const state = new MemorySharedState()
  const ahead = new LoginGate({ ...gateOptions(state, core, 150), now: () => Date.now() + 120_000 })
  await ahead.obtain(candidate('wrong-0'))
  t.ok((await ahead.obtain(candidate('right'))).ok, 'a success on the replica two minutes ahead: the count is reset, stamped two minutes ahead')
  t.ok(((await state.getJson<GuardState>(loginGuardDoc(identity)))?.resetAt ?? 0) > Date.now() + 60_000, 'stamped ahead')

  const doomed = mortal(state)
  const a = gate(doomed.state, core, 150)
  sf.arrived = deferred()
  sf.answer.set('wrong-a', new Promise(() => {}))
  a.obtain(candidate('wrong-a')).catch(() => {})
  await sf.arrived.promise
  doomed.kill()

  const b = gate(state, core, 150)
  await b.obtain(candidate('wrong-b'))
  t.equal(sf.failed, 2)
  const third = await b.obtain(candidate('wrong-c'))
  t.ok(!third.ok && 'refusal' in third && third.refusal.kind === 'guarded', 'the killed login was counted')
  t.equal(sf.locked, false)
})

/** A primary (Redis) that a test can make refuse writes and events for one replica (its connection dropped). */
function flaky (state: MemorySharedState): { state: MemorySharedState, down: { writes: boolean } } {
  const down = { writes: false }
  const view = new Proxy(state, {
    get (target, name) {
      const value: unknown = Reflect.get(target, name)
      if (typeof value !== 'function') return value
      return (...args: unknown[]) => {
        if (down.writes && (name === 'putJson' || name === 'publish')) return Promise.reject(new Error('Connection is closed.'))
        return (value as (...a: unknown[]) => unknown).apply(target, args)
      }
    },
  })
  return { state: view, down }
}

t.test('a reset one replica holds in memory only (Redis dropped its write) does not hide a killed login sent after it', async (t) => {
  const { sf, core } = salesforce('right')
  const shared = new MemorySharedState()
  const log = pino({ level: 'silent' })
  // one earlier failure, counted fleet-wide; then the admin unlocks the user in Setup (Salesforce's count: zero)
  sf.failed = 0
  await shared.putJson(loginGuardDoc(identity), { failures: [Date.now() - 60_000], candidates: [] } satisfies GuardState)
  const onB = flaky(shared)
  const stateB = new FallbackSharedState(onB.state, log)
  const b = new LoginGate(gateOptions(stateB as unknown as MemorySharedState, core, 150))
  onB.down.writes = true
  await b.acknowledgeReset(definition('x')) // kept in B's memory; Redis gets it on B's write-back
  onB.down.writes = false

  // A, another replica, logs in with a wrong candidate and is killed while Salesforce judges it
  const doomed = mortal(shared)
  const stateA = new FallbackSharedState(doomed.state, log)
  const a = new LoginGate(gateOptions(stateA as unknown as MemorySharedState, core, 150))
  sf.answer.set('wrong-a', new Promise(() => {}))
  a.obtain(candidate('wrong-a')).catch(() => {})
  await sf.arrived.promise
  doomed.kill()
  t.equal(sf.failed, 1, 'Salesforce counted A\'s login (after the admin\'s reset)')

  const fromB = await b.obtain(candidate('wrong-b'))
  t.ok(!fromB.ok && 'failure' in fromB, 'B\'s wrong candidate went out')
  t.equal(sf.failed, 2)
  const third = await b.obtain(candidate('wrong-c'))
  t.ok(!third.ok && 'refusal' in third && third.refusal.kind === 'guarded', 'the third wrong candidate is held back')
  t.equal(sf.locked, false, 'the user is not locked')
})

/** Redis slow: the note's SET was sent and lands, but its answer timed out. */
class SlowNoteState extends MemorySharedState {
  slow = false
  override async putJson (key: string, value: unknown, ttlMs?: number): Promise<void> {
    await super.putJson(key, value, ttlMs)
    if (this.slow && key === loginInFlightDoc(identity)) {
      this.slow = false
      throw new Error('Command timed out')
    }
  }
}

t.test('a note whose write timed out (it landed): nothing was sent, and nothing is counted', async (t) => {
  const { sf, core } = salesforce('right')
  const state = new SlowNoteState()
  const a = gate(state, core)
  state.slow = true
  const first = await a.obtain(candidate('wrong-a'))
  t.ok(!first.ok && 'refusal' in first && first.refusal.kind === 'guard_unavailable', 'refused: the note was not confirmed')
  t.same(sf.sent, [], 'nothing sent')
  t.equal(await state.getJson(loginInFlightDoc(identity)), null, 'the note landed late and went with the lease: it describes nothing')
  const fromB = await gate(state, core).obtain(candidate('wrong-b'))
  t.ok(!fromB.ok && 'failure' in fromB, 'B\'s wrong candidate went out')
  t.equal((await state.getJson<GuardState>(loginGuardDoc(identity)))?.failures.length, sf.failed, `the guard counts what Salesforce counts (Salesforce ${sf.failed})`)
})

/** Redis slow to take some writes: a write `holds` picks waits until `held` is resolved (`entered` says one does). */
class HeldPutState extends MemorySharedState {
  held = deferred()
  entered = deferred()
  private readonly holds: (key: string) => boolean
  constructor (holds: (key: string) => boolean) {
    super()
    this.holds = holds
  }

  override async putJson (key: string, value: unknown, ttlMs?: number): Promise<void> {
    if (this.holds(key)) {
      this.entered.resolve()
      await this.held.promise
    }
    return super.putJson(key, value, ttlMs)
  }
}

t.test('stopped after a success was answered, while it was recorded: the stop waits for it, and the next holder counts nothing more', async (t) => {
  const { sf, core } = salesforce('right')
  // Redis slow to take the user's name after a first success
  const state = new HeldPutState(key => key.startsWith('salesforce-user:'))
  await state.putJson(loginGuardDoc(identity), { failures: [], candidates: [], resetAt: Date.now() - 1000 } satisfies GuardState)
  const a = gate(state, core)
  await stopOnce(t, a, 'right', state.entered.promise, () => { state.held.resolve() }) // Salesforce answered success; A is writing the user's name (first login of this identity)
  const fromB = await gate(state, core).obtain(candidate('wrong-b'))
  t.ok(!fromB.ok && 'failure' in fromB)
  t.equal((await state.getJson<GuardState>(loginGuardDoc(identity)))?.failures.length, sf.failed, `the guard counts what Salesforce counts (Salesforce ${sf.failed})`)
})

t.test('Salesforce\'s own count, read while an abandoned login is still on its way, does not replace that login\'s failure', async (t) => {
  const { sf, core } = salesforce('right')
  const inTransit = deferred()
  const onItsWay = deferred()
  const slow = async (d: ConnectionDefinition): Promise<LoginOutcome> => {
    if ((d as { password: string }).password === 'wrong-a') {
      inTransit.resolve()
      await onItsWay.promise
    }
    return core(d)
  }
  const state = new MemorySharedState()
  const opts = (): LoginGateOptions => ({ ...gateOptions(state, slow, 5000), readFailedLogins: async () => ({ ok: true, failedLogins: sf.failed, locked: sf.locked }) })
  const a = new LoginGate(opts())
  const b = new LoginGate(opts())
  t.ok((await b.obtain({ connection: 'acme', definition: definition('right'), storedVersion: 1, purpose: 'miss', answeredBy: () => true })).ok, 'a session of the org is cached: Salesforce\'s count can be read')
  await b.obtain(candidate('wrong-1'))
  t.equal(sf.failed, 1)
  await stopOnce(t, a, 'wrong-a', inTransit.promise) // sent; Salesforce has not judged it yet
  t.equal((await state.getJson<GuardState>(loginGuardDoc(identity)))?.failures.length, 2, 'counted: the guard holds logins back')
  const fromB = await b.obtain(candidate('wrong-b')) // held back; Salesforce's count (1) is read
  t.ok(!fromB.ok && 'refusal' in fromB && fromB.refusal.kind === 'guarded', 'Salesforce\'s count plus the login on its way: still held back')
  onItsWay.resolve()
  await until('A\'s login judged', async () => sf.sent.includes('wrong-a'))
  const guard = await state.getJson<GuardState>(loginGuardDoc(identity))
  t.ok((guard?.failures.length ?? 0) >= sf.failed, `the guard never counts fewer than Salesforce (guard ${guard?.failures.length}, Salesforce ${sf.failed})`)
  t.equal(sf.locked, false, 'the user is not locked')
})

t.test('the late success of an abandoned login from a replica whose clock runs ahead keeps the failures counted since', async (t) => {
  const { sf, core } = salesforce('right', 5)
  const state = new MemorySharedState()
  const five = (o: LoginGateOptions): LoginGateOptions => ({ ...o, guard: { threshold: 5 } })
  const ahead = new LoginGate(five({ ...gateOptions(state, core, 5000), now: () => Date.now() + 120_000 }))
  const b = new LoginGate(five(gateOptions(state, core, 5000)))
  const answerRight = deferred()
  sf.answer.set('right', answerRight.promise)
  await stopOnce(t, ahead, 'right', sf.arrived.promise)
  for (const p of ['wrong-b', 'wrong-c', 'wrong-d']) await b.obtain(candidate(p))
  t.equal(sf.failed, 3)
  answerRight.resolve()
  await until('A\'s late success is written', async () => (await state.getJson<GuardState>(loginGuardDoc(identity)))?.resetAt !== undefined)
  const guard = await state.getJson<GuardState>(loginGuardDoc(identity))
  t.ok((guard?.failures.length ?? 0) >= sf.failed, `the guard never counts fewer than Salesforce (guard ${guard?.failures.length}, Salesforce ${sf.failed})`)
  for (const p of ['wrong-e', 'wrong-f', 'wrong-g']) await b.obtain(candidate(p))
  t.equal(sf.locked, false, 'the user is not locked')
})

/** HeldBudgetState that also tells when someone read the user's failure count. */
class WatchedGuardState extends HeldBudgetState {
  guardRead = deferred()
  override async readMany<const R extends readonly StateRead[]> (reads: R): Promise<{ -readonly [K in keyof R]: StateReadValue<R[K]> }> {
    const values = await super.readMany(reads)
    if (reads.some(r => r.kind === 'doc' && r.key === loginGuardDoc(identity))) this.guardRead.resolve()
    return values
  }
}

/**
 * The admin acknowledges (Salesforce's count is zero: the user was unlocked) while A, holding the
 * lease, is held taking its budget; then A's wrong candidate goes out, after the unlock (Salesforce
 * counts 1), and the acknowledgement runs: the guard must count that one.
 */
async function acknowledgeWhileHeld (t: Test, a: LoginGate, state: WatchedGuardState, sf: { failed: number }, fromA: Promise<unknown>): Promise<void> {
  state.guardRead = deferred()
  const acknowledged = a.acknowledgeReset(definition('x'))
  await state.guardRead.promise // the admin's view of the count, taken when asked
  state.held?.resolve()
  await fromA
  state.held = undefined
  await acknowledged
  t.equal(sf.failed, 1)
  const guard = await state.getJson<GuardState>(loginGuardDoc(identity))
  t.equal(guard?.failures.length, sf.failed, `the guard counts what Salesforce counts (guard ${guard?.failures.length}, Salesforce ${sf.failed})`)
}

t.test('an admin\'s acknowledgement drops the failures counted when it was asked, not one a login already under the lease counts after', async (t) => {
  const { sf, core } = salesforce('right')
  const state = new WatchedGuardState()
  // a clock that moves at every look: this Salesforce answers within the millisecond, and the guard
  // tells failures apart by when they were sent (under a user's lease no two logins share one)
  let tick = Date.now()
  const a = new LoginGate({ ...gateOptions(state, core, 5000), now: () => tick++ })
  await a.obtain(candidate('wrong-0'))
  sf.failed = 0 // the admin unlocked the user in Setup
  // A holds the lease and is taking the login budget: its login has not gone out yet
  state.entered = deferred()
  state.held = deferred()
  const fromA = a.obtain(candidate('wrong-a'))
  await state.entered.promise
  await acknowledgeWhileHeld(t, a, state, sf, fromA)
  await twoMoreWrongAreStopped(t, a, sf)
})

t.test('the late success of an abandoned login takes back the failure counted for it: the right password goes out after one more failure', async (t) => {
  const { sf, state, b, answerRight } = await abandonedSuccess(t)
  answerRight.resolve()
  await until('A\'s late success is written', async () => (await state.getJson<GuardState>(loginGuardDoc(identity)))?.failures.length === 0)
  await b.obtain(candidate('wrong-b'))
  t.equal(sf.failed, 1)
  t.ok((await b.obtain(candidate('right'))).ok, 'Salesforce counts 1 of 3: the right password goes out')
})

t.test('Salesforce\'s count is stamped before it was read: an admin\'s reset asked after it never takes back a failure counted later in the same millisecond', async (t) => {
  const { sf, core } = salesforce('right', 5)
  const state = new WatchedGuardState()
  const T = Date.now()
  // a frozen clock: every login and read happens in the same millisecond
  const a = new LoginGate({ ...gateOptions(state, core, 5000), guard: { threshold: 5 }, now: () => T, readFailedLogins: async () => ({ ok: true, failedLogins: sf.failed, locked: sf.locked }) })
  t.ok((await a.obtain({ connection: 'acme', definition: definition('right'), storedVersion: 1, purpose: 'miss', answeredBy: () => true })).ok, 'a session of the org is cached: Salesforce\'s count can be read')
  // four failures the broker counted; Salesforce says two (someone reset part of it): the guard holds logins back and asks
  await state.putJson(loginGuardDoc(identity), { failures: [T - 40, T - 30, T - 20, T - 10], candidates: [] } satisfies GuardState)
  sf.failed = 2
  state.entered = deferred()
  state.held = deferred()
  const fromA = a.obtain(candidate('wrong-a')) // held back, asks Salesforce (2), goes on; held while it takes the budget
  await state.entered.promise
  sf.failed = 0 // the admin unlocks the user in Setup, then acknowledges
  await acknowledgeWhileHeld(t, a, state, sf, fromA)
})

t.test('replicas with Redis and their own memory: the failure a late success takes back does not come back from another replica\'s memory', async (t) => {
  const { sf, core } = salesforce('right')
  const redis = new MemorySharedState()
  const log = pino({ level: 'silent' })
  const stateA = new FallbackSharedState(redis, log)
  const stateB = new FallbackSharedState(redis, log)
  const a = new LoginGate(gateOptions(stateA as unknown as MemorySharedState, core, 5000))
  const b = new LoginGate(gateOptions(stateB as unknown as MemorySharedState, core, 5000))
  const answerRight = deferred()
  sf.answer.set('right', answerRight.promise)
  await stopOnce(t, a, 'right', sf.arrived.promise)
  const inB = () => stateB.tiers.local.getJson<GuardState>(loginGuardDoc(identity))
  await until('B heard the abandoned login counted', async () => (await inB())?.failures.length === 1)
  answerRight.resolve()
  await until('B heard the late success', async () => (await inB())?.resetAt !== undefined)
  await b.obtain(candidate('wrong-b'))
  t.equal(sf.failed, 1)
  t.equal((await redis.getJson<GuardState>(loginGuardDoc(identity)))?.failures.length, 1, 'the guard counts what Salesforce counts')
  t.ok((await b.obtain(candidate('right'))).ok, 'Salesforce counts 1 of 3: the right password goes out')
})

t.test('replicas with Redis and their own memory: health shows Salesforce\'s count while it is the guard\'s', async (t) => {
  const { sf, core } = salesforce('right', 5)
  const stateA = new FallbackSharedState(new MemorySharedState(), pino({ level: 'silent' }))
  const T = Date.now()
  const a = new LoginGate({ ...gateOptions(stateA as unknown as MemorySharedState, core, 5000), guard: { threshold: 5 }, readFailedLogins: async () => ({ ok: true, failedLogins: sf.failed, locked: sf.locked }) })
  t.ok((await a.obtain({ connection: 'acme', definition: definition('right'), storedVersion: 1, purpose: 'miss', answeredBy: () => true })).ok, 'a session of the org is cached: Salesforce\'s count can be read')
  await stateA.putJson(loginGuardDoc(identity), { failures: [T - 40, T - 30, T - 20, T - 10], candidates: [] } satisfies GuardState)
  sf.failed = 4
  const held = await a.obtain(candidate('wrong-a'))
  t.ok(!held.ok && 'refusal' in held && held.refusal.kind === 'guarded', 'Salesforce counts 4 of 5 too: held back')
  const view = await a.loginView('acme', definition('x'))
  t.equal(view.guard.truth?.failedLogins, 4, 'the count shown is Salesforce\'s, as read')
  t.equal((await stateA.tiers.fleet.getJson<GuardState>(loginGuardDoc(identity)))?.truthReadAt, view.guard.truth?.readAt, 'and Redis still says so after the view')
})

t.test('replicas with Redis and their own memory: a health view never writes its copy of the count over a failure counted meanwhile', async (t) => {
  const { sf, core } = salesforce('right')
  // Redis whose next write of the guard, once armed, waits until the test lets it go (the others go through)
  let armed = false
  const redis = new HeldPutState(key => {
    if (!armed || key !== loginGuardDoc(identity)) return false
    armed = false
    return true
  })
  const log = pino({ level: 'silent' })
  const replica = () => {
    const state = new FallbackSharedState(redis, log)
    return { state, gate: new LoginGate(gateOptions(state as unknown as MemorySharedState, core, 5000)) }
  }
  const [a, b] = [replica(), replica()]
  const T = Date.now()
  // the fleet counts one failure; A's right password was taken while Redis could not take its reset:
  // A's memory holds the reset, Redis the failure (A writes it back under the lease when it can)
  await redis.putJson(loginGuardDoc(identity), { failures: [T - 100], candidates: [] } satisfies GuardState)
  await a.state.tiers.local.putJson(loginGuardDoc(identity), { failures: [], candidates: [], resetAt: T - 50 } satisfies GuardState)
  sf.failed = 0

  // an SRE's health view on A merges the two copies while B counts a wrong candidate
  armed = true
  const viewed = a.gate.loginView('acme', definition('x'))
  await Promise.race([redis.entered.promise, viewed])
  armed = false
  const fromB = await b.gate.obtain(candidate('wrong-b'))
  t.ok(!fromB.ok && 'failure' in fromB && fromB.counted, 'B\'s wrong candidate went out and was counted')
  redis.held.resolve()
  await viewed
  t.equal(sf.failed, 1)

  // C, a replica started since, knows only Redis: two more wrong candidates must not lock the user
  const c = replica()
  await c.gate.obtain(candidate('wrong-c'))
  await c.gate.obtain(candidate('wrong-d'))
  t.equal(sf.locked, false, 'the user is not locked')
  const fleet = await redis.getJson<GuardState>(loginGuardDoc(identity))
  t.ok((fleet?.failures.length ?? 0) >= sf.failed, `Redis never counts fewer than Salesforce (Redis ${fleet?.failures.length}, Salesforce ${sf.failed})`)
})

for (const clock of ['the replicas\' own clocks', 'one clock stopped (every login in the same millisecond)'] as const) {
  t.test(`the late success of an abandoned login lands while the next holder's wrong candidate is at Salesforce: that failure stays, and only it (${clock})`, async (t) => {
    const T = Date.now()
    await lateSuccessBesideNextHolder(t, clock.startsWith('one') ? () => T : undefined)
  })
}

async function lateSuccessBesideNextHolder (t: Test, now: (() => number) | undefined): Promise<void> {
  const { sf, state, b, answerRight } = await abandonedSuccess(t, now)
  const answerWrong = deferred()
  sf.answer.set('wrong-b', answerWrong.promise)
  const fromB = b.obtain(candidate('wrong-b'))
  await until('B\'s wrong candidate reached Salesforce', async () => sf.sent.includes('wrong-b'))
  t.equal(sf.failed, 1, 'Salesforce judged it after A\'s success: one failure')
  // A's success answers while B holds the lease; then B's failure
  answerRight.resolve()
  for (let i = 0; i < 10; i++) await new Promise(resolve => setImmediate(resolve))
  answerWrong.resolve()
  await fromB
  await until('A\'s late success is written', async () => (await state.getJson<GuardState>(loginGuardDoc(identity)))?.resetAt !== undefined)
  const guard = await state.getJson<GuardState>(loginGuardDoc(identity))
  t.equal(guard?.failures.length, sf.failed, `the guard counts what Salesforce counts (guard ${guard?.failures.length}, Salesforce ${sf.failed})`)
  t.ok((await b.obtain(candidate('right'))).ok, 'Salesforce counts 1 of 3: the right password goes out')
}

t.test('the late success of an abandoned login does not hide the login of a holder that died after it', async (t) => {
  const { sf, core, state, answerRight } = await abandonedSuccess(t)
  // D, a replica whose clock runs a second behind, takes the lease, sends a wrong candidate and is killed
  const doomed = mortal(state)
  const d = new LoginGate({ ...gateOptions(doomed.state, core, 150), now: () => Date.now() - 1000 })
  sf.answer.set('wrong-d', new Promise(() => {}))
  d.obtain(candidate('wrong-d')).catch(() => {})
  await until('D\'s login reached Salesforce', async () => sf.sent.includes('wrong-d'))
  doomed.kill()
  t.equal(sf.failed, 1, 'Salesforce: A\'s success, then D\'s failure')
  answerRight.resolve() // A's success lands under the lease once D's has run out
  await until('A\'s late success is written', async () => (await state.getJson<GuardState>(loginGuardDoc(identity)))?.resetAt !== undefined)
  await twoMoreWrongAreStopped(t, gate(state, core), sf)
})

t.test('replicas with Redis and their own memory: a count Redis lost is written back from a replica\'s memory when a view finds it missing', async (t) => {
  const { sf, core } = salesforce('right')
  const redis = new MemorySharedState()
  const log = pino({ level: 'silent' })
  const replica = () => {
    const state = new FallbackSharedState(redis, log)
    return { state, gate: new LoginGate(gateOptions(state as unknown as MemorySharedState, core, 5000)) }
  }
  const a = replica()
  await a.gate.obtain(candidate('wrong-1'))
  await a.gate.obtain(candidate('wrong-2'))
  await redis.putJson(loginGuardDoc(identity), null) // Redis restarted empty, or failed over to a replica behind
  t.equal((await a.gate.loginView('acme', definition('x'))).guard.failures, 2, 'A\'s health view shows A\'s count')
  await until('the count is back in Redis', async () => (await redis.getJson<GuardState>(loginGuardDoc(identity)))?.failures.length === 2)
  // C, started since, knows only Redis
  const third = await replica().gate.obtain(candidate('wrong-3'))
  t.ok(!third.ok && 'refusal' in third && third.refusal.kind === 'guarded', 'C holds its wrong candidate back')
  t.equal(sf.locked, false)
})

t.test('a replica killed mid-login in a millisecond the count already holds: its login is still counted', async (t) => {
  const { sf, core } = salesforce('right')
  const state = new MemorySharedState()
  const T = Date.now()
  // one stopped clock for all: every login is stamped T, as replicas whose clocks differ can stamp alike
  const at = (s: MemorySharedState, leaseTtlMs: number) => new LoginGate({ ...gateOptions(s, core, leaseTtlMs), now: () => T })
  await at(state, 150).obtain(candidate('wrong-a'))
  const doomed = mortal(state)
  sf.answer.set('wrong-d', new Promise(() => {}))
  at(doomed.state, 150).obtain(candidate('wrong-d')).catch(() => {})
  await until('D\'s login reached Salesforce', async () => sf.sent.includes('wrong-d'))
  doomed.kill()
  t.equal(sf.failed, 2)
  const third = await at(state, 150).obtain(candidate('wrong-b'))
  t.ok(!third.ok && 'refusal' in third && third.refusal.kind === 'guarded', 'the next wrong candidate is held back: D\'s login was counted')
  t.equal(sf.locked, false)
})
