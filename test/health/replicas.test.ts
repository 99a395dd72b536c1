import t from 'tap'
import { ACME, acmeDefinition, acmeOrg, bearer, startSim, tempFileStore } from '../helper.ts'
import { buildHealthApp, eventually, health, INTERVAL_MS, nextRound, only, roundClock, roundStartAfter, schedulersIdle, sharedRedis, throughSlots } from './health-helper.ts'
import { http } from '../support/http.ts'

const freshRedis = sharedRedis(t)

t.test('API usage is reported from the org limits, and the gauges follow', async (t) => {
  const sim = await startSim(t, [acmeOrg({ apiRequestLimit: 25_000 })])
  const redis = await freshRedis()
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'client_credentials'), 0)
  const clock = roundClock()
  const { url } = await buildHealthApp(t, { secretStore: store, redisUrl: redis.url, overrides: { clock } })

  await throughSlots(clock)
  const ok = await eventually(() => health(url, 'acme'), a => only(a).status === 'ok' && only(a).apiUsage !== undefined)
  const usage = only(ok).apiUsage
  t.equal(usage.max, 25_000)
  t.ok(usage.used >= 1 && usage.used <= sim.org('acme').apiRequestsUsed, `used ${usage.used}`)

  // a cheap check (cached session) runs every interval and updates the usage
  const before = sim.org('acme').apiRequestsUsed
  const later = await nextRound(clock, url, 'acme')
  t.ok(only(later).apiUsage.used > usage.used)
  t.ok(sim.org('acme').apiRequestsUsed > before)
  t.equal(only(later).checkKind, 'cheap')
  t.equal(sim.stats('acme').attempts, 1, 'cheap checks need no login')

  const metrics = await (await fetch(`${url}/metrics`)).text()
  t.match(metrics, /sfb_connection_validation_status\{connection="acme"\} 1/)
  t.match(metrics, /sfb_circuit_open\{connection="acme"\} 0/)
  t.match(metrics, /sfb_salesforce_api_usage_ratio\{connection="acme"\} 0\.0/)
})

t.test('two replicas sharing Redis validate each connection once per interval; close() stops the scheduler', async (t) => {
  const sim = await startSim(t, [acmeOrg(), acmeOrg({ key: 'globex' })])
  const redis = await freshRedis()
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'client_credentials'), 0)
  await store.write('globex', acmeDefinition(sim, 'client_credentials', { loginUrl: sim.myDomainUrl('globex') }), 0)
  const env = { FULL_VALIDATION_INTERVAL_SECONDS: '3600' }
  // both replicas' schedulers on one clock: they aim at the same rounds, as replicas whose clocks agree do
  const clock = roundClock()
  const a = await buildHealthApp(t, { secretStore: store, redisUrl: redis.url, env, overrides: { clock } })
  const b = await buildHealthApp(t, { secretStore: store, redisUrl: redis.url, env, overrides: { clock } })
  const report = () => http(`${a.url}/health/salesforce`)
  const stamps = (x: { json: any }) => JSON.stringify(x.json.connections.map((c: any) => c.lastCheckedAt))
  const allNewer = (before: { json: any }) => (x: { json: any }) => x.json.connections.length === 2 &&
    x.json.connections.every((c: any, i: number) => c.status === 'ok' && c.lastCheckedAt !== before.json.connections[i]?.lastCheckedAt)

  await throughSlots(clock, 2, 2)
  await eventually(report, allNewer({ json: { connections: [] } }))
  const checks = (org: string) => sim.org(org).apiRequestsUsed
  const start = { acme: checks('acme'), globex: checks('globex') }
  const rounds = 4
  for (let round = 0; round < rounds; round++) {
    await schedulersIdle(clock)
    const before = await report()
    await clock.advanceTo(roundStartAfter(clock.now()))
    await throughSlots(clock, 2, 2)
    await eventually(report, allNewer(before))
  }
  for (const org of ['acme', 'globex'] as const) {
    const n = checks(org) - start[org]
    // one cheap check per round; two replicas without the lease would make 8
    t.equal(n, rounds, `${org}: ${n} checks in ${rounds} rounds`)
    t.equal(sim.stats(org).attempts, 1, `${org}: one login in all (the first, full validation)`)
  }
  const [fromA, fromB] = await eventually(
    () => Promise.all([http(`${a.url}/health/salesforce`), http(`${b.url}/health/salesforce`)]),
    ([x, y]) => stamps(x) === stamps(y),
    3000,
    37
  )
  t.equal(fromA.status, 200)
  t.equal(stamps(fromA), stamps(fromB), 'every replica reports the same results')
  t.same(fromA.json.connections.map((c: any) => c.connection), ['acme', 'globex'])

  // the replica that did not validate still exports the gauges
  for (const r of [a, b]) t.match(await (await fetch(`${r.url}/metrics`)).text(), /sfb_connection_validation_status\{connection="globex"\} 1/)

  await a.app.close()
  await b.app.close()
  t.equal(clock.pending, 0, 'close() cancelled every timer of both schedulers')
  const afterClose = checks('acme')
  await clock.advance(3 * INTERVAL_MS)
  t.equal(checks('acme'), afterClose, 'no validation after close')
})

