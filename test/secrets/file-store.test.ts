import t from 'tap'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FileSecretStore } from '../../src/secrets/file-store.ts'
import { SecretStoreUnavailableError } from '../../src/secrets/store.ts'
import { acme, globex, secretStoreContract } from './store-contract.ts'
import { watchFileCalls } from '../support/fs-calls.ts'

async function tempDir (t: { teardown (fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sfb-file-store-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

t.test('contract', async (t) => {
  secretStoreContract(t, async (t) => {
    const store = new FileSecretStore({ path: join(await tempDir(t), 'nested', 'connections.enc'), key: randomBytes(32) })
    t.teardown(() => store.close())
    return store
  }, { maxVersions: 10 })
})

t.test('the file holds no secret in the clear, and is readable by its owner only', async (t) => {
  const path = join(await tempDir(t), 'connections.enc')
  const store = new FileSecretStore({ path, key: randomBytes(32) })
  await store.write('acme', acme, 0)
  await store.write('globex', globex, 0)
  const bytes = await readFile(path)
  for (const value of [acme.password, acme.securityToken, acme.username, globex.clientSecret, 'acme', 'globex', 'password']) {
    t.equal(bytes.indexOf(String(value)), -1, `"${value}" is not in the file`)
    t.equal(bytes.indexOf(Buffer.from(String(value)).toString('base64')), -1, 'nor its base64')
  }
  t.equal((await stat(path)).mode & 0o777, 0o600)
})

t.test('each write uses a fresh IV', async (t) => {
  const path = join(await tempDir(t), 'connections.enc')
  const store = new FileSecretStore({ path, key: randomBytes(32) })
  await store.write('acme', acme, 0)
  const first = JSON.parse(await readFile(path, 'utf8')) as { iv: string }
  await store.write('acme', acme, 1)
  const second = JSON.parse(await readFile(path, 'utf8')) as { iv: string }
  t.not(first.iv, second.iv)
})

t.test('a wrong key is a clear error naming the file, never garbage', async (t) => {
  const path = join(await tempDir(t), 'connections.enc')
  await new FileSecretStore({ path, key: randomBytes(32) }).write('acme', acme, 0)
  const other = new FileSecretStore({ path, key: randomBytes(32) })
  for (const op of [() => other.read('acme'), () => other.list(), () => other.write('acme', acme, 1), () => other.open()]) {
    const err = await op().catch((e: unknown) => e)
    t.type(err, SecretStoreUnavailableError)
    t.equal((err as SecretStoreUnavailableError).reason, 'error')
    t.equal((err as Error).message, `secret store unavailable (error): cannot decrypt the secret file ${path}: wrong key, or the file was modified`)
  }
  const health = await other.health()
  t.equal(health.ok, false)
  t.match(health.detail, path)
})

t.test('a tampered file is a clear error', async (t) => {
  const path = join(await tempDir(t), 'connections.enc')
  const key = randomBytes(32)
  const store = new FileSecretStore({ path, key })
  await store.write('acme', acme, 0)
  const envelope = JSON.parse(await readFile(path, 'utf8')) as { ciphertext: string }
  const bytes = Buffer.from(envelope.ciphertext, 'base64')
  bytes[5] ^= 0x01
  await writeFile(path, JSON.stringify({ ...envelope, ciphertext: bytes.toString('base64') }))
  await t.rejects(store.read('acme'), { message: new RegExp(`cannot decrypt the secret file ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: wrong key, or the file was modified`) })

  await writeFile(path, 'password=hunter2\n')
  await t.rejects(store.list(), { message: /the secret file .* is damaged: not an encrypted secret file/ })
})

t.test('a file whose authentication tag was cut short is refused, not checked against the shorter tag', async (t) => {
  const path = join(await tempDir(t), 'connections.enc')
  const key = randomBytes(32)
  await new FileSecretStore({ path, key }).write('acme', acme, 0)
  const envelope = JSON.parse(await readFile(path, 'utf8')) as { tag: string }
  // GCM checks a tag of 4 to 16 bytes unless told its length: a prefix of the right tag verifies, and
  // 4 bytes are 2^32 guesses for a forged file (NIST SP 800-38D, 5.2.1.2 and appendix C)
  await writeFile(path, JSON.stringify({ ...envelope, tag: Buffer.from(envelope.tag, 'base64').subarray(0, 4).toString('base64') }))
  await t.rejects(new FileSecretStore({ path, key }).read('acme'), { message: /wrong key, or the file was modified/ })
})

t.test('the key must be 32 bytes', async (t) => {
  t.throws(() => new FileSecretStore({ path: '/tmp/x', key: randomBytes(16) }), TypeError)
})

t.test('no file yet: an empty store; health says so', async (t) => {
  const path = join(await tempDir(t), 'absent.enc')
  const store = new FileSecretStore({ path, key: randomBytes(32) })
  await store.open()
  t.same(await store.list(), [])
  t.same(await store.health(), { ok: true, detail: `0 connection(s) in ${path}` })
})

t.test('concurrent writes are serialised: none is lost, no temp file is left', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'connections.enc')
  const key = randomBytes(32)
  const store = new FileSecretStore({ path, key })
  const names = Array.from({ length: 25 }, (_, i) => `conn-${i}`)
  await Promise.all(names.map(n => store.write(n, { ...acme, username: `${n}@acme.example` }, 0)))
  t.same(await store.list(), [...names].sort())
  for (const n of names) t.equal((await store.read(n))?.definition.username, `${n}@acme.example`)

  // a chain of rotations racing with one another: each sees the previous one's version
  const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => store.write('conn-0', acme, i + 1)))
  t.ok(results.every(r => r.status === 'fulfilled'), 'serialised writes each see the previous version')
  t.equal((await store.read('conn-0'))?.version, 11)
  t.same(await readdir(dir), ['connections.enc'])

  // another instance on the same file sees everything
  const reopened = new FileSecretStore({ path, key })
  t.equal((await reopened.list()).length, 25)
})

