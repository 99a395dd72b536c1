import { X509Certificate, createPrivateKey } from 'node:crypto'
import type { Logger } from 'pino'
import { DomainError } from '../errors.ts'
import { isLoginUrlAllowed, type LoginUrlPolicy } from '../salesforce/index.ts'
import { SECRET_FIELDS, type SecretField, type ClassifiedFailure, type ConnectionDefinition, type SalesforceSession } from '../salesforce/types.ts'
import { CasConflictError, type SecretStore, type StoredConnection } from '../secrets/store.ts'
import type { Static } from 'typebox'
import type { ConnectionMetadataSchema, CredentialsPatch, ValidationResultSchema, VersionSchema } from '../schemas/connection.ts'
import type { LoginGate } from '../sessions/login-gate.ts'
import { circuitView, pausedMessage } from '../sessions/circuit.ts'
import { refusalProblem, unjudgedFailureProblem } from '../sessions/login-refusal.ts'
import type { SessionService } from '../sessions/session-service.ts'
import type { AuditLog } from './audit-log.ts'
import { missingFieldsForFlow } from '../salesforce/flow-requirements.ts'
import type { AdminContext } from './admin-context.ts'
import { revokeSessions, type RevocationResult } from './session-revocation.ts'
import { distinctSessions } from '../sessions/distinct-sessions.ts'
import { unconfirmedPurge } from './fleet-pending.ts'
import { checkSecretsStayHome, originOf, sameSecretAndDestination } from './secret-destination.ts'
import { lacksPermissions, permissionsProblem, readinessWarnings } from './readiness-gate.ts'
import type { ReadinessReport } from '../salesforce/readiness-evaluation.ts'
import { withoutControlCharacters } from '../salesforce/control-characters.ts'
import { refusalAuditOutcome, storeFailure, validationAuditOutcome } from './validation-audit.ts'

export type ConnectionMetadata = Static<typeof ConnectionMetadataSchema>
export type ValidationResult = Static<typeof ValidationResultSchema>
export type VersionRow = Static<typeof VersionSchema>

export type { AdminContext } from './admin-context.ts'

export interface ConnectionAdminOptions {
  store: SecretStore
  sessions: SessionService
  /** every login an admin action causes goes through the one door */
  gate: LoginGate
  revoke: (session: SalesforceSession) => Promise<boolean>
  loginUrlPolicy: LoginUrlPolicy
  audit: AuditLog
  logger: Logger
  revokeOnRotation: boolean
  /** true while fleet-wide state (Redis) cannot be written */
  fleetUnreachable?: () => boolean
  /** the integration user's readiness for what the definition declares, read with the validation's session (null: nothing declared or unreadable) */
  readiness?: (session: SalesforceSession, definition: ConnectionDefinition) => Promise<ReadinessReport | null>
}

/** Told of every validated write: its login was a success, which health records like any other. */
export type WrittenListener = (name: string, version: number) => Promise<void>

/**
 * Admin operations on connections. Every change is validated against Salesforce before it is
 * written: a candidate Salesforce rejects never reaches the store. Writes are check-and-set on the
 * version read, so two admins rotating at once can't silently overwrite each other.
 */
export class ConnectionAdmin {
  private readonly opts: ConnectionAdminOptions

  private readonly writtenListeners: WrittenListener[] = []
  private readonly removeListeners: Array<(name: string) => Promise<void>> = []

  constructor (opts: ConnectionAdminOptions) {
    this.opts = opts
  }

  /** The health plugin (a higher layer) registers here, so a rotation or rollback resets the health counters. */
  onWritten (listener: WrittenListener): void {
    this.writtenListeners.push(listener)
  }

  /** Told before a connection is deleted (the migration service drops its pending migration); a failure stops the delete. */
  beforeRemove (listener: (name: string) => Promise<void>): void {
    this.removeListeners.push(listener)
  }

  /** Tells the listeners of a validated write; the migration's switch and the consumer-secret rotation, which write on their own, call it too. */
  async announceWritten (name: string, version: number): Promise<void> {
    for (const listener of this.writtenListeners) {
      // the write has happened: a health bookkeeping error must not turn it into a failure
      await listener(name, version).catch((err: unknown) => this.opts.logger.warn({ connection: name, err }, 'health not updated after a write'))
    }
  }