t.test('a result one replica records moves every replica\'s gauges, not a round later: max by connection of the fleet says failing at once', async (t) => {
  const sim = await startSim(t)
  const redis = await freshRedis()
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'oauth_password'), 0)
  const clock = roundClock()
  const env = { FULL_VALIDATION_INTERVAL_SECONDS: '3600' }
  const a = await buildHealthApp(t, { secretStore: store, redisUrl: redis.url, env, overrides: { clock } })
  const b = await buildHealthApp(t, { secretStore: store, redisUrl: redis.url, env, overrides: { clock } })
  // the gauges as Prometheus scrapes them; /health/salesforce is not asked (it would refresh the replica it reaches)
  const gauges = () => Promise.all([a, b].map(async r => {
    const line = (await (await fetch(`${r.url}/metrics`)).text()).split('\n').find(l => l.startsWith('sfb_connection_validation_status{connection="acme"}'))
    return line === undefined ? undefined : Number(line.split(' ').pop())
  }))

  await throughSlots(clock, 1, 2)
  await schedulersIdle(clock)
  t.same(await eventually(gauges, g => g.every(v => v === 1)), [1, 1], 'the first round: ok everywhere')

  // the password changes at Salesforce, which ends the sessions: the next round's check logs in and is refused
  const user = sim.org('acme').users.get(ACME.username)
  if (!user) throw new Error('no user')
  user.password = 'S0meone-Changed-It'
  sim.expireSessions('acme')
  await clock.advanceTo(roundStartAfter(clock.now()))
  await throughSlots(clock, 1, 2)
  await schedulersIdle(clock)
  t.equal(sim.stats('acme').failures, 1, 'one replica checked, with one failed login')
  t.same(await eventually(gauges, g => g.every(v => v === 0), 3000), [0, 0], 'both replicas export failing: the one that checked and the one that did not')
})

t.test('a deleted connection leaves every replica\'s gauges at once, not at the next round: its failing series stops alerting', async (t) => {
  const sim = await startSim(t)
  const redis = await freshRedis()
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'oauth_password'), 0)
  const clock = roundClock()
  const a = await buildHealthApp(t, { secretStore: store, redisUrl: redis.url, overrides: { clock } })
  const b = await buildHealthApp(t, { secretStore: store, redisUrl: redis.url, overrides: { clock } })
  const series = () => Promise.all([a, b].map(async r => (await (await fetch(`${r.url}/metrics`)).text()).split('\n')
    .filter(l => /^sfb_(connection_validation_status|circuit_open)\{connection="acme"\}/.test(l)).length))

  const user = sim.org('acme').users.get(ACME.username)
  if (!user) throw new Error('no user')
  user.password = 'S0meone-Changed-It'
  await throughSlots(clock, 1, 2)
  await schedulersIdle(clock)
  t.same(await eventually(series, n => n.every(v => v === 2)), [2, 2], 'both replicas export the failing connection')

  const deleted = await a.app.inject({ method: 'DELETE', url: '/v1/admin/connections/acme', headers: bearer(a.principals.adminKey) })
  t.equal(deleted.statusCode, 204)
  t.same(await eventually(series, n => n.every(v => v === 0), 3000), [0, 0], 'no replica exports it any more')
})
