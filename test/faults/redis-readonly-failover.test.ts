import t from 'tap'
import { once } from 'node:events'
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import { acmeDefinition, bearer, buildTestApp, startSim, tempFileStore } from '../helper.ts'
import { startRedis } from '../support/redis.ts'
import { until } from '../support/redis-topologies.ts'
import { testPrincipals } from '../support/principals.ts'

/**
 * A managed Redis with its own failover behind one name (REDIS_URL; the README's "one server" row):
 * the provider promotes the replica, demotes the old primary and points the name at the new one. The
 * broker's open connection still reaches the old primary, now a replica, which answers every write
 * with READONLY, and it stays open: without reconnecting on that answer, no write of any replica
 * reached Redis again (no lease, no guard, no cached session) until the broker was restarted.
 */
t.test('a failover behind one name: READONLY makes the broker reconnect, to the new primary', async (t) => {
  const primary = await startRedis()
  t.teardown(() => primary.close())
  const replica = await startRedis()
  t.teardown(() => replica.close())
  await replica.client().call('REPLICAOF', '127.0.0.1', String(primary.port))
  await until('the replica in sync', async () => (await replica.client().info('replication')).includes('master_link_status:up'))

  // the provider's name: new connections go wherever it points now
  let target = primary.port
  const open = new Set<Socket>()
  const name = createServer((client) => {
    const upstream = connect(target, '127.0.0.1')
    open.add(client).add(upstream)
    client.pipe(upstream).pipe(client)
    const drop = () => { client.destroy(); upstream.destroy() }
    client.on('error', drop).on('close', drop)
    upstream.on('error', drop).on('close', drop)
  })
  name.listen(0, '127.0.0.1')
  await once(name, 'listening')
  t.teardown(() => { for (const s of open) s.destroy(); name.close() })

  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'soap'), 0)
  const principals = testPrincipals(['*'], 100_000)
  const { app } = await buildTestApp(t, { redisUrl: `redis://127.0.0.1:${(name.address() as AddressInfo).port}`, secretStore: store, principals })
  const ask = (connection: string) => app.inject({ method: 'POST', url: `/v1/connections/${connection}/session`, headers: bearer(principals.billingKey) })
  t.equal((await ask('acme')).statusCode, 200)

  // the failover: the replica promoted, the old primary demoted (its clients stay connected), the name moved
  await replica.client().call('REPLICAOF', 'NO', 'ONE')
  await primary.client().call('REPLICAOF', '127.0.0.1', String(replica.port))
  target = replica.port

  // another connection of the user: its login needs the lease, the guard and the cache, all writes
  await store.write('acme-two', acmeDefinition(sim, 'soap'), 0)
  let last = ''
  await until('a session for the second connection', async () => { const r = await ask('acme-two'); last = r.body; return r.statusCode === 200 }, 15_000).catch((err: Error) => { throw new Error(`${err.message}: ${last}`) })
  t.ok((await replica.client().keys('sfbtest:{acme-two}:session:*')).length > 0, 'cached on the new primary')
})
