import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { ACME, acmeDefinition, bearer, buildTestApp, startSim } from '../helper.ts'
import { BROKER_KV_POLICY, startVaultStandIn } from '../support/vault-standin.ts'
import { startRedis } from '../support/redis.ts'
import { testPrincipals } from '../support/principals.ts'

// The admin write path on Vault KV v2 as operators also touch it (vault kv delete, a sealed Vault).

async function vaultBroker (t: Parameters<typeof startSim>[0], cacheTtlSeconds: number) {
  const vault = await startVaultStandIn()
  t.teardown(() => vault.close())
  vault.setPolicy('sf-broker', BROKER_KV_POLICY)
  const role = vault.enableAppRole('sf-broker', { policies: ['sf-broker'] })
  const { app, principals } = await buildTestApp(t, {
    secretStore: 'configured',
    env: {
      SECRET_STORE: 'vault',
      VAULT_ADDR: vault.url,
      VAULT_AUTH_METHOD: 'approle',
      VAULT_ROLE_ID: role.roleId,
      VAULT_SECRET_ID: role.secretId,
      SECRET_CACHE_TTL_SECONDS: String(cacheTtlSeconds),
    },
  })
  await app.broker.startup
  const admin = (method: 'GET' | 'PUT' | 'PATCH' | 'POST' | 'DELETE', url: string, payload?: object) => app.inject({ method, url, payload, headers: bearer(principals.adminKey) })
  return { vault, app, admin, principals }
}

// A rotation whose candidate Salesforce accepted but whose write the secret store refused (Vault
// sealed, unreachable, a timeout) stored nothing the broker knows of: the audit must still say an
// admin tried, and the validating login's session must not stay alive at Salesforce unowned.
t.test('a validated rotation whose write Vault refuses: 503, audited as an error, nothing written', async (t) => {
  const sim = await startSim(t)
  // the connection is read from memory: only the write reaches the sealed Vault
  const { vault, admin } = await vaultBroker(t, 600)
  t.equal((await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'client_credentials'))).statusCode, 201)
  t.equal((await admin('GET', '/v1/admin/connections/acme')).statusCode, 200)

  vault.seal()
  const attempts = sim.stats('acme').attempts
  const write = await admin('PATCH', '/v1/admin/connections/acme/credentials', { clientSecret: ACME.clientSecret })
  t.equal(write.statusCode, 503, write.body)
  t.equal(write.json().type, 'urn:sf-broker:problem:secret_store_unavailable')
  t.equal(sim.stats('acme').attempts, attempts + 1, 'the candidate was validated: the store failed at the write')

  const audit = (await admin('GET', '/v1/admin/audit?connection=acme&limit=10')).json().events as Array<{ action: string, outcome: string, classification?: string }>
  const rotation = audit.filter(e => e.action === 'credentials.rotate')
  t.equal(rotation.length, 1, 'the attempt is in the audit')
  t.match(rotation[0], { outcome: 'error', classification: 'secret_store_unavailable' })

  vault.unseal()
  const versions = (await admin('GET', '/v1/admin/connections/acme/versions')).json().versions as unknown[]
  t.equal(versions.length, 1, 'nothing was written')
})

// A delete the secret store refuses (Vault sealed) removed nothing: the attempt is an admin write all
// the same, and the audit must say an admin tried and it failed, as for a rotation the store refused.
t.test('a delete whose removal Vault refuses: 503, audited as an error, the connection still there', async (t) => {
  const sim = await startSim(t)
  // the connection is read from memory: only the removal reaches the sealed Vault
  const { vault, admin } = await vaultBroker(t, 600)
  t.equal((await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'client_credentials'))).statusCode, 201)
  t.equal((await admin('GET', '/v1/admin/connections/acme')).statusCode, 200)

  vault.seal()
  const removal = await admin('DELETE', '/v1/admin/connections/acme')
  t.equal(removal.statusCode, 503, removal.body)
  t.equal(removal.json().type, 'urn:sf-broker:problem:secret_store_unavailable')

  const audit = (await admin('GET', '/v1/admin/audit?connection=acme&limit=10')).json().events as Array<{ action: string, outcome: string, classification?: string }>
  const deletion = audit.filter(e => e.action === 'connection.delete')
  t.equal(deletion.length, 1, 'the attempt is in the audit')
  t.match(deletion[0], { outcome: 'error', classification: 'secret_store_unavailable' })

  vault.unseal()
  t.equal((await admin('GET', '/v1/admin/connections/acme')).statusCode, 200, 'nothing was deleted')
})

