import t from 'tap'
import { driftVerdict, type DriftWarning } from '../../src/health/drift-view.ts'
import { GUARD_HINT } from '../../src/sessions/login-refusal.ts'

// The org blocks the OAuth username-password flow: Salesforce's "authentication failure" names no
// cause, so health adds it — also once the failure guard holds the logins those refusals counted.
const blocked: DriftWarning = { kind: 'username_password_flow_blocked', message: 'the org blocks the OAuth username-password flow', hint: 'Setup > OAuth and OpenID Connect Settings > "Allow OAuth Username-Password Flows"' }

t.test('a refused login while the org blocks the flow: the cause and its hint', async (t) => {
  const v = driftVerdict({ status: 'failing', classification: 'invalid_credentials', message: 'authentication failure', hint: 'check the password' }, [blocked])
  t.match(v, { status: 'failing', message: 'authentication failure — the org blocks the OAuth username-password flow', hint: blocked.hint })
})

t.test('the guard holding those logins: the cause, and the guard\'s hint kept beside the flow\'s', async (t) => {
  const v = driftVerdict({ status: 'failing', classification: 'login_guarded', message: 'not attempted: 2 failed logins', hint: GUARD_HINT }, [blocked])
  t.equal(v.status, 'failing')
  t.equal(v.message, 'not attempted: 2 failed logins — the org blocks the OAuth username-password flow')
  t.match(v.hint, GUARD_HINT.slice(0, 40), 'what the admin does about the guard stays')
  t.match(v.hint, /Allow OAuth Username-Password Flows/, 'and the flow is named as the likely cause')
})

t.test('other failures keep their own words', async (t) => {
  const v = driftVerdict({ status: 'failing', classification: 'unreachable', message: 'could not reach Salesforce', hint: 'network' }, [blocked])
  t.same(v, { status: 'failing', classification: 'unreachable', message: 'could not reach Salesforce', hint: 'network' })
})
