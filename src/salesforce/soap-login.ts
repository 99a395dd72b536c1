/**
 * SOAP login() of the partner API: POST {loginUrl}/services/Soap/u/{version}. Plain fetch rather
 * than jsforce because jsforce can neither time out a login nor keep the fault's exception code,
 * and both matter here (a hung login blocks every caller; the code drives the lockout circuit).
 */
import { classifiedFailure, classifyHttpStatus, classifyNetworkError } from './classify.ts'
import { classifySoapFault } from './classify-soap.ts'
import { httpRequest } from './http.ts'
import { loginUrlRejection } from './login-url.ts'
import { instanceUrlRejected, SALESFORCE_ID, type FlowContext } from './oauth-token.ts'
import { escapeXml, innerXml, textOf } from './soap-xml.ts'
import type { LoginOutcome, SalesforceSession } from './types.ts'

export interface SoapCredentials {
  loginUrl: string
  apiVersion: string
  username: string
  password: string
  securityToken?: string
}

/**
 * SOAP login() is absent from API 65.0 and later (INVALID_OPERATION "The SOAP Login operation is not
 * available in the API version specified (65.0)", forcedotcom/wsc #363). The session it issues is
 * not tied to the endpoint's version, so a connection whose REST calls use 65.0+ logs in at 64.0.
 */
export const SOAP_LOGIN_MAX_VERSION = 64

export function soapEndpoint (loginUrl: string, apiVersion: string): string {
  const requested = apiVersion.replace(/^v/i, '')
  const version = Number.parseFloat(requested) > SOAP_LOGIN_MAX_VERSION ? `${SOAP_LOGIN_MAX_VERSION}.0` : requested
  return `${new URL(loginUrl).origin}/services/Soap/u/${version}`
}

export function loginEnvelope (username: string, password: string): string {
  return '<?xml version="1.0" encoding="utf-8"?>' +
    '<env:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ' +
    'xmlns:env="http://schemas.xmlsoap.org/soap/envelope/">' +
    '<env:Body><n1:login xmlns:n1="urn:partner.soap.sforce.com">' +
    `<n1:username>${escapeXml(username)}</n1:username>` +
    `<n1:password>${escapeXml(password)}</n1:password>` +
    '</n1:login></env:Body></env:Envelope>'
}

export async function soapLogin (c: SoapCredentials, ctx: FlowContext): Promise<LoginOutcome> {
  let answer
  try {
    answer = await httpRequest(soapEndpoint(c.loginUrl, c.apiVersion), {
      method: 'POST',
      headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: 'login', accept: 'text/xml' },
      body: loginEnvelope(c.username, c.password + (c.securityToken ?? '')),
      timeoutMs: ctx.remainingMs(),
    })
  } catch (error) {
    return { ok: false, failure: classifyNetworkError(error, ctx.timeoutMs, 'soap') }
  }
  const issuedAt = Date.now()

  const fault = innerXml(answer.body, 'Fault')
  if (fault !== undefined) {
    return {
      ok: false,
      failure: classifySoapFault({
        faultcode: textOf(fault, 'faultcode'),
        faultstring: textOf(fault, 'faultstring'),
        exceptionCode: textOf(fault, 'exceptionCode'),
        exceptionMessage: textOf(fault, 'exceptionMessage'),
      }, answer.status),
    }
  }
  const result = answer.status === 200 ? innerXml(answer.body, 'result') : undefined
  if (result === undefined) return { ok: false, failure: classifyHttpStatus(answer.status, 'The SOAP login endpoint', 'soap', answer.headers.get('location')) }
  return sessionFromLoginResult(result, issuedAt, ctx)
}

function sessionFromLoginResult (result: string, issuedAt: number, ctx: FlowContext): LoginOutcome {
  const sessionId = textOf(result, 'sessionId')
  // A login with an expired password "succeeds" with a session that can only call setPassword();
  // whatever else the answer lacks, that is the admin's problem to fix first. Only an answer that
  // carries that session tells the guard Salesforce took the password (its count is back to zero).
  if (textOf(result, 'passwordExpired')?.toLowerCase() === 'true') {
    const failure = classifiedFailure('password_expired', { message: 'login succeeded but the password has expired (passwordExpired=true)', flow: 'soap' })
    return { ok: false, failure: sessionId ? { ...failure, loginAccepted: true } : failure }
  }
  const serverUrl = textOf(result, 'serverUrl')
  const userInfo = innerXml(result, 'userInfo') ?? ''
  const userId = textOf(result, 'userId') ?? textOf(userInfo, 'userId')
  const orgId = textOf(userInfo, 'organizationId')
  // ids end up in answers and logs: only a real Salesforce id is taken, never whatever a host put there
  // a malformed answer is not Salesforce's word that the password was right: it resets no count
  if (!sessionId || !serverUrl || !userId || !orgId || !SALESFORCE_ID.test(userId) || !SALESFORCE_ID.test(orgId)) {
    return { ok: false, failure: classifiedFailure('unknown', { message: 'the SOAP login answer lacks sessionId, serverUrl, or a valid userId or organizationId', httpStatus: 200, flow: 'soap' }) }
  }
  let instanceUrl: string
  try {
    instanceUrl = new URL(serverUrl).origin
  } catch {
    return { ok: false, failure: classifiedFailure('unknown', { message: 'the SOAP login answer has an unreadable serverUrl', httpStatus: 200, flow: 'soap' }) }
  }
  const rejection = loginUrlRejection(instanceUrl, ctx.policy)
  if (rejection !== undefined) return { ok: false, failure: instanceUrlRejected(rejection, 'soap') }

  const session: SalesforceSession = { accessToken: sessionId, instanceUrl, userId, orgId, issuedAt, flow: 'soap' }
  const secondsValid = Number(textOf(userInfo, 'sessionSecondsValid'))
  if (Number.isInteger(secondsValid) && secondsValid > 0) session.sessionSecondsValid = secondsValid
  return { ok: true, session }
}