// `vault kv delete` soft-deletes the latest version: reads answer 404, but the key's metadata keeps
// current_version, and a write with cas=0 is refused (builtin/logical/kv: path_data.go
// validateCheckAndSetOption compares cas with the metadata's CurrentVersion, which no soft delete lowers)
t.test('a connection soft-deleted in Vault (vault kv delete) can be created again through the API', async (t) => {
  const sim = await startSim(t)
  const { vault, admin } = await vaultBroker(t, 0)
  t.equal((await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'client_credentials'))).statusCode, 201)
  t.equal((await admin('PATCH', '/v1/admin/connections/acme/credentials', { clientSecret: ACME.clientSecret })).statusCode, 200)

  const deleted = await fetch(`${vault.url}/v1/secret/data/sf-broker/acme`, { method: 'DELETE', headers: { 'X-Vault-Token': vault.rootToken } })
  t.equal(deleted.status, 204)
  t.equal((await admin('GET', '/v1/admin/connections/acme')).statusCode, 404, 'gone for the broker')

  const created = await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'client_credentials'))
  t.equal(created.statusCode, 201, created.body)
  t.equal(created.json().version, 3, 'the next version of the key')
  t.equal((await admin('GET', '/v1/admin/connections/acme')).json().version, 3)
})

// With the engine's delete_version_after, every version carries its (future) deletion_time from the
// moment it is written and stays readable until then (delete_version_after.go, path_data.go). The
// check a replica makes before a login — is the secret it read still the store's current version? —
// must not take such a version for deleted, or a rotation made while Redis was down reaches no other
// replica and that replica logs in with the replaced secret.
t.test('rotation while Redis is down, on Vault with delete_version_after: the other replica still checks the version before a login', async (t) => {
  const sim = await startSim(t)
  const vault = await startVaultStandIn({ deleteVersionAfterSeconds: 30 * 86_400 })
  t.teardown(() => vault.close())
  vault.setPolicy('sf-broker', BROKER_KV_POLICY)
  const role = vault.enableAppRole('sf-broker', { policies: ['sf-broker'] })
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const principals = testPrincipals(['*'], 100_000)
  const apps: FastifyInstance[] = []
  for (let i = 0; i < 2; i++) {
    const { app } = await buildTestApp(t, {
      redisUrl: redis.url,
      principals,
      secretStore: 'configured',
      env: { SECRET_STORE: 'vault', VAULT_ADDR: vault.url, VAULT_AUTH_METHOD: 'approle', VAULT_ROLE_ID: role.roleId, VAULT_SECRET_ID: role.secretId, SECRET_CACHE_TTL_SECONDS: '600' },
    })
    await app.broker.startup
    apps.push(app)
  }
  const admin = (method: 'PUT' | 'PATCH', url: string, payload: object) => apps[0].inject({ method, url, payload, headers: bearer(principals.adminKey) })
  t.equal((await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'client_credentials'))).statusCode, 201)
  const ask = (payload?: object) => apps[1].inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey), payload })
  const old = (await ask()).json().accessToken
  t.ok(old)

  await redis.stop()
  const app = sim.org('acme').connectedApps.get(ACME.clientId)!
  app.clientSecret = 'N3w-Consumer-Secret-After-Rotation'
  const rotated = await admin('PATCH', '/v1/admin/connections/acme/credentials', { clientSecret: app.clientSecret })
  t.equal(rotated.statusCode, 202, rotated.body)

  // replica 1 never heard of it; its session dies at Salesforce
  sim.expireSessions('acme')
  const failures = sim.stats('acme').failures
  const after = await ask({ rejectedToken: old })
  t.equal(after.statusCode, 200, after.body)
  t.equal(sim.stats('acme').failures, failures, 'no failed login with the replaced secret')
})

