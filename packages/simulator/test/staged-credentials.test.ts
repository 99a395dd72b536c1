import t from 'tap'
import { startSimulator, type Simulator } from '../src/index.ts'

const USER = { username: 'eca-admin@acme.example', password: 'Pw-1', securityToken: 'TOKEN1' }
const RUN_AS = { username: 'run-as@acme.example', password: 'Pw-2', securityToken: 'TOKEN2' }
const APP = { clientId: '3MVG9primaryKey', clientSecret: 'PRIMARY-SECRET', clientCredentialsUser: RUN_AS.username, appId: '0xIacme', consumerId: '0Hkacme' }
const RIGHTS = { PermissionsExternalClientAppDeveloper: true, PermissionsViewClientSecret: true }

async function start (t: { teardown (fn: () => unknown): void }, rights: Record<string, boolean> = RIGHTS, setting = true): Promise<Simulator> {
  const sim = await startSimulator({
    orgs: [{
      key: 'acme',
      users: [{ ...USER, permissions: rights }, { ...RUN_AS }],
      connectedApps: [{ ...APP, consumerSecretsViaRestApi: setting }],
      // logs in with the username-password flow: its retirement (2027-02-20) moved out of the way
      oauthPasswordFlowRetiredAt: Date.UTC(9999, 0, 1),
    }],
  })
  t.teardown(() => sim.close())
  return sim
}

async function call (url: string, init: { method?: string, token?: string, body?: unknown, form?: Record<string, string> } = {}): Promise<{ status: number, json: any }> {
  const headers: Record<string, string> = {}
  if (init.token) headers.authorization = `Bearer ${init.token}`
  let body: string | undefined
  if (init.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded'
    body = new URLSearchParams(init.form).toString()
  } else if (init.body !== undefined) {
    headers['content-type'] = 'application/json'
    body = JSON.stringify(init.body)
  }
  const res = await fetch(url, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body })
  const text = await res.text()
  return { status: res.status, json: text === '' ? null : JSON.parse(text) }
}

async function clientCredentials (sim: Simulator, key: string, secret: string) {
  return call(`${sim.myDomainUrl('acme')}/services/oauth2/token`, { form: { grant_type: 'client_credentials', client_id: key, client_secret: secret } })
}

async function adminToken (sim: Simulator): Promise<string> {
  const login = await call(`${sim.loginUrl}/services/oauth2/token`, {
    form: { grant_type: 'password', client_id: APP.clientId, client_secret: APP.clientSecret, username: USER.username, password: USER.password + USER.securityToken },
  })
  return login.json.access_token
}

const base = (sim: Simulator) => `${sim.myDomainUrl('acme')}/services/data/v62.0/apps/oauth/credentials`

t.test('stage, both secrets work, promote, the old one works until deleted', async t => {
  const sim = await start(t)
  const token = await adminToken(sim)
  const consumers = await call(`${base(sim)}/${APP.appId}`, { token })
  t.equal(consumers.status, 200)
  t.equal(consumers.json.consumers[0].key, APP.clientId)
  const stagedUrl = consumers.json.consumers[0].stagedCredentialsUrl
  t.equal(stagedUrl, `/services/data/v62.0/apps/oauth/credentials/${APP.appId}/${APP.consumerId}/staged`)

  const staged = await call(`${sim.myDomainUrl('acme')}${stagedUrl}`, { method: 'POST', token })
  t.equal(staged.status, 201)
  const fresh = staged.json.stagedCredentials[0]
  t.match(fresh, { state: 'active', key: /^3MVG9/, secret: /^[0-9A-F]{64}$/ })
  t.equal((await call(`${sim.myDomainUrl('acme')}${stagedUrl}`, { method: 'POST', token })).status, 400, 'one staged pair at a time')
  t.notOk('secret' in (await call(`${sim.myDomainUrl('acme')}${stagedUrl}`, { token })).json.stagedCredentials[0], 'the secret is answered once')

  t.equal((await clientCredentials(sim, APP.clientId, APP.clientSecret)).status, 200, 'the primary works while staged')
  t.equal((await clientCredentials(sim, fresh.key, fresh.secret)).status, 200, 'the staged pair works beside it')
  t.same((await clientCredentials(sim, fresh.key, APP.clientSecret)).json, { error: 'invalid_client', error_description: 'invalid client credentials' }, 'pairs do not mix')

  const promoted = await call(`${sim.myDomainUrl('acme')}${fresh.url}`, { method: 'PATCH', token, body: { command: 'rotate' } })
  t.equal(promoted.status, 200)
  t.match(promoted.json.stagedCredentials, [{ key: APP.clientId, state: 'rotated' }], 'the former primary stays, rotated')
  t.equal((await call(`${base(sim)}/${APP.appId}`, { token })).json.consumers[0].key, fresh.key, 'the staged key is primary now')
  t.equal((await clientCredentials(sim, APP.clientId, APP.clientSecret)).status, 200, 'the old pair works until deleted')

  t.equal((await call(`${sim.myDomainUrl('acme')}${fresh.url}`, { method: 'DELETE', token })).status, 204)
  t.same((await clientCredentials(sim, APP.clientId, APP.clientSecret)).json, { error: 'invalid_client_id', error_description: 'client identifier invalid' }, 'deleted: the old key is unknown')
  t.equal((await clientCredentials(sim, fresh.key, fresh.secret)).status, 200)
})

