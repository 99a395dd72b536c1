import type { Logger } from 'pino'
import { DomainError } from '../errors.ts'
import { isLoginUrlAllowed, type LoginUrlPolicy } from '../salesforce/index.ts'
import { isSalesforceHostname } from '../salesforce/login-url.ts'
import type { ConnectionDefinition, SalesforceSession } from '../salesforce/types.ts'
import { CasConflictError, type SecretStore, type StoredConnection } from '../secrets/store.ts'
import type { MigrationValidation, MigrationView, StartMigration, ValidateMigration } from '../schemas/migration.ts'
import type { AuditInput, AuditLog } from './audit-log.ts'
import type { LoginGate } from '../sessions/login-gate.ts'
import { refusalProblem } from '../sessions/login-refusal.ts'
import type { SessionService } from '../sessions/session-service.ts'
import type { PendingKey } from '../sessions/stored-login.ts'
import type { Documents, Leases } from '../shared-state/shared-state.ts'
import type { AdminContext, ConnectionAdmin, ConnectionMetadata } from './connection-admin.ts'
import { nextStep, type MigrationTarget } from './migration-checklist.ts'
import type { KeyCustody } from './migration-keys.ts'
import { MigrationMarks } from './migration-state.ts'
import { migrationView } from './migration-view.ts'
import { originOf } from './secret-destination.ts'
import { unconfirmedPurge } from './fleet-pending.ts'
import { distinctSessions } from '../sessions/distinct-sessions.ts'
import { refusalAuditOutcome, storeFailure, validationAuditOutcome } from './validation-audit.ts'

export interface MigrationServiceOptions {
  /** the connections (what serves) */
  store: SecretStore
  /** where pending definitions wait, encrypted like the connections (the store's `_migrations` folder); absent: no migrations */
  pending: SecretStore | undefined
  admin: ConnectionAdmin
  sessions: SessionService
  /** where a successful validation is remembered (its pending version only: nothing secret) */
  state: Documents & Leases
  /** the one door: every login a migration makes goes through it (lockout guard, login budget) */
  gate: LoginGate
  revoke: (session: SalesforceSession) => Promise<boolean>
  /** REVOKE_ON_ROTATION: the old flow's sessions are revoked at the switch */
  revokeOnRotation: boolean
  custody: KeyCustody
  loginUrlPolicy: LoginUrlPolicy
  audit: AuditLog
  logger: Logger
  certificateValidityDays: number
}

/**
 * A guided, validated, reversible move of a connection to a flow that survives Salesforce's
 * retirement of password logins (or a new key and certificate for one already on JWT bearer):
 *   start    — key and certificate made (JWT bearer), the pending definition stored beside the
 *              connection; nothing switched, the connection keeps serving;
 *   validate — one login with the pending definition through the one door; the classified answer
 *              and the next thing to fix;
 *   complete — the switch of a definition whose last validation succeeded: check-and-set on the
 *              version read, sessions purged fleet-wide; the fleet's next request makes the one
 *              login with the new flow (single flight); the old version stays for rollback;
 *   abandon  — the pending definition removed.
 */
export class MigrationService {
  private readonly opts: MigrationServiceOptions
  private readonly marks: MigrationMarks

  constructor (opts: MigrationServiceOptions) {
    this.opts = opts
    this.marks = new MigrationMarks(opts.state)
    // a deleted connection takes its pending migration with it: a new connection of that name inherits nothing
    opts.admin.beforeRemove((name) => this.forget(name))
  }

