import { Type, type Static } from 'typebox'
import type { ConnectionDefinition, SalesforceSession } from '../salesforce/types.ts'
import type { Documents } from '../shared-state/shared-state.ts'
import { orgIdentityDoc } from '../shared-state/state-names.ts'
import type { Verdict } from './dated-warning.ts'
import type { UnpwFlowRead } from './health-result.ts'

/**
 * Org drift as health shows it (admin view): what 2025–26 platform changes make of a connection
 * that still works today, and what changed behind it since it was stored.
 *  - generic_login_host: a JWT bearer connection stored with login.salesforce.com / test.salesforce.com.
 *    External Client Apps bind the assertion's aud to the host it is posted to since legacy redirects
 *    ended (Spring '26), and MyDomainSettings.doesApiLoginRequireOrgDomain can refuse generic hosts:
 *    use the org's My Domain for both.
 *  - instanced_host: an instance host (na123.salesforce.com, acme.cs42.my.salesforce.com) stored as the
 *    login URL: Summer '26 ends redirects of incorrect instanced URLs in API calls.
 *  - org_changed: the Organization ID behind the connection changed (a sandbox refresh makes a new org
 *    on the same My Domain): apps, certificates and consumer secrets made after the sandbox's copy may
 *    be gone.
 *  - my_domain_changed: the same org now answers at another instance URL (a My Domain change).
 *  - username_password_flow_blocked: the org blocks the OAuth username-password flow
 *    (OauthOidcSettings.blockOAuthUnPwFlow) — read where the integration user may.
 */
export const DRIFT_KINDS = ['generic_login_host', 'instanced_host', 'org_changed', 'my_domain_changed', 'username_password_flow_blocked'] as const
export type DriftKind = typeof DRIFT_KINDS[number]

export const DriftWarningSchema = Type.Object({
  kind: Type.Enum(DRIFT_KINDS),
  message: Type.String(),
  hint: Type.String({ description: 'What to redo, in Salesforce Setup terms' }),
}, { additionalProperties: false })
export type DriftWarning = Static<typeof DriftWarningSchema>

const GENERIC_HOSTS = new Set(['login.salesforce.com', 'test.salesforce.com'])
/** na1.salesforce.com, cs42.salesforce.com, eu5-s.salesforce.com; acme.cs42.my.salesforce.com (legacy instanced My Domain) */
const INSTANCE_HOST = /^(?:[a-z]{2,3}\d+(?:-s)?\.salesforce\.com|[a-z0-9-]+\.[a-z]{2,3}\d+\.my\.salesforce\.com)$/

/** What the stored definition alone says. */
export function definitionDrift (d: ConnectionDefinition): DriftWarning[] {
  const host = hostOf(d.loginUrl)
  const out: DriftWarning[] = []
  if (d.flow === 'jwt_bearer' && GENERIC_HOSTS.has(host)) {
    out.push({
      kind: 'generic_login_host',
      message: `this JWT bearer connection logs in at ${host}, a generic login host`,
      hint: 'Store the org\'s My Domain as loginUrl (https://<domain>.my.salesforce.com); the assertion\'s aud then defaults to the same origin (leave jwtAudience unset): ' +
        'External Client Apps refuse an aud that is not the host the assertion is posted to ("audience is invalid"), and orgs may require the org domain for API logins.',
    })
  }
  if (INSTANCE_HOST.test(host)) {
    out.push({
      kind: 'instanced_host',
      message: `the login URL ${host} is an instance host`,
      hint: 'Salesforce stops redirecting incorrect instanced URLs in API calls (Summer \'26): store the org\'s My Domain (Setup > My Domain) as loginUrl; ' +
        'the broker uses the instance_url each login returns for everything else.',
    })
  }
  return out
}

/** Who answered the last login: the org and the instance URL. */
export interface OrgIdentity {
  orgId: string
  instanceOrigin: string
  /** the connection version that logged in */
  secretVersion: number
  /** set while the org or its domain differs from what the connection first logged into */
  changed?: { kind: 'org_changed' | 'my_domain_changed', fromOrgId: string, fromOrigin: string, at: number }
}

const IDENTITY_TTL_MS = 400 * 86_400_000

/**
 * Compares the org behind the connection's session with the one recorded. A change is kept until the
 * connection is written again (a new version: the admin redid what the change asked for).
 */
export async function observeOrgIdentity (state: Documents, name: string, version: number, session: Pick<SalesforceSession, 'orgId' | 'instanceUrl'>, known: OrgIdentity | null): Promise<OrgIdentity> {
  const seen = { orgId: session.orgId, instanceOrigin: originOf(session.instanceUrl) }
  let next: OrgIdentity
  if (!known || known.secretVersion !== version) {
    // first sight, or the connection was written since: what answers now is the connection's org
    next = { ...seen, secretVersion: version }
  } else if (differs(known, seen)) {
    next = {
      ...seen,
      secretVersion: version,
      changed: known.changed ?? { kind: known.orgId !== seen.orgId ? 'org_changed' : 'my_domain_changed', fromOrgId: known.orgId, fromOrigin: known.instanceOrigin, at: Date.now() },
    }
  } else {
    return known
  }
  await state.putJson(orgIdentityDoc(name), next, IDENTITY_TTL_MS)
  return next
}

