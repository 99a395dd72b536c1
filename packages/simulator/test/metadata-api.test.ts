import t from 'tap'
import { startSimulator, type Simulator } from '../src/index.ts'

const USER = { username: 'integration@acme.example', password: 'Pw-1', securityToken: 'TOKEN1' }
const APP = { clientId: '3MVG9acme', clientSecret: 'SECRET' }

async function start (t: { teardown (fn: () => unknown): void }, permissions: Record<string, boolean>): Promise<Simulator> {
  const sim = await startSimulator({ orgs: [{ key: 'acme', users: [{ ...USER, permissions }], connectedApps: [APP], oauthPasswordFlowRetiredAt: Date.UTC(9999, 0, 1) }] })
  t.teardown(() => sim.close())
  return sim
}

async function token (sim: Simulator): Promise<string> {
  const res = await fetch(`${sim.loginUrl}/services/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'password', client_id: APP.clientId, client_secret: APP.clientSecret, username: USER.username, password: USER.password + USER.securityToken }),
  })
  return ((await res.json()) as { access_token: string }).access_token
}

async function readOauthOidc (sim: Simulator, sessionId: string): Promise<{ status: number, body: string }> {
  const res = await fetch(`${sim.myDomainUrl('acme')}/services/Soap/m/62.0`, {
    method: 'POST',
    headers: { 'content-type': 'text/xml;charset=UTF-8', soapaction: '""' },
    body: '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:met="http://soap.sforce.com/2006/04/metadata">' +
      `<soapenv:Header><met:SessionHeader><met:sessionId>${sessionId}</met:sessionId></met:SessionHeader></soapenv:Header>` +
      '<soapenv:Body><met:readMetadata><met:type>OauthOidcSettings</met:type><met:fullNames>OauthOidc</met:fullNames></met:readMetadata></soapenv:Body></soapenv:Envelope>',
  })
  return { status: res.status, body: await res.text() }
}

t.test('readMetadata OauthOidcSettings: the org setting, with "Modify Metadata Through Metadata API Functions"', async t => {
  const sim = await start(t, { PermissionsModifyMetadata: true })
  const session = await token(sim)
  const allowed = await readOauthOidc(sim, session)
  t.equal(allowed.status, 200)
  t.match(allowed.body, /<readMetadataResponse><result><records xsi:type="OauthOidcSettings"><fullName>OauthOidc<\/fullName><blockOAuthUnPwFlow>false<\/blockOAuthUnPwFlow>/)
  sim.org('acme').blockOAuthUnPwFlow = true
  t.match((await readOauthOidc(sim, session)).body, /<blockOAuthUnPwFlow>true<\/blockOAuthUnPwFlow>/, 'the session issued before the block still works and reads it')
})

t.test('without the permission: INSUFFICIENT_ACCESS; an unknown session: INVALID_SESSION_ID', async t => {
  const sim = await start(t, {})
  const refused = await readOauthOidc(sim, await token(sim))
  t.equal(refused.status, 500)
  t.match(refused.body, '<faultcode>sf:INSUFFICIENT_ACCESS</faultcode><faultstring>INSUFFICIENT_ACCESS: use of the Metadata API requires a user with the ModifyAllData or ModifyMetadata permissions</faultstring>')
  const unknown = await readOauthOidc(sim, '00Dxx!nope')
  t.equal(unknown.status, 500)
  t.match(unknown.body, '<faultcode>sf:INVALID_SESSION_ID</faultcode>')
})
