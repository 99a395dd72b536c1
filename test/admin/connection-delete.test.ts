import t from 'tap'
import { acmeDefinition, bearer, buildTestApp, startSim } from '../helper.ts'

// "A deleted connection's sessions must stop working, not just stop being handed out": also the
// session a caller asked for while the delete was under way, which must not be a fresh login with
// the secret being deleted that nobody revokes.
t.test('sessions asked for while a connection is deleted are all dead at Salesforce once the delete answered', async (t) => {
  const sim = await startSim(t)
  const { app, principals } = await buildTestApp(t)
  const admin = bearer(principals.adminKey)
  t.equal((await app.inject({ method: 'PUT', url: '/v1/admin/connections/acme', payload: acmeDefinition(sim, 'client_credentials'), headers: admin })).statusCode, 201)
  const ask = () => app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })
  t.equal((await ask()).statusCode, 200)

  sim.setLatency(200) // a login takes a while
  const handedOut: Array<{ accessToken: string, instanceUrl: string }> = []
  const run = { on: true }
  const callers = Array.from({ length: 4 }, async () => {
    while (run.on) {
      const res = await ask()
      if (res.statusCode === 200) handedOut.push(res.json())
      await new Promise(resolve => setImmediate(resolve))
    }
  })
  await new Promise(resolve => setTimeout(resolve, 20))
  t.equal((await app.inject({ method: 'DELETE', url: '/v1/admin/connections/acme', headers: admin })).statusCode, 204)
  run.on = false
  await Promise.all(callers)
  sim.setLatency(0)

  t.ok(handedOut.length > 0)
  const alive = []
  for (const s of new Map(handedOut.map(s => [s.accessToken, s])).values()) {
    const res = await fetch(`${s.instanceUrl}/services/oauth2/userinfo`, { headers: { authorization: `Bearer ${s.accessToken}` } })
    if (res.status === 200) alive.push(s.accessToken.slice(0, 12))
  }
  t.same(alive, [], 'no session of the deleted connection still works')
  t.equal((await ask()).statusCode, 404)
})
