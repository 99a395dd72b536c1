import { SignJWT, importPKCS8 } from 'jose'
import { startSimulator, type SimOrgOptions, type Simulator } from '../src/index.ts'

import { ACME, type Teardown } from '../../../test/helper.ts'
import { http, type HttpAnswer } from '../../../test/support/http.ts'

export { http, type HttpAnswer }
/** The acme org's user and connected app: the same credentials as ACME in test/helper.ts, split as the simulator's tests use them. */
export const USER = { username: ACME.username, password: ACME.password, securityToken: ACME.securityToken }
export const APP = { clientId: ACME.clientId, clientSecret: ACME.clientSecret }

/** An oauthPasswordFlowRetiredAt no test reaches (the year 9999). */
export const FLOW_NOT_RETIRED = Date.UTC(9999, 0, 1)

/** A clock for the simulator's `now` option that moves only when the test moves it. */
export class TestTime {
  private at = Date.now()
  readonly now = (): number => this.at
  advance (ms: number): void { this.at += ms }
}

/**
 * One org 'acme' with USER and APP (plus whatever the test overrides), closed after the test; `time`: the simulator's clock.
 * The username-password flow's retirement (2027-02-20) is moved out of the way, so that tests of everything else
 * do not depend on the calendar; a test of the retirement passes `oauthPasswordFlowRetiredAt: undefined` for the real date.
 */
export async function startAcme (t: Teardown, overrides: Partial<SimOrgOptions> = {}, more: SimOrgOptions[] = [], time?: TestTime): Promise<Simulator> {
  const sim = await startSimulator({
    orgs: [{ key: 'acme', users: [{ ...USER }], connectedApps: [{ ...APP }], oauthPasswordFlowRetiredAt: FLOW_NOT_RETIRED, ...overrides }, ...more],
    ...(time ? { now: time.now } : {}),
  })
  t.teardown(() => sim.close())
  return sim
}

export async function postForm (url: string, params: Record<string, string>, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  return http(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(params).toString(),
  })
}

export async function passwordLogin (baseUrl: string, password = USER.password + USER.securityToken, username = USER.username, app = APP): Promise<HttpAnswer> {
  return postForm(`${baseUrl}/services/oauth2/token`, {
    grant_type: 'password', client_id: app.clientId, client_secret: app.clientSecret, username, password,
  })
}

export async function getWithToken (url: string, token: string): Promise<HttpAnswer> {
  return http(url, { headers: { authorization: `Bearer ${token}` } })
}

export async function signAssertion (privateKeyPem: string, claims: { iss?: string, sub?: string, aud?: string, expInSeconds?: number }): Promise<string> {
  const key = await importPKCS8(privateKeyPem, 'RS256')
  const jwt = new SignJWT({}).setProtectedHeader({ alg: 'RS256' })
  if (claims.iss !== undefined) jwt.setIssuer(claims.iss)
  if (claims.sub !== undefined) jwt.setSubject(claims.sub)
  if (claims.aud !== undefined) jwt.setAudience(claims.aud)
  jwt.setExpirationTime(Math.floor(Date.now() / 1000) + (claims.expInSeconds ?? 120))
  return jwt.sign(key)
}

export function soapLoginEnvelope (username: string, password: string): string {
  const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
  return '<?xml version="1.0" encoding="utf-8"?>' +
    '<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/" xmlns:n1="urn:partner.soap.sforce.com">' +
    `<env:Body><n1:login><n1:username>${esc(username)}</n1:username><n1:password>${esc(password)}</n1:password></n1:login></env:Body>` +
    '</env:Envelope>'
}

export async function soapLogin (baseUrl: string, username: string, password: string, version = '62.0'): Promise<HttpAnswer> {
  return http(`${baseUrl}/services/Soap/u/${version}`, {
    method: 'POST',
    headers: { 'content-type': 'text/xml; charset=UTF-8', soapaction: 'login' },
    body: soapLoginEnvelope(username, password),
  })
}

export function xmlText (xml: string, tag: string): string | undefined {
  return new RegExp(`<${tag}(?:\\s[^>]*)?>([^<]*)</${tag}>`).exec(xml)?.[1]
}
