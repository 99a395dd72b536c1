import t from 'tap'
import { nextHealth, overallStatus, type CheckOutcome } from '../../src/health/health-result.ts'
import { evaluateReadiness } from '../../src/salesforce/readiness-evaluation.ts'

const NOW = Date.parse('2026-11-30T12:00:00.000Z')
const lacking = evaluateReadiness({ permissions: { PermissionsModifyAllData: false }, unreadable: [], lastLogin: { at: NOW, sourceIp: '203.0.113.7' } }, { requiredPermissions: ['PermissionsModifyAllData'] }, { now: NOW, warnDays: 14 })
const ready = evaluateReadiness({ permissions: { PermissionsModifyAllData: true }, unreadable: [] }, { requiredPermissions: ['PermissionsModifyAllData'] }, { now: NOW, warnDays: 14 })
const ok = (kind: CheckOutcome['checkKind'], extra: Partial<CheckOutcome> = {}): CheckOutcome => ({ status: 'ok', classification: 'ok', checkKind: kind, ...extra })

t.test('a full check that finds the user unready is warn; cheap checks keep that finding for the same secret', async t => {
  const full = nextHealth('acme', 1, ok('full', { readiness: lacking }), null, NOW)
  t.equal(full.status, 'warn')
  t.equal(full.classification, 'ok')
  t.match(full.message, /lacks Modify All Data/)
  const cheap = nextHealth('acme', 1, ok('cheap'), full, NOW + 1000)
  t.equal(cheap.status, 'warn', 'a cheap check reads no permissions: the last full check still speaks')
  t.equal(cheap.consecutiveFailures, 0, 'warn is not a failure')
  t.same(cheap.readiness, lacking)
  const fixed = nextHealth('acme', 1, ok('full', { readiness: ready }), cheap, NOW + 2000)
  t.equal(fixed.status, 'ok')
  t.notOk(fixed.message)
  t.equal(nextHealth('acme', 2, ok('cheap'), full, NOW).readiness, undefined, 'a new secret version starts without the old finding')
})

t.test('a transient failure outranks warn; the finding stays for the next success', async t => {
  const full = nextHealth('acme', 1, ok('full', { readiness: lacking }), null, NOW)
  const down = nextHealth('acme', 1, { status: 'degraded', classification: 'unreachable', checkKind: 'cheap', message: 'connect ECONNREFUSED' }, full, NOW)
  t.equal(down.status, 'degraded')
  t.equal(down.message, 'connect ECONNREFUSED')
  t.same(down.readiness, lacking)
})

t.test('an address or hours refusal names the settings and the address Salesforce reported', async t => {
  const full = nextHealth('acme', 1, ok('full', { readiness: lacking }), null, NOW)
  const refused = nextHealth('acme', 1, { status: 'failing', classification: 'ip_or_hours_restricted', checkKind: 'full', hint: 'profile hint' }, full, NOW)
  t.match(refused.hint, /Login IP Ranges.*Network Access.*from 203\.0\.113\.7/)
  const unknown = nextHealth('acme', 1, { status: 'failing', classification: 'ip_or_hours_restricted', checkKind: 'full', hint: 'profile hint' }, null, NOW)
  t.notMatch(unknown.hint, /\d+\.\d+\.\d+\.\d+/)
})

t.test('overall: failing > degraded > warn > ok', async t => {
  t.equal(overallStatus(['ok', 'warn']), 'warn')
  t.equal(overallStatus(['warn', 'degraded']), 'degraded')
  t.equal(overallStatus(['warn', 'failing']), 'failing')
  t.equal(overallStatus([]), 'ok')
})
