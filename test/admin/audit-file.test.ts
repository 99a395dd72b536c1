import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { AuditFileSink } from '../../src/admin/audit-file-sink.ts'
import type { AuditSinkRecord } from '../../src/admin/audit-sink.ts'
import { ACME, acmeDefinition, bearer, buildTestApp, startSim, tempFileStore, type Teardown } from '../helper.ts'
import { outsideTap } from '../support/outside-tap.ts'
import { testPrincipals } from '../support/principals.ts'
import { watchFileCalls } from '../support/fs-calls.ts'

const ADMIN = '/v1/admin/connections'

async function tempDir (t: Teardown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sfb-audit-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function setup (t: Teardown, env: Record<string, string>) {
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  const principals = testPrincipals(['*'])
  const { app } = await buildTestApp(t, { secretStore: store, principals, env })
  const admin = (method: 'GET' | 'PUT' | 'PATCH' | 'POST', url: string, payload?: object) =>
    app.inject({ method, url, payload, headers: bearer(principals.adminKey) })
  return { sim, store, principals, app, admin }
}

const lines = async (path: string) => (await readFile(path, 'utf8')).split('\n').filter(Boolean).map(l => JSON.parse(l) as Record<string, unknown>)

/** Hand-outs go to the sink in the next batch, after the answer: wait for the file to show it. */
async function until (what: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200 && !await what(); i++) await new Promise(resolve => setImmediate(resolve))
}

t.test('an admin write is in the audit file, request before outcome, when the answer arrives; hand-outs follow', async (t) => {
  const file = join(await tempDir(t), 'audit.jsonl')
  const { sim, app, admin, principals } = await setup(t, { AUDIT_FILE: file })

  const created = await admin('PUT', `${ADMIN}/acme`, acmeDefinition(sim, 'oauth_password'))
  t.equal(created.statusCode, 201)
  const written = await lines(file)
  t.match(written, [
    { stream: 'admin', stage: 'request', actor: 'ops', method: 'PUT', route: '/v1/admin/connections/:name', connection: 'acme', requestId: created.headers['x-request-id'] },
    { stream: 'admin', stage: 'outcome', actor: 'ops', action: 'connection.create', outcome: 'success', connection: 'acme', version: 1, requestId: created.headers['x-request-id'] },
  ], 'on disk before the 201: the request record, then the outcome')
  t.equal(written.length, 2)
  const text = await readFile(file, 'utf8')
  for (const secret of [ACME.password, ACME.securityToken, ACME.clientSecret]) t.notOk(text.includes(secret), 'no secret in the audit file')
  t.equal(((await stat(file)).mode & 0o777).toString(8), '600', 'readable by the broker only')

  const handed = await app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })
  t.equal(handed.statusCode, 200)
  await until(async () => (await lines(file)).length === 3)
  t.match((await lines(file))[2], { stream: 'handouts', stage: 'outcome', action: 'session.issued', actor: 'billing', connection: 'acme', tokenFingerprint: /^[0-9a-f]{12}$/ })
  t.notOk((await readFile(file, 'utf8')).includes(handed.json().accessToken), 'a fingerprint, never the token')

  const read = await admin('GET', `${ADMIN}/acme`)
  t.equal(read.statusCode, 200)
  t.equal((await lines(file)).length, 3, 'reads are not admin writes: no request record')
})

t.test('an admin write is refused with 503 audit_unavailable, before anything is done, when the file cannot be written', async (t) => {
  const dir = await tempDir(t)
  const { sim, store, admin } = await setup(t, { AUDIT_FILE: dir })

  const refused = await admin('PUT', `${ADMIN}/acme`, acmeDefinition(sim, 'oauth_password'))
  t.equal(refused.statusCode, 503)
  t.match(refused.headers['content-type'], /^application\/problem\+json/)
  t.match(refused.json(), { type: 'urn:sf-broker:problem:audit_unavailable', status: 503, retryable: true, detail: /could not be written to file/ })
  t.notOk(JSON.stringify(refused.json()).includes(dir), 'the answer does not name the path')
  t.equal(await store.read('acme'), null, 'nothing stored')
  t.equal(sim.stats('acme').attempts, 0, 'no login made for a write that cannot be audited')
  t.equal((await admin('GET', ADMIN)).statusCode, 200, 'reads go on')
})

