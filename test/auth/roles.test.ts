import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { parsePrincipals } from '../../src/auth/principals.ts'
import { ConfigError } from '../../src/config.ts'
import { ACME, acmeDefinition, buildTestApp } from '../helper.ts'
import { startBroker } from '../support/broker.ts'
import { sfb } from '../cli/support.ts'

/** What an SRE, an on-call operator and an admin can do with their keys, over HTTP, and what Salesforce saw. */

interface Answer { status: number, json: Record<string, unknown> }

t.test('viewer, operator and admin keys: each refusal is 403 naming the role, and makes no login', async (t) => {
  const broker = await startBroker(t, { acme: {}, spare: {} })
  const { adminKey } = broker.principals
  const viewerKey = broker.principals.viewerKey as string
  const operatorKey = broker.principals.operatorKey as string
  const call = async (key: string, method: string, path: string, body?: unknown): Promise<Answer> => {
    const res = await fetch(broker.baseUrl + path, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await res.text()
    return { status: res.status, json: text === '' ? {} : JSON.parse(text) }
  }
  const refusedFor = (answer: Answer, role: string) => {
    t.equal(answer.status, 403)
    t.match(answer.json, { type: 'urn:sf-broker:problem:forbidden', code: 'forbidden', requiredRole: role, detail: new RegExp(`needs the ${role} role`) })
  }

  await t.test('a viewer reads health details, metadata and the audit, and nothing more', async (t) => {
    const health = await call(viewerKey, 'GET', '/health/salesforce')
    t.equal(health.status, 200)
    t.equal(health.json.view, 'full', 'health details, not the public summary')
    t.equal((await call(viewerKey, 'GET', '/v1/admin/connections')).status, 200)
    t.equal((await call(viewerKey, 'GET', '/v1/admin/connections/acme')).status, 200)
    t.equal((await call(viewerKey, 'GET', '/v1/admin/connections/acme/versions')).status, 200)
    t.equal((await call(viewerKey, 'GET', '/v1/admin/audit')).status, 200)

    const attempts = broker.sim.stats('acme').attempts
    refusedFor(await call(viewerKey, 'POST', '/health/salesforce/acme/check'), 'operator')
    refusedFor(await call(viewerKey, 'POST', '/health/salesforce/acme/check', { probe: true }), 'operator')
    refusedFor(await call(viewerKey, 'POST', '/v1/admin/connections/acme/sessions/revoke'), 'operator')
    refusedFor(await call(viewerKey, 'PATCH', '/v1/admin/connections/acme/credentials', { clientSecret: 'x' }), 'admin')
    refusedFor(await call(viewerKey, 'DELETE', '/v1/admin/connections/acme'), 'admin')
    t.equal(broker.sim.stats('acme').attempts, attempts, 'no refused operation reached Salesforce')
  })

  await t.test('an operator checks, probes and revokes, but cannot write, migrate or delete', async (t) => {
    const attempts = broker.sim.stats('acme').attempts
    const checked = await call(operatorKey, 'POST', '/health/salesforce/acme/check')
    t.equal(checked.status, 200)
    t.equal(broker.sim.stats('acme').attempts, attempts + 1, 'the check logged in once')
    t.equal((await call(operatorKey, 'POST', '/v1/admin/connections/acme/sessions/revoke')).status, 200)

    const before = broker.sim.stats('acme').attempts
    refusedFor(await call(operatorKey, 'PUT', '/v1/admin/connections/spare', acmeDefinition(broker.sim)), 'admin')
    refusedFor(await call(operatorKey, 'PATCH', '/v1/admin/connections/acme/credentials', { clientSecret: ACME.clientSecret }), 'admin')
    refusedFor(await call(operatorKey, 'POST', '/v1/admin/connections/acme/validate'), 'admin')
    refusedFor(await call(operatorKey, 'POST', '/v1/admin/connections/acme/rollback', { version: 1 }), 'admin')
    refusedFor(await call(operatorKey, 'POST', '/v1/admin/connections/acme/migration', { flow: 'jwt_bearer' }), 'admin')
    refusedFor(await call(operatorKey, 'DELETE', '/v1/admin/connections/spare'), 'admin')
    t.equal(broker.sim.stats('acme').attempts, before, 'no refused operation reached Salesforce')
    t.equal((await call(adminKey, 'GET', '/v1/admin/connections/spare')).status, 200, 'spare is still there')
  })

  await t.test('an admin principal written before roles keeps full rights', async (t) => {
    t.equal((await call(adminKey, 'PATCH', '/v1/admin/connections/acme/credentials', { clientSecret: ACME.clientSecret })).status, 200)
    t.equal((await call(adminKey, 'DELETE', '/v1/admin/connections/spare')).status, 204)
    const audit = await call(viewerKey, 'GET', '/v1/admin/audit')
    const events = audit.json.events as Array<{ action: string, actor: string }>
    t.ok(events.some(e => e.action === 'health.check' && e.actor === 'oncall'), 'the viewer reads what the operator did')
  })

  await t.test('a service key on an admin operation is refused naming the role too', async (t) => {
    const answer = await call(broker.principals.billingKey, 'GET', '/v1/admin/connections')
    t.equal(answer.status, 403)
    t.match(answer.json, { code: 'forbidden', requiredRole: 'viewer' })
  })

  await t.test('sfb says which role a command needs when refused', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'sfb-roles-'))
    t.teardown(() => rm(dir, { recursive: true, force: true }))
    const keyFile = join(dir, 'viewer-key')
    await writeFile(keyFile, viewerKey + '\n', { mode: 0o600 })
    const env = { SFB_URL: broker.baseUrl, SFB_ADMIN_KEY_FILE: keyFile }
    t.equal((await sfb(['connections', 'list'], env)).code, 0)
    const refused = await sfb(['check', 'acme'], env)
    t.equal(refused.code, 77, 'EX_NOPERM')
    t.match(refused.stderr, /this command needs the operator role/)
    const deleting = await sfb(['connections', 'delete', 'acme', '--yes'], env)
    t.match(deleting.stderr, /this command needs the admin role/)
  })
})

