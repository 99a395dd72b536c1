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
 * The assertion's default `aud`: the origin of the host it is posted to. Salesforce Help ("OAuth 2.0
 * JWT Bearer Flow for Server-to-Server Integration", remoteaccess_oauth_jwt_flow) names
 * https://login.salesforce.com and https://test.salesforce.com; since legacy redirects ended
 * (Spring '26) External Client Apps refuse an aud that is not the host the assertion is posted to
 * ("audience is invalid"), and the org's My Domain as both host and aud works for connected apps
 * and External Client Apps alike (simstudioai/sim #6508 met the refusal and moved to it). So:
 *  - login.salesforce.com / test.salesforce.com: themselves;
 *  - a My Domain (acme.my.salesforce.com, acme--uat.sandbox.my.salesforce.com): its origin;
 *  - another Salesforce host (an instance host such as na1.salesforce.com, a legacy host): the
 *    generic audience of its kind, production or sandbox, as before — health warns about such hosts;
 *  - an allow-listed non-Salesforce host (the simulator): its origin, the same rule. A proxy in
 *    front of Salesforce must name the real audience in the connection's jwtAudience.
 */
export function jwtAudience (loginUrl: string): string {
  const url = new URL(loginUrl)
  const host = url.hostname.toLowerCase()
  if (host === 'login.salesforce.com' || host === 'test.salesforce.com') return `https://${host}`
  if (!isSalesforceHostname(host) || MY_DOMAIN_HOST.test(host)) return url.origin
  const firstLabel = host.split('.')[0]
  // pre-enhanced-domains sandbox host names: mydomain--sandboxname.… , csNN instances
  const sandbox = firstLabel.includes('--') || /^cs\d+$/.test(firstLabel)
  return sandbox ? 'https://test.salesforce.com' : 'https://login.salesforce.com'
}

/** acme.my.salesforce.com, acme--uat.sandbox.my.salesforce.com, acme.cs42.my.salesforce.com (legacy instanced My Domain) */
const MY_DOMAIN_HOST = /\.my\.salesforce\.com$/

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