export function identityDrift (identity: OrgIdentity | null, version: number): DriftWarning[] {
  const changed = identity?.secretVersion === version ? identity.changed : undefined
  if (!changed || !identity) return []
  if (changed.kind === 'org_changed') {
    return [{
      kind: 'org_changed',
      message: `the org behind this connection changed: Organization ID ${changed.fromOrgId} before, ${identity.orgId} now (a sandbox refresh makes a new org)`,
      hint: 'Redo in the refreshed org what its copy may lack: install or recreate the External Client App or connected app (Setup > External Client App Manager), ' +
        'upload the JWT certificate again, store the app\'s consumer key and secret again (they can differ after a refresh), pre-authorize the integration user, ' +
        'check the integration user is active with its permissions; then write the connection again (PUT, or a rotation), which clears this warning.',
    }]
  }
  return [{
    kind: 'my_domain_changed',
    message: `the same org now answers at ${identity.instanceOrigin} instead of ${changed.fromOrigin} (a My Domain change)`,
    hint: 'Store the new My Domain as loginUrl (and as jwtAudience, if the connection sets one): Salesforce redirects the old domain only until the next change or until the redirect is turned off (Setup > My Domain > Redirections). Writing the connection again clears this warning.',
  }]
}

/** What health shows of the org's username-password flow setting (oauth_password connections). */
export const UnpwFlowViewSchema = Type.Object({
  state: Type.Union([Type.Literal('blocked'), Type.Literal('allowed'), Type.Literal('unknown')], {
    description: 'OauthOidcSettings.blockOAuthUnPwFlow as the Metadata API answered it through the connection\'s session; unknown: not readable (reason)',
  }),
  readAt: Type.String({ format: 'date-time' }),
  reason: Type.Optional(Type.String({ description: 'Why it is unknown: no right to read it ("Modify Metadata Through Metadata API Functions" or "Modify All Data"), or the error' })),
}, { additionalProperties: false, description: 'The org\'s "block the username-password flow" setting (Setup > OAuth and OpenID Connect Settings), read where the integration user may' })
export type UnpwFlowView = Static<typeof UnpwFlowViewSchema>

export const UNPW_FLOW_BLOCKED_HINT = 'The org blocks the OAuth username-password flow (Setup > OAuth and OpenID Connect Settings > "Allow OAuth Username-Password Flows" is off; ' +
  'Metadata API OauthOidcSettings.blockOAuthUnPwFlow): the session in hand keeps working until it ends, then every login of this connection is refused with ' +
  '"authentication failure". Migrate the connection to jwt_bearer or client_credentials now (README "Before 2027-02-20": sfb migrate start NAME), ' +
  'or, until then, turn the setting back on.'

/** The setting as health shows it, and the drift it makes; nothing for flows it does not concern. */
export function unpwFlowDrift (flow: ConnectionDefinition['flow'], read: UnpwFlowRead | undefined): { view?: UnpwFlowView, drift: DriftWarning[] } {
  if (flow !== 'oauth_password' || !read) return { drift: [] }
  const view: UnpwFlowView = { state: read.state, readAt: new Date(read.readAt).toISOString(), ...(read.reason ? { reason: read.reason } : {}) }
  if (read.state !== 'blocked') return { view, drift: [] }
  return {
    view,
    drift: [{
      kind: 'username_password_flow_blocked',
      message: `the org blocks the OAuth username-password flow this connection logs in with (read ${view.readAt}): its next login will be refused`,
      hint: UNPW_FLOW_BLOCKED_HINT,
    }],
  }
}

/**
 * An ok connection with drift becomes warn, saying the first warning (the others are in `drift`).
 * A login refused with `authentication failure` while the org is known to block the flow says so:
 * Salesforce's answer alone names no cause. So does the failure guard's hold after such refusals,
 * keeping the guard's hint first: the admin still has to act on the count.
 */
export function driftVerdict (current: Verdict & { classification?: string }, drift: DriftWarning[]): Verdict {
  if (drift.length === 0) return current
  const blocked = drift.find(d => d.kind === 'username_password_flow_blocked')
  if (blocked && current.status === 'failing' && (current.classification === 'invalid_credentials' || current.classification === 'login_guarded')) {
    const message = `${current.message ?? 'the login was refused'} — the org blocks the OAuth username-password flow`
    const hint = current.classification === 'login_guarded' && current.hint ? `${current.hint} The likely cause: ${blocked.hint}` : blocked.hint
    return { ...current, message, hint }
  }
  // the blocked flow outranks a sunset or expiry warning: it ends the logins at the session's end, not on a date
  const first = blocked ?? drift[0]
  if (current.status === 'ok' || (blocked && current.status === 'warn')) return { ...current, status: 'warn', message: first.message, hint: first.hint }
  return current
}

function hostOf (url: string): string {
  try {
    return new URL(url).hostname.toLowerCase()
  } catch {
    return ''
  }
}

function originOf (url: string): string {
  try {
    return new URL(url).origin
  } catch {
    return url
  }
}

function differs (known: Pick<OrgIdentity, 'orgId' | 'instanceOrigin'>, seen: Pick<OrgIdentity, 'orgId' | 'instanceOrigin'>): boolean {
  return known.orgId !== seen.orgId || known.instanceOrigin !== seen.instanceOrigin
}
