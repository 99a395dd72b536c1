import t from 'tap'
import { acmeBroker } from '../support/admin-rig.ts'
import { acmeDefinition, bearer, startSim } from '../helper.ts'
import type { Simulator } from '../../packages/simulator/src/index.ts'

/** Setup > My Domain: a new name deployed; the control API answers the new and the previous URL. */
async function changeMyDomain (sim: Simulator, body: object = {}): Promise<{ myDomainUrl: string, previous: string }> {
  const res = await fetch(`${sim.loginUrl}/_sim/orgs/acme/my-domain`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  if (!res.ok) throw new Error(await res.text())
  return res.json() as Promise<{ myDomainUrl: string, previous: string }>
}

t.test('a My Domain change: the previous host redirects, the next login lands on the new one, health says my_domain_changed and what to store', async t => {
  const sim = await startSim(t)
  const { admin, session, health } = await acmeBroker(t, acmeDefinition(sim, 'oauth_password'))
  const before = (await session()).json()
  t.equal(before.instanceUrl, sim.myDomainUrl('acme'))
  t.equal((await health()).status, 'ok')

  const { myDomainUrl, previous } = await changeMyDomain(sim)
  t.equal(previous, before.instanceUrl)
  t.equal(sim.myDomainUrl('acme'), myDomainUrl)
  // what a caller holding the cached session meets: the previous host redirects (307), the session itself still works there
  const redirected = await fetch(`${previous}/services/data/v62.0/limits`, { headers: bearer(before.accessToken), redirect: 'manual' })
  t.equal(redirected.status, 307)
  t.equal(redirected.headers.get('location'), `${myDomainUrl}/services/data/v62.0/limits`)
  t.equal((await fetch(redirected.headers.get('location')!, { headers: bearer(before.accessToken) })).status, 200)

  // the next login (here a forced check) answers with the new instance_url, which callers are handed from then on
  t.equal((await admin('POST', '/health/salesforce/acme/check')).statusCode, 200)
  const after = await session()
  t.equal(after.statusCode, 200)
  t.equal(after.json().instanceUrl, myDomainUrl, 'the session request answers the new My Domain')
  const h = await health()
  t.equal(h.status, 'warn')
  t.match(h.drift, [{ kind: 'my_domain_changed' }])
  t.match(h.message, new RegExp(`now answers at ${myDomainUrl} instead of ${previous}`))
  t.match(h.hint, /Store the new My Domain as loginUrl/)

  t.equal((await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'oauth_password'))).statusCode, 200)
  t.notOk((await health()).drift, 'writing the connection again clears it')
})

t.test('a connection stored with the previous My Domain: its login is redirected, not followed; the answer names the new My Domain', async t => {
  const sim = await startSim(t)
  const { admin, session, health } = await acmeBroker(t, acmeDefinition(sim, 'client_credentials'))
  const { myDomainUrl } = await changeMyDomain(sim)
  // the cached session is dropped (its revocation, sent to the previous host, is redirected too: best effort)
  t.equal((await admin('POST', '/v1/admin/connections/acme/sessions/revoke')).statusCode, 200)
  const attempts = sim.stats('acme').attempts

  const refused = await session()
  t.equal(refused.statusCode, 503)
  t.equal(refused.json().code, 'salesforce_login_failed')
  t.match(refused.json().hint, new RegExp(`${myDomainUrl} is its new one: store it as loginUrl`))
  const h = await health()
  t.equal(h.status, 'failing')
  t.equal(h.classification, 'unknown')
  t.match(h.message, new RegExp(`redirect \\(HTTP 307\\) to ${myDomainUrl}`))
  t.equal(h.circuit.state, 'open', 'the same login would be redirected again: paused until the connection is written')
  t.equal(sim.stats('acme').attempts, attempts, 'the credentials never reached Salesforce: the broker does not follow a redirect with them')

  t.equal((await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'client_credentials', { loginUrl: myDomainUrl }))).statusCode, 200)
  const served = await session()
  t.equal(served.statusCode, 200)
  t.equal(served.json().instanceUrl, myDomainUrl)
})

t.test('once the previous My Domain no longer redirects, its host is gone: unreachable', async t => {
  const sim = await startSim(t)
  const { admin } = await acmeBroker(t, acmeDefinition(sim, 'client_credentials'))
  await changeMyDomain(sim, { redirect: false })
  const checked = (await admin('POST', '/health/salesforce/acme/check')).json()
  t.equal(checked.classification, 'unreachable')
})
