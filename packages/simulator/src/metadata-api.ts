import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ListenerScope, SimContext } from './context.ts'
import { delay, readBody, sendText } from './http.ts'
import { findUserById } from './org-state.ts'
import { escapeXml } from './soap.ts'
import type { SimOrgState } from './types.ts'

/**
 * Metadata API (SOAP, `{My Domain}/services/Soap/m/{version}`): readMetadata() of the one settings
 * type the broker reads, OauthOidcSettings (fullName `OauthOidc`; Metadata API Developer Guide,
 * "OauthOidcSettings", API 56.0+), whose blockOAuthUnPwFlow says whether the org blocks the OAuth
 * username-password flow.
 *
 * - The session goes in `<SessionHeader><sessionId>` (an OAuth access token is accepted as one).
 * - readMetadata() needs "Modify Metadata Through Metadata API Functions" or "Modify All Data"
 *   (Metadata API Developer Guide, "readMetadata()", Permissions); without either Salesforce answers
 *   HTTP 500 with the fault `sf:INSUFFICIENT_ACCESS` "use of the Metadata API requires a user with
 *   the ModifyAllData or ModifyMetadata permissions" (forcedotcom/cli #3048, word for word).
 * - A component that does not exist comes back as an empty `<records xsi:nil="true"/>`.
 * Any other operation or type is not simulated: a Client fault, as for an unknown operation.
 */

const SOAP_ENV = 'http://schemas.xmlsoap.org/soap/envelope/'
const METADATA_NS = 'http://soap.sforce.com/2006/04/metadata'
const XSI = 'http://www.w3.org/2001/XMLSchema-instance'
const XML_CONTENT_TYPE = 'text/xml;charset=UTF-8'

export const METADATA_PATH = /^\/services\/Soap\/m\/(\d+\.\d+)(?:\/\w+)?\/?$/

export const METADATA_FAULTS = {
  insufficientAccess: { code: 'INSUFFICIENT_ACCESS', message: 'use of the Metadata API requires a user with the ModifyAllData or ModifyMetadata permissions' },
  invalidSession: { code: 'INVALID_SESSION_ID', message: 'Invalid Session ID found in SessionHeader: Illegal Session' },
  apiDisabled: { code: 'API_DISABLED_FOR_ORG', message: 'API is not enabled for this Organization or Partner' },
} as const

/** faultcode `sf:CODE`, faultstring `CODE: message`, as Salesforce writes Metadata API faults. */
function fault (res: ServerResponse, f: { code: string, message: string }): void {
  sendFault(res, `sf:${f.code}`, `${f.code}: ${f.message}`)
}

function sendFault (res: ServerResponse, faultcode: string, faultstring: string): void {
  sendText(res, 500, XML_CONTENT_TYPE, '<?xml version="1.0" encoding="UTF-8"?>' +
    `<soapenv:Envelope xmlns:soapenv="${SOAP_ENV}" xmlns:sf="${METADATA_NS}"><soapenv:Body><soapenv:Fault>` +
    `<faultcode>${faultcode}</faultcode><faultstring>${escapeXml(faultstring)}</faultstring>` +
    '</soapenv:Fault></soapenv:Body></soapenv:Envelope>')
}

function texts (xml: string, localName: string): string[] {
  const out: string[] = []
  for (const m of xml.matchAll(new RegExp(`<(?:[\\w.-]+:)?${localName}(?:\\s[^>]*)?>([\\s\\S]*?)</(?:[\\w.-]+:)?${localName}\\s*>`, 'g'))) out.push(m[1].trim())
  return out
}

function oauthOidcRecord (org: SimOrgState): string {
  return '<records xsi:type="OauthOidcSettings">' +
    '<fullName>OauthOidc</fullName>' +
    `<blockOAuthUnPwFlow>${org.blockOAuthUnPwFlow}</blockOAuthUnPwFlow>` +
    '<blockOAuthUsrAgtFlow>false</blockOAuthUsrAgtFlow>' +
    '<oAuthCdCrdtFlowEnable>true</oAuthCdCrdtFlowEnable>' +
    '</records>'
}

/** POST /services/Soap/m/{version} on a My Domain. */
export async function handleMetadataRequest (ctx: SimContext, scope: ListenerScope & { kind: 'my_domain' }, req: IncomingMessage, res: ServerResponse): Promise<void> {
  await delay(ctx.latencyMs)
  const { org } = scope
  const body = await readBody(req)
  const token = texts(body, 'sessionId')[0]
  const session = token === undefined ? undefined : ctx.sessions.find(token, ctx.orgs)
  if (!session || session.orgKey !== org.key) return fault(res, METADATA_FAULTS.invalidSession)
  if (!org.apiEnabled) return fault(res, METADATA_FAULTS.apiDisabled)
  if (!/<(?:[\w.-]+:)?readMetadata[\s>]/.test(body)) return sendFault(res, 'soapenv:Client', 'No operation available for request')
  const user = findUserById(org, session.userId)
  if (!user?.permissions.PermissionsModifyAllData && !user?.permissions.PermissionsModifyMetadata) {
    return fault(res, METADATA_FAULTS.insufficientAccess)
  }
  const type = texts(body, 'type')[0]
  const records = texts(body, 'fullNames').map(name =>
    type === 'OauthOidcSettings' && name === 'OauthOidc' ? oauthOidcRecord(org) : '<records xsi:nil="true"/>')
  sendText(res, 200, XML_CONTENT_TYPE, '<?xml version="1.0" encoding="UTF-8"?>' +
    `<soapenv:Envelope xmlns:soapenv="${SOAP_ENV}" xmlns="${METADATA_NS}" xmlns:xsi="${XSI}">` +
    `<soapenv:Body><readMetadataResponse><result>${records.join('')}</result></readMetadataResponse></soapenv:Body></soapenv:Envelope>`)
}