t.test('concurrent writes share one file replacement (group commit), with check-and-set kept per write', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'connections.enc')
  const key = randomBytes(32)
  const store = new FileSecretStore({ path, key })
  const names = Array.from({ length: 500 }, (_, i) => `bulk-${String(i).padStart(3, '0')}`)
  await Promise.all(names.map(n => store.write(n, { ...acme, username: `${n}@acme.example` }, 0)))
  t.ok(store.fileReplacements <= 3, `500 writes replaced the file ${store.fileReplacements} time(s)`)

  // in one batch, the second create of a name conflicts exactly as it would one after the other
  const before = store.fileReplacements
  const [first, second, rotate] = await Promise.allSettled([store.write('dup', acme, 0), store.write('dup', globex, 0), store.write('bulk-000', globex, 1)])
  t.equal(first.status, 'fulfilled')
  t.equal(second.status, 'rejected')
  t.equal(second.status === 'rejected' && (second.reason as { currentVersion?: number }).currentVersion, 1)
  t.equal(rotate.status, 'fulfilled')
  t.equal(store.fileReplacements - before, 1, 'one replacement for the whole batch')
  t.same(await readdir(dir), ['connections.enc'])

  const reopened = new FileSecretStore({ path, key })
  t.equal((await reopened.list()).length, 501)
  t.equal((await reopened.read('dup'))?.definition.username, acme.username, 'the conflicting write changed nothing')
  t.equal((await reopened.read('bulk-000'))?.version, 2)
})

t.test('a batch whose file write fails rejects every write in it and leaves the store as on disk', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'sub', 'connections.enc')
  const store = new FileSecretStore({ path, key: randomBytes(32) })
  await store.write('acme', acme, 0)
  // a directory where the temp file must go makes the replacement fail
  await rm(join(dir, 'sub'), { recursive: true })
  await writeFile(join(dir, 'sub'), 'not a directory')
  const results = await Promise.allSettled([store.write('a', acme, 0), store.write('b', acme, 0)])
  t.ok(results.every(r => r.status === 'rejected' && r.reason instanceof SecretStoreUnavailableError))
  await rm(join(dir, 'sub'))
  t.same(await store.list(), [], 'nothing claimed written: the file is gone and so is every connection')
})

// fsync(2) of the new file makes its data durable, not the rename that puts it in place (Linux fsync(2):
// "an explicit fsync() on a file descriptor for the directory is also needed"): until the directory is
// fsync'd, a crash can bring back the file as it was before a write the broker answered. What the store
// does is seen through node:fs/promises itself (open, rename, the handles' syncs), in order.
t.test('a write is durable in its directory before it counts: the rename is followed by a directory fsync', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'connections.enc')
  const events = watchFileCalls(t, dir, n => n.replace(/\.[0-9]+\.[0-9a-f]+\.tmp$/, '.tmp'))
  const store = new FileSecretStore({ path, key: randomBytes(32) })
  await store.write('acme', acme, 0)
  const renamed = events.indexOf('rename connections.enc.tmp connections.enc')
  t.ok(renamed > 0 && events.indexOf('sync connections.enc.tmp') < renamed, `the new file's data first (${events.join(', ')})`)
  t.same(events.slice(renamed + 1), ['open dir', 'sync dir'], 'then the directory that names it')
})
