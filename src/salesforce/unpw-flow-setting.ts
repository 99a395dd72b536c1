/**
 * Reads whether the org blocks the OAuth username-password flow: Metadata API readMetadata() of
 * OauthOidcSettings (fullName `OauthOidc`, field blockOAuthUnPwFlow; Metadata API Developer Guide,
 * "OauthOidcSettings", API 56.0+), through a session the broker already holds — never a login of
 * its own. Setup shows the same setting as OAuth and OpenID Connect Settings > "Allow OAuth
 * Username-Password Flows" (off = blocked). Orgs created since Summer '23 block it by default, any
 * org may block it ahead of 2027-02-20, and a blocked flow answers the same `authentication failure`
 * as a wrong password: read beforehand, the cause has a name before the logins fail.
 *
 * The call needs "Modify Metadata Through Metadata API Functions" or "Modify All Data"
 * (Metadata API Developer Guide, "readMetadata()"); without either Salesforce answers the fault
 * INSUFFICIENT_ACCESS, and the setting is reported unknown, saying why. SOAP login() is not an
 * OAuth flow: this setting does not concern it.
 */
import { escapeXml, textOf } from './soap-xml.ts'
import { httpRequest } from './http.ts'
import { createScrubber } from './scrub.ts'
import { withoutControlCharacters } from './control-characters.ts'
import type { SalesforceSession } from './types.ts'

export type UnpwFlowState = 'blocked' | 'allowed' | 'unknown'

export interface UnpwFlowSetting {
  state: UnpwFlowState
  /** why the state is unknown */
  reason?: string
}

/** OauthOidcSettings exists from API 56.0; an older connection version reads it at 56.0. */
const FIRST_VERSION = 56

export const NO_RIGHT_TO_READ = 'unknown: the integration user has no right to read it (the Metadata API needs "Modify Metadata Through Metadata API Functions" or "Modify All Data")'

export function metadataUrl (instanceUrl: string, apiVersion: string): string {
  const version = Math.max(Number.parseFloat(apiVersion.replace(/^v/i, '')) || FIRST_VERSION, FIRST_VERSION).toFixed(1)
  return `${new URL(instanceUrl).origin}/services/Soap/m/${version}`
}

function envelope (sessionId: string): string {
  return '<?xml version="1.0" encoding="UTF-8"?>' +
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:met="http://soap.sforce.com/2006/04/metadata">' +
    `<soapenv:Header><met:SessionHeader><met:sessionId>${escapeXml(sessionId)}</met:sessionId></met:SessionHeader></soapenv:Header>` +
    '<soapenv:Body><met:readMetadata><met:type>OauthOidcSettings</met:type><met:fullNames>OauthOidc</met:fullNames></met:readMetadata></soapenv:Body>' +
    '</soapenv:Envelope>'
}

/** Best effort: any failure is `unknown` with the reason, never an exception. */
export async function readUnpwFlowSetting (session: Pick<SalesforceSession, 'accessToken' | 'instanceUrl'>, opts: { apiVersion: string, timeoutMs: number }): Promise<UnpwFlowSetting> {
  let answer
  try {
    answer = await httpRequest(metadataUrl(session.instanceUrl, opts.apiVersion), {
      method: 'POST',
      headers: { 'content-type': 'text/xml;charset=UTF-8', soapaction: '""' },
      body: envelope(session.accessToken),
      timeoutMs: opts.timeoutMs,
    })
  } catch (err) {
    return { state: 'unknown', reason: `unknown: the Metadata API could not be reached (${(err as Error)?.name === 'TimeoutError' ? 'timeout' : 'network error'})` }
  }
  // the session id travels in the body, not in a header: an echo of it is scrubbed here
  const scrub = createScrubber([session.accessToken])
  if (answer.status !== 200) {
    const code = (textOf(answer.body, 'faultcode') ?? '').replace(/^[\w.-]+:/, '')
    if (code === 'INSUFFICIENT_ACCESS') return { state: 'unknown', reason: NO_RIGHT_TO_READ }
    const words = withoutControlCharacters(scrub(textOf(answer.body, 'faultstring') ?? `HTTP ${answer.status}`)).slice(0, 300)
    return { state: 'unknown', reason: `unknown: the Metadata API answered ${words}` }
  }
  const value = textOf(answer.body, 'blockOAuthUnPwFlow')
  if (value === 'true') return { state: 'blocked' }
  if (value === 'false') return { state: 'allowed' }
  // the field is omitted at its default (false) only inside a returned record
  if (/<(?:[\w.-]+:)?records[^>]*OauthOidcSettings/.test(answer.body)) return { state: 'allowed' }
  return { state: 'unknown', reason: 'unknown: the Metadata API returned no OauthOidcSettings' }
}
