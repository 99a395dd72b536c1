import t from 'tap'
import { VaultSecretStore, type VaultSecretStoreOptions } from '../../src/secrets/vault-store.ts'
import { InvalidConnectionNameError } from '../../src/secrets/connection-name.ts'
import { SecretStoreUnavailableError } from '../../src/secrets/store.ts'
import { startVaultStandIn, type VaultStandIn } from '../support/vault-standin.ts'
import { captureLogs } from '../support/log-capture.ts'
import { ManualClock } from '../support/manual-clock.ts'
import { acme, BAD_NAMES, globex, secretStoreContract } from './store-contract.ts'
import type { Teardown } from '../helper.ts'

async function standIn (t: Teardown, opts?: Parameters<typeof startVaultStandIn>[0]): Promise<VaultStandIn> {
  const vault = await startVaultStandIn(opts)
  t.teardown(() => vault.close())
  return vault
}

async function vaultStore (t: Teardown, vault: VaultStandIn, o: Partial<VaultSecretStoreOptions> = {}): Promise<VaultSecretStore> {
  const store = new VaultSecretStore({ endpoint: vault.url, auth: { method: 'token', token: vault.rootToken }, requestTimeoutMs: 2000, logger: captureLogs('silent').logger, ...o })
  t.teardown(() => store.close())
  return store
}

function reasonOf (err: unknown): string | undefined {
  return err instanceof SecretStoreUnavailableError ? err.reason : undefined
}

t.test('contract', async (t) => {
  secretStoreContract(t, async (t) => {
    const vault = await standIn(t)
    const store = await vaultStore(t, vault)
    await store.start()
    return store
  }, { maxVersions: 10 })
})

t.test('each connection is one KV v2 secret of strings under the prefix', async (t) => {
  const vault = await standIn(t, { kvMount: 'kv' })
  const store = await vaultStore(t, vault, { kvMount: 'kv', pathPrefix: 'team/sf' })
  await store.write('acme', acme, 0)
  const res = await fetch(`${vault.url}/v1/kv/data/team/sf/acme`, { headers: { 'X-Vault-Token': vault.rootToken } })
  const body = await res.json() as { data: { data: Record<string, unknown>, metadata: { version: number } } }
  t.equal(res.status, 200)
  t.same(body.data.data, { ...acme, sessionTimeoutSeconds: '7200' })
  t.ok(Object.values(body.data.data).every(v => typeof v === 'string'))
  t.equal(body.data.metadata.version, 1)
  t.same(await store.list(), ['acme'])
})

t.test('keys that are not connection names are left out of list()', async (t) => {
  const vault = await standIn(t)
  const store = await vaultStore(t, vault)
  await store.write('acme', acme, 0)
  for (const key of ['sf-broker/Upper', 'sf-broker/folder/inner']) {
    await fetch(`${vault.url}/v1/secret/data/${key}`, { method: 'POST', headers: { 'X-Vault-Token': vault.rootToken }, body: JSON.stringify({ data: { a: 'b' } }) })
  }
  t.same(await store.list(), ['acme'])
})

t.test('invalid names are refused before any request reaches Vault', async (t) => {
  const vault = await standIn(t)
  const store = await vaultStore(t, vault)
  await store.write('acme', acme, 0)
  const before = vault.requestLog.length
  for (const name of BAD_NAMES) {
    await t.rejects(store.read(name), InvalidConnectionNameError)
    await t.rejects(store.read(name, 1), InvalidConnectionNameError)
    await t.rejects(store.write(name, acme, 1), InvalidConnectionNameError)
    await t.rejects(store.versions(name), InvalidConnectionNameError)
    await t.rejects(store.remove(name), InvalidConnectionNameError)
  }
  t.equal(vault.requestLog.length, before, 'requestLog unchanged')
})

t.test('sealed mid-run: sealed errors, then works again once unsealed', async (t) => {
  const vault = await standIn(t)
  const store = await vaultStore(t, vault)
  await store.write('acme', acme, 0)
  vault.seal()
  for (const op of [() => store.read('acme'), () => store.write('acme', acme, 1), () => store.list(), () => store.versions('acme'), () => store.remove('acme')]) {
    const err = await op().catch((e: unknown) => e)
    t.equal(reasonOf(err), 'sealed')
  }
  t.same(await store.health(), { ok: false, sealed: true, detail: 'Vault 1.17.2 is sealed' })
  vault.unseal()
  t.equal((await store.read('acme'))?.version, 1)
  t.equal((await store.health()).ok, true)
})