  async list (): Promise<ConnectionMetadata[]> {
    const names = (await this.opts.store.list()).sort()
    const rows = await Promise.all(names.map(async n => {
      const stored = await this.opts.store.read(n)
      return stored ? this.metadata(stored) : null
    }))
    return rows.filter((r): r is ConnectionMetadata => r !== null)
  }

  async get (name: string): Promise<ConnectionMetadata> {
    return this.metadata(await this.mustRead(name))
  }

  async put (name: string, definition: ConnectionDefinition, ctx: AdminContext): Promise<{ metadata: ConnectionMetadata, created: boolean }> {
    const current = await this.opts.store.read(name)
    const action = current ? 'connection.replace' : 'connection.create'
    await this.checkIfMatch(name, current?.version ?? 0, ctx, action)
    // a key whose current version was deleted (`vault kv delete`) reads as absent but keeps its version
    // number, which check-and-set compares with (Vault's builtin/logical/kv path_data.go): cas=0 would
    // be refused for good, so the new version follows the last one (metadata unreadable: as before, 0)
    const cas = current?.version ?? Math.max(0, ...(await this.opts.store.versions(name).catch(() => [])).map(v => v.version))
    const stored = await this.validateAndWrite(name, definition, cas, ctx, action, { fields: setSecretNames(definition) })
    // a new connection had no sessions for any replica to drop (Redis down is still said)
    return { metadata: this.withPending(await this.metadata(stored), current ? stored.unconfirmed : []), created: !current }
  }

  async patchCredentials (name: string, patch: CredentialsPatch, ctx: AdminContext): Promise<ConnectionMetadata> {
    const current = await this.mustRead(name)
    await this.checkIfMatch(name, current.version, ctx, 'credentials.rotate')
    // a rotation to another user, app or host brings every secret: the stored ones stay where they were stored for
    await this.refuseSecretsMovingAway(name, current, patch, ctx, 'credentials.rotate')
    const candidate = withGivenKey(current.definition, patch)
    const stored = await this.validateAndWrite(name, candidate, current.version, ctx, 'credentials.rotate', { fields: Object.keys(patch).sort(), fromVersion: current.version }, Object.keys(patch).sort())
    return this.withPending(await this.metadata(stored), stored.unconfirmed)
  }

  async rollback (name: string, version: number, ctx: AdminContext): Promise<ConnectionMetadata> {
    const current = await this.mustRead(name)
    const target = await this.opts.store.read(name, version)
    if (!target) throw new DomainError('not_found', `version ${version} of "${name}" does not exist or was deleted`, { connection: name })
    // a stale If-Match first (RFC 9110 §13.2.2: preconditions before the method's own checks): the admin must read again
    await this.checkIfMatch(name, current.version, ctx, 'connection.rollback')
    if (version === current.version) throw new DomainError('bad_request', `version ${version} is already the current version`, { connection: name })
    const stored = await this.validateAndWrite(name, target.definition, current.version, ctx, 'connection.rollback', { fromVersion: current.version, targetVersion: version })
    return this.withPending(await this.metadata(stored), stored.unconfirmed)
  }

