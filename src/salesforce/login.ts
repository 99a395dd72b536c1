/**
 * One Salesforce login for a connection definition, whatever its flow. Never throws for anything
 * Salesforce, the network or the definition can do wrong: every failure comes back classified,
 * so callers decide between retrying, re-logging in and opening the lockout circuit.
 */
import type { Logger } from 'pino'
import { classifiedFailure } from './classify.ts'
import { clientCredentialsLogin } from './client-credentials.ts'
import { retiredFlowFailure as withRetirementHint, type FlowSunsetTable } from './flow-sunset.ts'
import { missingFieldsForFlow, type RequiredField } from './flow-requirements.ts'
import { deadlineIn } from './http.ts'
import { jwtBearerLogin, pemSigner, type JwtSigner } from './jwt-bearer.ts'
import { loginUrlRejection, type LoginUrlPolicy } from './login-url.ts'
import { oauthPasswordLogin } from './oauth-password.ts'
import type { FlowContext } from './oauth-token.ts'
import { createScrubber, definitionSecrets, scrubFailure, unsentSecrets } from './scrub.ts'
import { soapLogin } from './soap-login.ts'
import { INTERNAL_LOGIN_ERROR, type ClassifiedFailure, type ConnectionDefinition, type LoginOutcome } from './types.ts'

export interface LoginOptions {
  /** budget for the whole login, every request included */
  timeoutMs: number
  allowedLoginHosts: LoginUrlPolicy
  logger?: Logger
  /** the announced ends of flows: after one, a refusal of that flow says the retirement is the likely cause */
  flowSunsets?: FlowSunsetTable
  /** the clock the sunset dates are compared with */
  now?: () => number
  /** signs with a key held in Vault's Transit engine (JWT_KEY_CUSTODY=vault-transit): the definition names the key, never holds it */
  transitSigner?: (keyName: string) => JwtSigner
}

export async function login (def: ConnectionDefinition, opts: LoginOptions): Promise<LoginOutcome> {
  const started = Date.now()
  let outcome: LoginOutcome
  const sent: string[] = []
  try {
    outcome = await loginOnce(def, opts, sent)
  } catch (error) {
    // a bug here must not look like a network problem (that would be retried): report it as unknown
    opts.logger?.error({ flow: def.flow, err: { name: (error as Error)?.name } }, 'salesforce login raised unexpectedly')
    outcome = { ok: false, failure: classifiedFailure('unknown', { message: INTERNAL_LOGIN_ERROR, flow: def.flow }) }
  }
  // every text that came back from upstream loses the definition's secrets, in every encoding, here:
  // callers (sessions, admin, health, logs) cannot forget it
  if (!outcome.ok) outcome = { ok: false, failure: scrubFailure(outcome.failure, createScrubber([...definitionSecrets(def), ...sent], unsentSecrets(def))) }
  if (!outcome.ok) outcome = { ok: false, failure: withRetirementHint(outcome.failure, opts.flowSunsets?.get(def.flow), (opts.now ?? Date.now)()) }
  opts.logger?.debug({
    flow: def.flow,
    loginHost: safeOrigin(def.loginUrl),
    ms: Date.now() - started,
    outcome: outcome.ok ? 'ok' : outcome.failure.classification,
    ...(outcome.ok ? {} : { sfCode: outcome.failure.sfCode, httpStatus: outcome.failure.httpStatus }),
  }, 'salesforce login attempt')
  return outcome
}

async function loginOnce (def: ConnectionDefinition, opts: LoginOptions, sent: string[]): Promise<LoginOutcome> {
  const rejection = loginUrlRejection(def.loginUrl, opts.allowedLoginHosts)
  if (rejection !== undefined) {
    return {
      ok: false,
      failure: classifiedFailure('unknown', {
        message: rejection,
        flow: def.flow,
        hint: 'Nothing was sent. Set the connection\'s login URL to https://login.salesforce.com, https://test.salesforce.com or the ' +
          'org\'s My Domain (https://<domain>.my.salesforce.com); other hosts must be listed in LOGIN_URL_ALLOWLIST.',
      }),
    }
  }
  const missing = missingField(def)
  if (missing !== undefined) return { ok: false, failure: missing }

  const ctx: FlowContext = { policy: opts.allowedLoginHosts, remainingMs: deadlineIn(opts.timeoutMs), timeoutMs: opts.timeoutMs, sent }
  const loginUrl = def.loginUrl
  switch (def.flow) {
    case 'soap':
      return soapLogin({ loginUrl, apiVersion: def.apiVersion, username: def.username!, password: def.password!, securityToken: def.securityToken }, ctx)
    case 'oauth_password':
      return oauthPasswordLogin({ loginUrl, clientId: def.clientId!, clientSecret: def.clientSecret!, username: def.username!, password: def.password!, securityToken: def.securityToken }, ctx)
    case 'jwt_bearer':
      return jwtBearerLogin({ loginUrl, clientId: def.clientId!, username: def.username!, ...(def.jwtAudience ? { audience: def.jwtAudience } : {}), sign: jwtSigner(def, opts) }, ctx)
    case 'client_credentials':
      return clientCredentialsLogin({ loginUrl, clientId: def.clientId!, clientSecret: def.clientSecret! }, ctx)
    default:
      return { ok: false, failure: classifiedFailure('unknown', { message: `unknown login flow "${String((def as { flow: unknown }).flow)}"` }) }
  }
}

/** The key that signs: in Vault Transit when the definition names one, else the stored PEM. */
function jwtSigner (def: ConnectionDefinition, opts: LoginOptions): JwtSigner | undefined {
  if (def.transitKey) {
    const signer = opts.transitSigner
    if (signer === undefined) return async () => { throw new Error(`the key is in Vault Transit ("${def.transitKey}") but this broker has no Transit signer (JWT_KEY_CUSTODY=vault-transit with SECRET_STORE=vault)`) }
    return signer(def.transitKey)
  }
  return pemSigner(def.privateKey!)
}

const MISSING_CLASSIFICATION: Record<RequiredField, ClassifiedFailure['classification']> = {
  username: 'invalid_credentials',
  password: 'invalid_credentials',
  clientId: 'invalid_client',
  clientSecret: 'invalid_client',
  privateKey: 'invalid_assertion',
}

/** A definition without a field its flow needs cannot log in: say which, send nothing. */
function missingField (def: ConnectionDefinition): ClassifiedFailure | undefined {
  const [field] = missingFieldsForFlow(def)
  if (field === undefined) return undefined
  return classifiedFailure(MISSING_CLASSIFICATION[field], {
    message: `the connection definition has no ${field}, which the ${def.flow} flow needs`,
    flow: def.flow,
    hint: `Nothing was sent to Salesforce. Store the connection again with its ${field}.`,
  })
}

function safeOrigin (url: string): string | undefined {
  try {
    return new URL(url).origin
  } catch {
    return undefined
  }
}