t.test('Vault stopped: unreachable, then recovers once it listens again', async (t) => {
  const vault = await standIn(t)
  const store = await vaultStore(t, vault)
  await store.write('acme', acme, 0)
  await vault.stop()
  const err = await store.read('acme').catch((e: unknown) => e)
  t.equal(reasonOf(err), 'unreachable')
  t.match((err as Error).message, /ECONNREFUSED|ECONNRESET|network/)
  const health = await store.health()
  t.equal(health.ok, false)
  t.match(health.detail, /did not answer/)
  await vault.start()
  t.equal((await store.read('acme'))?.version, 1)
})

t.test('a slow Vault is unreachable after the request timeout', async (t) => {
  const { createServer } = await import('node:net')
  const sockets = new Set<import('node:net').Socket>()
  const silent = createServer((s) => { sockets.add(s) }) // accepts, never answers
  await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy()
    silent.close(() => resolve())
  }))
  const { port } = silent.address() as { port: number }
  const store = new VaultSecretStore({ endpoint: `http://127.0.0.1:${port}`, auth: { method: 'token', token: 'x' }, requestTimeoutMs: 200, logger: captureLogs('silent').logger })
  t.teardown(() => store.close())
  const started = Date.now()
  const err = await store.read('acme').catch((e: unknown) => e)
  t.equal(reasonOf(err), 'unreachable')
  t.match((err as Error).message, /timed out/)
  t.ok(Date.now() - started < 2000)
})

t.test('token auth: a policy-restricted token gets permission_denied outside its policy', async (t) => {
  const vault = await standIn(t)
  vault.setPolicy('acme-only', [{ path: 'secret/data/sf-broker/acme', capabilities: ['read', 'create', 'update'] }])
  const root = await vaultStore(t, vault)
  await root.write('globex', globex, 0)
  const token = vault.createToken({ policies: ['acme-only'] })
  const store = await vaultStore(t, vault, { auth: { method: 'token', token } })
  await store.start()
  t.equal((await store.write('acme', acme, 0)).version, 1)
  t.equal((await store.read('acme'))?.version, 1)
  for (const op of [() => store.read('globex'), () => store.list(), () => store.versions('acme'), () => store.remove('acme')]) {
    const err = await op().catch((e: unknown) => e)
    t.equal(reasonOf(err), 'permission_denied')
    t.match((err as Error).message, /permission denied/)
  }
  const denied = vault.requestLog.filter(r => r.status === 403)
  t.equal(denied.length, 4, 'a static token is not retried')
})

t.test('token auth: an unknown token is refused at start', async (t) => {
  const vault = await standIn(t)
  const store = await vaultStore(t, vault, { auth: { method: 'token', token: 'hvs.not-a-token' } })
  const err = await store.start().catch((e: unknown) => e)
  t.equal(reasonOf(err), 'permission_denied')
})

t.test('AppRole: logs in at start and renews before the token expires', async (t) => {
  const clock = new ManualClock()
  const vault = await standIn(t, { clock })
  vault.setPolicy('broker', [{ path: 'secret/*', capabilities: ['create', 'read', 'update', 'delete', 'list'] }])
  const { roleId, secretId } = vault.enableAppRole('broker', { policies: ['broker'], tokenTtlSeconds: 2 })
  const store = await vaultStore(t, vault, { auth: { method: 'approle', roleId, secretId }, clock })
  await store.start()
  await store.write('acme', acme, 0)
  // past the first token's TTL: only renewals kept it alive (each renewal arms the next from Vault's answer)
  await clock.advance(3500, { untilRearmed: true })
  t.equal((await store.read('acme'))?.version, 1)
  const log = vault.requestLog.map(r => `${r.method} ${r.path} ${r.status}`)
  t.equal(log.filter(l => l === 'POST /v1/auth/approle/login 200').length, 1, 'one login')
  t.ok(log.filter(l => l === 'POST /v1/auth/token/renew-self 200').length >= 2, 'renewed at ~2/3 of the TTL')
  t.equal(vault.requestLog.filter(r => r.status === 403).length, 0, 'never used an expired token')
})