  async start (name: string, body: StartMigration, ctx: AdminContext): Promise<MigrationView> {
    const pending = this.pendingStore()
    const current = await this.mustRead(name)
    if (await pending.read(name)) {
      throw new DomainError('conflict', `a migration of "${name}" is already pending: validate and complete it, or abandon it (DELETE …/migration) first`, { connection: name })
    }
    const audit = { actor: ctx.actor, requestId: ctx.requestId, action: 'migration.start', connection: name, version: current.version, fields: [`to:${body.flow}`] }
    let definition: ConnectionDefinition
    let written: { version: number }
    try {
      definition = await this.pendingDefinition(name, current.definition, body)
      written = await pending.write(name, definition, 0)
    } catch (err) {
      if (err instanceof CasConflictError) {
        await this.opts.audit.record({ ...audit, outcome: 'conflict' })
        throw new DomainError('conflict', `a migration of "${name}" was started at the same time by someone else`, { connection: name })
      }
      // nothing pending (Vault Transit did not make the key, the store refused the entry): an admin
      // tried all the same, and the audit says so; a refused input (400) is not an attempt
      if (!(err instanceof DomainError)) await this.opts.audit.record({ ...audit, outcome: 'error', classification: storeFailure(err) })
      throw err
    }
    await this.marks.begin(name, current.version)
    await this.opts.audit.record({ ...audit, target: originOf(definition.loginUrl), outcome: 'success', fields: [`to:${definition.flow}`, ...(definition.transitKey ? ['key:vault-transit'] : definition.privateKey ? ['key:store'] : [])] })
    this.opts.logger.info({ connection: name, to: definition.flow, keyCustody: definition.flow === 'jwt_bearer' ? this.opts.custody.kind : undefined }, 'migration started')
    return migrationView(current, { name, version: written.version, createdTime: new Date().toISOString(), definition })
  }

  async get (name: string): Promise<MigrationView> {
    const current = await this.mustRead(name)
    return migrationView(current, await this.mustReadPending(name))
  }

  async certificate (name: string): Promise<string> {
    const pending = await this.mustReadPending(name)
    if (!pending.definition.certificate) throw new DomainError('not_found', `the migration of "${name}" to ${pending.definition.flow} has no certificate`, { connection: name })
    return pending.definition.certificate
  }

  async validate (name: string, body: ValidateMigration, ctx: AdminContext): Promise<MigrationValidation> {
    const current = await this.mustRead(name)
    let pending = await this.mustReadPending(name)
    const changes = Object.fromEntries(Object.entries(body ?? {}).filter(([, v]) => typeof v === 'string' && v !== ''))
    if (Object.keys(changes).length > 0) pending = await this.updatePending(name, pending, changes)
    const definition = pending.definition
    const id = await this.marks.id(name)
    const base = { actor: ctx.actor, requestId: ctx.requestId, action: 'migration.validate', connection: name, target: originOf(definition.loginUrl), version: current.version }
    const started = Date.now()
    // a candidate of the connection: the gate applies the user's budget and failure guard, not the stored secret's circuit
    const outcome = await this.opts.gate.obtain({ connection: name, definition, purpose: 'admin' })
    const latencyMs = Date.now() - started
    if ('refusal' in outcome) {
      await this.opts.audit.record({ ...base, outcome: refusalAuditOutcome(outcome.refusal), classification: `not_attempted:${outcome.refusal.kind}` })
      throw refusalProblem(outcome.refusal, name, this.opts.gate.now())
    }
    const classification = outcome.ok ? 'ok' : outcome.failure.classification
    // a validating login proves the definition; its session is not the connection's yet
    if (outcome.ok) await this.opts.revoke(outcome.session).catch(() => false)
    await this.marks.recordValidation(name, id, pending.version, outcome.ok)
    await this.opts.audit.record({ ...base, outcome: validationAuditOutcome(outcome), classification, fields: Object.keys(changes).sort() })
    const target = definition.flow as MigrationTarget
    return {
      ok: outcome.ok,
      classification,
      ...(outcome.ok ? {} : { message: outcome.failure.message, hint: outcome.failure.hint, retryable: outcome.failure.retryable }),
      latencyMs,
      nextStep: nextStep(target, classification),
      migration: migrationView(current, pending),
    }
  }

