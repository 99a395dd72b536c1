import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FileSecretStore } from '../../src/secrets/file-store.ts'
import { acmeDefinition, ACME, bearer, buildTestApp, startSim, TEST_KEY, type Teardown } from '../helper.ts'
import { untilPrinted } from '../support/child-output.ts'
import { testPrincipals } from '../support/principals.ts'
import { startRedis } from '../support/redis.ts'
import { until } from '../support/redis-topologies.ts'

/**
 * A replica killed (SIGKILL: no shutdown, nothing written on the way out) while Salesforce judges
 * its password login. Salesforce counted that failure; the fleet's guard must count it too, or the
 * fleet's next logins add up to the lockout. Driven as in production: a broker process over a real
 * redis-server, a second replica beside it, the outcome read at the simulator.
 */

const SERVER = new URL('../../src/server.ts', import.meta.url).pathname

/** A TCP hop in front of the simulator that says when a login's bytes have crossed it (the login reached Salesforce). */
async function loginHop (t: Teardown, target: URL): Promise<{ url: string, crossed: Promise<void> }> {
  let crossed!: () => void
  const seen = new Promise<void>(resolve => { crossed = resolve })
  const open = new Set<Socket>()
  const server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname)
    open.add(client).add(upstream)
    client.on('data', (d: Buffer) => { upstream.write(d, () => { if (/<\/\w+:login>/.test(d.toString('latin1'))) crossed() }) })
    upstream.on('data', (d: Buffer) => client.write(d))
    client.on('error', () => upstream.destroy())
    upstream.on('error', () => client.destroy())
    client.on('close', () => upstream.end())
    upstream.on('close', () => client.end())
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => {
    // a replica's keep-alive connection would hold the close until its idle timeout
    for (const socket of open) socket.destroy()
    server.close()
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, crossed: seen }
}

t.test('a replica killed while Salesforce judges its login: the next replica counts that login as failed, and no wrong candidate locks the user', async (t) => {
  const sim = await startSim(t)
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const dir = await mkdtemp(join(tmpdir(), 'sfb-killed-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const path = join(dir, 'connections.enc')
  const store = new FileSecretStore({ path, key: Buffer.from(TEST_KEY, 'base64') })
  const hop = await loginHop(t, new URL(sim.loginUrl))
  // a stored password that Salesforce refuses (changed in Setup, say)
  await store.write('acme', acmeDefinition(sim, 'soap', { loginUrl: hop.url, password: 'changed-in-setup' }), 0)
  const principals = testPrincipals()
  const fleet = { REDIS_URL: redis.url, SESSION_ENCRYPTION_KEY: TEST_KEY, REDIS_KEY_PREFIX: 'sfbtest:', LOGIN_LEASE_TTL_MS: '300', LOCKOUT_THRESHOLD: '3' }

  const child = spawn(process.execPath, [SERVER], {
    env: { PATH: process.env.PATH ?? '', ...fleet, SECRET_STORE: 'file', FILE_STORE_PATH: path, FILE_STORE_KEY: TEST_KEY, PRINCIPALS_JSON: principals.json, LOGIN_URL_ALLOWLIST: 'http://127.0.0.1:*', SCHEDULER_ENABLED: 'false', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.teardown(() => { child.kill('SIGKILL') })
  const replicaA = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(await untilPrinted(child, /Server listening at http:\/\/127\.0\.0\.1:\d+/))?.[1]
  const { app: replicaB } = await buildTestApp(t, { redisUrl: redis.url, secretStore: store, principals, env: fleet })

  // Salesforce takes its time to answer replica A's login; A is killed as soon as the login reached it
  sim.setLatency(1500)
  fetch(`${replicaA}/v1/connections/acme/session`, { method: 'POST', headers: bearer(principals.billingKey) }).catch(() => {})
  await hop.crossed
  child.kill('SIGKILL')
  await once(child, 'close')
  await until('Salesforce judged the killed replica\'s login', () => sim.stats('acme').failures === 1)
  sim.setLatency(0)

  // replica B, once A's lease ran out: one login with the stored password, refused and counted
  const session = await replicaB.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })
  t.not(session.statusCode, 200)
  t.equal(sim.stats('acme').failures, 2, 'Salesforce counts two failed logins')

  // an admin's wrong candidate would be the third: held back, never sent
  const candidate = await replicaB.inject({ method: 'PATCH', url: '/v1/admin/connections/acme/credentials', headers: bearer(principals.adminKey), payload: { password: 'still-wrong' } })
  t.equal(candidate.statusCode, 429, candidate.body)
  t.equal(candidate.json().type?.endsWith('login_guarded'), true, 'refused by the lockout guard')
  t.equal(sim.stats('acme').failures, 2, 'the candidate was not sent')
  const user = await (await fetch(`${sim.loginUrl}/_sim/orgs/acme/users/${ACME.username}`)).json() as { failedLogins: number, locked: boolean }
  t.same({ failedLogins: user.failedLogins, locked: user.locked }, { failedLogins: 2, locked: false }, 'the user is not locked out')
})
