import t from 'tap'
import { randomBytes } from 'node:crypto'
import { acmeDefinition, bearer, buildTestApp, startSim, tempFileStore } from '../helper.ts'
import { startRedis } from '../support/redis.ts'
import { testPrincipals } from '../support/principals.ts'
import { SessionSealer } from '../../src/shared-state/session-crypto.ts'

t.test('SESSION_ENCRYPTION_KEY rotation: sessions sealed with the old key are served after the restart, new ones use the new key', async (t) => {
  const sim = await startSim(t)
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'client_credentials'), 0)
  await store.write('other', acmeDefinition(sim, 'jwt_bearer'), 0)
  const principals = testPrincipals(['acme', 'other'], 100_000)
  const oldKey = randomBytes(32).toString('base64')
  const newKey = randomBytes(32).toString('base64')
  const replica = async (env: Record<string, string>) => {
    const { app } = await buildTestApp(t, { redisUrl: redis.url, secretStore: store, principals, env })
    // as behind a Service: traffic once ready, i.e. once Redis is connected
    for (let i = 0; i < 100 && (await app.inject({ url: '/health/ready' })).statusCode !== 200; i++) await new Promise(resolve => setTimeout(resolve, 50))
    return app
  }
  const ask = (app: Awaited<ReturnType<typeof replica>>, name: string) =>
    app.inject({ method: 'POST', url: `/v1/connections/${name}/session`, headers: bearer(principals.billingKey) })

  const before = await replica({ SESSION_ENCRYPTION_KEY: oldKey })
  const token = (await ask(before, 'acme')).json().accessToken
  t.equal(sim.stats('acme').attempts, 1)
  await before.close()

  // the restart with the new key, the old one kept as previous
  const after = await replica({ SESSION_ENCRYPTION_KEY: newKey, SESSION_ENCRYPTION_KEY_PREVIOUS: oldKey })
  const served = await ask(after, 'acme')
  t.equal(served.statusCode, 200)
  t.equal(served.json().accessToken, token, 'the session cached under the old key is served')
  t.equal(sim.stats('acme').attempts, 1, 'no new login')

  t.equal((await ask(after, 'other')).statusCode, 200)
  const client = redis.client()
  const [otherKey] = await client.keys('sfbtest:{other}:session:*')
  const sealed = await client.get(otherKey) as string
  t.ok(new SessionSealer(Buffer.from(newKey, 'base64')).open(sealed, otherKey), 'a new session is sealed with the new key')
  t.equal(new SessionSealer(Buffer.from(oldKey, 'base64')).open(sealed, otherKey), null, 'not with the old one')
  await after.close()

  // once the previous key is dropped, what only it opened is a cache miss: one new login, no error
  const later = await replica({ SESSION_ENCRYPTION_KEY: newKey })
  const loginsBefore = sim.stats('acme').attempts
  const fresh = await ask(later, 'acme')
  t.equal(fresh.statusCode, 200)
  t.not(fresh.json().accessToken, token)
  t.equal(sim.stats('acme').attempts, loginsBefore + 1)
})