  async complete (name: string, ctx: AdminContext): Promise<{ connection: ConnectionMetadata, previousVersion: number }> {
    const current = await this.mustRead(name)
    const pending = await this.mustReadPending(name)
    const base = { actor: ctx.actor, requestId: ctx.requestId, action: 'migration.complete', connection: name, target: originOf(pending.definition.loginUrl), fromVersion: current.version }
    const id = await this.marks.knownId(name)
    const validated = id === undefined ? 'no' : await this.marks.isValidated(name, id, pending.version)
    if (id === undefined || validated !== 'yes') {
      await this.opts.audit.record({ ...base, outcome: 'rejected', classification: 'not_validated' })
      throw new DomainError('conflict', `validate the pending definition first (POST …/migration/validate): it has not logged in successfully${validated === 'changed' ? ' since it last changed' : ''}`, { connection: name })
    }
    if (ctx.ifMatch !== undefined && ctx.ifMatch !== '*' && ctx.ifMatch !== current.version) {
      await this.opts.audit.record({ ...base, outcome: 'conflict', version: current.version })
      throw new DomainError('conflict', `If-Match names version ${ctx.ifMatch} but the current version is ${current.version}`, { connection: name, currentVersion: current.version })
    }
    // the pending definition names the host, user and app of the connection as it was at the start: a
    // write since that moved the connection elsewhere would be undone by the switch (its settings are
    // carried over, not who it logs in as)
    const fromVersion = await this.marks.startedFrom(name)
    const started = fromVersion === undefined || fromVersion === current.version ? current : await this.opts.store.read(name, fromVersion)
    if (started && !sameTarget(started.definition, current.definition)) {
      await this.opts.audit.record({ ...base, outcome: 'conflict', classification: 'connection_moved', version: current.version })
      throw new DomainError('conflict', `the connection was moved to another host, user or app (version ${current.version}) after this ${pending.definition.flow === current.definition.flow ? 'rotation' : 'migration'} started from version ${fromVersion}: abandon it (DELETE) and start again`, { connection: name, currentVersion: current.version })
    }
    const { unconfirmed } = await this.switchTo(current, pending, id, base)
    const connection = await this.opts.admin.get(name)
    const notEverywhere = unconfirmedPurge(await unconfirmed)
    return { connection: notEverywhere.length > 0 ? { ...connection, pending: notEverywhere } : connection, previousVersion: current.version }
  }

  /**
   * The switch, once: the end of migration `id` claimed fleet-wide (a concurrent abandon or
   * complete gets 409), the pending definition written check-and-set on the version read,
   * sessions purged on every replica, the pending entry removed. The one write path of a
   * connection's definition: health hears of it like of any other write.
   */
  private async switchTo (current: StoredConnection, pending: StoredConnection, id: string, base: Omit<AuditInput, 'outcome'>): Promise<{ version: number, unconfirmed: Promise<string[] | null> }> {
    const name = current.name
    const claim = await this.marks.claimEnd(name, id)
    if (!claim) {
      await this.opts.audit.record({ ...base, outcome: 'conflict', classification: 'already_ending' })
      throw new DomainError('conflict', 'this migration is being completed or abandoned by another request', { connection: name })
    }
    let written: { version: number, createdTime: string }
    try {
      written = await this.opts.store.write(name, withSettingsOf(current.definition, pending.definition), current.version)
    } catch (err) {
      await claim.release()
      if (!(err instanceof CasConflictError)) {
        // nothing switched (the store sealed, unreachable, refusing the broker): an admin tried all
        // the same, and the audit says so, as for a rotation the store refused
        await this.opts.audit.record({ ...base, outcome: 'error', classification: storeFailure(err) })
        throw err
      }
      await this.opts.audit.record({ ...base, outcome: 'conflict', version: err.currentVersion })
      throw new DomainError('conflict', 'the connection changed while the switch was being made; read it again and retry', { connection: name, currentVersion: err.currentVersion })
    }
    // every replica drops the old flow's sessions and its cached secret; the next request logs in once, fleet-wide
    const { removed: purged, unconfirmed } = await this.opts.sessions.purge(name)
    // the cached sessions and every earlier one handed out, as a credentials rotation revokes them
    if (this.opts.revokeOnRotation) {
      await Promise.all(distinctSessions([...purged, ...await this.opts.sessions.takeIssued(name)]).map(s => this.opts.revoke(s).catch(() => false)))
    }
    // the entry goes before the marks: an abandon that finds no id and no entry knows the migration ended
    await this.pendingStore().remove(name)
    await this.marks.clear(name)
    await this.opts.audit.record({ classification: 'ok', ...base, outcome: 'success', version: written.version, fields: [`to:${pending.definition.flow}`] })
    this.opts.logger.info({ connection: name, from: current.definition.flow, to: pending.definition.flow, version: written.version, previousVersion: current.version }, 'migration completed')
    await this.opts.admin.announceWritten(name, written.version)
    return { version: written.version, unconfirmed }
  }

