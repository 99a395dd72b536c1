import type { IncomingMessage, ServerResponse } from 'node:http'
import { normalizeIp } from './cidr.ts'
import { orgsServedBy, type ListenerScope, type SimContext } from './context.ts'
import { delay, readBody, sendText } from './http.ts'
import { decidePasswordLogin, type LoginRefusal } from './login-policy.ts'
import { findUser } from './org-state.ts'
import type { SimSession } from './sessions.ts'
import type { SimOrgState, SimUserState } from './types.ts'

const SOAP_ENV = 'http://schemas.xmlsoap.org/soap/envelope/'
const XSI = 'http://www.w3.org/2001/XMLSchema-instance'
const XML_CONTENT_TYPE = 'text/xml;charset=UTF-8'

/** 'u' is the partner WSDL endpoint, 'c' the enterprise one; they differ only in namespaces here. */
type Wsdl = 'u' | 'c'

function namespaces (wsdl: Wsdl): { api: string, fault: string } {
  const name = wsdl === 'u' ? 'partner' : 'enterprise'
  return { api: `urn:${name}.soap.sforce.com`, fault: `urn:fault.${name}.soap.sforce.com` }
}

export function escapeXml (value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;')
}

function unescapeXml (value: string): string {
  return value
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'")
    .replace(/&#x([0-9a-f]+);/gi, (_, hex: string) => String.fromCodePoint(parseInt(hex, 16)))
    .replace(/&#(\d+);/g, (_, dec: string) => String.fromCodePoint(parseInt(dec, 10)))
    .replace(/&amp;/g, '&')
}

/** Text of the first element with this local name, whatever its namespace prefix. */
function elementText (xml: string, localName: string): string | undefined {
  const match = new RegExp(`<(?:[\\w.-]+:)?${localName}(?:\\s[^>]*)?>([\\s\\S]*?)</(?:[\\w.-]+:)?${localName}\\s*>`).exec(xml)
  return match ? unescapeXml(match[1]) : undefined
}

function hasElement (xml: string, localName: string): boolean {
  return new RegExp(`<(?:[\\w.-]+:)?${localName}[\\s/>]`).test(xml)
}

interface SoapFault {
  /** ExceptionCode, e.g. INVALID_LOGIN */
  code: string
  message: string
  /** the detail element's type */
  faultType: 'LoginFault' | 'UnexpectedErrorFault' | 'InvalidIdFault'
}

const INVALID_LOGIN_MESSAGE = 'Invalid username, password, security token; or user locked out.'

/** SOAP faults Salesforce answers to login(), word for word where its text is published. */
export const SOAP_FAULTS = {
  invalidLogin: { code: 'INVALID_LOGIN', message: INVALID_LOGIN_MESSAGE, faultType: 'LoginFault' },
  mustUseSecurityToken: {
    code: 'LOGIN_MUST_USE_SECURITY_TOKEN',
    message: `${INVALID_LOGIN_MESSAGE} Are you at a new location? When accessing Salesforce--either via a desktop client or the API--from outside of your company’s trusted networks, you must add a security token to your password to log in. To get your new security token, log in to Salesforce. From your personal settings, enter Reset My Security Token in the Quick Find box, then select Reset My Security Token.`,
    faultType: 'LoginFault',
  },
  apiDisabledForOrg: { code: 'API_DISABLED_FOR_ORG', message: 'API is not enabled for this Organization or Partner', faultType: 'UnexpectedErrorFault' },
  restrictedDomain: { code: 'LOGIN_DURING_RESTRICTED_DOMAIN', message: 'cannot log in from current domain', faultType: 'LoginFault' },
  restrictedTime: { code: 'LOGIN_DURING_RESTRICTED_TIME', message: 'cannot log in during restricted login hours', faultType: 'LoginFault' },
  loginRateExceeded: { code: 'REQUEST_LIMIT_EXCEEDED', message: 'Login Rate Exceeded', faultType: 'UnexpectedErrorFault' },
  // OpenFn/adaptors #1715
  soapLoginDisabled: { code: 'INVALID_OPERATION', message: 'SOAP API login() is disabled by default in this org. Contact the org administrator to enable SOAP API login().', faultType: 'UnexpectedErrorFault' },
  // SalesforceAIResearch/CRMArena #23
  useAnyApiAuthRequired: { code: 'INSUFFICIENT_ACCESS', message: 'SOAP API login() requires the Use Any API Auth user permission.', faultType: 'UnexpectedErrorFault' },
  // superfell/SoqlX #10, lwc-soql-builder #30
  unsupportedApiVersion: { code: 'UNSUPPORTED_API_VERSION', message: 'Invalid Api version specified on URL', faultType: 'UnexpectedErrorFault' },
  invalidSession: { code: 'INVALID_SESSION_ID', message: 'Invalid Session ID found in SessionHeader: Illegal Session', faultType: 'UnexpectedErrorFault' },
} as const satisfies Record<string, SoapFault>

/** forcedotcom/wsc #363: login() on API 65.0+, word for word (and, from Summer '27, on every version). */
export function soapLoginUnavailable (version: string): SoapFault {
  return { code: 'INVALID_OPERATION', message: `The SOAP Login operation is not available in the API version specified (${version}). Refer to the documentation for supported versions.`, faultType: 'UnexpectedErrorFault' }
}

/** Salesforce's API versions are whole numbers with ".0"; 65.0 is the first without SOAP login(). */
const FIRST_VERSION_WITHOUT_SOAP_LOGIN = 65

/**
 * login() answers: a locked user and an inactive user get the same INVALID_LOGIN as a wrong
 * password, so nobody can probe which accounts exist or are locked.
 */
function soapFaultFor (refusal: LoginRefusal): SoapFault {
  switch (refusal) {
    case 'security_token_required': return SOAP_FAULTS.mustUseSecurityToken
    case 'api_disabled_user': return SOAP_FAULTS.apiDisabledForOrg
    case 'ip_restricted': return SOAP_FAULTS.restrictedDomain
    case 'hours_restricted': return SOAP_FAULTS.restrictedTime
    case 'rate_exceeded': return SOAP_FAULTS.loginRateExceeded
    case 'flow_disabled': return SOAP_FAULTS.soapLoginDisabled
    default: return SOAP_FAULTS.invalidLogin
  }
}

export function soapFaultEnvelope (fault: SoapFault, wsdl: Wsdl = 'u'): string {
  const ns = namespaces(wsdl)
  const message = escapeXml(fault.message)
  return '<?xml version="1.0" encoding="UTF-8"?>' +
    `<soapenv:Envelope xmlns:soapenv="${SOAP_ENV}" xmlns:sf="${ns.fault}" xmlns:xsi="${XSI}">` +
    '<soapenv:Body><soapenv:Fault>' +
    `<faultcode>sf:${fault.code}</faultcode>` +
    `<faultstring>${fault.code}: ${message}</faultstring>` +
    `<detail><sf:${fault.faultType} xsi:type="sf:${fault.faultType}">` +
    `<sf:exceptionCode>${fault.code}</sf:exceptionCode>` +
    `<sf:exceptionMessage>${message}</sf:exceptionMessage>` +
    `</sf:${fault.faultType}></detail>` +
    '</soapenv:Fault></soapenv:Body></soapenv:Envelope>'
}

function loginResponseEnvelope (wsdl: Wsdl, version: string, myDomainUrl: string, org: SimOrgState, user: SimUserState, session: SimSession): string {
  const ns = namespaces(wsdl)
  const fullName = escapeXml(user.username.split('@')[0])
  return '<?xml version="1.0" encoding="UTF-8"?>' +
    `<soapenv:Envelope xmlns:soapenv="${SOAP_ENV}" xmlns="${ns.api}" xmlns:xsi="${XSI}">` +
    '<soapenv:Body><loginResponse><result>' +
    `<metadataServerUrl>${escapeXml(`${myDomainUrl}/services/Soap/m/${version}/${org.orgId}`)}</metadataServerUrl>` +
    `<passwordExpired>${session.passwordExpired}</passwordExpired>` +
    '<sandbox>false</sandbox>' +
    `<serverUrl>${escapeXml(`${myDomainUrl}/services/Soap/${wsdl}/${version}/${org.orgId}`)}</serverUrl>` +
    `<sessionId>${escapeXml(session.accessToken)}</sessionId>` +
    `<userId>${user.userId}</userId>` +
    '<userInfo>' +
    '<accessibilityMode>false</accessibilityMode>' +
    '<chatterExternal>false</chatterExternal>' +
    '<currencySymbol>$</currencySymbol>' +
    '<orgAttachmentFileSizeLimit>5242880</orgAttachmentFileSizeLimit>' +
    '<orgDefaultCurrencyIsoCode>USD</orgDefaultCurrencyIsoCode>' +
    '<orgDefaultCurrencyLocale>en_US</orgDefaultCurrencyLocale>' +
    '<orgDisallowHtmlAttachments>false</orgDisallowHtmlAttachments>' +
    '<orgHasPersonAccounts>false</orgHasPersonAccounts>' +
    `<organizationId>${org.orgId}</organizationId>` +
    '<organizationMultiCurrency>false</organizationMultiCurrency>' +
    `<organizationName>${escapeXml(org.key)}</organizationName>` +
    '<profileId>00e000000000000AAA</profileId>' +
    '<roleId xsi:nil="true"/>' +
    `<sessionSecondsValid>${org.sessionTimeoutSeconds}</sessionSecondsValid>` +
    '<userDefaultCurrencyIsoCode xsi:nil="true"/>' +
    `<userEmail>${escapeXml(user.username)}</userEmail>` +
    `<userFullName>${fullName}</userFullName>` +
    `<userId>${user.userId}</userId>` +
    '<userLanguage>en_US</userLanguage>' +
    '<userLocale>en_US</userLocale>' +
    `<userName>${escapeXml(user.username)}</userName>` +
    '<userTimeZone>America/Los_Angeles</userTimeZone>' +
    '<userType>Standard</userType>' +
    '<userUiSkin>Theme3</userUiSkin>' +
    '</userInfo>' +
    '</result></loginResponse></soapenv:Body></soapenv:Envelope>'
}

function sendFault (res: ServerResponse, fault: SoapFault, wsdl: Wsdl): void {
  sendText(res, 500, XML_CONTENT_TYPE, soapFaultEnvelope(fault, wsdl))
}

/** The endpoint's version decides before any credential is looked at: no login attempt is counted. */
function versionFault (org: SimOrgState | undefined, version: string): SoapFault | undefined {
  const n = Number.parseFloat(version)
  if (n >= FIRST_VERSION_WITHOUT_SOAP_LOGIN || org?.soapLoginRetired === true) return soapLoginUnavailable(version)
  if (org !== undefined && n < org.minApiVersion) return SOAP_FAULTS.unsupportedApiVersion
  return undefined
}

/** Summer '26 orgs want "Use Any API Auth" on top of a correct password. */
function permissionFault (org: SimOrgState, user: SimUserState): SoapFault | undefined {
  if (!org.apiEnabled) return SOAP_FAULTS.apiDisabledForOrg
  if (org.soapLoginRequiresUseAnyApiAuth && user.permissions.PermissionsUseAnyApiAuth !== true) return SOAP_FAULTS.useAnyApiAuthRequired
  return undefined
}

async function login (ctx: SimContext, scope: ListenerScope, req: IncomingMessage, res: ServerResponse, body: string, wsdl: Wsdl, version: string): Promise<void> {
  await delay(ctx.latencyMs)
  const username = elementText(body, 'username') ?? ''
  const password = elementText(body, 'password') ?? ''
  const org = orgsServedBy(ctx, scope).find(o => findUser(o, username) !== undefined) ??
    (scope.kind === 'my_domain' ? scope.org : undefined)
  const retired = versionFault(org, version)
  if (retired) {
    sendFault(res, retired, wsdl)
    return
  }
  if (!org) {
    ctx.stats.record(undefined, username, false)
    sendFault(res, SOAP_FAULTS.invalidLogin, wsdl)
    return
  }
  const now = ctx.now()
  const decision = decidePasswordLogin(org, username, password, normalizeIp(req.socket.remoteAddress), org.flows.soap, now)
  const fault = decision.ok ? permissionFault(org, decision.user) : soapFaultFor(decision.refusal)
  if (fault || !decision.ok) {
    ctx.stats.record(org.key, username, false)
    sendFault(res, fault ?? SOAP_FAULTS.invalidLogin, wsdl)
    return
  }
  ctx.stats.record(org.key, username, true)
  const session = ctx.sessions.reuseSoapSession(org, decision.user, now) ?? ctx.sessions.issue(org, decision.user, 'soap', now)
  const myDomainUrl = ctx.myDomainUrls.get(org.key) ?? scope.url
  sendText(res, 200, XML_CONTENT_TYPE, loginResponseEnvelope(wsdl, version, myDomainUrl, org, decision.user, session))
}

function logout (ctx: SimContext, res: ServerResponse, body: string, wsdl: Wsdl): void {
  const token = elementText(body, 'sessionId') ?? ''
  if (!ctx.sessions.find(token, ctx.orgs)) {
    sendFault(res, SOAP_FAULTS.invalidSession, wsdl)
    return
  }
  ctx.sessions.revoke(token)
  const ns = namespaces(wsdl)
  sendText(res, 200, XML_CONTENT_TYPE, '<?xml version="1.0" encoding="UTF-8"?>' +
    `<soapenv:Envelope xmlns:soapenv="${SOAP_ENV}" xmlns="${ns.api}"><soapenv:Body><logoutResponse/></soapenv:Body></soapenv:Envelope>`)
}

export const SOAP_PATH = /^\/services\/Soap\/([uc])\/(\d+\.\d+)(?:\/[\w]+)?\/?$/

/** POST /services/Soap/u/{version}: login() and logout(); anything else is not simulated. */
export async function handleSoapRequest (ctx: SimContext, scope: ListenerScope, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const [, wsdl, version] = SOAP_PATH.exec(url.pathname) as unknown as [string, Wsdl, string]
  const body = await readBody(req)
  if (hasElement(body, 'login')) return login(ctx, scope, req, res, body, wsdl, version)
  if (hasElement(body, 'logout')) return logout(ctx, res, body, wsdl)
  sendText(res, 500, XML_CONTENT_TYPE, '<?xml version="1.0" encoding="UTF-8"?>' +
    `<soapenv:Envelope xmlns:soapenv="${SOAP_ENV}"><soapenv:Body><soapenv:Fault>` +
    '<faultcode>soapenv:Client</faultcode><faultstring>No operation available for request</faultstring>' +
    '</soapenv:Fault></soapenv:Body></soapenv:Envelope>')
}
