/**
 * OAuth 2.0 JWT bearer flow: an RS256 assertion signed with the key whose certificate is uploaded
 * to the connected app. The assertion lives 3 minutes (Salesforce's maximum). The flow takes a
 * signer, not a key: a PEM held by the broker (PKCS#1 or PKCS#8, through node:crypto) signs in
 * this process, a key in Vault's Transit engine signs there and never reaches the broker.
 */
import { createPrivateKey, sign, type KeyObject } from 'node:crypto'
import { classifiedFailure } from './classify.ts'
import { isSalesforceHostname } from './login-url.ts'
import { requestToken, type FlowContext } from './oauth-token.ts'
import type { LoginOutcome } from './types.ts'

/** RS256: signs the assertion's signing input (header.claims) with RSASSA-PKCS1-v1_5 over SHA-256; the raw signature. */
export type JwtSigner = (signingInput: Buffer) => Promise<Buffer>

export interface JwtBearerCredentials {
  loginUrl: string
  clientId: string
  username: string
  /** the assertion's aud when the connection names one (its My Domain origin); default jwtAudience(loginUrl) */
  audience?: string
  /** undefined: the stored key could not be read (answered as invalid_assertion, nothing sent) */
  sign: JwtSigner | undefined
}

export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
export const ASSERTION_LIFETIME_SECONDS = 180

/**
 * Salesforce checks `aud` against its authorization server, not the host the assertion is posted
 * to: https://login.salesforce.com for production (also through My Domain) and
 * https://test.salesforce.com for sandboxes — the only two it documents (OAuth 2.0 JWT Bearer Flow
 * for Server-to-Server Integration). An allow-listed non-Salesforce host (a proxy, the simulator)
 * gets the production audience too.
 */
export function jwtAudience (loginUrl: string): string {
  const host = new URL(loginUrl).hostname
  if (!isSalesforceHostname(host)) return 'https://login.salesforce.com'
  const firstLabel = host.split('.')[0]
  const sandbox = host === 'test.salesforce.com' ||
    host.endsWith('.sandbox.my.salesforce.com') ||
    // pre-enhanced-domains sandbox My Domain: mydomain--sandboxname.my.salesforce.com / .cs42.my.salesforce.com
    (host.endsWith('.my.salesforce.com') && firstLabel.includes('--'))
  return sandbox ? 'https://test.salesforce.com' : 'https://login.salesforce.com'
}

export function readPrivateKey (pem: string): KeyObject | undefined {
  try {
    const key = createPrivateKey(pem)
    return key.asymmetricKeyType === 'rsa' ? key : undefined
  } catch {
    return undefined
  }
}

/** A signer over a PEM private key held by the broker; undefined when the PEM is not a readable RSA key. */
export function pemSigner (pem: string): JwtSigner | undefined {
  const key = readPrivateKey(pem)
  if (key === undefined) return undefined
  return async (input: Buffer) => keySign(key, input)
}

function keySign (key: KeyObject, input: Buffer): Buffer {
  return sign('sha256', input, key)
}

export async function buildAssertion (claims: { iss: string, sub: string, aud: string, exp: number }, signer: JwtSigner): Promise<string> {
  const encode = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url')
  const signingInput = `${encode({ alg: 'RS256' })}.${encode(claims)}`
  const signature = (await signer(Buffer.from(signingInput))).toString('base64url')
  return `${signingInput}.${signature}`
}

export async function jwtBearerLogin (c: JwtBearerCredentials, ctx: FlowContext, now: () => number = Date.now): Promise<LoginOutcome> {
  if (c.sign === undefined) {
    return {
      ok: false,
      failure: classifiedFailure('invalid_assertion', {
        message: 'the stored private key is not a readable PEM RSA private key (PKCS#8 or PKCS#1)',
        flow: 'jwt_bearer',
        hint: 'Store the PEM RSA private key whose certificate is uploaded to the connected app ("Use digital signatures"); ' +
          'encrypted keys are not supported.',
      }),
    }
  }
  let assertion: string
  try {
    assertion = await buildAssertion({
      iss: c.clientId,
      sub: c.username,
      aud: c.audience ?? jwtAudience(c.loginUrl),
      exp: Math.floor(now() / 1000) + ASSERTION_LIFETIME_SECONDS,
    }, c.sign)
  } catch (err) {
    // the key's custodian (Vault Transit) did not sign: nothing reached Salesforce, nothing counts against the user
    return {
      ok: false,
      failure: classifiedFailure('unknown', {
        message: `the assertion could not be signed: ${(err as Error)?.message ?? 'signer failed'}`,
        flow: 'jwt_bearer',
        retryable: true,
        hint: 'Nothing was sent to Salesforce. Check that Vault is reachable and that the broker\'s policy allows update on transit/sign/<key> (README: "Key custody").',
      }),
    }
  }
  // a signed assertion logs in as the user until it expires: as secret as the key while it lives
  ctx.sent.push(assertion)
  return requestToken(c.loginUrl, 'jwt_bearer', { grant_type: JWT_BEARER_GRANT, assertion }, ctx)
}
