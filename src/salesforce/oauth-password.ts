/** OAuth 2.0 username-password flow: the connected app's key and secret plus the user's password and security token. */
import { requestToken, type FlowContext } from './oauth-token.ts'
import type { LoginOutcome } from './types.ts'

export interface OAuthPasswordCredentials {
  loginUrl: string
  clientId: string
  clientSecret: string
  username: string
  password: string
  securityToken?: string
}

export function oauthPasswordLogin (c: OAuthPasswordCredentials, ctx: FlowContext): Promise<LoginOutcome> {
  return requestToken(c.loginUrl, 'oauth_password', {
    grant_type: 'password',
    client_id: c.clientId,
    client_secret: c.clientSecret,
    username: c.username,
    // Salesforce wants the token appended; empty when the broker's IPs are trusted ranges
    password: c.password + (c.securityToken ?? ''),
  }, ctx)
}
