import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { egressDispatcher } from '../../src/egress.ts'
import nodeVault from 'node-vault'
import { VaultSecretStore, type VaultSecretStoreOptions } from '../../src/secrets/vault-store.ts'
import { VaultTokenKeeper } from '../../src/secrets/vault-token.ts'
import { SecretStoreUnavailableError } from '../../src/secrets/store.ts'
import { buildTestApp, type Teardown } from '../helper.ts'
import { startConnectProxy } from '../support/connect-proxy.ts'
import { captureLogs } from '../support/log-capture.ts'
import { freePort } from '../support/redis.ts'
import { makeTestPki } from '../support/test-certs.ts'
import { startVaultStandIn, type VaultStandIn } from '../support/vault-standin.ts'
import { acme } from './store-contract.ts'

const RULES = [{ path: 'secret/*', capabilities: ['create', 'read', 'update', 'delete', 'list'] }]

async function standIn (t: Teardown, opts?: Parameters<typeof startVaultStandIn>[0]): Promise<VaultStandIn> {
  const vault = await startVaultStandIn(opts)
  t.teardown(() => vault.close())
  return vault
}

function store (t: Teardown, o: Partial<VaultSecretStoreOptions> & Pick<VaultSecretStoreOptions, 'endpoint' | 'auth'>): VaultSecretStore {
  const s = new VaultSecretStore({ requestTimeoutMs: 2000, logger: captureLogs('silent').logger, ...o })
  t.teardown(() => s.close())
  return s
}

async function tempDir (t: Teardown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sfb-vault-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function until (what: () => Promise<boolean>, label: string, tries = 200): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await what()) return
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  throw new Error(`timed out waiting for: ${label}`)
}

const reasonOf = (err: unknown) => (err instanceof SecretStoreUnavailableError ? err.reason : String(err))

t.test('VAULT_NAMESPACE and an AppRole mounted elsewhere: every request carries X-Vault-Namespace', async (t) => {
  const vault = await standIn(t, { namespace: 'org/team-a' })
  vault.setPolicy('broker', RULES)
  const { roleId, secretId } = vault.enableAppRole('broker', { policies: ['broker'], mountPath: 'corp-approle' })
  const inNamespace = store(t, { endpoint: vault.url, namespace: 'org/team-a', auth: { method: 'approle', roleId, secretId, mountPath: 'corp-approle' } })
  await inNamespace.start()
  await inNamespace.write('acme', acme, 0)
  t.same((await inNamespace.read('acme'))?.definition, acme)
  t.ok(vault.requestLog.some(r => r.path === '/v1/auth/corp-approle/login' && r.status === 200), 'logged in at the AppRole mount path')
  t.equal((await inNamespace.health()).ok, true, 'sys/health answers whatever the namespace')

  const outside = store(t, { endpoint: vault.url, auth: { method: 'approle', roleId, secretId, mountPath: 'corp-approle' } })
  const refused = await outside.start().then(() => null, (err: unknown) => err)
  t.equal(reasonOf(refused), 'permission_denied', 'without the namespace the mount is not there')
  const defaultMount = store(t, { endpoint: vault.url, namespace: 'org/team-a', auth: { method: 'approle', roleId, secretId } })
  t.equal(reasonOf(await defaultMount.start().then(() => null, (err: unknown) => err)), 'permission_denied', 'nor at auth/approle')
})

t.test('VAULT_CACERT and a client certificate: Vault behind a private CA requiring mutual TLS', async (t) => {
  const pki = await makeTestPki(await tempDir(t))
  const vault = await standIn(t, { tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.ca, requestCert: true } })
  const ok = store(t, { endpoint: vault.url, auth: { method: 'token', token: vault.rootToken }, dispatcher: egressDispatcher({}, { ca: pki.ca, cert: pki.client.cert, key: pki.client.key }) })
  await ok.write('acme', acme, 0)
  t.same((await ok.read('acme'))?.definition, acme, 'works over https with the CA and the client certificate')

  const noCa = store(t, { endpoint: vault.url, auth: { method: 'token', token: vault.rootToken } })
  const untrusted = await noCa.read('acme').then(() => null, (err: unknown) => err)
  t.match((untrusted as Error).message, /TLS: .*(UNABLE_TO|SELF_SIGNED|CERT).*VAULT_CACERT/, 'an unknown CA is named as a TLS problem')
  const noClientCert = store(t, { endpoint: vault.url, auth: { method: 'token', token: vault.rootToken }, dispatcher: egressDispatcher({}, { ca: pki.ca }) })
  t.ok(await noClientCert.read('acme').then(() => false, () => true), 'without the client certificate Vault refuses the handshake')
})