t.test('a full disk refuses admin writes too; AUDIT_SINK_REQUIRED=false lets them through', { skip: existsSync('/dev/full') ? false : 'no /dev/full' }, async (t) => {
  const full = await setup(t, { AUDIT_FILE: '/dev/full' })
  const refused = await full.admin('PUT', `${ADMIN}/acme`, acmeDefinition(full.sim, 'oauth_password'))
  t.equal(refused.statusCode, 503)
  t.equal(refused.json().code, 'audit_unavailable')

  const lenient = await setup(t, { AUDIT_FILE: '/dev/full', AUDIT_SINK_REQUIRED: 'false' })
  t.equal((await lenient.admin('PUT', `${ADMIN}/acme`, acmeDefinition(lenient.sim, 'oauth_password'))).statusCode, 201)
})

const record = (i: number): AuditSinkRecord => {
  const time = new Date(Date.UTC(2026, 11, 1, 0, 0, i)).toISOString()
  return { stream: 'admin', stage: 'outcome', time, json: JSON.stringify({ n: i, time, pad: 'x'.repeat(150) }), failed: false }
}

t.test('the file is rotated by size: path, path.1 … path.N, newest records in path', async (t) => {
  const path = join(await tempDir(t), 'audit.jsonl')
  const sink = new AuditFileSink({ path, maxBytes: 4096, keep: 2, logger: pino({ level: 'silent' }) })
  t.teardown(() => sink.close())
  for (let i = 0; i < 100; i++) await sink.write(record(i), true)

  t.ok(existsSync(`${path}.1`) && existsSync(`${path}.2`), 'two rotated files kept')
  t.notOk(existsSync(`${path}.3`), 'no more than AUDIT_FILE_KEEP')
  for (const p of [path, `${path}.1`, `${path}.2`]) t.ok((await stat(p)).size <= 4096, `${p} within the size`)
  const kept = [...await lines(`${path}.2`), ...await lines(`${path}.1`), ...await lines(path)].map(r => r.n as number)
  t.equal(kept.at(-1), 99, 'the newest record is in the file itself')
  t.same(kept, Array.from({ length: kept.length }, (_, i) => 100 - kept.length + i), 'the newest records, in order, none twice, none torn')
})

t.test('records that could not be written are held and written, in order, once the file can be', async (t) => {
  const dir = join(await tempDir(t), 'not-yet')
  const path = join(dir, 'audit.jsonl')
  const sink = new AuditFileSink({ path, maxBytes: 1 << 20, keep: 1, logger: pino({ level: 'silent' }) })
  t.teardown(() => sink.close())
  await t.rejects(sink.write(record(1), true), { code: 'ENOENT' })
  await t.rejects(sink.write(record(2), false), { code: 'ENOENT' }, 'a request record is not held: its write was refused')
  await mkdir(dir)
  await sink.write(record(3), true)
  t.same((await lines(path)).map(r => r.n), [1, 3])
})