  /**
   * Logs in with candidate (merged over the stored connection, if any) or stored credentials; stores
   * nothing. A candidate that sends the stored secrets elsewhere (another login host, user or app)
   * must bring its own: stored secrets only ever go where they are stored for.
   */
  async validate (name: string, candidate: Partial<ConnectionDefinition> | undefined, ctx: AdminContext): Promise<ValidationResult> {
    const stored = await this.opts.store.read(name)
    if (!candidate && !stored) throw new DomainError('not_found', `no connection named "${name}"`, { connection: name })
    if (candidate && stored) await this.refuseSecretsMovingAway(name, stored, candidate, ctx, 'connection.validate')
    const source = candidate ? 'candidate' : 'stored'
    const definition = (stored ? withGivenKey(stored.definition, candidate ?? {}) : candidate) as ConnectionDefinition
    this.checkDefinition(name, definition)
    // a candidate that changes no secret and no destination is the stored secret: its circuit applies
    const usesStored = stored !== null && (!candidate || sameSecretAndDestination(stored.definition, definition))
    const base = {
      actor: ctx.actor,
      requestId: ctx.requestId,
      action: 'connection.validate',
      connection: name,
      target: originOf(definition.loginUrl),
      version: stored?.version,
      fields: candidate ? Object.keys(candidate).sort() : undefined,
    }
    const started = Date.now()
    const outcome = await this.opts.gate.obtain({ connection: name, definition, purpose: 'admin', storedVersion: usesStored ? stored.version : undefined })
    const latencyMs = Date.now() - started
    if ('refusal' in outcome) {
      const r = outcome.refusal
      await this.opts.audit.record({ ...base, outcome: refusalAuditOutcome(r), classification: r.kind === 'circuit_open' ? r.circuit.classification : `not_attempted:${r.kind}` })
      // the stored secret already failed: report the circuit's classification, as a check would
      if (r.kind === 'circuit_open') {
        return { ok: false, classification: r.circuit.classification, message: `not attempted: ${pausedMessage(r.circuit)}`, hint: r.circuit.hint, retryable: false, latencyMs: 0, source }
      }
      throw refusalProblem(r, name, this.opts.gate.now())
    }
    const readiness = outcome.ok ? await this.readinessOf(outcome.session, definition) : null
    const lacking = lacksPermissions(readiness)
    await this.opts.audit.record({
      ...base,
      outcome: validationAuditOutcome(outcome, !lacking),
      classification: outcome.ok ? (lacking ? 'permissions_missing' : 'ok') : outcome.failure.classification,
    })
    if (outcome.ok) {
      // cached for the stored version as the stored definition says (its API version, its session
      // timeout): a candidate's other settings were validated, not stored, and callers must not get them
      if (usesStored) await this.opts.sessions.adopt(name, stored.version, stored.definition, outcome.session)
      // a SOAP login of the stored user is the session callers are handed (one per user while valid):
      // a validation stores nothing, and must not end it
      else if (stored) await this.dropValidating(name, stored.version, outcome.session)
      else await this.opts.revoke(outcome.session).catch(() => false)
      if (lacking) throw permissionsProblem(name, readiness, true)
      const warnings = readinessWarnings(readiness)
      return { ok: true, classification: 'ok', latencyMs, source, ...(warnings.length > 0 ? { warnings } : {}) }
    }
    return { ok: false, classification: outcome.failure.classification, message: outcome.failure.message, hint: outcome.failure.hint, retryable: outcome.failure.retryable, latencyMs, source }
  }

  /** A candidate that would send the stored secrets to another host, user or app is refused, and the attempt audited. */
  private async refuseSecretsMovingAway (name: string, stored: StoredConnection, candidate: Partial<ConnectionDefinition>, ctx: AdminContext, action: 'connection.validate' | 'credentials.rotate'): Promise<void> {
    try {
      checkSecretsStayHome(name, stored.definition, candidate)
    } catch (err) {
      await this.opts.audit.record({
        actor: ctx.actor,
        requestId: ctx.requestId,
        action,
        connection: name,
        outcome: 'rejected',
        classification: 'not_attempted:secrets_stay_home',
        target: originOf(candidate.loginUrl ?? stored.definition.loginUrl),
        version: stored.version,
        fields: Object.keys(candidate).sort(),
      })
      throw err
    }
  }

  async versions (name: string): Promise<VersionRow[]> {
    const current = await this.mustRead(name)
    const rows = await this.opts.store.versions(name)
    return rows.map(v => ({ ...v, current: v.version === current.version }))
  }

  /** The kill switch: every session of the connection dropped fleet-wide and revoked at Salesforce. */
  revokeSessions (name: string, ctx: AdminContext): Promise<RevocationResult> {
    return revokeSessions({ ...this.opts, fleetUnreachable: this.opts.fleetUnreachable ?? (() => false) }, name, ctx)
  }

  /** Deletes the connection; returns what has not happened everywhere yet (empty: done). */
  async remove (name: string, ctx: AdminContext): Promise<string[]> {
    const current = await this.mustRead(name)
    await this.checkIfMatch(name, current.version, ctx, 'connection.delete')
    try {
      for (const listener of this.removeListeners) await listener(name)
      // the secret goes first: the purge drops every replica's cached copy of it, and a caller asking
      // from then on finds no connection; purged while the secret was still stored, a caller's request
      // re-read it and logged in, and that session, taken after the revocations, was never revoked
      await this.opts.store.remove(name)
    } catch (err) {
      // not deleted (the store sealed, unreachable, a timeout): an admin tried all the same, and the
      // audit says so, as for a write the store refused
      await this.opts.audit.record({ actor: ctx.actor, requestId: ctx.requestId, action: 'connection.delete', connection: name, outcome: 'error', classification: storeFailure(err), fromVersion: current.version })
      throw err
    }
    const { removed, unconfirmed } = await this.opts.sessions.purge(name)
    // a deleted connection's sessions must stop working, not just stop being handed out: the cached
    // ones and every earlier one a caller may still hold
    const purged = distinctSessions([...removed, ...await this.opts.sessions.takeIssued(name)])
    await Promise.all(purged.map(s => this.opts.revoke(s).catch(() => false)))
    await this.opts.sessions.clearCircuit(name)
    await this.opts.audit.record({ actor: ctx.actor, requestId: ctx.requestId, action: 'connection.delete', connection: name, outcome: 'success', fromVersion: current.version })
    return this.pendingPurge(await unconfirmed)
  }

