import t from 'tap'
import { acmeDefinition, bearer, buildTestApp, startSim, tempFileStore } from '../helper.ts'

const HOUR = 3_600_000

t.test('sfb_salesforce_logins_used never reports logins older than the rolling hour it counts', async (t) => {
  // it kept the count of the connection's last login: after a burst (SfBrokerLoginBudget firing at 80 %) with
  // no login since, the alert went on firing for hours, and a deleted connection's series stayed for good
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'client_credentials'), 0)
  let now = Date.now()
  const { app, principals } = await buildTestApp(t, { secretStore: store, overrides: { clock: () => now } })
  const scrape = async () => (await app.inject({ method: 'GET', url: '/metrics' })).body

  t.equal((await app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })).statusCode, 200)
  t.match(await scrape(), /^sfb_salesforce_logins_used\{connection="acme"\} 1$/m, 'the login just made')
  now += HOUR - 1_000
  t.match(await scrape(), /^sfb_salesforce_logins_used\{connection="acme"\} 1$/m, 'still within the hour')
  now += 2_000
  t.notMatch(await scrape(), /sfb_salesforce_logins_used\{connection="acme"\}/, 'an hour later that login has left the window: no series')
})