t.test('AppRole: a revoked token is replaced by a fresh login and the request retried once', async (t) => {
  const vault = await standIn(t)
  vault.setPolicy('broker', [{ path: 'secret/*', capabilities: ['create', 'read', 'update', 'delete', 'list'] }])
  const { roleId, secretId } = vault.enableAppRole('broker', { policies: ['broker'] })
  const store = await vaultStore(t, vault, { auth: { method: 'approle', roleId, secretId } })
  await store.start()
  await store.write('acme', acme, 0)
  vault.revokeAllTokens()
  const mark = vault.requestLog.length
  const [a, b] = await Promise.all([store.read('acme'), store.read('acme')])
  t.equal(a?.version, 1)
  t.equal(b?.version, 1)
  const after = vault.requestLog.slice(mark).map(r => `${r.method} ${r.path} ${r.status}`)
  t.equal(after.filter(l => l.startsWith('POST /v1/auth/approle/login')).length, 1, 'concurrent rejections share one login')
  t.equal(after.filter(l => l.endsWith(' 403')).length, 2)
})

t.test('AppRole: renewal that fails (token revoked) leads to a new login', async (t) => {
  const clock = new ManualClock()
  const vault = await standIn(t, { clock })
  vault.setPolicy('broker', [{ path: 'secret/*', capabilities: ['create', 'read', 'update', 'delete', 'list'] }])
  const { roleId, secretId } = vault.enableAppRole('broker', { policies: ['broker'], tokenTtlSeconds: 2 })
  const logs = captureLogs('debug')
  const store = await vaultStore(t, vault, { auth: { method: 'approle', roleId, secretId }, logger: logs.logger, clock })
  await store.start()
  vault.revokeAllTokens()
  await clock.advance(1332)
  t.equal(vault.requestLog.length, 1, 'no renewal before 2/3 of the TTL')
  await clock.advance(468, { untilRearmed: true }) // renewal fires at ~1.33 s; the new login arms the next
  const log = vault.requestLog.map(r => `${r.method} ${r.path} ${r.status}`)
  t.same(log, ['POST /v1/auth/approle/login 200', 'POST /v1/auth/token/renew-self 403', 'POST /v1/auth/approle/login 200'])
  t.match(logs.text(), /Vault token renewal failed: logging in again/)
})

t.test('AppRole: a renewal Vault could not answer (sealed, down) is tried again, not replaced by a login that spends a secret ID use', async (t) => {
  const clock = new ManualClock()
  const vault = await standIn(t, { clock })
  vault.setPolicy('broker', [{ path: 'secret/*', capabilities: ['create', 'read', 'update', 'delete', 'list'] }])
  const { roleId, secretId } = vault.enableAppRole('broker', { policies: ['broker'], tokenTtlSeconds: 30, secretIdNumUses: 3 })
  const store = await vaultStore(t, vault, { auth: { method: 'approle', roleId, secretId }, clock })
  await store.start()
  await store.write('acme', acme, 0)
  t.equal(vault.secretIdUsesLeft(secretId), 2)

  vault.seal() // a maintenance window at the moment of the renewal (2/3 of the TTL: 20 s)
  await clock.advance(20_000, { untilRearmed: true })
  vault.unseal()
  await clock.advance(5_000, { untilRearmed: true }) // the retry, well before the token's end (30 s)

  t.equal(vault.secretIdUsesLeft(secretId), 2, 'the token that was still valid was renewed: no use of the secret ID spent')
  const log = vault.requestLog.map(r => `${r.method} ${r.path} ${r.status}`)
  t.equal(log.filter(l => l.startsWith('POST /v1/auth/approle/login')).length, 1, 'only the start-up login')
  t.ok(log.includes('POST /v1/auth/token/renew-self 200'), 'renewed once Vault answered')
  t.equal((await store.read('acme'))?.version, 1, 'the renewed token works')
})

