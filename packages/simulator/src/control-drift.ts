import { randomBytes } from 'node:crypto'
import type { SimContext } from './context.ts'
import { newSalesforceId, randomBase62 } from './ids.ts'
import { refreshSandbox } from './org-drift.ts'
import type { SimConnectedAppState, SimOrgState, Simulator } from './types.ts'

/**
 * Control routes for org drift and staged consumer credentials (what an admin does in Setup), under
 * /_sim/ on the login listener:
 *
 *   PATCH /_sim/orgs/KEY {apiAccessControl, blockOAuthUnPwFlow, jwtAudienceIsHost}       org switches
 *   PATCH /_sim/orgs/KEY/apps/CLIENT_ID {installed, consumerSecretsViaRestApi, packaged, apiAccessAllowed}
 *   POST  /_sim/orgs/KEY/refresh {uninstallApps?, orgId?}    a sandbox refresh: new org id, sessions gone
 *   POST  /_sim/orgs/KEY/my-domain {redirect?}               a My Domain change: a new host; the previous one redirects (307) unless redirect: false
 *   DELETE /_sim/orgs/KEY/my-domain/previous                 Setup > My Domain > Redirections off: the previous host is no longer the org's
 *   POST  /_sim/orgs/KEY/apps/CLIENT_ID/staged               Setup: stage a new consumer key and secret (answered once)
 *   POST  /_sim/orgs/KEY/apps/CLIENT_ID/staged/promote       Setup: make the staged pair primary (the old one stays, rotated)
 *   DELETE /_sim/orgs/KEY/apps/CLIENT_ID/staged/rotated      Setup: delete the former primary
 *   GET   /_sim/orgs/KEY/apps/CLIENT_ID/credentials          the valid keys and states (never a secret)
 */

type Json = Record<string, unknown>

export class DriftControlError extends Error {
  readonly status: number
  constructor (status: number, message: string) {
    super(message)
    this.status = status
  }
}

const ORG_SWITCHES = ['apiAccessControl', 'blockOAuthUnPwFlow', 'jwtAudienceIsHost'] as const
const APP_SWITCHES = ['installed', 'consumerSecretsViaRestApi', 'packaged', 'apiAccessAllowed'] as const

function booleans<K extends string> (target: Record<K, unknown>, body: Json, names: readonly K[]): void {
  for (const name of names) {
    if (!(name in body)) continue
    if (typeof body[name] !== 'boolean') throw new DriftControlError(400, `'${name}' must be a boolean`)
    target[name] = body[name]
  }
}

/** The switches of this file inside PATCH /_sim/orgs/KEY (called by the org patch). */
export function patchOrgDrift (org: SimOrgState, body: Json): void {
  booleans(org as unknown as Record<string, unknown>, body, ORG_SWITCHES)
}

/** The switches of this file inside PATCH/PUT /_sim/orgs/KEY/apps/ID (called by the app patch). */
export function patchAppDrift (app: SimConnectedAppState, body: Json): void {
  booleans(app as unknown as Record<string, unknown>, body, APP_SWITCHES)
}

export function appDriftView (app: SimConnectedAppState): Json {
  return {
    installed: app.installed,
    appId: app.appId,
    consumerId: app.consumerId,
    consumerKey: app.consumerKey,
    consumerSecretsViaRestApi: app.consumerSecretsViaRestApi,
    packaged: app.packaged,
    apiAccessAllowed: app.apiAccessAllowed,
    stagedCredentials: app.stagedCredentials.map(c => ({ id: c.id, key: c.key, state: c.state })),
  }
}

export function orgDriftView (org: SimOrgState): Json {
  return { apiAccessControl: org.apiAccessControl, blockOAuthUnPwFlow: org.blockOAuthUnPwFlow, jwtAudienceIsHost: org.jwtAudienceIsHost }
}

function appOrThrow (org: SimOrgState, clientId: string): SimConnectedAppState {
  const app = org.connectedApps.get(clientId)
  if (!app) throw new DriftControlError(404, `unknown connected app '${clientId}' in org '${org.key}'`)
  return app
}

/**
 * The routes above; undefined when the path is not one of them. `org` resolves an org key (404 when
 * unknown), `body` reads the JSON body.
 */
export async function routeDriftControl (ctx: SimContext, sim: Pick<Simulator, 'changeMyDomain' | 'stopMyDomainRedirect'>, method: string, parts: string[], org: (key: string) => SimOrgState, body: () => Promise<Json>): Promise<Json | undefined> {
  const at = (pattern: string, verb: string): boolean =>
    verb === method && pattern.split('/').length === parts.length &&
    pattern.split('/').every((p, i) => p.startsWith(':') || p === parts[i])

  if (at('orgs/:key/refresh', 'POST')) {
    const target = org(parts[1])
    const b = await body()
    if ('orgId' in b && typeof b.orgId !== 'string') throw new DriftControlError(400, "'orgId' must be a string")
    refreshSandbox(ctx, target, { uninstallApps: b.uninstallApps === true, orgId: b.orgId as string | undefined })
    return { ok: true, orgId: target.orgId }
  }
  if (at('orgs/:key/my-domain', 'POST')) {
    const target = org(parts[1])
    const b = await body()
    if ('redirect' in b && typeof b.redirect !== 'boolean') throw new DriftControlError(400, "'redirect' must be a boolean")
    const previous = ctx.myDomainUrls.get(target.key)
    const myDomainUrl = await sim.changeMyDomain(target.key, { redirect: b.redirect !== false })
    return { ok: true, myDomainUrl, previous, redirect: b.redirect !== false }
  }
  if (at('orgs/:key/my-domain/previous', 'DELETE')) {
    sim.stopMyDomainRedirect(org(parts[1]).key)
    return { ok: true }
  }
  if (at('orgs/:key/apps/:clientId/credentials', 'GET')) return appDriftView(appOrThrow(org(parts[1]), parts[3]))
  if (at('orgs/:key/apps/:clientId/staged', 'POST')) {
    const app = appOrThrow(org(parts[1]), parts[3])
    if (app.stagedCredentials.some(c => c.state === 'active')) throw new DriftControlError(400, 'the app already has staged consumer details: promote or delete them first')
    const staged = { id: newSalesforceId('0Hs'), key: `3MVG9${randomBase62(80)}`, secret: randomBytes(32).toString('hex').toUpperCase(), state: 'active' as const }
    app.stagedCredentials.push(staged)
    // Setup shows the new consumer secret once, like "Manage Consumer Details"
    return { id: staged.id, consumerKey: staged.key, consumerSecret: staged.secret }
  }
  if (at('orgs/:key/apps/:clientId/staged/promote', 'POST')) {
    const app = appOrThrow(org(parts[1]), parts[3])
    const staged = app.stagedCredentials.find(c => c.state === 'active')
    if (!staged) throw new DriftControlError(400, 'nothing staged to promote')
    const former = { id: staged.id, key: app.consumerKey, secret: app.clientSecret, state: 'rotated' as const }
    app.consumerKey = staged.key
    app.clientSecret = staged.secret
    app.stagedCredentials = app.stagedCredentials.map(c => c === staged ? former : c)
    return appDriftView(app)
  }
  if (at('orgs/:key/apps/:clientId/staged/rotated', 'DELETE')) {
    const app = appOrThrow(org(parts[1]), parts[3])
    app.stagedCredentials = app.stagedCredentials.filter(c => c.state !== 'rotated')
    return appDriftView(app)
  }
  return undefined
}