  async abandon (name: string, ctx: AdminContext): Promise<void> {
    const pending = await this.mustReadPending(name)
    let id = await this.marks.knownId(name)
    if (id === undefined) {
      // no id: the migration just ended (its entry is then gone), or the shared state lost it
      await this.mustReadPending(name)
      id = await this.marks.begin(name)
    }
    const base = { actor: ctx.actor, requestId: ctx.requestId, action: 'migration.abandon', connection: name, target: originOf(pending.definition.loginUrl), fields: [`to:${pending.definition.flow}`] }
    if (!await this.marks.claimEnd(name, id)) {
      await this.opts.audit.record({ ...base, outcome: 'conflict', classification: 'already_ending' })
      throw new DomainError('conflict', 'this migration is being completed or abandoned by another request', { connection: name })
    }
    await this.pendingStore().remove(name)
    await this.marks.clear(name)
    await this.opts.audit.record({ ...base, outcome: 'success' })
  }

  /**
   * The key of a certificate rotation pending for the connection (jwt_bearer to jwt_bearer, same
   * host, user and app: only the key differs), for the stored-login policy; one shared-state read
   * when nothing is pending.
   */
  async pendingRotation (name: string, current: ConnectionDefinition): Promise<PendingKey | undefined> {
    if (!this.opts.pending || current.flow !== 'jwt_bearer') return undefined
    const id = await this.marks.knownId(name)
    if (id === undefined) return undefined
    const pending = await this.opts.pending.read(name)
    const d = pending?.definition
    if (!pending || !d || d.flow !== 'jwt_bearer' || !sameTarget(d, current)) return undefined
    return { definition: d, complete: fromVersion => this.completeByLogin(name, id, pending, fromVersion) }
  }

  /** The pending key logged in where the current one was refused: the switch, as complete makes it; undefined when the rotation or connection moved on. */
  private async completeByLogin (name: string, id: string, pending: StoredConnection, fromVersion: number): Promise<number | undefined> {
    const current = await this.opts.store.read(name)
    if (!current || current.version !== fromVersion) return undefined
    const base = { actor: 'sf-broker', requestId: 'pending-key-login', action: 'migration.complete', connection: name, target: originOf(pending.definition.loginUrl), fromVersion, classification: 'pending_key_logged_in' }
    try {
      return (await this.switchTo(current, pending, id, base)).version
    } catch (err) {
      if (err instanceof DomainError && err.code === 'conflict') return undefined
      throw err
    }
  }

  /** The connection is being deleted: its pending migration and what was remembered of it go first. */
  private async forget (name: string): Promise<void> {
    if (!this.opts.pending) return
    await this.opts.pending.remove(name)
    await this.marks.clear(name)
  }

  /** The definition the connection will have: its settings, the new flow, and (JWT bearer) a new key. */
  private async pendingDefinition (name: string, d: ConnectionDefinition, body: StartMigration): Promise<ConnectionDefinition> {
    const settings = carriedSettings(d)
    const loginUrl = body.loginUrl ?? d.loginUrl
    this.checkLoginUrl(name, loginUrl)
    if (body.flow === 'client_credentials') {
      if (!isMyDomain(loginUrl)) {
        throw new DomainError('bad_request', 'client_credentials logs in through the org\'s My Domain only (https://<domain>.my.salesforce.com): login.salesforce.com and test.salesforce.com answer "request not supported on this domain"', {
          connection: name, errors: [{ path: 'body/loginUrl', message: 'must be the org\'s My Domain' }],
        })
      }
      return { flow: 'client_credentials', loginUrl, ...settings, ...pick(body, 'clientId', 'clientSecret') }
    }
    const username = body.username ?? d.username
    if (!username) throw new DomainError('bad_request', 'jwt_bearer logs in as a named user: give `username`', { connection: name, errors: [{ path: 'body/username', message: 'required: the connection has none' }] })
    const clientId = body.clientId ?? d.clientId
    // real time, not the flow-sunset calendar (which tests and demos may move): Salesforce checks the dates
    const issued = await this.opts.custody.issue(name, this.opts.certificateValidityDays, new Date())
    // an audience set for this host (a proxy in front of Salesforce) still holds on the same host
    const jwtAudience = d.flow === 'jwt_bearer' && loginUrl === d.loginUrl ? d.jwtAudience : undefined
    return { flow: 'jwt_bearer', loginUrl, username, ...settings, ...(clientId ? { clientId } : {}), ...(jwtAudience ? { jwtAudience } : {}), ...issued.fields, certificate: issued.certificate }
  }