t.test('the OpenAPI document states the role of every admin operation, as the broker enforces it', async (t) => {
  const { app } = await buildTestApp(t)
  const paths = (app.swagger() as unknown as { paths: Record<string, Record<string, Record<string, unknown>>> }).paths
  const roles: Record<string, unknown> = {}
  for (const [path, methods] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const secured = Array.isArray(op.security) && (op.security as Array<Record<string, unknown>>).some(s => 'bearer' in s)
      if (path.startsWith('/v1/admin/') || path.endsWith('/check')) {
        t.ok(secured, `${method} ${path} is authenticated`)
        t.ok(typeof op['x-required-role'] === 'string', `${method} ${path} states its role`)
        t.match(op.description, new RegExp(`Requires an admin principal with the ${String(op['x-required-role'])} role`))
      }
      if (op['x-required-role'] !== undefined) roles[op.operationId as string] = op['x-required-role']
    }
  }
  t.match(roles, {
    listConnections: 'viewer',
    getConnection: 'viewer',
    listVersions: 'viewer',
    listAuditEvents: 'viewer',
    getMigration: 'viewer',
    getMigrationCertificate: 'viewer',
    checkSalesforceHealth: 'operator',
    revokeSessions: 'operator',
    putConnection: 'admin',
    rotateCredentials: 'admin',
    validateConnection: 'admin',
    rollbackConnection: 'admin',
    deleteConnection: 'admin',
    startMigration: 'admin',
    validateMigration: 'admin',
    completeMigration: 'admin',
    abandonMigration: 'admin',
  })
})

t.test('principals: a role belongs to admin principals; an unknown role is refused', async (t) => {
  t.throws(() => parsePrincipals({ principals: [{ id: 'billing', kind: 'service', role: 'viewer', connections: ['*'] }] }), ConfigError)
  t.throws(() => parsePrincipals({ principals: [{ id: 'sre', kind: 'admin', role: 'superuser' }] }), ConfigError)
  t.equal(parsePrincipals({ principals: [{ id: 'sre', kind: 'admin', role: 'viewer' }] }).byId.get('sre')?.role, 'viewer')
})

t.test('a typo in the principals document names the field and the one meant, not "schema is false"', async (t) => {
  const message = (doc: unknown): string => {
    try {
      parsePrincipals(doc)
    } catch (err) {
      return (err as Error).message
    }
    return 'accepted'
  }
  const typo = message({ principals: [{ id: 'sre', kind: 'admin', rol: 'viewer' }] })
  t.match(typo, /^invalid principals document at \/principals\/0\/rol: unknown field "rol" in principal 0; did you mean "role"\?/)
  t.notMatch(typo, /schema is false/)
  t.match(message({ principals: [{ id: 'sre', kind: 'admim' }] }), /at \/principals\/0\/kind: must be one of: service, admin$/)
  t.match(message({ principals: [{ id: 'sre', kind: 'admin', role: 'root' }] }), /at \/principals\/0\/role: must be one of: viewer, operator, admin$/)
})