  private async readinessOf (session: SalesforceSession, definition: ConnectionDefinition): Promise<ReadinessReport | null> {
    if (!this.opts.readiness) return null
    return this.opts.readiness(session, definition).catch((err: unknown) => {
      this.opts.logger.warn({ err }, 'integration-user readiness could not be read; the scheduled check will try again')
      return null
    })
  }

  /**
   * A write whose purge did not reach the whole fleet (Redis down, or replicas that did not confirm
   * it) says so: a 200 means it happened everywhere.
   */
  private withPending (m: ConnectionMetadata, unconfirmed: string[] | null): ConnectionMetadata {
    const pending = this.pendingPurge(unconfirmed)
    return pending.length > 0 ? { ...m, pending } : m
  }

  private pendingPurge (unconfirmed: string[] | null): string[] {
    if (this.opts.fleetUnreachable?.()) return ['fleet-wide purge: Redis is unreachable or refuses the broker; other replicas drop their sessions of the old secret when it returns, and check the secret version before any login meanwhile']
    return unconfirmedPurge(unconfirmed)
  }

  private async mustRead (name: string): Promise<StoredConnection> {
    const stored = await this.opts.store.read(name)
    if (!stored) throw new DomainError('not_found', `no connection named "${name}"`, { connection: name })
    return stored
  }

  private async checkIfMatch (name: string, currentVersion: number, ctx: AdminContext, action: string): Promise<void> {
    if (ctx.ifMatch === undefined || ctx.ifMatch === currentVersion) return
    // `*` matches any current version, and nothing when the connection does not exist yet
    if (ctx.ifMatch === '*' && currentVersion > 0) return
    await this.opts.audit.record({ actor: ctx.actor, requestId: ctx.requestId, action, connection: name, outcome: 'conflict', version: currentVersion })
    const named = ctx.ifMatch === '*' ? 'any current version' : `version ${ctx.ifMatch}`
    throw new DomainError('conflict', `If-Match names ${named} but the current version is ${currentVersion}`, { connection: name, currentVersion })
  }

  private checkDefinition (name: string, definition: ConnectionDefinition): void {
    // a validation's candidate for a connection not stored yet is partial: without these no login can
    // be built (a SOAP login without apiVersion failed as a network error, counted by the lockout guard)
    const unset = BASE_FIELDS.filter(f => definition[f] === undefined)
    if (unset.length > 0) {
      throw new DomainError('bad_request', `a connection needs ${unset.join(', ')}`, {
        connection: name,
        errors: unset.map(f => ({ path: `body/${f}`, message: 'required: no stored connection supplies it' })),
      })
    }
    const missing = missingFieldsForFlow(definition)
    if (missing.length > 0) {
      throw new DomainError('bad_request', `flow ${definition.flow} needs: ${missing.join(', ')}`, {
        connection: name,
        errors: missing.map(f => ({ path: `body/${f}`, message: `required for flow ${definition.flow}` })),
      })
    }
    if (!isLoginUrlAllowed(definition.loginUrl, this.opts.loginUrlPolicy)) {
      throw new DomainError('bad_request', 'loginUrl must be an https Salesforce login host (login.salesforce.com, test.salesforce.com, *.my.salesforce.com) or an allow-listed origin', {
        connection: name,
        errors: [{ path: 'body/loginUrl', message: 'not an allowed Salesforce login host' }],
      })
    }
  }

