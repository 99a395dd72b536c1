import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { ACME, acmeDefinition, bearer, buildTestApp, startSim, tempFileStore } from '../helper.ts'
import { sfb, simControl } from '../cli/support.ts'
import { redisHop } from '../support/redis-hop.ts'
import { captureLogs } from '../support/log-capture.ts'
import { testPrincipals } from '../support/principals.ts'
import { startRedis } from '../support/redis.ts'
import { until } from '../support/redis-topologies.ts'

/**
 * "A 200 means it happened everywhere": a rotation's purge is confirmed by every live replica
 * before the admin is told it is done, and a replica that cannot confirm it (paused, cut off from
 * Redis) is named in the answer's `pending` instead. Three replicas on one real redis-server; the
 * third reaches it through a hop that can hold all its traffic, as a paused process or a partition
 * would.
 */
async function fleet (t: Test) {
  const sim = await startSim(t)
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const hop = await redisHop(t, Number(new URL(redis.url).port))
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim), 0)
  const principals = testPrincipals()
  const replicas: Array<{ app: FastifyInstance, name: string }> = []
  for (let i = 0; i < 3; i++) {
    const logs = captureLogs('info')
    const { app } = await buildTestApp(t, { redisUrl: i === 2 ? hop.url : redis.url, secretStore: store, principals, logger: logs.logger })
    // the replica's name, as its start-up line tells the SRE
    const name = logs.records().find(r => String(r.msg).startsWith('on the replica roll'))?.replica
    t.type(name, 'string', `replica ${i} says its name on the roll`)
    replicas.push({ app, name: String(name) })
  }
  const ask = async (r: number): Promise<string> => {
    const res = await replicas[r].app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })
    t.equal(res.statusCode, 200, `replica ${r} serves a session`)
    return res.json().accessToken
  }
  const rotate = (r: number) => replicas[r].app.inject({ method: 'PATCH', url: '/v1/admin/connections/acme/credentials', headers: bearer(principals.adminKey), payload: { clientSecret: ACME.clientSecret } })
  // every replica has served (its roll entry went before its first request's commands, on the same connection)
  const old = await ask(0)
  for (const r of [1, 2]) t.equal(await ask(r), old, `replica ${r} serves the cached session`)
  return { sim, hop, replicas, ask, rotate, old, principals }
}

t.test('every replica confirms the purge, a slow one too: the rotation answers 200 with nothing pending, and nobody serves the old session', async (t) => {
  const { sim, hop, replicas, ask, rotate, old } = await fleet(t)
  const logins = sim.stats('acme').attempts
  // replica 2 hears the purge 300 ms late: a 200 that did not wait for it would leave it serving its in-process copy
  hop.delay(300)
  const res = await rotate(0)
  t.equal(res.statusCode, 200)
  t.notOk(res.json().pending, 'nothing pending')
  const served = await Promise.all(replicas.map((_, r) => ask(r)))
  t.notOk(served.includes(old), 'no replica serves the old session')
  t.equal(new Set(served).size, 1, 'every replica serves the rotation\'s session')
  t.equal(sim.stats('acme').attempts - logins, 1, 'one login: the admin\'s validation, adopted by every replica')
})

t.test('a replica that cannot hear the purge is named as pending (202); once it can, it drops the old session', async (t) => {
  const { hop, replicas, ask, rotate, old, principals } = await fleet(t)
  // what replica 2 serves now, without asserting on each poll
  const served = async (r: number) => (await replicas[r].app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })).json().accessToken
  hop.freeze()
  const res = await rotate(0)
  t.equal(res.statusCode, 202, 'accepted, not done everywhere')
  const pending: string[] = res.json().pending
  t.equal(pending.length, 1)
  t.match(pending[0], `replica ${replicas[2].name} has not confirmed dropping the old sessions`, 'the frozen replica, by the name it logged')
  t.notMatch(pending[0], replicas[1].name, 'not the replica that confirmed')
  for (const r of [0, 1]) t.not(await ask(r), old, `replica ${r} serves the new session`)
  hop.thaw()
  await until('the thawed replica hears the purge', async () => (await served(2)) !== old)
  t.pass('replica 2 no longer serves the old session')

  // the kill switch, while replica 2 cannot hear it
  hop.freeze()
  const revoked = await replicas[0].app.inject({ method: 'POST', url: '/v1/admin/connections/acme/sessions/revoke', headers: bearer(principals.adminKey) })
  hop.thaw()
  t.equal(revoked.statusCode, 202, 'revoked at Salesforce, not yet dropped everywhere')
  t.match(revoked.json().pending, [`replica ${replicas[2].name} has not confirmed`], 'the kill switch names it too')
  // the audit says why the kill switch is not a success: not the revocations, the replica still to hear it
  const audit = (await replicas[1].app.inject({ url: '/v1/admin/audit?connection=acme', headers: bearer(principals.adminKey) })).json().events as Array<{ action: string, outcome: string, fields?: string[] }>
  const kill = audit.find(e => e.action === 'sessions.revoke')
  t.equal(kill?.outcome, 'error')
  t.same(kill?.fields, ['revoked:2', 'confirmed:2', 'pending:1'], 'both sessions (before and after the rotation) revoked and confirmed by Salesforce; one replica pending')
})

