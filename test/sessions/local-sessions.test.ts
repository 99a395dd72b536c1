import t from 'tap'
import { LocalSessions, servable } from '../../src/sessions/local-sessions.ts'
import type { CachedSession } from '../../src/shared-state/shared-state.ts'

function entry (token: string, secretVersion: number, validUntil: number): CachedSession {
  return {
    session: { accessToken: token, instanceUrl: 'https://acme.my.salesforce.com', issuedAt: 0, userId: '005', orgId: '00D' } as CachedSession['session'],
    secretVersion,
    apiVersion: '62.0',
    realEnd: validUntil + 120_000,
    validUntil,
  }
}

t.test('servable: this secret version, before validUntil, and not the token reported dead', async (t) => {
  const e = entry('tok', 2, 1_000)
  t.ok(servable(e, 2, undefined, 999))
  t.notOk(servable(e, 3, undefined, 999), 'another secret version')
  t.notOk(servable(e, 2, undefined, 1_000), 'at validUntil')
  t.notOk(servable(e, 2, 'tok', 999), 'the token the caller reports dead')
  t.ok(servable(e, 2, 'other', 999), 'a different dead token')
  t.notOk(servable(null, 2, undefined, 0))
})

t.test('LocalSessions trusts a copy only while it is fresh; last() returns it however old', async (t) => {
  let now = 0
  const local = new LocalSessions(5_000, () => now)
  const e = entry('tok', 1, 60_000)
  t.equal(local.fresh('acme', 1, undefined), undefined, 'nothing held')
  local.remember('acme', e)
  now = 4_999
  t.equal(local.fresh('acme', 1, undefined), e, 'fresh within the window')
  t.equal(local.fresh('acme', 2, undefined), undefined, 'not for another secret version')
  t.equal(local.fresh('acme', 1, 'tok'), undefined, 'not when reported dead')
  now = 5_000
  t.equal(local.fresh('acme', 1, undefined), undefined, 'too old to trust without asking the shared state')
  t.equal(local.last('acme'), e, 'still held for the store-down path')
  local.remember('acme', e)
  t.equal(local.fresh('acme', 1, undefined), e, 'remembering again confirms it now')
  local.forget('acme')
  t.equal(local.last('acme'), undefined, 'forgotten')
})

t.test('a read begun before a purge does not bring back what the purge dropped', async (t) => {
  const local = new LocalSessions(5_000, () => 0)
  const old = entry('old', 1, 60_000)
  local.remember('acme', old)
  const readAt = local.generation('acme')
  // the purge arrives (and is confirmed) while the shared-state read of `old` is in flight
  local.forget('acme')
  local.remember('acme', old, readAt)
  t.equal(local.last('acme'), undefined, 'not remembered: it may be what the purge dropped')
  const next = entry('next', 1, 60_000)
  local.remember('acme', next, local.generation('acme'))
  t.equal(local.fresh('acme', 1, undefined), next, 'a read begun after the purge is kept')
  t.equal(local.generation('other'), 0, 'per connection')
})
