import t from 'tap'
import { circuitBlocks, openCircuit, opensCircuit, retryAfterSeconds } from '../../src/sessions/circuit.ts'
import type { ClassifiedFailure } from '../../src/salesforce/types.ts'

const failure: ClassifiedFailure = { classification: 'invalid_credentials', retryable: false, credentialFailure: true, message: 'authentication failure', hint: 'check the password' }
const policy = { baseCooldownMs: 60_000, maxCooldownMs: 300_000 }
const mid = () => 0.5

t.test('the pause doubles per failure up to the maximum', async (t) => {
  const now = 1_000_000
  const first = openCircuit(null, 3, failure, policy, now, mid)
  t.equal(first.failures, 1)
  t.equal(first.retryAt - now, 60_000)
  const second = openCircuit(first, 3, failure, policy, now, mid)
  t.equal(second.retryAt - now, 120_000)
  t.equal(second.openedAt, now)
  let s = second
  for (let i = 0; i < 10; i++) s = openCircuit(s, 3, failure, policy, now, mid)
  t.equal(s.retryAt - now, 300_000, 'capped')
})

t.test('jitter stays within ±10 %', async (t) => {
  const low = openCircuit(null, 1, failure, policy, 0, () => 0)
  const high = openCircuit(null, 1, failure, policy, 0, () => 0.999999)
  t.equal(low.retryAt, 54_000)
  t.ok(high.retryAt <= 66_000 && high.retryAt > 65_000)
})

t.test('a circuit blocks only the secret version it was opened for, until retryAt', async (t) => {
  const state = openCircuit(null, 5, failure, policy, 0, mid)
  t.ok(circuitBlocks(state, 5, 1000))
  t.notOk(circuitBlocks(state, 6, 1000), 'a rotated secret may log in')
  t.notOk(circuitBlocks(state, 5, state.retryAt), 'a probe is allowed at retryAt')
  t.notOk(circuitBlocks(null, 5, 0))
  t.equal(retryAfterSeconds(state, 0), 60)
})

t.test('a failure after rotation restarts the count', async (t) => {
  const old = openCircuit(openCircuit(null, 1, failure, policy, 0, mid), 1, failure, policy, 0, mid)
  const fresh = openCircuit(old, 2, failure, policy, 0, mid)
  t.equal(fresh.failures, 1)
  t.equal(fresh.secretVersion, 2)
})

t.test('credential failures and unfixable refusals open the circuit; transient ones do not', async (t) => {
  t.ok(opensCircuit(failure))
  t.ok(opensCircuit({ ...failure, classification: 'unknown', credentialFailure: false, retryable: false }))
  t.notOk(opensCircuit({ ...failure, classification: 'unreachable', credentialFailure: false, retryable: true }))
  t.notOk(opensCircuit({ ...failure, classification: 'login_rate_exceeded', credentialFailure: false, retryable: true }))
})