  /** `rotated`: the fields a rotation sent, so a rejection can say what was (not) changed */
  private async validateAndWrite (name: string, candidate: ConnectionDefinition, cas: number, ctx: AdminContext, action: string, extra: { fields?: string[], fromVersion?: number, targetVersion?: number }, rotated?: string[]): Promise<StoredConnection & { unconfirmed: string[] | null }> {
    this.checkDefinition(name, candidate)
    const base = { actor: ctx.actor, requestId: ctx.requestId, action, connection: name, target: originOf(candidate.loginUrl), ...extra }
    const outcome = await this.opts.gate.obtain({ connection: name, definition: candidate, purpose: 'admin' })
    if ('refusal' in outcome) {
      await this.opts.audit.record({ ...base, outcome: refusalAuditOutcome(outcome.refusal), classification: `not_attempted:${outcome.refusal.kind}` })
      throw refusalProblem(outcome.refusal, name, this.opts.gate.now())
    }
    if (!outcome.ok) {
      const audited = validationAuditOutcome(outcome)
      await this.opts.audit.record({ ...base, outcome: audited, classification: outcome.failure.classification })
      // unreachable, a 5xx, LOGIN_RATE_EXCEEDED: Salesforce did not judge the candidate, so it is not "rejected"
      throw audited === 'rejected' ? rejected(name, outcome.failure, candidate.flow, rotated) : unjudgedFailureProblem(name, outcome.failure, this.opts.gate.loginsPerHour, this.opts.gate.now())
    }
    // a new or replaced definition declares what the user needs: refuse it while the user lacks that
    // (a rotation or rollback changes only the secret and must never be blocked by a permission)
    const readiness = action === 'connection.create' || action === 'connection.replace' ? await this.readinessOf(outcome.session, candidate) : null
    if (lacksPermissions(readiness)) {
      await this.dropValidating(name, cas, outcome.session)
      await this.opts.audit.record({ ...base, outcome: 'rejected', classification: 'permissions_missing' })
      throw permissionsProblem(name, readiness, false)
    }
    // written, purged and the validating session adopted under the login lease of the candidate's
    // user: a caller's login for the new version waits for it, then is served the adopted session
    const { written, stale, unconfirmed } = await this.opts.gate.exclusive(candidate, async () => {
      let written: { version: number, createdTime: string }
      try {
        written = await this.opts.store.write(name, candidate, cas)
      } catch (err) {
        // nothing was stored that the broker knows of: the validating session belongs to no version
        await this.dropValidating(name, cas, outcome.session)
        if (!(err instanceof CasConflictError)) {
          // the store failed (sealed, unreachable, a timeout): the attempt is audited like an outage at Salesforce
          await this.opts.audit.record({ ...base, outcome: 'error', classification: storeFailure(err) })
          throw err
        }
        await this.opts.audit.record({ ...base, outcome: 'conflict', version: err.currentVersion })
        throw new DomainError('conflict', 'the connection changed while this request was being validated; read it again and retry', { connection: name, currentVersion: err.currentVersion })
      }
      const { removed: purged, unconfirmed } = await this.opts.sessions.purge(name)
      // the cached sessions and every earlier one handed out; Salesforce may hand the same token to
      // the new login: never revoke the one just issued
      const stale = this.opts.revokeOnRotation ? distinctSessions([...purged, ...await this.opts.sessions.takeIssued(name)], outcome.session) : []
      await this.opts.sessions.adopt(name, written.version, candidate, outcome.session)
      return { written, stale, unconfirmed }
    }).catch(async (err: unknown) => {
      // nothing was written (another login of the user held the lease too long): the validating session goes
      if (err instanceof DomainError && err.code === 'login_wait_timeout') {
        await this.dropValidating(name, cas, outcome.session)
        await this.opts.audit.record({ ...base, outcome: 'error', classification: 'login_wait_timeout' })
      }
      throw err
    })
    // revoked after the lease: Salesforce's answers hold no caller's login back
    await Promise.all(stale.map(s => this.opts.revoke(s).catch(() => false)))
    await this.opts.audit.record({ ...base, outcome: 'success', classification: 'ok', version: written.version })
    this.opts.logger.info({ connection: name, action, version: written.version }, 'connection written')
    await this.announceWritten(name, written.version)
    // awaited after the lease: callers of the new version are served meanwhile
    return { name, version: written.version, createdTime: written.createdTime, definition: candidate, unconfirmed: await unconfirmed }
  }

  /**
   * A validating login's session that no version took: revoked, unless it is the session callers are
   * being handed for the version still current (SOAP gives a user's every login the same session), which
   * must keep working when the write did not happen.
   */
  private async dropValidating (name: string, currentVersion: number, session: SalesforceSession): Promise<void> {
    if (await this.opts.sessions.holds(name, currentVersion, session.accessToken).catch(() => false)) return
    await this.opts.revoke(session).catch(() => false)
  }

