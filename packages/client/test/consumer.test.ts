import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { ACME } from '../../../test/helper.ts'
import { outsideTap } from '../../../test/support/outside-tap.ts'
import { startBroker } from './support.ts'

/**
 * The SDK as a service team gets it: `npm pack` of packages/client, `npm install` of the tarball into
 * an empty project, then a plain ESM script (no TypeScript, no access to this repository) that
 * queries through a running broker and survives an expired session — on Node 20, the oldest Node
 * the package's `engines` promises, when this machine has one, and on the Node running the tests.
 */

const execFileAsync = promisify(execFile)
/** The children are other programs on other Nodes: tap's loader flags are not theirs (outside-tap.ts). */
const run = (command: string, args: string[], opts: { cwd?: string, timeout?: number, env?: NodeJS.ProcessEnv } = {}) =>
  execFileAsync(...outsideTap(command, args), opts)
const CLIENT_DIR = join(import.meta.dirname, '..')
const ROOT_BIN = join(import.meta.dirname, '..', '..', '..', 'node_modules', '.bin')

function childEnv (extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, ...extra }
}

/**
 * Where the empty project lives: in memory when the machine has /dev/shm. Its node_modules is
 * jsforce's tree, some 13,000 files and 100 MB; written to this VM's disk the install cost 13–17 s of
 * CPU, two thirds of it the kernel's (file system journaling), against 6 s in memory. Nothing is
 * kept: the folder goes with the test.
 */
const SCRATCH_ROOT = existsSync('/dev/shm') ? '/dev/shm' : tmpdir()

/** Node 20 for the "oldest supported" run: NODE20 if set, else the distribution's /usr/bin/node when that is 20. */
async function node20 (): Promise<string | undefined> {
  const candidate = process.env.NODE20 ?? '/usr/bin/node'
  if (!existsSync(candidate)) return undefined
  const { stdout } = await run(candidate, ['--version'], { env: childEnv() })
  return stdout.startsWith('v20.') ? candidate : undefined
}

const CONSUMER_SCRIPT = `
import { BrokerError, createAdminClient, createBrokerClient } from '@sf-broker/client'

const { BROKER_URL, BROKER_KEY, ADMIN_KEY, SIM_URL, CLIENT_ID } = process.env
const client = createBrokerClient({ baseUrl: BROKER_URL, credentials: BROKER_KEY })
const conn = await client.connection('acme')
const first = await conn.query('SELECT Id, Name FROM Account')
const deadToken = conn.accessToken

// Salesforce ends every session of the org (the simulator's control API), the same Connection goes on
const expired = await fetch(SIM_URL + '/_sim/orgs/acme/sessions/expire', { method: 'POST' })
if (!expired.ok) throw new Error('the simulator did not expire the sessions')
const second = await conn.query('SELECT Id FROM Account')

let refused
try {
  await client.getSession('not-granted')
} catch (err) {
  refused = { isBrokerError: err instanceof BrokerError, status: err.status, code: err.code, type: err.type }
}

// the connected app's secret changes in Salesforce only: the refresh inside jsforce fails with the broker's reason
await fetch(SIM_URL + '/_sim/orgs/acme/apps/' + encodeURIComponent(CLIENT_ID), { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ clientSecret: 'rotated-in-salesforce-only' }) })
await fetch(SIM_URL + '/_sim/orgs/acme/sessions/expire', { method: 'POST' })
let throughRefresh
try {
  await conn.query('SELECT Id FROM Account')
} catch (err) {
  throughRefresh = { isBrokerError: err instanceof BrokerError, code: err.code, classification: err.classification, hasHint: typeof err.hint === 'string' }
}
client.close()

// an admin tool (sfb) on the same package: the admin API, refusals as BrokerError with the problem document
const admin = createAdminClient({ baseUrl: BROKER_URL, credentials: ADMIN_KEY })
const { body } = await admin.request('GET /v1/admin/connections')
const missing = await admin.request('GET /v1/admin/connections/{name}', { params: { name: 'ghost' } }).catch(err => ({ isBrokerError: err instanceof BrokerError, code: err.code, problemCode: err.problem.code }))
admin.close()
console.log(JSON.stringify({ node: process.version, first: first.totalSize, second: second.totalSize, healed: conn.accessToken !== deadToken, refused, throughRefresh, admin: { connections: body.connections.map(c => c.name), missing } }))
`