  private async updatePending (name: string, pending: StoredConnection, changes: Partial<ConnectionDefinition>): Promise<StoredConnection> {
    const definition = { ...pending.definition, ...changes }
    try {
      const written = await this.pendingStore().write(name, definition, pending.version)
      return { name, version: written.version, createdTime: written.createdTime, definition }
    } catch (err) {
      if (err instanceof CasConflictError) throw new DomainError('conflict', 'the pending migration changed while this request was made; read it again and retry', { connection: name })
      throw err
    }
  }

  private checkLoginUrl (name: string, loginUrl: string): void {
    if (!isLoginUrlAllowed(loginUrl, this.opts.loginUrlPolicy)) {
      throw new DomainError('bad_request', 'loginUrl must be an https Salesforce login host (login.salesforce.com, test.salesforce.com, *.my.salesforce.com) or an allow-listed origin', {
        connection: name, errors: [{ path: 'body/loginUrl', message: 'not an allowed Salesforce login host' }],
      })
    }
  }

  private pendingStore (): SecretStore {
    if (!this.opts.pending) throw new DomainError('not_found', 'this secret store keeps no pending migrations')
    return this.opts.pending
  }

  private async mustRead (name: string): Promise<StoredConnection> {
    const stored = await this.opts.store.read(name)
    if (!stored) throw new DomainError('not_found', `no connection named "${name}"`, { connection: name })
    return stored
  }

  private async mustReadPending (name: string): Promise<StoredConnection> {
    const pending = await this.pendingStore().read(name)
    if (!pending) throw new DomainError('not_found', `no migration of "${name}" is pending: start one with POST …/migration`, { connection: name })
    return pending
  }
}

/** A Salesforce host must be a My Domain; another allow-listed host (a proxy, the simulator) is taken as one. */
export function isMyDomain (loginUrl: string): boolean {
  const host = new URL(loginUrl).hostname.toLowerCase()
  if (!isSalesforceHostname(host)) return true
  return host.endsWith('.my.salesforce.com')
}

function sameTarget (a: ConnectionDefinition, b: ConnectionDefinition): boolean {
  return originOf(a.loginUrl) === originOf(b.loginUrl) && (a.username ?? '').toLowerCase() === (b.username ?? '').toLowerCase() && a.clientId === b.clientId
}

function pick<T extends object, K extends keyof T> (source: T, ...keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {}
  for (const k of keys) if (source[k] !== undefined) out[k] = source[k]
  return out
}

/** The settings a migration carries over to the new definition; none of them changes how a login is made. */
function carriedSettings (d: ConnectionDefinition): Pick<ConnectionDefinition, 'apiVersion' | 'sessionTimeoutSeconds' | 'requiredPermissions' | 'auditSessions'> {
  return {
    apiVersion: d.apiVersion,
    sessionTimeoutSeconds: d.sessionTimeoutSeconds,
    ...(d.requiredPermissions?.length ? { requiredPermissions: d.requiredPermissions } : {}),
    // an opt-out stays an opt-out: a new flow or key does not turn the hand-out audit back on
    ...(d.auditSessions === false ? { auditSessions: false } : {}),
  }
}

/**
 * The pending definition with the carried-over settings taken from the connection as it is at the
 * switch, not as it was at the start: an admin's write in between (a new session timeout, what the
 * integration needs) is kept.
 */
function withSettingsOf (current: ConnectionDefinition, pending: ConnectionDefinition): ConnectionDefinition {
  const { requiredPermissions: _permissions, auditSessions: _audit, ...target } = pending
  return { ...target, ...carriedSettings(current) }
}
