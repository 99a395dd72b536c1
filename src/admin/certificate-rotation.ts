import { X509Certificate } from 'node:crypto'
import type { Logger } from 'pino'
import { DomainError } from '../errors.ts'
import type { ConnectionDefinition } from '../salesforce/types.ts'
import type { MigrationValidation, MigrationView } from '../schemas/migration.ts'
import type { SecretStore } from '../secrets/store.ts'
import type { PendingKey, PendingKeys } from '../sessions/stored-login.ts'
import type { AdminContext, ConnectionMetadata } from './connection-admin.ts'
import type { MigrationService } from './migration.ts'

export interface CertificateRotationOptions {
  migrations: MigrationService
  store: Pick<SecretStore, 'read'>
  logger: Logger
  /** CERT_ROTATION_START_DAYS: a rotation starts by itself this many days before the certificate expires (0: never) */
  startDaysBeforeExpiry: number
  /** the calendar the days to expiry are counted with; default Date.now */
  calendar?: () => number
}

const DAY_MS = 86_400_000
/**
 * A policy start that failed (Vault Transit or the store refusing the new key) is tried again this
 * much later, not at every validation round: each attempt is a warning, and may be an audit record
 * and a key made for nothing, every few minutes until someone fixes the cause.
 */
export const POLICY_START_RETRY_MS = 3_600_000

/**
 * A new key and certificate for a JWT bearer connection, with no failed request at the moment the
 * app's one certificate ("Use digital signatures") is replaced. It is a migration from jwt_bearer
 * to jwt_bearer (src/admin/migration.ts: the same pending entry, validation and check-and-set
 * switch); what it adds:
 *  - start refuses a connection that is not on jwt_bearer (that is a migration) and changes only the key;
 *  - it supplies the pending key to the stored-login policy (src/sessions/stored-login.ts): once
 *    the admin has uploaded the new certificate, the first login the current key is refused for is
 *    made with the new key, and its success completes the rotation by itself;
 *  - with CERT_ROTATION_START_DAYS, a check of a connection whose certificate expires within that
 *    many days starts the rotation, so the admin's only step is the upload.
 */
export class CertificateRotation implements PendingKeys {
  private readonly opts: CertificateRotationOptions
  /** connection → when (policy calendar) a failed policy start may be tried again, on this replica */
  private readonly policyRetryAt = new Map<string, number>()

  constructor (opts: CertificateRotationOptions) {
    this.opts = opts
  }

  find (connection: string, current: ConnectionDefinition): Promise<PendingKey | undefined> {
    return this.opts.migrations.pendingRotation(connection, current)
  }

  async start (name: string, ctx: AdminContext): Promise<MigrationView> {
    await this.mustBeJwt(name)
    return this.opts.migrations.start(name, { flow: 'jwt_bearer' }, ctx)
  }

  async get (name: string): Promise<MigrationView> {
    return this.mustBeRotation(await this.opts.migrations.get(name))
  }

  async certificate (name: string): Promise<string> {
    await this.get(name)
    return this.opts.migrations.certificate(name)
  }

  async validate (name: string, ctx: AdminContext): Promise<MigrationValidation> {
    await this.get(name)
    return this.opts.migrations.validate(name, null, ctx)
  }

  async complete (name: string, ctx: AdminContext): Promise<{ connection: ConnectionMetadata, previousVersion: number }> {
    await this.get(name)
    return this.opts.migrations.complete(name, ctx)
  }

  async abandon (name: string, ctx: AdminContext): Promise<void> {
    await this.get(name)
    return this.opts.migrations.abandon(name, ctx)
  }

  /**
   * The optional policy: a rotation starts when the certificate expires within
   * CERT_ROTATION_START_DAYS and none is pending. Best effort (a health check calls it): the
   * result is the started rotation, or undefined; a start that failed is tried again on this replica
   * POLICY_START_RETRY_MS later (an admin's start by hand is never held back).
   */
  async startIfDue (name: string, now = (this.opts.calendar ?? Date.now)()): Promise<MigrationView | undefined> {
    const days = this.opts.startDaysBeforeExpiry
    if (days <= 0) return undefined
    if ((this.policyRetryAt.get(name) ?? 0) > now) return undefined
    const current = await this.opts.store.read(name)
    if (!current || daysUntilExpiry(current.definition, now) > days) return undefined
    try {
      const started = await this.start(name, { actor: 'sf-broker', requestId: 'cert-rotation-policy' })
      this.policyRetryAt.delete(name)
      this.opts.logger.warn({ connection: name, notAfter: started.certificate?.notAfter }, `certificate expires within CERT_ROTATION_START_DAYS (${days}): rotation started; upload the new certificate to the app (GET …/certificate-rotation/certificate)`)
      return started
    } catch (err) {
      // already pending (this replica or another started it): nothing to do
      if (err instanceof DomainError && (err.code === 'conflict' || err.code === 'not_found')) return undefined
      this.policyRetryAt.set(name, now + POLICY_START_RETRY_MS)
      throw err
    }
  }

  private async mustBeJwt (name: string): Promise<void> {
    const current = await this.opts.store.read(name)
    if (!current) throw new DomainError('not_found', `no connection named "${name}"`, { connection: name })
    if (current.definition.flow !== 'jwt_bearer') {
      throw new DomainError('conflict', `"${name}" logs in with ${current.definition.flow}, not jwt_bearer: move it with POST …/migration {"flow":"jwt_bearer"} instead`, { connection: name })
    }
  }

  private mustBeRotation (view: MigrationView): MigrationView {
    if (!view.rotation) throw new DomainError('not_found', `the pending change of "${view.connection}" is a migration to ${view.to.flow}, not a certificate rotation: see GET …/migration`, { connection: view.connection })
    return view
  }
}

/** Whole days until the connection's certificate expires; Infinity without one. */
export function daysUntilExpiry (d: ConnectionDefinition, now: number): number {
  if (d.flow !== 'jwt_bearer' || !d.certificate) return Infinity
  try {
    return Math.floor((Date.parse(new X509Certificate(d.certificate).validTo) - now) / DAY_MS)
  } catch {
    return Infinity
  }
}
