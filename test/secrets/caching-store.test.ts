import t from 'tap'
import { CachingSecretStore } from '../../src/secrets/caching-store.ts'
import { SecretStoreUnavailableError } from '../../src/secrets/store.ts'
import { VaultSecretStore } from '../../src/secrets/vault-store.ts'
import { startVaultStandIn, type VaultStandIn } from '../support/vault-standin.ts'
import { captureLogs } from '../support/log-capture.ts'
import { acme, globex } from './store-contract.ts'
import { ManualClock } from '../support/manual-clock.ts'

async function setup (t: { teardown (fn: () => unknown): void }, ttlMs: number): Promise<{ vault: VaultStandIn, cache: CachingSecretStore, vaultReads: () => number, clock: ManualClock }> {
  const vault = await startVaultStandIn()
  t.teardown(() => vault.close())
  const inner = new VaultSecretStore({ endpoint: vault.url, auth: { method: 'token', token: vault.rootToken }, requestTimeoutMs: 2000, logger: captureLogs('silent').logger })
  const clock = new ManualClock()
  const cache = new CachingSecretStore(inner, { ttlMs, clock })
  t.teardown(() => cache.close())
  const vaultReads = () => vault.requestLog.filter(r => r.method === 'GET' && r.path.startsWith('/v1/secret/data/')).length
  return { vault, cache, vaultReads, clock }
}

t.test('reads within the TTL do not reach Vault', async (t) => {
  const { cache, vaultReads } = await setup(t, 5_000)
  t.equal(cache.kind, 'vault')
  await cache.write('acme', acme, 0)
  const first = await cache.read('acme')
  for (let i = 0; i < 20; i++) t.same(await cache.read('acme'), first)
  t.equal(vaultReads(), 1)
  await Promise.all(Array.from({ length: 10 }, () => cache.read('globex')))
  t.equal(vaultReads(), 2, 'concurrent misses share one Vault read; "not found" is cached too')
})

t.test('callers cannot change what the next caller is served', async (t) => {
  const { cache } = await setup(t, 5_000)
  await cache.write('acme', acme, 0)
  const a = await cache.read('acme')
  if (a) a.definition.password = 'mutated'
  t.equal((await cache.read('acme'))?.definition.password, acme.password)
})

t.test('entries expire after the TTL', async (t) => {
  const { cache, vaultReads, clock } = await setup(t, 150)
  await cache.write('acme', acme, 0)
  await cache.read('acme')
  await clock.advance(149)
  await cache.read('acme')
  t.equal(vaultReads(), 1, 'still cached a moment before the TTL ends')
  await clock.advance(1)
  await cache.read('acme')
  t.equal(vaultReads(), 2)
})

t.test('write and remove through the cache invalidate; invalidate() does it by hand', async (t) => {
  const { vault, cache, vaultReads } = await setup(t, 60_000)
  await cache.write('acme', acme, 0)
  t.equal((await cache.read('acme'))?.version, 1)
  await cache.write('acme', { ...acme, password: 'rotated' }, 1)
  t.same([(await cache.read('acme'))?.version, (await cache.read('acme'))?.definition.password], [2, 'rotated'])
  t.equal(vaultReads(), 2)

  // changed behind the cache's back (another replica): stale until invalidated
  await fetch(`${vault.url}/v1/secret/data/sf-broker/acme`, { method: 'POST', headers: { 'X-Vault-Token': vault.rootToken }, body: JSON.stringify({ data: { ...acme, sessionTimeoutSeconds: '60' } }) })
  t.equal((await cache.read('acme'))?.version, 2)
  cache.invalidate('acme')
  t.equal((await cache.read('acme'))?.version, 3)

  await cache.remove('acme')
  t.equal(await cache.read('acme'), null)
  t.equal(cache.lastKnown('acme'), null, 'a removed connection has no last known version')
})

t.test('a failed write (cas conflict) invalidates too', async (t) => {
  const { vault, cache } = await setup(t, 60_000)
  await cache.write('acme', acme, 0)
  await cache.read('acme')
  await fetch(`${vault.url}/v1/secret/data/sf-broker/acme`, { method: 'POST', headers: { 'X-Vault-Token': vault.rootToken }, body: JSON.stringify({ data: { ...acme } }) })
  await t.rejects(cache.write('acme', acme, 1), { name: 'CasConflictError' })
  t.equal((await cache.read('acme'))?.version, 2)
})

t.test('reads of a given version pass through', async (t) => {
  const { cache, vaultReads } = await setup(t, 60_000)
  await cache.write('acme', acme, 0)
  await cache.read('acme', 1)
  await cache.read('acme', 1)
  t.equal(vaultReads(), 2)
})

t.test('lastKnown: version metadata outlives the TTL, the secret does not', async (t) => {
  const { vault, cache, clock } = await setup(t, 150)
  t.equal(cache.lastKnown('acme'), null)
  const written = await cache.write('globex', globex, 0)
  t.same(cache.lastKnown('globex'), { name: 'globex', version: 1, createdTime: written.createdTime }, 'known from the write')
  await cache.write('acme', acme, 0)
  const read = await cache.read('acme')
  await clock.advance(150)
  await vault.stop()
  const err = await cache.read('acme').catch((e: unknown) => e)
  t.type(err, SecretStoreUnavailableError, 'no stale secret is served once the TTL ran out')
  const known = cache.lastKnown('acme')
  t.same(known, { name: 'acme', version: 1, createdTime: read?.createdTime })
  t.notOk(known && 'definition' in known)
  t.notOk(JSON.stringify(cache.lastKnown('acme')).includes(acme.password as string))
})

t.test('a TTL of 0 disables caching but keeps lastKnown', async (t) => {
  const { cache, vaultReads } = await setup(t, 0)
  await cache.write('acme', acme, 0)
  await cache.read('acme')
  await cache.read('acme')
  t.equal(vaultReads(), 2)
  t.equal(cache.lastKnown('acme')?.version, 1)
})

t.test('list, versions and health pass through', async (t) => {
  const { cache } = await setup(t, 60_000)
  await cache.write('acme', acme, 0)
  t.same(await cache.list(), ['acme'])
  t.equal((await cache.versions('acme')).length, 1)
  t.equal((await cache.health()).ok, true)
})