t.test('Vault calls go through HTTPS_PROXY/HTTP_PROXY (CONNECT), and straight to a NO_PROXY host', async (t) => {
  const proxy = await startConnectProxy()
  t.teardown(() => proxy.close())
  const vault = await standIn(t)
  const target = `127.0.0.1:${vault.port}`
  const proxied = store(t, { endpoint: vault.url, auth: { method: 'token', token: vault.rootToken }, dispatcher: egressDispatcher({ httpProxy: proxy.url }) })
  await proxied.write('acme', acme, 0)
  t.ok((proxy.tunnels.get(target) ?? 0) >= 1, 'tunnelled')
  const before = proxy.tunnels.get(target)
  const direct = store(t, { endpoint: vault.url, auth: { method: 'token', token: vault.rootToken }, dispatcher: egressDispatcher({ httpProxy: proxy.url, noProxy: target }) })
  t.ok(await direct.read('acme'))
  t.equal(proxy.tunnels.get(target), before, 'no tunnel for the NO_PROXY host')
})

/** A Vault stand-in and a Vault Agent sink holding a first token; sinkWrite replaces it as the Agent does (write, rename). */
async function agentSink (t: Teardown) {
  const vault = await standIn(t)
  vault.setPolicy('broker', RULES)
  const sink = join(await tempDir(t), 'token')
  const sinkWrite = async (token: string) => { await writeFile(`${sink}.tmp`, token); await rename(`${sink}.tmp`, sink) }
  const first = vault.createToken({ policies: ['broker'] })
  await sinkWrite(first)
  return { vault, sink, sinkWrite, first }
}

t.test('VAULT_TOKEN_FILE (a Vault Agent sink): a replaced token is used without a restart', async (t) => {
  const { vault, sink, sinkWrite, first } = await agentSink(t)
  const s = store(t, { endpoint: vault.url, auth: { method: 'token', tokenFile: sink, pollMs: 50 } })
  await s.start()
  await s.write('acme', acme, 0)

  // the Agent re-authenticates and rewrites the sink; the old token dies later
  const second = vault.createToken({ policies: ['broker'] })
  await sinkWrite(second)
  vault.revokeToken(first)
  await until(async () => (await s.read('acme').then(() => true, () => false)), 'reads work with the new token')
  t.pass('the token the Agent wrote is used')

  // the old token dies before the poll sees the new file: the 403 makes the keeper read the sink at once
  const third = vault.createToken({ policies: ['broker'] })
  await sinkWrite(third)
  vault.revokeToken(second)
  t.ok(await s.read('acme'), 'a request refused with the old token is retried with the sink\'s new one')
})

t.test('VAULT_TOKEN_FILE: a re-read of the sink that finishes late does not put back the token a later re-read replaced', async (t) => {
  const { vault, sink, sinkWrite, first } = await agentSink(t)
  // every read of the sink is real; one of them can be held back and finished after a later one
  let holdNext = false
  let held: { release: () => void } | null = null
  let heldStarted: () => void = () => {}
  const heldRead = new Promise<void>(resolve => { heldStarted = resolve })
  const reads: string[] = []
  const readTokenText = async (file: string) => {
    const text = await readFile(file, 'utf8')
    reads.push(text)
    if (!holdNext) return text
    holdNext = false
    await new Promise<void>((resolve) => { held = { release: resolve }; heldStarted() })
    return text
  }
  const client = nodeVault({ endpoint: vault.url })
  const keeper = new VaultTokenKeeper(client, { method: 'token', tokenFile: sink, pollMs: 20 }, captureLogs('silent').logger, undefined, readTokenText)
  t.teardown(() => keeper.stop())
  await keeper.start()
  t.equal(client.token, first)

  // the Agent re-authenticates: the watcher's read of the new sink is slow to finish
  holdNext = true
  const second = vault.createToken({ policies: ['broker'] })
  await sinkWrite(second)
  await heldRead
  // meanwhile the Agent writes again, and a request refused with the first token re-reads the sink
  const third = vault.createToken({ policies: ['broker'] })
  await sinkWrite(third)
  t.ok(await keeper.replace(first), 'the refused request is told to try again')
  t.equal(client.token, third, 'the re-read took the newest token')
  t.ok(reads.includes(second) && held !== null, 'the read of the second sink is still held')
  held!.release()
  // the held read's text is taken (or dropped) in the promise callbacks that follow its release
  await new Promise(resolve => setImmediate(resolve))
  t.equal(client.token, third, 'the late read of the older sink did not put its token back')
})

