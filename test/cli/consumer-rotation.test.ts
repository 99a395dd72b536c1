import t from 'tap'
import { ACME } from '../helper.ts'
import { startBroker } from '../support/broker.ts'
import { api, sfb, simControl } from './support.ts'

t.test('sfb consumer-rotation: run through the API with a policy; without the rights, the Setup steps one by one', async (t) => {
  const broker = await startBroker(t)
  const env = { SFB_URL: broker.baseUrl, SFB_ADMIN_KEY: broker.principals.adminKey }
  const admin = (method: string, path: string) => api(broker.baseUrl, broker.principals.adminKey, method, path)
  const control = (method: string, path: string, body?: unknown) => simControl(broker.sim.loginUrl, method, `orgs/acme${path}`, body)
  const app = await control('GET', `/apps/${ACME.clientId}/credentials`)
  const appId = app.appId as string

  // no rights yet: the broker says why and prints the Setup steps
  const guided = await sfb(['consumer-rotation', 'start', 'acme', '--app', appId], env)
  t.equal(guided.code, 0, guided.stderr)
  t.match(guided.stdout, /mode:\s+setup[\s\S]*why setup:\s+.*External Client App Developer[\s\S]*steps:\n {2}1\. Stage new consumer details/)
  const staged = await control('POST', `/apps/${ACME.clientId}/staged`)
  const wrong = await sfb(['consumer-rotation', 'validate', 'acme', '--client-id', staged.consumerKey as string, 'clientSecret', '--stdin'], env, 'not-it\n')
  t.equal(wrong.code, 1)
  t.match(wrong.stdout, /FAILED: invalid_client/)
  const ok = await sfb(['consumer-rotation', 'validate', 'acme', '--client-id', staged.consumerKey as string, 'clientSecret', '--stdin'], env, `${staged.consumerSecret as string}\n`)
  t.equal(ok.code, 0, ok.stdout)
  const switched = await sfb(['consumer-rotation', 'complete', 'acme'], env)
  t.equal(switched.code, 0, switched.stderr)
  t.match(switched.stdout, /step:\s+switched[\s\S]*rollback:\s+sfb connections rollback acme 1/)
  const notYet = await sfb(['consumer-rotation', 'verify', 'acme'], env)
  t.equal(notYet.code, 1, 'the old pair still logs in: exit 1')
  t.match(notYet.stdout, /pending:\s+the old consumer key and secret still log in/)
  await control('POST', `/apps/${ACME.clientId}/staged/promote`)
  await control('DELETE', `/apps/${ACME.clientId}/staged/rotated`)
  const verified = await sfb(['consumer-rotation', 'verify', 'acme', '--json'], env)
  t.equal(verified.code, 0)
  t.equal(JSON.parse(verified.stdout).step, 'done')

  // with the rights and a policy: one command
  await control('PATCH', `/users/${encodeURIComponent(ACME.username)}`, { permissions: { PermissionsExternalClientAppDeveloper: true, PermissionsViewClientSecret: true } })
  await control('PATCH', `/apps/${ACME.clientId}`, { consumerSecretsViaRestApi: true })
  const policy = await sfb(['consumer-rotation', 'policy', 'acme', '--app', appId, '--every-days', '90'], env)
  t.equal(policy.code, 0, policy.stderr)
  t.match(policy.stdout, /rotate every:\s+90 days/)
  const run = await sfb(['consumer-rotation', 'run', 'acme'], env)
  t.equal(run.code, 0, run.stdout + run.stderr)
  t.match(run.stdout, /rotated the consumer key and secret of acme[\s\S]*step:\s+done/)
  const meta = (await admin('GET', '/v1/admin/connections/acme')).json as { clientId: string }
  t.equal(meta.clientId, (await control('GET', `/apps/${ACME.clientId}/credentials`)).consumerKey, 'the stored key is the primary at Salesforce')
  t.equal((await sfb(['consumer-rotation', 'show', 'acme'], env)).code, 3, 'nothing under way')
  t.equal((await sfb(['consumer-rotation', 'policy', 'acme'], env)).code, 2, '--app is required')
})
