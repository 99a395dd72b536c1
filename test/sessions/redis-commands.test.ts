import t from 'tap'
import type { Redis } from 'ioredis'
import { acmeDefinition, bearer, buildTestApp, startSim, tempFileStore } from '../helper.ts'
import { startRedis } from '../support/redis.ts'

/**
 * What one request costs Redis, counted with MONITOR on a real redis-server: the commands the
 * broker sends while the request runs (a script's own commands, which MONITOR shows too, are the
 * script's: one command). A cold session miss takes one lease (per Salesforce user), reads all of
 * the login's state once, and writes its outcome once; a forced check likewise.
 */

async function monitored (client: Redis): Promise<{ stop: () => Promise<string[]> }> {
  const monitor = await client.monitor()
  const commands: string[] = []
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (source === 'lua') return
    // the replica's roll-call heartbeat (every 5 s, src/shared-state/replica-roll.ts: the one script
    // writing the roll) is no request's
    if (args.includes('sfbtest:replicas') && args.some(a => a.includes("redis.call('zadd'"))) return
    commands.push(args.map(a => a.length > 60 ? `${a.slice(0, 60)}…` : a).join(' '))
  })
  return {
    stop: async () => {
      monitor.disconnect()
      return commands
    },
  }
}

const named = (commands: string[], name: string) => commands.filter(c => c.toUpperCase().startsWith(`${name.toUpperCase()} `))

async function rig (t: Parameters<typeof startSim>[0], flow: 'soap' | 'jwt_bearer') {
  const sim = await startSim(t)
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, flow), 0)
  const { app, principals } = await buildTestApp(t, { redisUrl: redis.url, secretStore: store })
  return { sim, redis, app, principals }
}

for (const flow of ['soap', 'jwt_bearer'] as const) {
  t.test(`a cold ${flow} session miss: one lease, one read of the login's state, at most 15 Redis commands`, async (t) => {
    const { sim, redis, app, principals } = await rig(t, flow)
    const watch = await monitored(redis.client())
    const res = await app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })
    const commands = await watch.stop()
    t.equal(res.statusCode, 200)
    t.equal(sim.stats('acme').attempts, 1, 'one login')
    const leases = named(commands, 'set').filter(c => c.includes(':lease:'))
    t.equal(leases.length, 1, `one lease: ${leases.join(', ')}`)
    t.match(leases[0], /\{user:integration@acme\.example\}:lease:login-user/, 'the Salesforce user\'s')
    // the batch read (RedisSharedState.readMany): one script reading every key of the login's state
    const batchReads = named(commands, 'eval').filter(c => c.includes('local out'))
    t.equal(batchReads.length, 1, 'the login\'s state in one read')
    t.match(batchReads[0], /:doc:login-rate-hold.*:window:logins.*:session:v1.*:circuit/, 'the rate hold, the budget, the cache re-read under the lease, the circuit')
    // besides the batch: the replica's cache look-up before the funnel, a JWT connection's pending
    // certificate rotation (the stored-login policy), and health's last result (recording the login)
    const gets = ['sfbtest:{acme}:session:v1', ...flow === 'jwt_bearer' ? ['sfbtest:{acme}:doc:migration-id'] : [], 'sfbtest:{acme}:doc:health']
    t.same(commands.filter(c => /^get /i.test(c)).map(c => c.split(' ')[1]), gets, 'no other GET')
    t.comment(`${commands.length} Redis commands`)
    t.ok(commands.length <= 15, `${commands.length} Redis commands:\n${commands.join('\n')}`)
  })
}

t.test('a forced health check: one lease, at most 15 Redis commands', async (t) => {
  const { sim, redis, app, principals } = await rig(t, 'soap')
  t.equal((await app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })).statusCode, 200)
  const watch = await monitored(redis.client())
  const res = await app.inject({ method: 'POST', url: '/health/salesforce/acme/check', headers: bearer(principals.adminKey) })
  const commands = await watch.stop()
  t.equal(res.statusCode, 200, res.body)
  t.equal(sim.stats('acme').attempts, 2, 'the forced check logged in')
  // besides the forced check's cool-down marker (a lease never released: one check per connection per interval)
  t.equal(named(commands, 'set').filter(c => c.includes(':lease:login-user')).length, 1, 'one login lease')
  t.ok(commands.length <= 15, `${commands.length} Redis commands:\n${commands.join('\n')}`)
  t.comment(`${commands.length} Redis commands`)
})