// write(2) may write fewer bytes than asked without an error when the medium (or the process's file
// size limit) has room for only part of them (POSIX write(2): "only as many bytes as there is room
// for shall be written"); the next write then fails with ENOSPC or EFBIG. A record must not count as
// written until every byte of it is on disk. The child runs under a 1000-byte file size limit (the
// stand-in for a disk filling up) with SIGXFSZ caught, so the write fails with EFBIG as on a full disk.
t.test('a record that only partly fits on the disk is refused and undone, not counted as written', { skip: existsSync('/usr/bin/prlimit') ? false : 'no prlimit' }, async (t) => {
  const path = join(await tempDir(t), 'audit.jsonl')
  const sink = new URL('../../src/admin/audit-file-sink.ts', import.meta.url).href
  const code = `import { AuditFileSink } from ${JSON.stringify(sink)}
import pino from 'pino'
process.on('SIGXFSZ', () => {})
const sink = new AuditFileSink({ path: ${JSON.stringify(path)}, maxBytes: 1 << 20, keep: 1, logger: pino({ level: 'silent' }) })
for (const n of [1, 2]) {
  const json = JSON.stringify({ n, pad: 'x'.repeat(600) })
  await sink.write({ stream: 'admin', stage: 'outcome', time: new Date().toISOString(), json, failed: false }, false)
    .then(() => console.log(n, 'written'), (err) => console.log(n, 'refused', err.code))
}
await sink.close()`
  // outside tap: its exit hook writes coverage files, which the file size limit would refuse
  const child = spawn(...outsideTap('prlimit', ['--fsize=1000', '--', process.execPath, '--input-type=module', '-e', code]), { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { out += d })
  await once(child, 'close')
  t.equal(out, '1 written\n2 refused EFBIG\n', 'the record that did not fit is refused')
  t.same((await lines(path)).map(r => r.n), [1], 'no torn line: the part that fitted was undone')
})

// fsync(2) of a file makes its data durable, not the directory entry that names it (Linux fsync(2):
// "Calling fsync() does not necessarily ensure that the entry in the directory containing the file
// has also reached disk. For that an explicit fsync() on a file descriptor for the directory is also
// needed"). A file the sink creates, first or after a rotation's renames, is only durable once its
// directory is fsync'd too: before that, a crash can lose every record it holds. What the sink does
// is seen through node:fs/promises itself (open, rename, the handles' syncs), in order.
t.test('a created or rotated audit file is made durable in its directory before a record in it counts', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'audit.jsonl')
  const events = watchFileCalls(t, dir)

  const sink = new AuditFileSink({ path, maxBytes: 300, keep: 1, logger: pino({ level: 'silent' }) })
  t.teardown(() => sink.close())
  await sink.write(record(1), true)
  const written = events.splice(0)
  t.ok(written.indexOf('sync dir') > written.indexOf('open audit.jsonl'), `the new file's directory entry is synced: ${written.join(', ')}`)
  await sink.write(record(2), true)
  const rotated = events.splice(0)
  t.ok(rotated.includes('rename audit.jsonl audit.jsonl.1'), `rotated: ${rotated.join(', ')}`)
  t.ok(rotated.lastIndexOf('sync dir') > rotated.lastIndexOf('open audit.jsonl'), `the renames and the new file are synced in the directory: ${rotated.join(', ')}`)
})

// While the sink fails, what it could not write is held (10,000 records at most) and written first
// once it can. Hand-outs keep coming meanwhile (they are never refused), and must not push out an
// admin action's outcome held there: that action was already answered, and the sink's record is the
// one that must survive (a busy fleet's hand-outs never push a rotation out of the audit).
t.test('while the file cannot be written, hand-outs do not push a held admin outcome out of the backlog', async (t) => {
  const dir = join(await tempDir(t), 'not-yet')
  const path = join(dir, 'audit.jsonl')
  const sink = new AuditFileSink({ path, maxBytes: 1 << 30, keep: 1, logger: pino({ level: 'silent' }) })
  t.teardown(() => sink.close())
  await t.rejects(sink.write(record(1), true), { code: 'ENOENT' }, 'the admin outcome is held')
  const handout = (i: number): AuditSinkRecord => ({ stream: 'handouts', stage: 'outcome', time: new Date().toISOString(), json: JSON.stringify({ h: i }), failed: false })
  await Promise.allSettled(Array.from({ length: 10_500 }, (_, i) => sink.write(handout(i), true)))
  await mkdir(dir)
  await sink.write(record(2), true)
  const written = await lines(path)
  t.same(written.filter(r => r.n !== undefined).map(r => r.n), [1, 2], 'the held admin outcome is written, ahead of the next one')
  t.ok(written.length <= 10_001 + 1, 'the backlog stays bounded')
})
