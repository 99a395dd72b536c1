import t, { type Test } from 'tap'
import { acmeDefinition, bearer, buildTestApp, startSim, tempFileStore } from '../helper.ts'
import { startConnectProxy } from '../support/connect-proxy.ts'
import { proxyCallers } from './support.ts'

const LIMITS = '/v1/connections/acme/salesforce/services/data/v62.0/limits'

/** The simulator speaks plain http on loopback, so HTTP_PROXY is the variable that applies (HTTPS_PROXY for a real org). */
async function rig (t: Test, env: (instanceHost: string, proxyUrl: string) => Record<string, string>) {
  const proxy = await startConnectProxy()
  t.teardown(() => proxy.close())
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'client_credentials'), 0)
  const instanceHost = new URL(sim.myDomainUrl('acme')).host
  const callers = proxyCallers()
  const { app } = await buildTestApp(t, { secretStore: store, principals: callers, env: env(instanceHost, proxy.url) })
  // the session first (the login has its own tunnel): what follows is the proxied call alone
  t.equal((await app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(callers.fullKey) })).statusCode, 200)
  const before = proxy.tunnels.get(instanceHost) ?? 0
  const proxied = await app.inject({ method: 'GET', url: LIMITS, headers: bearer(callers.fullKey) })
  return { proxied, tunnels: () => (proxy.tunnels.get(instanceHost) ?? 0) - before, sim }
}

t.test('proxied calls go out through HTTP_PROXY/HTTPS_PROXY as the broker\'s own calls do', async (t) => {
  const { proxied, tunnels, sim } = await rig(t, (_host, proxyUrl) => ({ HTTP_PROXY: proxyUrl, HTTPS_PROXY: proxyUrl }))
  t.equal(proxied.statusCode, 200, 'the proxied call is answered')
  t.equal(tunnels(), 1, 'the proxied call opened a CONNECT tunnel to the instance host')
  t.equal(sim.org('acme').apiRequestsUsed, 1, 'and reached Salesforce through it')
})

t.test('an instance host NO_PROXY names is reached directly by proxied calls', async (t) => {
  const { proxied, tunnels, sim } = await rig(t, (host, proxyUrl) => ({ HTTP_PROXY: proxyUrl, HTTPS_PROXY: proxyUrl, NO_PROXY: `example.org,${host}` }))
  t.equal(proxied.statusCode, 200, 'the proxied call is answered')
  t.equal(tunnels(), 0, 'no tunnel for a NO_PROXY host')
  t.equal(sim.org('acme').apiRequestsUsed, 1)
})
