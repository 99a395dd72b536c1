/** OAuth 2.0 client credentials flow: the connected app's key and secret; the app's Run As user is who logs in. */
import { classifiedFailure } from './classify.ts'
import { requestToken, type FlowContext } from './oauth-token.ts'
import type { LoginOutcome } from './types.ts'

export interface ClientCredentials {
  loginUrl: string
  clientId: string
  clientSecret: string
}

/** Salesforce serves client_credentials only on My Domain hosts; these generic hosts refuse it. */
const GENERIC_LOGIN_HOSTS = new Set(['login.salesforce.com', 'test.salesforce.com'])

export function isGenericLoginHost (loginUrl: string): boolean {
  return GENERIC_LOGIN_HOSTS.has(new URL(loginUrl).hostname)
}

export async function clientCredentialsLogin (c: ClientCredentials, ctx: FlowContext): Promise<LoginOutcome> {
  // Known to fail ("request not supported on this domain"): say so without sending the secret anywhere.
  if (isGenericLoginHost(c.loginUrl)) {
    return {
      ok: false,
      failure: classifiedFailure('flow_not_enabled', {
        message: `the client credentials flow is not served by ${new URL(c.loginUrl).hostname}; it needs the org's My Domain`,
        flow: 'client_credentials',
        hint: 'Set the connection\'s login URL to the org\'s My Domain (https://<domain>.my.salesforce.com, or ' +
          'https://<domain>.sandbox.my.salesforce.com for a sandbox): Salesforce answers the client credentials flow only there.',
      }),
    }
  }
  return requestToken(c.loginUrl, 'client_credentials', {
    grant_type: 'client_credentials',
    client_id: c.clientId,
    client_secret: c.clientSecret,
  }, ctx)
}
