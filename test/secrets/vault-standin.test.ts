import t from 'tap'
import { request } from 'node:http'
import { startVaultStandIn, type VaultStandIn } from '../support/vault-standin.ts'
import { ManualClock } from '../support/manual-clock.ts'

// The stand-in is only worth something if it answers like Vault; these pin the wire format.

interface Answer { status: number, body: any }

async function call (vault: VaultStandIn, method: string, path: string, o: { token?: string, body?: unknown } = {}): Promise<Answer> {
  const res = await fetch(`${vault.url}/v1/${path}`, {
    method,
    headers: o.token === '' ? {} : { 'X-Vault-Token': o.token ?? vault.rootToken },
    body: o.body === undefined ? undefined : JSON.stringify(o.body),
  })
  const text = await res.text()
  return { status: res.status, body: text ? JSON.parse(text) : undefined }
}

/** fetch would do for LIST too, but node:http shows the raw verb is accepted on a plain connection */
async function list (vault: VaultStandIn, path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${vault.url}/v1/${path}`, { method: 'LIST', headers: { 'X-Vault-Token': vault.rootToken } }, (res) => {
      let text = ''
      res.on('data', (c: Buffer) => { text += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }))
    })
    req.on('error', reject)
    req.end()
  })
}

async function standIn (t: { teardown (fn: () => unknown): void }, opts?: Parameters<typeof startVaultStandIn>[0]): Promise<VaultStandIn> {
  const vault = await startVaultStandIn(opts)
  t.teardown(() => vault.close())
  return vault
}

t.test('KV v2 write and read envelopes', async (t) => {
  const vault = await standIn(t)
  const written = await call(vault, 'POST', 'secret/data/app/one', { body: { data: { foo: 'bar' }, options: { cas: 0 } } })
  t.equal(written.status, 200)
  t.same(Object.keys(written.body).sort(), ['auth', 'data', 'lease_duration', 'lease_id', 'mount_type', 'renewable', 'request_id', 'warnings', 'wrap_info'])
  t.match(written.body, { lease_id: '', renewable: false, lease_duration: 0, wrap_info: null, warnings: null, auth: null })
  t.match(written.body.request_id, /^[0-9a-f-]{36}$/)
  t.same(Object.keys(written.body.data).sort(), ['created_time', 'custom_metadata', 'deletion_time', 'destroyed', 'version'])
  t.match(written.body.data, { custom_metadata: null, deletion_time: '', destroyed: false, version: 1 })
  t.match(written.body.data.created_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/)

  await call(vault, 'PUT', 'secret/data/app/one', { body: { data: { foo: 'baz' } } })
  const latest = await call(vault, 'GET', 'secret/data/app/one')
  t.equal(latest.status, 200)
  t.same(latest.body.data.data, { foo: 'baz' })
  t.same(Object.keys(latest.body.data.metadata).sort(), ['created_time', 'custom_metadata', 'deletion_time', 'destroyed', 'version'])
  t.equal(latest.body.data.metadata.version, 2)
  const first = await call(vault, 'GET', 'secret/data/app/one?version=1')
  t.same(first.body.data.data, { foo: 'bar' })

  t.same(await call(vault, 'GET', 'secret/data/app/none'), { status: 404, body: { errors: [] } })
  t.same(await call(vault, 'GET', 'secret/data/app/one?version=9'), { status: 404, body: { errors: [] } })
})

t.test('check-and-set and missing data errors', async (t) => {
  const vault = await standIn(t)
  await call(vault, 'POST', 'secret/data/x', { body: { data: { a: '1' }, options: { cas: 0 } } })
  t.same(await call(vault, 'POST', 'secret/data/x', { body: { data: { a: '2' }, options: { cas: 0 } } }),
    { status: 400, body: { errors: ['check-and-set parameter did not match the current version'] } })
  t.same(await call(vault, 'POST', 'secret/data/x', { body: { options: { cas: 1 } } }), { status: 400, body: { errors: ['no data provided'] } })
  t.equal((await call(vault, 'POST', 'secret/data/x', { body: { data: { a: '2' }, options: { cas: 1 } } })).body.data.version, 2)
})

t.test('soft delete, undelete, destroy, metadata', async (t) => {
  const vault = await standIn(t)
  for (let i = 0; i < 3; i++) await call(vault, 'POST', 'secret/data/k', { body: { data: { v: String(i + 1) } } })

  t.equal((await call(vault, 'DELETE', 'secret/data/k')).status, 204)
  const deleted = await call(vault, 'GET', 'secret/data/k')
  t.equal(deleted.status, 404)
  t.equal(deleted.body.data.data, null, 'a deleted version answers 404 with data: null and its metadata')
  t.equal(deleted.body.data.metadata.version, 3)
  t.not(deleted.body.data.metadata.deletion_time, '')

  t.equal((await call(vault, 'POST', 'secret/undelete/k', { body: { versions: [3] } })).status, 204)
  t.same((await call(vault, 'GET', 'secret/data/k')).body.data.data, { v: '3' })

  t.equal((await call(vault, 'POST', 'secret/delete/k', { body: { versions: [1] } })).status, 204)
  t.equal((await call(vault, 'POST', 'secret/destroy/k', { body: { versions: [2] } })).status, 204)
  const destroyed = await call(vault, 'GET', 'secret/data/k?version=2')
  t.equal(destroyed.status, 404)
  t.match(destroyed.body.data, { data: null, metadata: { destroyed: true, version: 2 } })
  t.same(await call(vault, 'POST', 'secret/delete/k', { body: {} }), { status: 400, body: { errors: ['no version number provided'] } })

  const meta = await call(vault, 'GET', 'secret/metadata/k')
  t.equal(meta.status, 200)
  t.match(meta.body.data, { cas_required: false, current_version: 3, oldest_version: 0, max_versions: 0, delete_version_after: '0s', custom_metadata: null })
  t.same(Object.keys(meta.body.data.versions), ['1', '2', '3'])
  t.not(meta.body.data.versions['1'].deletion_time, '')
  t.equal(meta.body.data.versions['2'].destroyed, true)
  t.equal(meta.body.data.versions['3'].deletion_time, '')

  t.equal((await call(vault, 'DELETE', 'secret/metadata/k')).status, 204)
  t.same(await call(vault, 'GET', 'secret/metadata/k'), { status: 404, body: { errors: [] } })
  t.same(await call(vault, 'GET', 'secret/data/k?version=3'), { status: 404, body: { errors: [] } })
})

t.test('max versions: the oldest are removed and oldest_version moves', async (t) => {
  const vault = await standIn(t, { maxVersions: 2 })
  for (let i = 0; i < 4; i++) await call(vault, 'POST', 'secret/data/k', { body: { data: { v: String(i + 1) } } })
  const meta = await call(vault, 'GET', 'secret/metadata/k')
  t.same(Object.keys(meta.body.data.versions), ['3', '4'])
  t.equal(meta.body.data.oldest_version, 3)
  t.equal((await call(vault, 'GET', 'secret/data/k?version=2')).status, 404)

  // the window as Vault's KeyMetadata.AddVersion moves it: once current_version - oldest_version
  // reaches max_versions, even when that removes nothing (a new key's oldest_version is 0)
  await call(vault, 'POST', 'secret/data/j', { body: { data: { v: '1' } } })
  t.equal((await call(vault, 'GET', 'secret/metadata/j')).body.data.oldest_version, 0)
  await call(vault, 'POST', 'secret/data/j', { body: { data: { v: '2' } } })
  const two = await call(vault, 'GET', 'secret/metadata/j')
  t.same(Object.keys(two.body.data.versions), ['1', '2'])
  t.equal(two.body.data.oldest_version, 1)
})

t.test('LIST and GET ?list=true', async (t) => {
  const vault = await standIn(t)
  for (const p of ['sf/a', 'sf/b', 'sf/nested/c', 'other/d']) await call(vault, 'POST', `secret/data/${p}`, { body: { data: { x: 'y' } } })
  t.same((await list(vault, 'secret/metadata/sf/')).body.data.keys, ['a', 'b', 'nested/'])
  t.same((await list(vault, 'secret/metadata/sf')).body.data.keys, ['a', 'b', 'nested/'])
  t.same((await call(vault, 'GET', 'secret/metadata/sf?list=true')).body.data.keys, ['a', 'b', 'nested/'])
  t.same((await call(vault, 'GET', 'secret/metadata/?list=true')).body.data.keys, ['other/', 'sf/'])
  t.same(await list(vault, 'secret/metadata/none/'), { status: 404, body: { errors: [] } })
  t.same(vault.requestLog.filter(r => r.method === 'LIST').map(r => r.status), [200, 200, 404])
})

t.test('tokens and policies', async (t) => {
  const vault = await standIn(t)
  t.same(await call(vault, 'GET', 'secret/data/x', { token: '' }), { status: 403, body: { errors: ['permission denied'] } })
  t.same(await call(vault, 'GET', 'secret/data/x', { token: 'hvs.unknown' }), { status: 403, body: { errors: ['2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n'] } })

  vault.setPolicy('reader', [
    { path: 'secret/data/app/*', capabilities: ['read'] },
    { path: 'secret/data/app/private', capabilities: ['deny'] },
    { path: 'secret/metadata/+/', capabilities: ['list'] },
  ])
  await call(vault, 'POST', 'secret/data/app/a', { body: { data: { x: 'y' } } })
  await call(vault, 'POST', 'secret/data/app/private', { body: { data: { x: 'y' } } })
  const reader = vault.createToken({ policies: ['reader'] })
  t.equal((await call(vault, 'GET', 'secret/data/app/a', { token: reader })).status, 200)
  t.same(await call(vault, 'GET', 'secret/data/app/private', { token: reader }), { status: 403, body: { errors: ['1 error occurred:\n\t* permission denied\n\n'] } })
  t.equal((await call(vault, 'POST', 'secret/data/app/a', { token: reader, body: { data: {} } })).status, 403)
  t.equal((await call(vault, 'GET', 'secret/metadata/app?list=true', { token: reader })).status, 200)
  t.equal((await call(vault, 'GET', 'secret/metadata/app/a', { token: reader })).status, 403)

  const self = await call(vault, 'GET', 'auth/token/lookup-self', { token: reader })
  t.match(self.body.data, { policies: ['default', 'reader'], renewable: true, type: 'service', id: reader })
  t.ok(self.body.data.ttl > 2_700_000)
})

t.test('token TTL, renewal up to the max TTL, expiry', async (t) => {
  const clock = new ManualClock()
  const vault = await standIn(t, { clock })
  const token = vault.createToken({ policies: [], ttlSeconds: 1, maxTtlSeconds: 2 })
  const renewed = await call(vault, 'POST', 'auth/token/renew-self', { token, body: { increment: '1s' } })
  t.equal(renewed.status, 200)
  t.match(renewed.body.auth, { client_token: token, renewable: true, lease_duration: 1, token_type: 'service' })
  await clock.advance(700)
  const capped = await call(vault, 'POST', 'auth/token/renew-self', { token, body: { increment: 5 } })
  t.equal(capped.body.auth.lease_duration, 1, 'capped by the max TTL (1.3 s left, in whole seconds)')
  t.match(capped.body.warnings[0], /exceeded the effective max_ttl of "1s"/)
  await clock.advance(999)
  t.equal((await call(vault, 'GET', 'auth/token/lookup-self', { token })).status, 200, 'alive until the capped TTL ends')
  await clock.advance(1)
  t.same(await call(vault, 'GET', 'auth/token/lookup-self', { token }), { status: 403, body: { errors: ['2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n'] } })

  const fixed = vault.createToken({ policies: [], renewable: false })
  t.same(await call(vault, 'POST', 'auth/token/renew-self', { token: fixed }), { status: 400, body: { errors: ['lease is not renewable'] } })
})

t.test('AppRole and Kubernetes login answer an auth block', async (t) => {
  const vault = await standIn(t)
  const { roleId, secretId } = vault.enableAppRole('broker', { policies: ['kv-read'], tokenTtlSeconds: 60 })
  const login = await call(vault, 'POST', 'auth/approle/login', { token: '', body: { role_id: roleId, secret_id: secretId } })
  t.equal(login.status, 200)
  t.equal(login.body.data, null)
  t.same(Object.keys(login.body.auth).sort(), ['accessor', 'client_token', 'entity_id', 'lease_duration', 'metadata', 'mfa_requirement', 'num_uses', 'orphan', 'policies', 'renewable', 'token_policies', 'token_type'])
  t.match(login.body.auth, { policies: ['default', 'kv-read'], token_policies: ['default', 'kv-read'], lease_duration: 60, renewable: true, metadata: { role_name: 'broker' } })
  t.same(await call(vault, 'POST', 'auth/approle/login', { token: '', body: { role_id: roleId, secret_id: 'nope' } }), { status: 400, body: { errors: ['invalid role or secret ID'] } })

  vault.enableKubernetes('app', { serviceAccountJwt: 'jwt-1', policies: ['p'] })
  const k8s = await call(vault, 'POST', 'auth/kubernetes/login', { token: '', body: { role: 'app', jwt: 'jwt-1' } })
  t.match(k8s.body.auth, { policies: ['default', 'p'], renewable: true, metadata: { role: 'app' } })
  t.same(await call(vault, 'POST', 'auth/kubernetes/login', { token: '', body: { role: 'app', jwt: 'jwt-2' } }), { status: 403, body: { errors: ['permission denied'] } })
  t.same(await call(vault, 'POST', 'auth/kubernetes/login', { token: '', body: { role: 'nope', jwt: 'jwt-1' } }), { status: 400, body: { errors: ['invalid role name "nope"'] } })
})

t.test('an idle connection stays open as long as Vault keeps it (http_idle_timeout, 5 minutes)', async (t) => {
  const vault = await standIn(t)
  const answer = await fetch(`${vault.url}/v1/sys/health`)
  await answer.arrayBuffer()
  t.equal(answer.headers.get('keep-alive'), 'timeout=300')
})

t.test('sealed, standby, uninitialised, stopped', async (t) => {
  const vault = await standIn(t)
  const health = await call(vault, 'GET', 'sys/health', { token: '' })
  t.equal(health.status, 200)
  t.match(health.body, { initialized: true, sealed: false, standby: false, performance_standby: false, replication_performance_mode: 'disabled', replication_dr_mode: 'disabled', version: String })
  t.type(health.body.server_time_utc, 'number')

  vault.seal()
  t.same(await call(vault, 'GET', 'secret/data/x'), { status: 503, body: { errors: ['Vault is sealed'] } })
  t.same(await call(vault, 'POST', 'auth/approle/login', { body: {} }), { status: 503, body: { errors: ['Vault is sealed'] } })
  const sealed = await call(vault, 'GET', 'sys/health')
  t.equal(sealed.status, 503)
  t.match(sealed.body, { sealed: true })
  t.equal((await call(vault, 'GET', 'sys/health?sealedcode=200')).status, 200)
  vault.unseal()

  vault.setStandby(true)
  t.equal((await call(vault, 'GET', 'sys/health')).status, 429)
  t.equal((await call(vault, 'GET', 'sys/health?standbyok=true')).status, 200)
  vault.setStandby(false)
  vault.setInitialized(false)
  t.equal((await call(vault, 'GET', 'sys/health')).status, 501)
  vault.setInitialized(true)

  const port = vault.port
  await vault.stop()
  await t.rejects(fetch(`${vault.url}/v1/sys/health`))
  await vault.start()
  t.equal(vault.port, port, 'same port again')
  t.equal((await call(vault, 'GET', 'sys/health')).status, 200)
})

t.test('403 bodies as Vault writes them: no token, a dead token, a policy refusal', async (t) => {
  const vault = await standIn(t)
  vault.setPolicy('narrow', [{ path: 'secret/data/allowed', capabilities: ['read'] }])
  const token = vault.createToken({ policies: ['narrow'] })
  t.same(await call(vault, 'GET', 'secret/data/x', { token: '' }), { status: 403, body: { errors: ['permission denied'] } })
  t.same(await call(vault, 'GET', 'secret/data/x', { token }), { status: 403, body: { errors: ['1 error occurred:\n\t* permission denied\n\n'] } })
  vault.revokeToken(token)
  t.same(await call(vault, 'GET', 'secret/data/x', { token }), { status: 403, body: { errors: ['2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n'] } })
  t.same(await call(vault, 'GET', 'auth/token/lookup-self', { token: 'hvs.made-up' }), { status: 403, body: { errors: ['2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n'] } })
})

t.test('AppRole secret_id_num_uses: each login spends one use, the last deletes the secret ID', async (t) => {
  const vault = await standIn(t)
  const { roleId, secretId } = vault.enableAppRole('broker', { policies: [], secretIdNumUses: 2 })
  t.equal(vault.secretIdUsesLeft(secretId), 2)
  t.equal((await call(vault, 'POST', 'auth/approle/login', { token: '', body: { role_id: roleId, secret_id: secretId } })).status, 200)
  t.equal(vault.secretIdUsesLeft(secretId), 1)
  t.equal((await call(vault, 'POST', 'auth/approle/login', { token: '', body: { role_id: roleId, secret_id: secretId } })).status, 200)
  t.equal(vault.secretIdUsesLeft(secretId), 'gone')
  t.same(await call(vault, 'POST', 'auth/approle/login', { token: '', body: { role_id: roleId, secret_id: secretId } }), { status: 400, body: { errors: ['invalid role or secret ID'] } })
  const unlimited = vault.enableAppRole('other', { policies: [] })
  t.equal(vault.secretIdUsesLeft(unlimited.secretId), 'unlimited')
})

t.test('sys/health: DR secondary 472, standby that lost its active node 474', async (t) => {
  const vault = await standIn(t)
  vault.setDrSecondary(true)
  const dr = await call(vault, 'GET', 'sys/health', { token: '' })
  t.equal(dr.status, 472)
  t.match(dr.body, { replication_dr_mode: 'secondary', sealed: false })
  t.equal((await call(vault, 'GET', 'sys/health?drsecondarycode=200', { token: '' })).status, 200)
  vault.setDrSecondary(false)

  vault.setStandby(true)
  vault.setHaConnectionHealthy(true)
  const healthy = await call(vault, 'GET', 'sys/health?standbyok=true', { token: '' })
  t.equal(healthy.status, 200)
  t.match(healthy.body, { standby: true, ha_connection_healthy: true, last_request_forwarding_heartbeat_ms: Number })
  vault.setHaConnectionHealthy(false)
  const lost = await call(vault, 'GET', 'sys/health?standbyok=true', { token: '' })
  t.equal(lost.status, 474, 'HA unhealthy wins over standbyok')
  t.match(lost.body, { standby: true, ha_connection_healthy: false })
})

t.test("the engine's delete_version_after: a version is readable until its deletion_time, which metadata shows from the write", async (t) => {
  const vault = await standIn(t, { deleteVersionAfterSeconds: 3600 })
  const written = await call(vault, 'POST', 'secret/data/k', { body: { data: { v: '1' } } })
  const due = Date.parse(written.body.data.deletion_time)
  t.ok(Math.abs(due - (Date.parse(written.body.data.created_time) + 3_600_000)) < 1000, 'created_time + delete_version_after')
  const read = await call(vault, 'GET', 'secret/data/k')
  t.equal(read.status, 200, 'a deletion_time still ahead is only scheduled')
  t.same(read.body.data.data, { v: '1' })
  t.equal(read.body.data.metadata.deletion_time, written.body.data.deletion_time)
  t.equal((await call(vault, 'GET', 'secret/metadata/k')).body.data.versions['1'].deletion_time, written.body.data.deletion_time)
  // deleting now moves the deletion time to now (path_data.go pathDataDelete)
  t.equal((await call(vault, 'DELETE', 'secret/data/k')).status, 204)
  t.equal((await call(vault, 'GET', 'secret/data/k')).status, 404)
})