// SOAP login() hands every client of the same user the same session while it is valid (SOAP API
// Developer Guide, "Choosing a User for an Integration"): a rotation's validating login can be the
// very session callers hold. A write that failed leaves that session cached and in use.
t.test('a SOAP rotation whose write Vault refuses leaves the session callers hold alive', async (t) => {
  const sim = await startSim(t)
  const { vault, app, admin, principals } = await vaultBroker(t, 600)
  t.equal((await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'soap'))).statusCode, 201)
  const ask = async () => await app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })
  const held = (await ask()).json() as { accessToken: string, instanceUrl: string }

  vault.seal()
  const write = await admin('PATCH', '/v1/admin/connections/acme/credentials', { password: ACME.password, securityToken: ACME.securityToken })
  t.equal(write.statusCode, 503, write.body)
  vault.unseal()

  const again = (await ask()).json() as { accessToken: string }
  t.equal(again.accessToken, held.accessToken, 'callers are still handed the cached session')
  const res = await fetch(`${held.instanceUrl}/services/oauth2/userinfo`, { headers: { authorization: `Bearer ${held.accessToken}` } })
  t.equal(res.status, 200, 'and it still works at Salesforce: the validating login was that session, not one of its own')
})

// A switch (a migration's, a certificate or consumer-secret rotation's) writes the connection as a
// rotation does: when Vault refuses that write (an operator tightened the policy on the connection's
// path, the pending entries beside it still writable) nothing switched, and the audit must still say
// an admin tried and it failed.
const READ_ONLY_ACME = [{ path: 'secret/data/sf-broker/acme', capabilities: ['read'] }, ...BROKER_KV_POLICY]

t.test('a migration switch whose write Vault refuses: 503, audited as an error, nothing switched', async (t) => {
  const sim = await startSim(t)
  const { vault, admin } = await vaultBroker(t, 600)
  t.equal((await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'soap'))).statusCode, 201)
  const migration = '/v1/admin/connections/acme/migration'
  t.equal((await admin('POST', migration, { flow: 'client_credentials', loginUrl: sim.myDomainUrl('acme'), clientId: ACME.clientId, clientSecret: ACME.clientSecret })).statusCode, 201)
  t.equal((await admin('POST', `${migration}/validate`)).json().classification, 'ok')

  vault.setPolicy('sf-broker', READ_ONLY_ACME)
  const done = await admin('POST', `${migration}/complete`)
  t.equal(done.statusCode, 503, done.body)
  t.equal(done.json().type, 'urn:sf-broker:problem:secret_store_unavailable')

  const audit = (await admin('GET', '/v1/admin/audit?connection=acme&action=migration.complete&limit=10')).json().events as Array<{ outcome: string, classification?: string }>
  t.equal(audit.length, 1, 'the attempt is in the audit')
  t.match(audit[0], { outcome: 'error', classification: 'secret_store_unavailable' })

  vault.setPolicy('sf-broker', BROKER_KV_POLICY)
  t.equal((await admin('GET', '/v1/admin/connections/acme')).json().flow, 'soap', 'nothing switched')
  const again = await admin('POST', `${migration}/complete`)
  t.equal(again.statusCode, 200, 'the switch can be made once Vault takes the write')
})

t.test('a consumer-secret switch whose write Vault refuses: 503, audited as an error, nothing switched', async (t) => {
  const sim = await startSim(t)
  const { vault, admin } = await vaultBroker(t, 600)
  t.equal((await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'client_credentials'))).statusCode, 201)
  const rotation = '/v1/admin/connections/acme/consumer-rotation'
  t.equal((await admin('POST', rotation, { mode: 'setup' })).statusCode, 201)
  const staged = await (await fetch(`${sim.loginUrl}/_sim/orgs/acme/apps/${ACME.clientId}/staged`, { method: 'POST' })).json() as { consumerKey: string, consumerSecret: string }
  t.equal((await admin('POST', `${rotation}/validate`, { clientId: staged.consumerKey, clientSecret: staged.consumerSecret })).json().classification, 'ok')

  vault.setPolicy('sf-broker', READ_ONLY_ACME)
  const done = await admin('POST', `${rotation}/complete`)
  t.equal(done.statusCode, 503, done.body)
  t.equal(done.json().type, 'urn:sf-broker:problem:secret_store_unavailable')

  const events = (await admin('GET', '/v1/admin/audit?connection=acme&limit=20')).json().events as Array<{ action: string, outcome: string, classification?: string }>
  const audit = events.filter(e => e.action === 'consumer_rotation.complete')
  t.equal(audit.length, 1, 'the attempt is in the audit')
  t.match(audit[0], { outcome: 'error', classification: 'secret_store_unavailable' })

  vault.setPolicy('sf-broker', BROKER_KV_POLICY)
  t.equal((await admin('GET', '/v1/admin/connections/acme')).json().clientId, ACME.clientId, 'nothing switched')
  t.equal((await admin('POST', `${rotation}/complete`)).statusCode, 200, 'the switch can be made once Vault takes the write')
})
