import t from 'tap'
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { generateApiKey } from '../../src/auth/api-key.ts'
import { bearer, buildTestApp, type Teardown } from '../helper.ts'
import { captureLogs } from '../support/log-capture.ts'

const admin = (id: string) => {
  const { key, sha256 } = generateApiKey(id)
  return { key, entry: { id, kind: 'admin', apiKeySha256: [sha256] } }
}

/** A principals file replaced as Kubernetes and editors do: written beside, then renamed over. */
async function principalsFile (t: Teardown) {
  const dir = await mkdtemp(join(tmpdir(), 'sfb-principals-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'principals.json')
  let n = 0
  const write = async (text: string) => {
    const next = join(dir, `.next-${n++}`)
    await writeFile(next, text)
    await rename(next, file)
  }
  return { file, write }
}

async function appOn (t: Teardown, file: string, reloadSeconds: number, logs = captureLogs('info')) {
  const { app } = await buildTestApp(t, {
    env: { PRINCIPALS_JSON: '', PRINCIPALS_FILE: file, PRINCIPALS_RELOAD_SECONDS: String(reloadSeconds) },
    logger: logs.logger,
    // the callers come from the file, as in the server
    overrides: { principals: undefined },
  })
  return { app, logs }
}

const statusOf = async (app: FastifyInstance, key: string) =>
  (await app.inject({ url: '/v1/admin/connections', headers: bearer(key) })).statusCode

async function until (what: () => Promise<boolean>, label: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await what()) return
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  throw new Error(`timed out waiting for: ${label}`)
}

t.test('a principals file saved with a byte order mark (Windows editors) is read at start and on reload', async (t) => {
  const first = admin('first')
  const second = admin('second')
  const { file, write } = await principalsFile(t)
  await write('\uFEFF' + JSON.stringify({ principals: [first.entry] }))
  const { app } = await appOn(t, file, 1)
  t.equal(await statusOf(app, first.key), 200)
  await write('\uFEFF' + JSON.stringify({ principals: [first.entry, second.entry] }))
  await until(async () => await statusOf(app, second.key) === 200, 'the new caller is accepted')
})

t.test('a caller added to the principals file works without a restart; a broken file keeps the old callers and says why', async (t) => {
  const first = admin('first')
  const second = admin('second')
  const { file, write } = await principalsFile(t)
  await write(JSON.stringify({ principals: [first.entry] }))
  const { app, logs } = await appOn(t, file, 1)
  t.equal(await statusOf(app, first.key), 200)
  t.equal(await statusOf(app, second.key), 401, 'not a caller yet')

  await write(JSON.stringify({ principals: [first.entry, second.entry] }))
  await until(async () => await statusOf(app, second.key) === 200, 'the new caller is accepted')
  t.pass('the added caller is accepted without a restart')
  t.equal(await statusOf(app, first.key), 200, 'the others still are')
  t.match(logs.text(), /"principals":2.*principals file reloaded/)

  await write('{"principals": [')
  await until(async () => /not valid JSON/.test(logs.text()), 'a log line says why')
  t.match(logs.records().find(r => r.msg === 'principals file not reloaded: keeping the callers loaded before'), { level: 50, file, reason: 'not valid JSON' })
  t.equal(await statusOf(app, first.key), 200, 'old callers still work')
  t.equal(await statusOf(app, second.key), 200)

  await write(JSON.stringify({ principals: [first.entry, { ...second.entry, id: 'first' }] }))
  await until(async () => /duplicate id/.test(logs.text()), 'a duplicate id is refused')
  t.equal(await statusOf(app, second.key), 200, 'a document that does not validate changes nothing either')

  await write(JSON.stringify({ principals: [second.entry] }))
  await until(async () => await statusOf(app, first.key) === 401, 'a removed caller is refused')
  t.equal(await statusOf(app, second.key), 200)
})

t.test('SIGHUP reloads the principals file at once', async (t) => {
  const first = admin('first')
  const third = admin('third')
  const { file, write } = await principalsFile(t)
  await write(JSON.stringify({ principals: [first.entry] }))
  // polling far apart: only the signal can explain a quick reload
  const { app } = await appOn(t, file, 300)
  await write(JSON.stringify({ principals: [first.entry, third.entry] }))
  t.equal(await statusOf(app, third.key), 401)
  process.kill(process.pid, 'SIGHUP')
  await until(async () => await statusOf(app, third.key) === 200, 'the caller added before SIGHUP is accepted')
  t.pass('reloaded on SIGHUP')
})

t.test('the server reloads its callers on SIGHUP and keeps running', async (t) => {
  const { spawn } = await import('node:child_process')
  const { untilPrinted } = await import('../support/child-output.ts')
  const first = admin('first')
  const added = admin('added')
  const { file, write } = await principalsFile(t)
  await write(JSON.stringify({ principals: [first.entry] }))
  const storeDir = await mkdtemp(join(tmpdir(), 'sfb-store-'))
  t.teardown(() => rm(storeDir, { recursive: true, force: true }))
  const server = new URL('../../src/server.ts', import.meta.url).pathname
  const child = spawn(process.execPath, [server], {
    env: {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      // a port of its own choosing, read back from its log: a port picked free here can be taken before it binds
      PORT: '0',
      LOG_LEVEL: 'info',
      SECRET_STORE: 'file',
      FILE_STORE_PATH: join(storeDir, 'connections.enc'),
      FILE_STORE_KEY: Buffer.alloc(32, 5).toString('base64'),
      PRINCIPALS_FILE: file,
      PRINCIPALS_RELOAD_SECONDS: '300',
      SCHEDULER_ENABLED: 'false',
      SHARED_STATE: 'memory',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.teardown(() => { child.kill('SIGKILL') })
  let out = ''
  child.stdout.on('data', (d) => { out += String(d) })
  const printed = await untilPrinted(child, /Server listening at http:\/\/127\.0\.0\.1:\d+/)
  const base = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(printed)?.[1] as string
  const call = (key: string) => fetch(`${base}/v1/admin/connections`, { headers: bearer(key) }).then(r => r.status, () => 0)
  t.equal(await call(first.key), 200, 'the server answers')
  t.equal(await call(added.key), 401)
  await write(JSON.stringify({ principals: [first.entry, added.entry] }))
  child.kill('SIGHUP')
  await until(async () => await call(added.key) === 200, 'the added caller is accepted after SIGHUP')
  t.equal(child.exitCode, null, 'SIGHUP did not stop the broker')
  await until(async () => /principals file reloaded/.test(out), 'the reload is logged')
  t.pass('the reload is logged')
})
