import { readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import t from 'tap'
import { ACME } from '../helper.ts'
import { startBroker } from '../support/broker.ts'
import { api, sfb, sfbProcess, simControl } from './support.ts'

const USER = encodeURIComponent(ACME.username)

t.test('sfb against a running broker: --json is the API\'s answer, tables for people, exit codes that mean something', async (t) => {
  const broker = await startBroker(t, { acme: { flow: 'soap' }, billing: {} })
  const dir = await mkdtemp(join(tmpdir(), 'sfb-test-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const keyFile = join(dir, 'admin-key')
  await writeFile(keyFile, broker.principals.adminKey + '\n', { mode: 0o600 })
  const env = { SFB_URL: broker.baseUrl, SFB_ADMIN_KEY_FILE: keyFile }
  const admin = (method: string, path: string, body?: unknown) => api(broker.baseUrl, broker.principals.adminKey, method, path, body)

  await t.test('connections list / show', async (t) => {
    const listed = await sfb(['connections', 'list', '--json'], env)
    t.equal(listed.code, 0)
    t.same(JSON.parse(listed.stdout), (await admin('GET', '/v1/admin/connections')).json)
    const human = await sfb(['connections', 'list'], env)
    t.match(human.stdout, /^NAME\s+FLOW\s+VERSION/)
    t.match(human.stdout, /\nacme\s+soap\s+1\s+integration@acme\.example\s+closed/)
    t.match(human.stdout, /\nbilling\s+client_credentials\s+1/)

    const shown = await sfb(['connections', 'show', 'acme', '--json'], env)
    const [meta, versions] = await Promise.all([admin('GET', '/v1/admin/connections/acme'), admin('GET', '/v1/admin/connections/acme/versions')])
    t.same(JSON.parse(shown.stdout), { ...(meta.json as object), versions: (versions.json as { versions: unknown[] }).versions })
    t.match((await sfb(['connections', 'show', 'acme'], env)).stdout, /secretsSet:\s+password, securityToken/)
  })

  await t.test('the classic chore: the password was reset, so rotate password and token together (stdin, one line each)', async (t) => {
    const reset = await simControl(broker.sim.loginUrl, 'POST', `orgs/acme/users/${USER}/reset-password`)
    const attempts = broker.sim.stats('acme').attempts
    const rotated = await sfb(['connections', 'rotate', 'acme', 'password', 'securityToken', '--stdin', '--json'], env, `${reset.password}\n${reset.securityToken}\n`)
    t.equal(rotated.code, 0, rotated.stderr)
    const after = (await admin('GET', '/v1/admin/connections/acme')).json as { version: number }
    t.same(JSON.parse(rotated.stdout), after, 'the metadata the API now shows')
    t.equal(after.version, 2)
    t.equal(broker.sim.stats('acme').attempts, attempts + 1, 'validated with one login')
    t.notMatch(rotated.stdout + rotated.stderr, String(reset.password))

    const audit = await sfb(['audit', '--connection', 'acme', '--json'], env)
    t.same(JSON.parse(audit.stdout), (await admin('GET', '/v1/admin/audit?connection=acme')).json)
    t.match(JSON.parse(audit.stdout).events[0], { action: 'credentials.rotate', outcome: 'success', fields: ['password', 'securityToken'] })
    t.match((await sfb(['audit', '--connection', 'acme'], env)).stdout, /credentials\.rotate\s+acme\s+success\s+2\s+fields: password,securityToken; from v1/)
  })

  await t.test('a rejected rotation exits 1 with the broker\'s reason and hint, and stores nothing', async (t) => {
    const file = join(dir, 'token')
    await writeFile(file, 'NOT-the-token\n')
    const asJson = await sfb(['connections', 'rotate', 'acme', 'securityToken', '--from-file', `securityToken=${file}`, '--json'], env)
    t.equal(asJson.code, 1)
    t.match(JSON.parse(asJson.stdout), { status: 422, code: 'credentials_rejected' }, 'scripts get the problem document')
    t.match(asJson.stderr, /^sfb: .*credentials/i)
    t.match(asJson.stderr, /\nhint: /)
    t.notMatch(asJson.stdout + asJson.stderr, 'NOT-the-token')
    t.equal(((await admin('GET', '/v1/admin/connections/acme')).json as { version: number }).version, 2)
    // the user's failure guard now holds further logins back for a while: sfb says "later", not "no"
    const guarded = await sfb(['connections', 'rotate', 'acme', 'securityToken', '--from-file', `securityToken=${file}`], env)
    t.equal(guarded.code, 75, guarded.stderr)
    t.match(guarded.stderr, /\nhint: .*retry after \d+ s/)
  })

  await t.test('validate, rollback, health, check', async (t) => {
    const stored = await sfb(['connections', 'validate', 'acme', '--json'], env)
    t.equal(stored.code, 0)
    t.match(JSON.parse(stored.stdout), { ok: true, source: 'stored' })
    const candidate = await sfb(['connections', 'validate', 'acme', 'password', '--stdin'], env, 'wrong-password')
    t.equal(candidate.code, 1, 'a failed validation exits 1')
    t.match(candidate.stdout, /result:\s+FAILED: invalid_credentials \(candidate credentials\)/)

    // version 1 holds the password from before the reset: Salesforce refuses it, nothing changes
    const back = await sfb(['connections', 'rollback', 'acme', '1'], env)
    t.equal(back.code, 1)
    const versions = await sfb(['connections', 'show', 'acme'], env)
    t.match(versions.stdout, /\n2\s+\S+\s+yes/, 'version 2 is still current')

    const health = await sfb(['health', '--json'], env)
    t.equal(health.code, 0)
    const viaApi = (await admin('GET', '/health/salesforce')).json as { connections: Array<{ connection: string }> }
    t.same(JSON.parse(health.stdout).connections.map((c: { connection: string }) => c.connection), viaApi.connections.map(c => c.connection))
    t.match((await sfb(['health'], env)).stdout, /^overall: \w+\nCONNECTION\s+STATUS/)

    const checked = await sfb(['check', 'billing', '--json'], env)
    t.equal(checked.code, 0, checked.stderr)
    t.match(JSON.parse(checked.stdout), { connection: 'billing', status: 'ok', checkKind: 'full' })
    const again = await sfb(['check', 'billing'], env)
    t.equal(again.code, 75, 'a second forced check inside the cool-down: retry later')
    t.match(again.stderr, /hint: .*retry after \d+ s/)
  })

  await t.test('exit codes', async (t) => {
    t.equal((await sfb(['connections', 'show', 'nope'], env)).code, 3, 'not found')
    const stale = await sfb(['connections', 'rotate', 'acme', 'securityToken', '--stdin', '--if-match', '1'], env, 'x')
    t.equal(stale.code, 4, 'changed since the version named')
    t.equal((await sfb(['connections', 'list'], { SFB_URL: broker.baseUrl, SFB_ADMIN_KEY: broker.principals.billingKey })).code, 77, 'a service key is not an admin key')
    t.equal((await sfb(['connections', 'list'], { SFB_URL: broker.baseUrl, SFB_ADMIN_KEY: 'sfb.ops.wrong' })).code, 77)
    const noUrl = await sfb(['connections', 'list'], { SFB_ADMIN_KEY_FILE: keyFile })
    t.equal(noUrl.code, 78)
    t.match(noUrl.stderr, /SFB_URL/)
    const noKey = await sfb(['connections', 'list'], { SFB_URL: broker.baseUrl, SFB_ADMIN_KEY_FILE: join(dir, 'missing') })
    t.equal(noKey.code, 78)
    t.match(noKey.stderr, /SFB_ADMIN_KEY_FILE: cannot read .*missing \(ENOENT\)/)
    // a password in the URL is no credential sfb sends (the admin key is), and errors quote the URL
    const withPassword = await sfb(['connections', 'list'], { SFB_URL: broker.baseUrl.replace('http://', 'http://admin:Url-Pa55word@'), SFB_ADMIN_KEY_FILE: keyFile })
    t.equal(withPassword.code, 78)
    t.match(withPassword.stderr, /SFB_URL must not hold a user name or password/)
    t.notMatch(withPassword.stderr + withPassword.stdout, /Url-Pa55word/, 'the password is not echoed')
    t.equal((await sfbProcess(['connections', 'list'], { SFB_URL: 'http://127.0.0.1:1', SFB_ADMIN_KEY: 'k' })).code, 69, 'unreachable: the executable\'s exit code')
    const argvSecret = await sfb(['connections', 'rotate', 'acme', '--password', 'hunter2'], env)
    t.equal(argvSecret.code, 2)
    t.match(argvSecret.stderr, /--password is refused: a secret on the command line lands in ps and shell history/)
    // a secret typed where the usage shows a field name (`… validate NAME --client-id K clientSecret`): refused, and not echoed
    for (const args of [
      ['connections', 'rotate', 'acme', 'securityToken', 'Hunter2-typed-as-a-field'],
      ['consumer-rotation', 'validate', 'acme', '--client-id', 'K', 'Hunter2-typed-as-a-field'],
      ['migrate', 'validate', 'acme', 'Hunter2-typed-as-a-field'],
      ['connections', 'rotat', 'acme', 'Hunter2-typed-as-a-field'],
    ]) {
      const typed = await sfb(args, env)
      t.equal(typed.code, 2, `${args.slice(0, 2).join(' ')}: usage`)
      t.notMatch(typed.stderr, 'Hunter2', `${args.slice(0, 2).join(' ')}: the word is not echoed to the terminal or a CI log`)
    }
    const noTty = await sfb(['connections', 'rotate', 'acme', 'securityToken'], env)
    t.equal(noTty.code, 2, 'no terminal and no --stdin: nowhere to read a secret from')
    t.match(noTty.stderr, /no terminal for a hidden prompt: pipe the secret with --stdin/)
    t.equal((await sfbProcess(['frobnicate'], env)).code, 2, 'the executable\'s exit code')
    t.equal((await sfb(['--help'], env)).code, 0)
  })

  await t.test('the admin key is the key file\'s first line, and is never printed', async (t) => {
    const key = broker.principals.adminKey
    const twoLines = join(dir, 'admin-key-two-lines')
    await writeFile(twoLines, `${key}\nrotated-out-key-kept-for-reference\n`, { mode: 0o600 })
    const listed = await sfb(['connections', 'list', '--json'], { SFB_URL: broker.baseUrl, SFB_ADMIN_KEY_FILE: twoLines })
    t.equal(listed.code, 0, 'the first line is the key')
    t.notMatch(listed.stderr, key.slice(-12))
    const crlf = join(dir, 'admin-key-crlf')
    await writeFile(crlf, `${key}\r\n`, { mode: 0o600 })
    t.equal((await sfb(['connections', 'list', '--json'], { SFB_URL: broker.baseUrl, SFB_ADMIN_KEY_FILE: crlf })).code, 0, 'a Windows line end')
    const garbled = join(dir, 'admin-key-garbled')
    await writeFile(garbled, `${key}\u0001tail\n`, { mode: 0o600 })
    const bad = await sfb(['connections', 'list'], { SFB_URL: broker.baseUrl, SFB_ADMIN_KEY_FILE: garbled })
    t.equal(bad.code, 78, bad.stderr)
    t.match(bad.stderr, /SFB_ADMIN_KEY_FILE: the key holds a control character/)
    t.notMatch(bad.stderr, key.slice(-12), 'the key is not echoed')
    const fromEnv = await sfb(['connections', 'list'], { SFB_URL: broker.baseUrl, SFB_ADMIN_KEY: `${key}\nsecond` })
    t.notMatch(fromEnv.stderr, key.slice(-12), 'nor from SFB_ADMIN_KEY')
  })

  await t.test('delete needs a confirmation or --yes', async (t) => {
    const unconfirmed = await sfb(['connections', 'delete', 'billing'], env)
    t.equal(unconfirmed.code, 2)
    t.equal((await admin('GET', '/v1/admin/connections/billing')).status, 200, 'still there')
    const deleted = await sfb(['connections', 'delete', 'billing', '--yes', '--json'], env)
    t.equal(deleted.code, 0)
    t.same(JSON.parse(deleted.stdout), { deleted: 'billing' })
    t.equal((await admin('GET', '/v1/admin/connections/billing')).status, 404)
  })

  await t.test('put: non-secret fields as flags, secrets from stdin', async (t) => {
    const created = await sfb(['connections', 'put', 'fresh', '--flow', 'client_credentials', '--login-url', broker.sim.myDomainUrl('acme'), '--client-id', ACME.clientId, '--stdin', '--json'], env, ACME.clientSecret)
    t.equal(created.code, 0, created.stderr)
    t.same(JSON.parse(created.stdout), (await admin('GET', '/v1/admin/connections/fresh')).json)
    t.match(JSON.parse(created.stdout), { name: 'fresh', flow: 'client_credentials', version: 1, secretsSet: ['clientSecret'] })
    const missing = await sfb(['connections', 'put', 'other', '--login-url', broker.sim.loginUrl], env)
    t.equal(missing.code, 2)
    t.match(missing.stderr, /--flow is required, one of: soap, oauth_password, jwt_bearer, client_credentials/)
    const inherited = await sfb(['connections', 'put', 'other', '--flow', 'constructor', '--login-url', broker.sim.loginUrl], env)
    t.equal(inherited.code, 2, 'a flow named like an inherited property is an unknown flow')
    t.match(inherited.stderr, /--flow is required, one of: /)
  })
})

t.test('sfb speaks HTTP only: it imports Node built-ins, its own files and the client package, never the server\'s modules', async (t) => {
  const dir = join(import.meta.dirname, '..', '..', 'src', 'cli')
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter(f => f.endsWith('.ts'))
  t.ok(files.length > 4)
  for (const file of files) {
    const source = readFileSync(join(dir, file), 'utf8')
    for (const [, spec] of source.matchAll(/from '([^']+)'/g)) {
      const inside = spec.startsWith('.') && resolve(dirname(join(dir, file)), spec).startsWith(dir + '/')
      t.ok(spec.startsWith('node:') || inside || spec === '@sf-broker/client', `${file} imports ${spec}`)
    }
  }
  const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8'))
  t.same(pkg.bin, { sfb: 'dist/cli/sfb.js' }, 'a bin of the project (built by npm run build)')
  t.match(readFileSync(join(dir, 'sfb.ts'), 'utf8'), /^#!\/usr\/bin\/env node\n/)
  t.match(readFileSync(join(import.meta.dirname, '..', '..', 'Dockerfile'), 'utf8'), /exec node \/app\/dist\/cli\/sfb\.js "\$@"\\n' > \/usr\/local\/bin\/sfb/, 'and on PATH in the image')
})
