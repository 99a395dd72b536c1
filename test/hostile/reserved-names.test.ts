/**
 * Connection and principal names are keys: a name that is also a property every JavaScript object
 * inherits (`constructor`, `__proto__`'s lower-case cousins, `then`…) must be an ordinary name on
 * every route, unauthenticated health included. Only names the slug `^[a-z0-9][a-z0-9-]{0,62}$`
 * accepts can reach the broker; each of them is tried on every route the OpenAPI document lists.
 */
import { readFileSync } from 'node:fs'
import t from 'tap'
import { parsePrincipals } from '../../src/auth/principals.ts'
import { generateApiKey } from '../../src/auth/api-key.ts'
import { acmeDefinition, bearer, buildTestApp, startSim } from '../helper.ts'
import { startRedis } from '../support/redis.ts'
import { startVaultStandIn } from '../support/vault-standin.ts'

const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/
/** Names on Object.prototype, Function.prototype and the promise protocol, in every spelling a slug allows. */
const RESERVED = [...new Set([
  ...Object.getOwnPropertyNames(Object.prototype),
  ...Object.getOwnPropertyNames(Function.prototype),
  'prototype', 'then', 'length', 'name', 'tojson', 'inspect',
].flatMap(n => [n, n.toLowerCase(), n.toLowerCase().replace(/_/g, '-')]))].filter(n => SLUG.test(n))

interface Route { method: string, path: string }

function routes (): Route[] {
  const doc = JSON.parse(readFileSync(new URL('../../openapi/openapi.json', import.meta.url), 'utf8')) as { paths: Record<string, Record<string, unknown>> }
  return Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map(method => ({ method: method.toUpperCase(), path })))
}

t.test('the names tried are the reserved ones a slug accepts', async t => {
  t.ok(RESERVED.includes('constructor'))
  t.ok(RESERVED.includes('valueof') && RESERVED.includes('hasownproperty') && RESERVED.includes('then'))
  t.ok(RESERVED.length >= 10, RESERVED.join(' '))
})

for (const backend of ['file store, in-memory state', 'Vault, Redis'] as const) {
  t.test(`a connection or principal named like an inherited property is an ordinary name on every route (${backend})`, async t => {
    const sim = await startSim(t)
    let redisUrl: string | undefined
    let vaultEnv: Record<string, string> = {}
    if (backend === 'Vault, Redis') {
      const redis = await startRedis()
      t.teardown(() => redis.close())
      redisUrl = redis.url
      const vault = await startVaultStandIn()
      t.teardown(() => vault.close())
      vaultEnv = { SECRET_STORE: 'vault', VAULT_ADDR: vault.url, VAULT_AUTH_METHOD: 'token', VAULT_TOKEN: vault.rootToken }
    }
    const admin = generateApiKey('ops')
    const services = RESERVED.map(name => ({ name, key: generateApiKey(name) }))
    const doc = {
      principals: [
        { id: 'ops', kind: 'admin', apiKeySha256: [admin.sha256], rateLimitPerMinute: 1_000_000 },
        ...services.map(s => ({ id: s.name, kind: 'service', apiKeySha256: [s.key.sha256], connections: [s.name], rateLimitPerMinute: 1_000_000 })),
      ],
    }
    const { app } = await buildTestApp(t, {
      redisUrl,
      env: vaultEnv,
      ...(backend === 'Vault, Redis' ? { secretStore: 'configured' as const } : {}),
      principals: { directory: parsePrincipals(doc), json: JSON.stringify(doc), billingKey: '', reportingKey: '', adminKey: admin.key },
    })
    const all = routes()
    const named = all.filter(r => r.path.includes('{name}') && !(r.method === 'DELETE' && r.path === '/v1/admin/connections/{name}'))
    const unnamed = all.filter(r => !r.path.includes('{name}'))
    const failures: string[] = []
    const tryRoute = async (route: Route, name: string, key: string | undefined, stage: string) => {
      const url = route.path.replace('{name}', name)
      const res = await app.inject({ method: route.method as 'GET', url, headers: key === undefined ? {} : bearer(key), ...(route.method === 'GET' || route.method === 'DELETE' ? {} : { payload: {} }) })
      if (res.statusCode >= 500 && !(res.statusCode === 503 && route.path.startsWith('/health/'))) failures.push(`${stage}: ${route.method} ${url} → ${res.statusCode} ${res.body.slice(0, 200)}`)
      return res
    }

    for (const { name, key } of services) {
      for (const route of named) await tryRoute(route, name, admin.key, 'before it exists')
      const created = await app.inject({ method: 'PUT', url: `/v1/admin/connections/${name}`, headers: bearer(admin.key), payload: acmeDefinition(sim) })
      t.ok(created.statusCode === 200 || created.statusCode === 201, `${name}: created (${created.statusCode} ${created.body.slice(0, 200)})`)
      for (const route of named) await tryRoute(route, name, admin.key, 'as admin')
      const session = await app.inject({ method: 'POST', url: `/v1/connections/${name}/session`, headers: bearer(key.key) })
      t.equal(session.statusCode, 200, `${name}: its own service gets a session (${session.body.slice(0, 200)})`)
      for (const route of named) await tryRoute(route, name, key.key, 'as the service of that name')
      for (const route of named) await tryRoute(route, name, undefined, 'unauthenticated')
    }
    for (const route of unnamed) await tryRoute(route, '', admin.key, 'as admin')
    for (const route of unnamed) await tryRoute(route, '', undefined, 'unauthenticated')
    const health = await app.inject({ method: 'GET', url: '/health/salesforce' })
    t.equal(health.statusCode, 200, `unauthenticated health answers (${health.body.slice(0, 300)})`)
    for (const { name } of services) {
      const deleted = await app.inject({ method: 'DELETE', url: `/v1/admin/connections/${name}`, headers: bearer(admin.key) })
      if (deleted.statusCode >= 300) failures.push(`DELETE ${name} → ${deleted.statusCode} ${deleted.body.slice(0, 200)}`)
      const gone = await app.inject({ method: 'GET', url: `/v1/admin/connections/${name}`, headers: bearer(admin.key) })
      if (gone.statusCode !== 404) failures.push(`GET ${name} after delete → ${gone.statusCode}`)
    }
    t.same(failures, [], 'no route answers 5xx for a reserved name')
  })
}
