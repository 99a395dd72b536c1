import { Connection } from 'jsforce'
import { startSimulator, type SimOrgOptions, type Simulator } from '../src/index.ts'

/** One org 'acme' with a user and a connected app for the data-API tests, closed after the test. */
export const USER = { username: 'integration@acme.example', password: 'Corr3ct-Horse', securityToken: 'TOKENacme0123' }
export const APP = { clientId: '3MVG9acme.data', clientSecret: 'acme-data-secret' }

export interface DataOrg { sim: Simulator, token: string, base: string, conn: Connection }

export async function startDataOrg (t: { teardown (fn: () => unknown): void }, overrides: Partial<SimOrgOptions> = {}): Promise<DataOrg> {
  const sim = await startSimulator({ orgs: [{ key: 'acme', users: [{ ...USER }], connectedApps: [{ ...APP }], oauthPasswordFlowRetiredAt: Date.UTC(9999, 0, 1), ...overrides }] })
  t.teardown(() => sim.close())
  const login = await fetch(`${sim.loginUrl}/services/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'password', client_id: APP.clientId, client_secret: APP.clientSecret, username: USER.username, password: USER.password + USER.securityToken }),
  })
  const token = (await login.json() as { access_token: string }).access_token
  const base = `${sim.myDomainUrl('acme')}/services/data/v62.0`
  const conn = new Connection({ instanceUrl: sim.myDomainUrl('acme'), accessToken: token, version: '62.0' })
  return { sim, token, base, conn }
}

export interface Answer { status: number, headers: Headers, text: string, json: any }

/** A raw call with the session, for what jsforce hides (status codes, headers, error arrays). */
export async function call (org: DataOrg, path: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(`${org.base}${path}`, { ...init, headers: { authorization: `Bearer ${org.token}`, 'content-type': 'application/json', ...init.headers } })
  const text = await res.text()
  let json: unknown
  try { json = JSON.parse(text) } catch { json = undefined }
  return { status: res.status, headers: res.headers, text, json }
}

/** The error a promise rejects with (jsforce's carry Salesforce's errorCode), or undefined when it resolves. */
export async function rejection (promise: Promise<unknown>): Promise<any> {
  return promise.then(() => undefined, (err: unknown) => err)
}