t.test('start-up while Vault is down: the broker listens, stays not ready, and becomes ready once Vault answers', async (t) => {
  const vault = await standIn(t)
  vault.setPolicy('broker', RULES)
  const { roleId, secretId } = vault.enableAppRole('broker', { policies: ['broker'] })
  await vault.stop()
  const logs = captureLogs('info')
  const { app } = await buildTestApp(t, {
    secretStore: 'configured',
    logger: logs.logger,
    env: { SECRET_STORE: 'vault', VAULT_ADDR: vault.url, VAULT_AUTH_METHOD: 'approle', VAULT_ROLE_ID: roleId, VAULT_SECRET_ID: secretId, VAULT_STARTUP_TIMEOUT_SECONDS: '60', VAULT_TIMEOUT_MS: '500' },
  })
  const ready = async () => (await app.inject({ url: '/health/ready' })).statusCode
  t.equal(await ready(), 503, 'not ready while Vault is down')
  t.equal((await app.inject({ url: '/health/live' })).statusCode, 200, 'but alive: no restart loop')
  await until(async () => logs.text().includes('Vault not usable yet: retrying'), 'the retry is logged', 100)
  await vault.start()
  await until(async () => await ready() === 200, 'ready once Vault answers', 400)
  t.pass('ready without a restart')
  t.match(logs.text(), /Vault reachable: secret store started/)
})

t.test('VAULT_STARTUP_TIMEOUT_SECONDS bounds the wait: the server exits 1 and says why', async (t) => {
  const vaultPort = await freePort()
  const server = new URL('../../src/server.ts', import.meta.url).pathname
  const child = spawn(process.execPath, [server], {
    env: {
      PATH: process.env.PATH ?? '',
      PORT: '0',
      HOST: '127.0.0.1',
      SECRET_STORE: 'vault',
      VAULT_ADDR: `http://127.0.0.1:${vaultPort}`,
      VAULT_AUTH_METHOD: 'approle',
      VAULT_ROLE_ID: 'role',
      VAULT_SECRET_ID: 'secret',
      VAULT_STARTUP_TIMEOUT_SECONDS: '2',
      PRINCIPALS_JSON: '{"principals":[]}',
      SCHEDULER_ENABLED: 'false',
      SHARED_STATE: 'memory',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.teardown(() => { child.kill('SIGKILL') })
  let out = ''
  child.stdout.on('data', (d) => { out += String(d) })
  const [code] = await once(child, 'close')
  t.equal(code, 1)
  // whether a retry fits in the 2 s depends on how fast the machine builds the app (a loaded one
  // once took 18 s to listen): the retries are the test above's; this one is the exit and its reason
  t.match(out, /Vault stayed unusable for VAULT_STARTUP_TIMEOUT_SECONDS: exiting/)
  t.match(out, /Vault did not answer AppRole login: ECONNREFUSED/, 'says why')
})

t.test('only the configured namespace is sent: node-vault\'s fallback to VAULT_NAMESPACE from the environment is off', async (t) => {
  const vault = await standIn(t)
  const saved = process.env.VAULT_NAMESPACE
  process.env.VAULT_NAMESPACE = 'somebody-elses'
  t.teardown(() => { if (saved === undefined) delete process.env.VAULT_NAMESPACE; else process.env.VAULT_NAMESPACE = saved })
  const s = store(t, { endpoint: vault.url, auth: { method: 'token', token: vault.rootToken } })
  await s.write('acme', acme, 0)
  t.same((await s.read('acme'))?.definition, acme)
})
