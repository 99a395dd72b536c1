import type { Test } from 'tap'
import type { ConnectionDefinition } from '../../src/salesforce/types.ts'
import { InvalidConnectionNameError } from '../../src/secrets/connection-name.ts'
import { CasConflictError, type SecretStore } from '../../src/secrets/store.ts'

export const acme: ConnectionDefinition = {
  flow: 'soap',
  loginUrl: 'https://login.salesforce.com',
  username: 'integration@acme.example',
  apiVersion: '62.0',
  sessionTimeoutSeconds: 7200,
  password: 'hunter2-Pa55word',
  securityToken: 'SECURITYTOKEN123',
}

export const globex: ConnectionDefinition = {
  flow: 'client_credentials',
  loginUrl: 'https://globex.my.salesforce.com',
  apiVersion: '61.0',
  sessionTimeoutSeconds: 900,
  clientId: '3MVG9-consumer-key',
  clientSecret: 'client-secret-value-42',
}

export const BAD_NAMES = ['../x', '%2e%2e', 'A', 'acme\u0000', 'a'.repeat(64), '', '-acme', 'acme/x', 'acme\n', 'acme.x']

/**
 * What every SecretStore promises (Vault semantics): versions, check-and-set, version metadata,
 * removal, name validation. `makeStore` gives a fresh, empty store per subtest.
 */
export function secretStoreContract (t: Test, makeStore: (t: Test) => Promise<SecretStore>, opts: { maxVersions: number }): void {
  t.test('a written connection reads back with its version and time', async (t) => {
    const store = await makeStore(t)
    t.same(await store.read('acme'), null, 'nothing before the first write')
    const written = await store.write('acme', acme, 0)
    t.equal(written.version, 1)
    t.ok(Number.isFinite(Date.parse(written.createdTime)), 'createdTime is an ISO time')
    const stored = await store.read('acme')
    t.same(stored, { name: 'acme', version: 1, createdTime: written.createdTime, definition: acme })
    t.equal(typeof stored?.definition.sessionTimeoutSeconds, 'number')
    t.notOk('clientId' in (stored?.definition ?? {}), 'unset fields stay unset')
  })

  t.test("a connection's settings read back as written, the opt-outs included", async (t) => {
    const store = await makeStore(t)
    const quiet: ConnectionDefinition = { ...globex, auditSessions: false, acceptRetiredFlow: true, requiredPermissions: ['PermissionsApiEnabled'], jwtAudience: 'https://globex.my.salesforce.com' }
    await store.write('quiet', quiet, 0)
    t.same((await store.read('quiet'))?.definition, quiet)
  })

  t.test('every write is a new version; old versions stay readable', async (t) => {
    const store = await makeStore(t)
    await store.write('acme', acme, 0)
    const rotated = { ...acme, password: 'rotated-Pa55word' }
    const second = await store.write('acme', rotated, 1)
    t.equal(second.version, 2)
    t.equal((await store.read('acme'))?.definition.password, 'rotated-Pa55word')
    t.equal((await store.read('acme', 1))?.definition.password, acme.password)
    t.equal((await store.read('acme', 2))?.version, 2)
    t.equal(await store.read('acme', 3), null, 'a version that does not exist')
    const versions = await store.versions('acme')
    t.same(versions.map(v => [v.version, v.destroyed, v.deletionTime]), [[1, false, undefined], [2, false, undefined]])
    t.ok(versions.every(v => Number.isFinite(Date.parse(v.createdTime))))
    t.same(await store.versions('nobody'), [])
  })

  t.test('check-and-set: a stale version is refused with the current one', async (t) => {
    const store = await makeStore(t)
    await store.write('acme', acme, 0)
    await store.write('acme', acme, 1)
    const existing = await store.write('acme', acme, 0).catch((err: unknown) => err)
    t.type(existing, CasConflictError, 'cas 0 means "must not exist"')
    t.equal((existing as CasConflictError).currentVersion, 2)
    const stale = await store.write('acme', acme, 1).catch((err: unknown) => err)
    t.type(stale, CasConflictError)
    t.equal((stale as CasConflictError).currentVersion, 2)
    t.equal((await store.read('acme'))?.version, 2, 'nothing was written')
  })

  t.test('two concurrent writes with the same cas: exactly one wins', async (t) => {
    const store = await makeStore(t)
    await store.write('acme', acme, 0)
    const results = await Promise.allSettled([
      store.write('acme', { ...acme, password: 'writer-a' }, 1),
      store.write('acme', { ...acme, password: 'writer-b' }, 1),
    ])
    const won = results.filter(r => r.status === 'fulfilled')
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    t.equal(won.length, 1)
    t.equal(lost.length, 1)
    t.type(lost[0].reason, CasConflictError)
    const current = await store.read('acme')
    t.equal(current?.version, 2)
    t.equal(current?.definition.password, results[0].status === 'fulfilled' ? 'writer-a' : 'writer-b')
  })

  t.test('list names every connection; remove deletes all versions and is idempotent', async (t) => {
    const store = await makeStore(t)
    t.same(await store.list(), [])
    await store.write('globex', globex, 0)
    await store.write('acme', acme, 0)
    await store.write('acme', acme, 1)
    t.same(await store.list(), ['acme', 'globex'])
    await store.remove('acme')
    t.same(await store.list(), ['globex'])
    t.equal(await store.read('acme'), null)
    t.equal(await store.read('acme', 1), null)
    t.same(await store.versions('acme'), [])
    await store.remove('acme')
    await store.remove('never-existed')
    const again = await store.write('acme', acme, 0)
    t.equal(again.version, 1, 'a removed name starts over')
  })

  t.test(`only the last ${opts.maxVersions} versions are kept`, async (t) => {
    const store = await makeStore(t)
    const total = opts.maxVersions + 2
    for (let v = 0; v < total; v++) await store.write('acme', { ...acme, password: `pw-${v + 1}` }, v)
    const versions = await store.versions('acme')
    t.equal(versions.length, opts.maxVersions)
    t.equal(versions[0].version, 3)
    t.equal(versions.at(-1)?.version, total)
    t.equal(await store.read('acme', 1), null)
    t.equal((await store.read('acme', 3))?.definition.password, 'pw-3')
    t.equal((await store.read('acme'))?.definition.password, `pw-${total}`)
  })

  t.test('names that are not strict slugs are refused', async (t) => {
    const store = await makeStore(t)
    for (const name of BAD_NAMES) {
      await t.rejects(store.read(name), InvalidConnectionNameError, `read ${JSON.stringify(name)}`)
      await t.rejects(store.write(name, acme, 0), InvalidConnectionNameError, `write ${JSON.stringify(name)}`)
      await t.rejects(store.versions(name), InvalidConnectionNameError)
      await t.rejects(store.remove(name), InvalidConnectionNameError)
    }
    await t.resolves(store.read('a'.repeat(63)), 'the longest name is fine')
  })

  t.test('health is ok', async (t) => {
    const store = await makeStore(t)
    const health = await store.health()
    t.equal(health.ok, true)
    t.type(health.detail, 'string')
  })
}
