import t from 'tap'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { acmeDefinition, bearer, buildTestApp, startSim } from '../helper.ts'
import { testPrincipals } from '../support/principals.ts'

// "A deleted connection's sessions must stop working, not just stop being handed out": also the
// session a caller asked for while the delete was under way, which must not be a fresh login with
// the secret being deleted that nobody revokes.
t.test('sessions asked for while a connection is deleted are all dead at Salesforce once the delete answered', async (t) => {
  const sim = await startSim(t)
  // the callers ask as fast as answers come until the delete is done: on a slow machine that is more
  // than a caller's default rate, and the last answer must be the delete's 404, not a 429
  const { app, principals } = await buildTestApp(t, { principals: testPrincipals(['acme'], 1_000_000) })
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

t.test('a caller\'s login already under way when the delete runs does not leave a live session behind', async (t) => {
  const sim = await startSim(t)
  // the login host, in front of the simulator: a token request is held until the test lets it go
  let hold: { arrived: () => void, release: Promise<void> } | undefined
  const issued: Array<{ access_token: string, instance_url: string }> = []
  const host = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', c => chunks.push(c))
    req.on('end', async () => {
      const held = req.url?.startsWith('/services/oauth2/token') ? hold : undefined
      if (held) {
        hold = undefined
        held.arrived()
        await held.release
      }
      const upstream = await fetch(sim.myDomainUrl('acme') + (req.url ?? '/'), {
        method: req.method,
        headers: { 'content-type': String(req.headers['content-type'] ?? ''), ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) },
        ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}),
      })
      const body = Buffer.from(await upstream.arrayBuffer())
      if (held && upstream.status === 200) issued.push(JSON.parse(body.toString()))
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' })
      res.end(body)
    })
  })
  await new Promise<void>(resolve => host.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => host.close(() => resolve())))
  const loginUrl = `http://127.0.0.1:${(host.address() as AddressInfo).port}`

  const { app, principals } = await buildTestApp(t)
  const admin = bearer(principals.adminKey)
  t.equal((await app.inject({ method: 'PUT', url: '/v1/admin/connections/acme', payload: acmeDefinition(sim, 'client_credentials', { loginUrl }), headers: admin })).statusCode, 201)
  // nothing cached: the next caller logs in
  t.equal((await app.inject({ method: 'POST', url: '/v1/admin/connections/acme/sessions/revoke', headers: admin })).statusCode, 200)

  let release = () => {}
  const arrived = new Promise<void>(resolve => { hold = { arrived: resolve, release: new Promise<void>(resolve => { release = resolve }) } })
  const asked = app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })
  await arrived
  // the delete does not wait on a caller's login: it answers while the login is still at Salesforce
  t.equal((await app.inject({ method: 'DELETE', url: '/v1/admin/connections/acme', headers: admin })).statusCode, 204)
  release()
  const answer = await asked
  t.equal(answer.statusCode, 404, 'the caller is told the connection is gone')
  t.equal(issued.length, 1, 'the held login reached Salesforce')
  for (const s of issued) {
    const res = await fetch(`${s.instance_url}/services/oauth2/userinfo`, { headers: { authorization: `Bearer ${s.access_token}` } })
    t.not(res.status, 200, 'the session that login got is dead at Salesforce')
  }
  t.equal((await app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })).statusCode, 404)
})