t.test('a replica that shut down left the roll: nobody waits for it, nothing is pending', async (t) => {
  const { replicas, rotate } = await fleet(t)
  await replicas[1].app.close()
  const res = await rotate(0)
  t.equal(res.statusCode, 200)
  t.notOk(res.json().pending, 'the closed replica is not pending')
})

t.test('the CLI says what is pending and exits 75: a rotation, then a delete, while a replica cannot hear them', async (t) => {
  const { hop, replicas, principals } = await fleet(t)
  const url = await replicas[0].app.listen({ port: 0, host: '127.0.0.1' })
  const env = { SFB_URL: url, SFB_ADMIN_KEY: principals.adminKey }
  // each held only for one command: replica 2 stays on the roll (renewed every 5 s, trusted for 15 s)
  hop.freeze()
  const rotated = await sfb(['connections', 'rotate', 'acme', 'clientSecret', '--stdin'], env, `${ACME.clientSecret}\n`)
  hop.thaw()
  t.equal(rotated.code, 75, rotated.stderr)
  t.match(rotated.stdout, /rotated acme: now version 2/)
  t.match(rotated.stdout, `pending: fleet-wide purge: replica ${replicas[2].name} has not confirmed`)
  hop.freeze()
  const deleted = await sfb(['connections', 'delete', 'acme', '--yes'], env)
  hop.thaw()
  t.equal(deleted.code, 75, deleted.stderr)
  t.match(deleted.stdout, /deleted acme/)
  t.match(deleted.stdout, `pending: fleet-wide purge: replica ${replicas[2].name} has not confirmed`)
})

/** The fleet, sfb's environment for its first replica, and the app id of a consumer rotation the broker can run in API mode. */
async function apiModeRotation (t: Parameters<typeof fleet>[0]) {
  const { sim, hop, replicas, principals } = await fleet(t)
  const url = await replicas[0].app.listen({ port: 0, host: '127.0.0.1' })
  const env = { SFB_URL: url, SFB_ADMIN_KEY: principals.adminKey }
  const control = (method: string, path: string, body?: unknown) => simControl(sim.loginUrl, method, `orgs/acme${path}`, body)
  // the rights for API mode: the broker stages, switches, promotes and deletes by itself
  await control('PATCH', `/users/${encodeURIComponent(ACME.username)}`, { permissions: { PermissionsExternalClientAppDeveloper: true, PermissionsViewClientSecret: true } })
  await control('PATCH', `/apps/${ACME.clientId}`, { consumerSecretsViaRestApi: true })
  const appId = (await control('GET', `/apps/${ACME.clientId}/credentials`)).appId as string
  return { hop, replicas, env, appId }
}

t.test('sfb consumer-rotation run: the switch done but a replica has not heard of it is pending (exit 75), not done', async (t) => {
  const { hop, replicas, env, appId } = await apiModeRotation(t)
  hop.freeze()
  const run = await sfb(['consumer-rotation', 'run', 'acme', '--app', appId], env)
  hop.thaw()
  t.match(run.stdout, /step:\s+done/, 'rotated at Salesforce')
  t.match(run.stdout, `replica ${replicas[2].name} has not confirmed`, 'the replica that did not hear the purge is named')
  t.equal(run.code, 75, 'not done everywhere: retry-later, as for every other fleet-wide write')
})

t.test('sfb consumer-rotation run --json: the same answer printed, the same exit 75 while a replica has not heard of the switch', async (t) => {
  const { hop, replicas, env, appId } = await apiModeRotation(t)
  hop.freeze()
  const run = await sfb(['consumer-rotation', 'run', 'acme', '--app', appId, '--json'], env)
  hop.thaw()
  const answer = JSON.parse(run.stdout) as { step: string, pending?: string[] }
  t.equal(answer.step, 'done', 'rotated at Salesforce')
  t.match(answer.pending, [`fleet-wide purge: replica ${replicas[2].name} has not confirmed`])
  t.equal(run.code, 75, 'a script reading --json gets the exit code the text gets')
})