t.test('the errors for a missing permission, the setting off, a packaged app, no session', async t => {
  const noRights = await start(t, { PermissionsExternalClientAppDeveloper: true })
  const denied = await call(`${base(noRights)}/${APP.appId}`, { token: await adminToken(noRights) })
  t.equal(denied.status, 403)
  t.equal(denied.json[0].errorCode, 'INSUFFICIENT_ACCESS')

  const settingOff = await start(t, RIGHTS, false)
  const off = await call(`${base(settingOff)}/${APP.appId}`, { token: await adminToken(settingOff) })
  t.equal(off.status, 403)
  t.equal(off.json[0].errorCode, 'FUNCTIONALITY_NOT_ENABLED')

  const packaged = await start(t)
  await call(`${packaged.loginUrl}/_sim/orgs/acme/apps/${APP.clientId}`, { method: 'PATCH', body: { packaged: true } })
  const p = await call(`${base(packaged)}/${APP.appId}/${APP.consumerId}/staged`, { method: 'POST', token: await adminToken(packaged) })
  t.equal(p.status, 400)
  t.equal((await call(`${base(packaged)}/${APP.appId}`)).status, 401, 'no session')
  t.equal((await call(`${base(packaged)}/0xInope`, { token: await adminToken(packaged) })).status, 404)
})

t.test('Setup through the control API: stage, promote, delete the rotated pair', async t => {
  const sim = await start(t)
  const control = `${sim.loginUrl}/_sim/orgs/acme/apps/${APP.clientId}`
  const staged = await call(`${control}/staged`, { method: 'POST' })
  t.equal(staged.status, 200)
  t.equal((await clientCredentials(sim, staged.json.consumerKey, staged.json.consumerSecret)).status, 200)
  const promoted = await call(`${control}/staged/promote`, { method: 'POST' })
  t.equal(promoted.json.consumerKey, staged.json.consumerKey)
  t.equal((await clientCredentials(sim, APP.clientId, APP.clientSecret)).status, 200, 'rotated, not deleted')
  await call(`${control}/staged/rotated`, { method: 'DELETE' })
  t.equal((await clientCredentials(sim, APP.clientId, APP.clientSecret)).status, 400)
  t.notMatch(JSON.stringify((await call(`${control}/credentials`)).json), /SECRET|[0-9A-F]{64}/, 'no secret in the view')
})

t.test('drift switches: uninstalled app, API Access Control, blocked password flow, sandbox refresh', async t => {
  const sim = await start(t)
  const control = `${sim.loginUrl}/_sim/orgs/acme`
  await call(`${control}/apps/${APP.clientId}`, { method: 'PATCH', body: { installed: false } })
  t.same((await clientCredentials(sim, APP.clientId, APP.clientSecret)).json, { error: 'invalid_client', error_description: 'app must be installed into org' })
  await call(`${control}/apps/${APP.clientId}`, { method: 'PATCH', body: { installed: true } })

  await call(control, { method: 'PATCH', body: { apiAccessControl: true } })
  const login = await clientCredentials(sim, APP.clientId, APP.clientSecret)
  t.equal(login.status, 200, 'the login succeeds')
  const limits = await call(`${sim.myDomainUrl('acme')}/services/data/v62.0/limits`, { token: login.json.access_token })
  t.equal(limits.status, 401)
  t.same(limits.json, [{ message: 'This session is not valid for use with the REST API', errorCode: 'INVALID_SESSION_ID' }], 'the session is refused for API use')
  await call(`${control}/apps/${APP.clientId}`, { method: 'PATCH', body: { apiAccessAllowed: true } })
  t.equal((await call(`${sim.myDomainUrl('acme')}/services/data/v62.0/limits`, { token: login.json.access_token })).status, 200, 'allow-listed app')

  await call(control, { method: 'PATCH', body: { blockOAuthUnPwFlow: true } })
  const blocked = await call(`${sim.loginUrl}/services/oauth2/token`, {
    form: { grant_type: 'password', client_id: APP.clientId, client_secret: APP.clientSecret, username: USER.username, password: USER.password + USER.securityToken },
  })
  t.same(blocked.json, { error: 'invalid_grant', error_description: 'authentication failure' })
  t.equal((await call(control)).json.blockOAuthUnPwFlow, true)

  const before = sim.org('acme').orgId
  const refreshed = await call(`${control}/refresh`, { method: 'POST', body: { uninstallApps: true } })
  t.not(refreshed.json.orgId, before, 'a new org id')
  t.equal((await call(`${sim.myDomainUrl('acme')}/services/data/v62.0/limits`, { token: login.json.access_token })).status, 401, 'sessions gone')
  t.equal((await clientCredentials(sim, APP.clientId, APP.clientSecret)).json.error_description, 'app must be installed into org')
})