  private async metadata (stored: StoredConnection): Promise<ConnectionMetadata> {
    const d = stored.definition
    const circuit = await this.opts.sessions.circuit(stored.name)
    return {
      name: stored.name,
      flow: d.flow,
      // stored before the schema refused control characters: never shown raw (sfb prints these)
      loginUrl: withoutControlCharacters(d.loginUrl),
      ...(d.username ? { username: withoutControlCharacters(d.username) } : {}),
      ...(d.clientId ? { clientId: withoutControlCharacters(d.clientId) } : {}),
      ...(d.jwtAudience ? { jwtAudience: withoutControlCharacters(d.jwtAudience) } : {}),
      apiVersion: d.apiVersion,
      sessionTimeoutSeconds: d.sessionTimeoutSeconds,
      auditSessions: d.auditSessions !== false,
      ...(d.requiredPermissions?.length ? { requiredPermissions: d.requiredPermissions } : {}),
      ...(d.passwordExpiresAfterDays === undefined ? {} : { passwordExpiresAfterDays: d.passwordExpiresAfterDays }),
      ...(d.acceptRetiredFlow === true ? { acceptRetiredFlow: true } : {}),
      version: stored.version,
      updatedAt: stored.createdTime,
      secretsSet: setSecretNames(d),
      circuit: circuitView(circuit, stored.version, this.opts.gate.now()),
    }
  }
}

/**
 * The candidate of a change merged over the stored definition. A private key given replaces the key
 * the connection had: the Vault Transit key it named (a login signs with `transitKey` when there is
 * one, so the given key would be neither validated nor used), and a certificate of another key.
 */
function withGivenKey (stored: ConnectionDefinition, change: Partial<ConnectionDefinition>): ConnectionDefinition {
  const merged = { ...stored, ...change }
  if (change.privateKey === undefined) return merged
  const { transitKey: _replaced, certificate, ...rest } = merged
  return certificate !== undefined && certifies(certificate, change.privateKey) ? { ...rest, certificate } : rest
}

function certifies (certificate: string, privateKey: string): boolean {
  try {
    return new X509Certificate(certificate).checkPrivateKey(createPrivateKey(privateKey))
  } catch {
    return false
  }
}

/** What every connection has whatever its flow (ConnectionDefinitionSchema's required fields). */
const BASE_FIELDS = ['flow', 'loginUrl', 'apiVersion', 'sessionTimeoutSeconds'] as const

function setSecretNames (d: Partial<ConnectionDefinition>): SecretField[] {
  return SECRET_FIELDS.filter(f => typeof d[f] === 'string' && d[f] !== '')
}

/** One sentence out of upstream text: no trailing stop, so composing sentences never reads "locked out.; nothing". */
function sentence (text: string): string {
  const trimmed = text.trim().replace(/[.;:,\s]+$/, '')
  return trimmed === '' ? trimmed : trimmed + '.'
}

/** The password flows send password + security token; a reset of one in Salesforce often means both changed. */
const TOKEN_FLOWS = new Set(['soap', 'oauth_password'])

/**
 * A rotation rejected by Salesforce: which fields it sent, and the likely miss (Salesforce resets the
 * security token whenever the password changes: Salesforce Help "Reset Your Security Token", sf.user_security_token.htm).
 */
function rotationHint (flow: string, rotated: string[]): string | undefined {
  if (!TOKEN_FLOWS.has(flow)) return undefined
  const password = rotated.includes('password')
  const token = rotated.includes('securityToken')
  if (token && !password) return 'Did the password change too? In Salesforce a password reset also resets the security token, so after a reset send both password and securityToken in one rotation.'
  if (password && !token) return 'A password change resets the security token: send the new securityToken with the password (unless the broker\'s egress IPs are in the org\'s trusted IP ranges).'
  return undefined
}

function rejected (name: string, f: ClassifiedFailure, flow: string, rotated?: string[]): DomainError {
  const changed = rotated && rotated.length > 0 ? ` This rotation changed ${rotated.join(' and ')}${rotated.length === 1 ? ' only' : ''}.` : ''
  const rotationAdvice = rotated ? rotationHint(flow, rotated) : undefined
  return new DomainError('credentials_rejected', `Salesforce answered: ${sentence(f.message)}${changed} Nothing was stored.`, {
    connection: name,
    classification: f.classification,
    hint: [rotationAdvice, f.hint].filter(Boolean).join(' ') || undefined,
    retryable: f.retryable,
    ...(rotated ? { changedFields: rotated } : {}),
  })
}
