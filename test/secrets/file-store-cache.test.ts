import t from 'tap'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FileSecretStore } from '../../src/secrets/file-store.ts'

const definition = (password: string) => ({ flow: 'soap' as const, loginUrl: 'https://login.salesforce.com', username: 'u@x', password, apiVersion: '62.0', sessionTimeoutSeconds: 7200 })

t.test('a store that keeps the decrypted file in memory still sees writes made by another process', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sfb-cache-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const key = randomBytes(32)
  const path = join(dir, 'connections.enc')
  const reader = new FileSecretStore({ path, key })
  const writer = new FileSecretStore({ path, key })
  await writer.write('acme', definition('first'), 0)
  t.equal((await reader.read('acme'))?.definition.password, 'first')
  t.equal((await reader.read('acme'))?.definition.password, 'first', 'served again (from memory)')
  await writer.write('acme', definition('second'), 1)
  t.equal((await reader.read('acme'))?.version, 2, 'the other writer\'s version is seen')
  t.equal((await reader.read('acme'))?.definition.password, 'second')
  t.same(await reader.list(), ['acme'])
  // a failed change leaves what the reader holds intact
  await t.rejects(reader.write('acme', definition('third'), 1))
  t.equal((await reader.read('acme'))?.definition.password, 'second')
})