const CONSUMER_TYPES = `
import { BrokerError, createAdminClient, createBrokerClient, type AdminAnswer, type BrokerSession } from '@sf-broker/client'

const client = createBrokerClient({ baseUrl: 'http://broker', credentials: () => 'key' })
const session: BrokerSession = await client.getSession('acme')
const expires: Date = session.expiresAt
const conn = await client.connection('acme', { version: '62.0' })
const rows: number = (await conn.query<{ Id: string }>('SELECT Id FROM Account')).totalSize
const reason = (err: unknown): string | undefined => err instanceof BrokerError ? err.classification ?? err.hint : undefined
const admin = createAdminClient({ baseUrl: 'http://broker', credentials: 'admin-key' })
const listed: AdminAnswer<{ connections: Array<{ name: string }> }> = await admin.request('GET /v1/admin/connections')
const names: string[] = listed.body.connections.map(c => c.name)
await admin.request('POST /v1/admin/connections/{name}/rollback', { params: { name: 'acme' }, body: { version: 1 }, ifMatch: 2 })
export { expires, rows, reason, names }
`

t.test('the packed SDK installs into an empty project and heals an expired session there', async (t) => {
  const scratch = await mkdtemp(join(SCRATCH_ROOT, 'sfb-client-consumer-'))
  t.teardown(() => rm(scratch, { recursive: true, force: true }))

  // prepack builds dist/ with tsc; the tarball must carry the built JavaScript and declarations only
  const packed = await run('npm', ['pack', '--json', '--pack-destination', scratch], { cwd: CLIENT_DIR, env: childEnv({ PATH: `${ROOT_BIN}:${process.env.PATH}` }) })
  const [tarball] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as Array<{ filename: string, files: Array<{ path: string }> }>
  const files = tarball.files.map(f => f.path).sort()
  t.ok(files.includes('dist/index.js') && files.includes('dist/index.d.ts'), 'built JavaScript and declarations')
  t.ok(files.includes('README.md'), 'its own README')
  t.same(files.filter(f => f.endsWith('.ts') && !f.endsWith('.d.ts')), [], 'no TypeScript sources (Node does not strip types in node_modules)')

  await t.test('the tarball passes npm publish --dry-run, without contacting a registry', async (t) => {
    // a closed port as the registry: a dry run must not need one (no retries: npm's back-off on the
    // refused connection cost a minute). A tarball is published as it is: no build runs again.
    const published = await run('npm', ['publish', join(scratch, tarball.filename), '--dry-run', '--json', '--registry', 'http://127.0.0.1:9/', '--fetch-retries=0'], {
      cwd: CLIENT_DIR,
      timeout: 120_000,
      env: childEnv({ npm_config_update_notifier: 'false' }),
    })
    type Report = { name: string, version: string, files: Array<{ path: string }> }
    // npm 10 answers the report itself, npm 11 keyed by the package name
    const answer = JSON.parse(published.stdout.slice(published.stdout.indexOf('{'))) as Report | Record<string, Report>
    const report = ('files' in answer ? answer : answer['@sf-broker/client']) as Report
    t.equal(report.name, '@sf-broker/client')
    t.same(report.files.map(f => f.path).sort(), files, 'what the pack holds')
    for (const file of ['LICENSE', 'README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts']) t.ok(files.includes(file), `the tarball holds ${file}`)
    t.equal((JSON.parse(await readFile(join(CLIENT_DIR, 'package.json'), 'utf8')) as { publishConfig?: { access?: string } }).publishConfig?.access, 'public', 'a scoped package is private unless published public')
  })

  const oldest = await node20()
  if (!oldest) t.comment('no Node 20 on this machine (set NODE20=/path/to/node): the consumer runs on the test Node only')

  const project = join(scratch, 'consumer')
  await run('mkdir', ['-p', project])
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }))
  // A Node 20 user installs with Node 20's npm, which picks for each range the newest version whose
  // engines accept that Node: jsforce releases that need Node 22 (3.10.19+, undici 8) are passed over.
  // The cache serves what it has; the registry the rest.
  const npmBeside = oldest ? join(dirname(oldest), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js') : undefined
  const npm = npmBeside && existsSync(npmBeside) ? [oldest as string, npmBeside] : ['npm']
  await run(npm[0], [...npm.slice(1), 'install', join(scratch, tarball.filename), '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: project, timeout: 240_000, env: childEnv() })
  const installed = JSON.parse(await readFile(join(project, 'node_modules', '@sf-broker', 'client', 'package.json'), 'utf8'))
  t.equal(installed.name, '@sf-broker/client')
  t.notOk(existsSync(join(project, 'node_modules', 'fastify')), 'the server does not come along')
  const jsforce = JSON.parse(await readFile(join(project, 'node_modules', 'jsforce', 'package.json'), 'utf8'))
  t.comment(`jsforce ${jsforce.version} installed (engines ${jsforce.engines?.node})`)
  await writeFile(join(project, 'main.js'), CONSUMER_SCRIPT)
  await writeFile(join(project, 'types.ts'), CONSUMER_TYPES)
  await writeFile(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, types: [] }, files: ['types.ts'] }))

  await t.test('the declarations type-check in a consumer (exports map → dist/index.d.ts)', async (t) => {
    const checked = await run(join(ROOT_BIN, 'tsc'), ['-p', project], { env: childEnv() }).then(() => 'ok', (err: { stdout: string }) => err.stdout)
    t.equal(checked, 'ok')
  })

  const nodes = [...new Set([oldest, process.execPath].filter((n): n is string => n !== undefined))]
  for (const node of nodes) {
    await t.test(`a query and a healed expired session on ${node}`, async (t) => {
      // the session dies twice within seconds here: the broker's relogin floor would answer first
      const broker = await startBroker(t, { acme: {} }, { env: { REVOKED_SESSION_LOGIN_INTERVAL_SECONDS: '0' } })
      const { stdout } = await run(node, ['main.js'], {
        cwd: project,
        timeout: 60_000,
        env: { PATH: process.env.PATH ?? '', BROKER_URL: broker.baseUrl, BROKER_KEY: broker.principals.billingKey, ADMIN_KEY: broker.principals.adminKey, SIM_URL: broker.sim.loginUrl, CLIENT_ID: ACME.clientId },
      })
      const out = JSON.parse(stdout.trim().split('\n').at(-1) as string)
      if (node === oldest) t.match(out.node, /^v20\./)
      t.ok(out.first > 0, 'the query answered')
      t.equal(out.second, out.first, 'and answered again after Salesforce expired the session')
      t.equal(out.healed, true, 'the Connection holds a new token')
      t.same(out.refused, { isBrokerError: true, status: 403, code: 'forbidden', type: 'urn:sf-broker:problem:forbidden' }, 'a refusal is a BrokerError from the installed package')
      t.same(out.throughRefresh, { isBrokerError: true, code: 'salesforce_login_failed', classification: 'invalid_client', hasHint: true }, 'a failed refresh inside jsforce is the BrokerError itself')
      t.equal(broker.sim.stats('acme').attempts, 3, 'one login, one for the expired session, one refused')
      t.same(out.admin, { connections: ['acme'], missing: { isBrokerError: true, code: 'not_found', problemCode: 'not_found' } }, 'the admin API through the installed package')
    })
  }
})