t.test('AppRole: when renewal is capped by the max TTL, logs in again before the token ends', async (t) => {
  const clock = new ManualClock()
  const vault = await standIn(t, { clock })
  vault.setPolicy('broker', [{ path: 'secret/*', capabilities: ['create', 'read', 'update', 'delete', 'list'] }])
  const { roleId, secretId } = vault.enableAppRole('broker', { policies: ['broker'], tokenTtlSeconds: 2, tokenMaxTtlSeconds: 3 })
  const store = await vaultStore(t, vault, { auth: { method: 'approle', roleId, secretId }, clock })
  await store.start()
  await store.write('acme', acme, 0)
  await clock.advance(4000, { untilRearmed: true })
  t.equal((await store.read('acme'))?.version, 1)
  const logins = vault.requestLog.filter(r => r.path === '/v1/auth/approle/login' && r.status === 200)
  t.ok(logins.length >= 2, `logged in again (${logins.length} logins)`)
  t.equal(vault.requestLog.filter(r => r.status === 403).length, 0, 'no request with an expired token')
})

t.test('AppRole: a wrong secret_id is permission_denied at start; an unreachable Vault is not fatal later', async (t) => {
  const vault = await standIn(t)
  const { roleId } = vault.enableAppRole('broker', { policies: [] })
  const store = await vaultStore(t, vault, { auth: { method: 'approle', roleId, secretId: 'wrong' } })
  const err = await store.start().catch((e: unknown) => e)
  t.equal(reasonOf(err), 'permission_denied')
  t.match((err as Error).message, /invalid role or secret ID/)
  t.notMatch((err as Error).message, /wrong/, 'the secret_id is not echoed')
})

t.test('AppRole: logs in on first use when Vault was down at start', async (t) => {
  const vault = await standIn(t)
  vault.setPolicy('broker', [{ path: 'secret/*', capabilities: ['create', 'read', 'update', 'delete', 'list'] }])
  const { roleId, secretId } = vault.enableAppRole('broker', { policies: ['broker'] })
  const store = await vaultStore(t, vault, { auth: { method: 'approle', roleId, secretId } })
  await vault.stop()
  t.equal(reasonOf(await store.start().catch((e: unknown) => e)), 'unreachable')
  await vault.start()
  t.equal(await store.read('acme'), null)
  t.equal(vault.requestLog[0].path, '/v1/auth/approle/login')
})

