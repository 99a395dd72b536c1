import { X509Certificate, createHash, createPublicKey } from 'node:crypto'
import { createAppState } from './org-state.ts'
import type { SimConnectedAppState, SimOrgState } from './types.ts'
import { appDriftView, patchAppDrift } from './control-drift.ts'

/**
 * Connected apps (and External Client Apps, which the simulator does not tell apart) through the
 * control API: what an admin does in Setup before a JWT bearer login can work — upload the
 * certificate ("Use digital signatures"), choose "Admin approved users are pre-authorized", assign
 * the app to the integration user. The consumer secret and the certificate's key never come back.
 */

type Json = Record<string, unknown>

export class AppControlError extends Error {
  readonly status: number
  constructor (status: number, message: string) {
    super(message)
    this.status = status
  }
}

/** What the certificate is, without the PEM: enough for a test or an admin to compare it with theirs. */
function certificateView (pem: string | undefined): Json | null {
  if (pem === undefined) return null
  if (pem.includes('BEGIN CERTIFICATE')) {
    const cert = new X509Certificate(pem)
    return { kind: 'x509', subject: cert.subject, validTo: new Date(cert.validTo).toISOString(), fingerprint256: cert.fingerprint256 }
  }
  const spki = createPublicKey(pem).export({ type: 'spki', format: 'der' })
  const hex = createHash('sha256').update(spki).digest('hex').toUpperCase()
  return { kind: 'public_key', fingerprint256: hex.match(/../g)!.join(':') }
}

export function appView (app: SimConnectedAppState): Json {
  return {
    clientId: app.clientId,
    permittedUsers: app.permittedUsers,
    preAuthorizedUsernames: app.preAuthorizedUsernames,
    userApprovedUsernames: app.userApprovedUsernames ?? null,
    clientCredentialsUser: app.clientCredentialsUser ?? null,
    certificate: certificateView(app.certificatePem),
    ...appDriftView(app),
  }
}

/** An X.509 certificate PEM (what Salesforce takes) or an SPKI public key PEM (what generateTestKeyPair gives). */
function checkedCertificate (value: unknown): string {
  if (typeof value !== 'string') throw new AppControlError(400, "'certificatePem' must be a PEM string")
  try {
    if (value.includes('BEGIN CERTIFICATE')) new X509Certificate(value) // eslint-disable-line no-new
    else if (createPublicKey(value).asymmetricKeyType !== 'rsa') throw new Error('not RSA')
  } catch {
    throw new AppControlError(400, "'certificatePem' is not an RSA X.509 certificate or public key PEM")
  }
  return value
}

function names (body: Json, field: string): string[] | undefined {
  if (!(field in body)) return undefined
  const value = body[field]
  if (!Array.isArray(value) || !value.every(v => typeof v === 'string')) throw new AppControlError(400, `'${field}' must be an array of strings`)
  return value
}

function patchApp (app: SimConnectedAppState, body: Json): void {
  patchAppDrift(app, body)
  if ('clientSecret' in body) {
    if (typeof body.clientSecret !== 'string' || body.clientSecret === '') throw new AppControlError(400, "'clientSecret' must be a non-empty string")
    app.clientSecret = body.clientSecret
  }
  if ('permittedUsers' in body) {
    if (body.permittedUsers !== 'all' && body.permittedUsers !== 'admin_approved') throw new AppControlError(400, "'permittedUsers' must be 'all' or 'admin_approved'")
    app.permittedUsers = body.permittedUsers
  }
  if ('certificatePem' in body) app.certificatePem = body.certificatePem === null ? undefined : checkedCertificate(body.certificatePem)
  const pre = names(body, 'preAuthorizedUsernames')
  if (pre) app.preAuthorizedUsernames = pre
  if ('userApprovedUsernames' in body) app.userApprovedUsernames = body.userApprovedUsernames === null ? undefined : names(body, 'userApprovedUsernames')
  if ('clientCredentialsUser' in body) {
    const runAs = body.clientCredentialsUser
    if (runAs !== null && typeof runAs !== 'string') throw new AppControlError(400, "'clientCredentialsUser' must be a username or null")
    app.clientCredentialsUser = runAs ?? undefined
  }
}

function appOrThrow (org: SimOrgState, clientId: string): SimConnectedAppState {
  const app = org.connectedApps.get(clientId)
  if (!app) throw new AppControlError(404, `unknown connected app '${clientId}' in org '${org.key}'`)
  return app
}

/** PUT: create the app (a new connected app or External Client App) or change it. */
export function putApp (org: SimOrgState, clientId: string, body: Json): Json {
  let app = org.connectedApps.get(clientId)
  if (!app) {
    if (typeof body.clientSecret !== 'string' || body.clientSecret === '') throw new AppControlError(400, "'clientSecret' is required to create an app")
    app = createAppState({ clientId, clientSecret: body.clientSecret })
    org.connectedApps.set(clientId, app)
  }
  patchApp(app, body)
  return appView(app)
}

export function patchExistingApp (org: SimOrgState, clientId: string, body: Json): Json {
  const app = appOrThrow(org, clientId)
  patchApp(app, body)
  return appView(app)
}

/**
 * "Use digital signatures": the certificate whose key signs the JWT bearer assertions. An app has one
 * certificate field (Salesforce Help "Configure a JWT Bearer Flow", external client apps: "Enable JWT
 * Bearer Flow", then "Upload Files" with the X.509 certificate; connected apps: "Use digital
 * signatures"), so an upload replaces the previous certificate and its key stops logging in at once.
 */
export function uploadCertificate (org: SimOrgState, clientId: string, body: Json): Json {
  const app = appOrThrow(org, clientId)
  app.certificatePem = checkedCertificate(body.certificatePem)
  return appView(app)
}

/** The app assigned to the user's profile or a permission set (pre-authorized), or unassigned. */
export function setPreAuthorized (org: SimOrgState, clientId: string, username: string, authorized: boolean): Json {
  const app = appOrThrow(org, clientId)
  const others = app.preAuthorizedUsernames.filter(u => u.toLowerCase() !== username.toLowerCase())
  app.preAuthorizedUsernames = authorized ? [...others, username] : others
  return appView(app)
}