t.test('Kubernetes: logs in with the service-account JWT file', async (t) => {
  const { mkdtemp, writeFile, rm } = await import('node:fs/promises')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const dir = await mkdtemp(join(tmpdir(), 'sfb-k8s-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const jwtPath = join(dir, 'token')
  const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdDpicm9rZXIifQ.c2ln'
  await writeFile(jwtPath, `${jwt}\n`)
  const vault = await standIn(t)
  vault.setPolicy('broker', [{ path: 'secret/*', capabilities: ['create', 'read', 'update', 'delete', 'list'] }])
  vault.enableKubernetes('sf-broker', { serviceAccountJwt: jwt, policies: ['broker'], mountPath: 'k8s-prod' })

  const store = await vaultStore(t, vault, { auth: { method: 'kubernetes', role: 'sf-broker', jwtPath, mountPath: 'k8s-prod' } })
  await store.start()
  await store.write('acme', acme, 0)
  t.equal((await store.read('acme'))?.version, 1)
  t.equal(vault.requestLog[0].path, '/v1/auth/k8s-prod/login')

  await writeFile(jwtPath, 'another.jwt.value')
  const wrong = await vaultStore(t, vault, { auth: { method: 'kubernetes', role: 'sf-broker', jwtPath, mountPath: 'k8s-prod' } })
  t.equal(reasonOf(await wrong.start().catch((e: unknown) => e)), 'permission_denied')

  const missing = await vaultStore(t, vault, { auth: { method: 'kubernetes', role: 'sf-broker', jwtPath: join(dir, 'absent') } })
  const err = await missing.start().catch((e: unknown) => e)
  t.equal(reasonOf(err), 'error')
  t.match((err as Error).message, join(dir, 'absent'))
  t.match((err as Error).message, /ENOENT/)
})

t.test('health() reflects sys/health and never throws', async (t) => {
  const vault = await standIn(t)
  const store = await vaultStore(t, vault)
  t.same(await store.health(), { ok: true, sealed: false, detail: 'Vault 1.17.2 active' })
  vault.setStandby(true)
  t.same(await store.health(), { ok: true, sealed: false, detail: 'Vault 1.17.2 standby (requests are forwarded to the active node)' })
  vault.setStandby(false)
  vault.seal()
  t.same(await store.health(), { ok: false, sealed: true, detail: 'Vault 1.17.2 is sealed' })
  vault.unseal()
  vault.setInitialized(false)
  t.same(await store.health(), { ok: false, sealed: true, detail: 'Vault 1.17.2 is not initialised' })
  vault.setInitialized(true)
  await vault.stop()
  const down = await store.health()
  t.equal(down.ok, false)
  // undici reports a pooled connection the stopped server closed as UND_ERR_SOCKET
  t.match(down.detail, /did not answer sys\/health: (ECONNREFUSED|ECONNRESET|UND_ERR_SOCKET)/)
  t.same(vault.requestLog.filter(r => r.path === '/v1/sys/health').map(r => r.status), [200, 429, 503, 501])
})

t.test('logs each call at debug with path and duration, never secrets or the token', async (t) => {
  const vault = await standIn(t)
  vault.setPolicy('broker', [{ path: 'secret/*', capabilities: ['create', 'read', 'update', 'delete', 'list'] }])
  const { roleId, secretId } = vault.enableAppRole('broker', { policies: ['broker'], tokenTtlSeconds: 60 })
  const logs = captureLogs('debug')
  const store = await vaultStore(t, vault, { auth: { method: 'approle', roleId, secretId }, logger: logs.logger })
  await store.start()
  await store.write('acme', acme, 0)
  await store.read('acme')
  vault.revokeAllTokens()
  await store.read('acme')
  const calls = logs.records().filter(r => r.msg === 'vault request').map(r => r.vault as { op: string, path: string, outcome: string, durationMs: number })
  t.same(calls.map(c => [c.op, c.path, c.outcome]), [
    ['write', 'secret/data/sf-broker/acme', 'ok'],
    ['read', 'secret/data/sf-broker/acme', 'ok'],
    ['read', 'secret/data/sf-broker/acme', 'relogin'],
  ])
  t.ok(calls.every(c => typeof c.durationMs === 'number'))
  const text = logs.text()
  for (const secret of [acme.password as string, acme.securityToken as string, secretId, vault.rootToken]) {
    t.notOk(text.includes(secret), 'no secret in the log')
  }
  t.notMatch(text, /hvs\./, 'no Vault token in the log')
})

t.test('token auth: a renewable token is kept renewed, even when start() was skipped', async (t) => {
  const clock = new ManualClock()
  const vault = await standIn(t, { clock })
  vault.setPolicy('broker', [{ path: 'secret/*', capabilities: ['create', 'read', 'update', 'delete', 'list'] }])
  const token = vault.createToken({ policies: ['broker'], ttlSeconds: 2, maxTtlSeconds: 60 })
  const store = await vaultStore(t, vault, { auth: { method: 'token', token }, clock })
  await store.write('acme', acme, 0)
  await clock.untilTimer() // the lookup that learns the TTL runs in the background
  await clock.advance(3000, { untilRearmed: true })
  t.equal((await store.read('acme'))?.version, 1)
  const paths = vault.requestLog.map(r => `${r.path} ${r.status}`)
  t.ok(paths.includes('/v1/auth/token/lookup-self 200'), 'looked its TTL up')
  t.ok(paths.filter(p => p === '/v1/auth/token/renew-self 200').length >= 1, 'renewed')
})

t.test('AppRole: a policy refusal is reported as such and never spends a login (limited-use secret ID survives)', async (t) => {
  const vault = await standIn(t)
  vault.setPolicy('broker', [{ path: 'secret/data/sf-broker/acme', capabilities: ['create', 'read', 'update'] }])
  const { roleId, secretId } = vault.enableAppRole('broker', { policies: ['broker'], secretIdNumUses: 3 })
  const store = await vaultStore(t, vault, { auth: { method: 'approle', roleId, secretId } })
  await store.start()
  await store.write('acme', acme, 0)
  for (let i = 0; i < 5; i++) {
    const err = await store.read('globex').catch((e: unknown) => e)
    t.equal(reasonOf(err), 'permission_denied')
    t.match((err as Error).message, /policy/i, 'says the policy refused, not the token')
  }
  const logins = vault.requestLog.filter(r => r.path === '/v1/auth/approle/login')
  t.equal(logins.length, 1, 'only the start-up login')
  t.equal(vault.secretIdUsesLeft(secretId), 2, 'the secret ID lost one use only')
  t.equal((await store.read('acme'))?.version, 1, 'the store still works')
})

t.test('AppRole: a dead token ("invalid token") is replaced at once, without a lookup', async (t) => {
  const vault = await standIn(t)
  vault.setPolicy('broker', [{ path: 'secret/*', capabilities: ['create', 'read', 'update', 'delete', 'list'] }])
  const { roleId, secretId } = vault.enableAppRole('broker', { policies: ['broker'], secretIdNumUses: 3 })
  const store = await vaultStore(t, vault, { auth: { method: 'approle', roleId, secretId } })
  await store.start()
  await store.write('acme', acme, 0)
  vault.revokeAllTokens()
  const mark = vault.requestLog.length
  t.equal((await store.read('acme'))?.version, 1)
  t.same(vault.requestLog.slice(mark).map(r => `${r.method} ${r.path} ${r.status}`), [
    'GET /v1/secret/data/sf-broker/acme 403',
    'POST /v1/auth/approle/login 200',
    'GET /v1/secret/data/sf-broker/acme 200',
  ])
  t.equal(vault.secretIdUsesLeft(secretId), 1)
})

t.test('AppRole: an ambiguous bare "permission denied" is settled with lookup-self', async (t) => {
  // older Vault releases (and proxies that rewrite errors) answer a dead token and a refusal alike
  const vault = await standIn(t, { bareDenials: true })
  vault.setPolicy('broker', [{ path: 'secret/data/sf-broker/acme', capabilities: ['read', 'create', 'update'] }])
  const { roleId, secretId } = vault.enableAppRole('broker', { policies: ['broker'] })
  const store = await vaultStore(t, vault, { auth: { method: 'approle', roleId, secretId } })
  await store.start()
  await store.write('acme', acme, 0)

  let mark = vault.requestLog.length
  const err = await store.read('globex').catch((e: unknown) => e)
  t.equal(reasonOf(err), 'permission_denied')
  t.match((err as Error).message, /policy/i)
  t.same(vault.requestLog.slice(mark).map(r => `${r.path} ${r.status}`), [
    '/v1/secret/data/sf-broker/globex 403',
    '/v1/auth/token/lookup-self 200',
  ], 'the token is alive: a refusal, no login')

  vault.revokeAllTokens()
  mark = vault.requestLog.length
  t.equal((await store.read('acme'))?.version, 1)
  t.same(vault.requestLog.slice(mark).map(r => `${r.path} ${r.status}`), [
    '/v1/secret/data/sf-broker/acme 403',
    '/v1/auth/token/lookup-self 403',
    '/v1/auth/approle/login 200',
    '/v1/secret/data/sf-broker/acme 200',
  ], 'the token is dead: one login, then the request again')
})

t.test('health: a DR secondary (472) and a standby that lost its active node (474) are not ready, with the reason', async (t) => {
  const vault = await standIn(t)
  const store = await vaultStore(t, vault)
  t.equal((await store.health()).ok, true)
  vault.setDrSecondary(true)
  const dr = await store.health()
  t.equal(dr.ok, false)
  t.match(dr.detail, /DR secondary/)
  vault.setDrSecondary(false)
  vault.setStandby(true)
  vault.setHaConnectionHealthy(true)
  t.equal((await store.health()).ok, true, 'a standby with a healthy link forwards requests')
  vault.setHaConnectionHealthy(false)
  const lost = await store.health()
  t.equal(lost.ok, false)
  t.match(lost.detail, /lost .*active node/)
  t.notMatch(lost.detail, /\//, 'no path in the reason')
})
