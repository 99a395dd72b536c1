import { randomBytes, randomUUID } from 'node:crypto'
import type { Documents, Leases } from '../shared-state/shared-state.ts'
import { migrationEndLease, migrationIdDoc, migrationValidatedDoc } from '../shared-state/state-names.ts'

/** how long a successful validation stands for the switch */
const VALIDATION_REMEMBERED_MS = 24 * 3_600_000
/** how long the claim of a migration's end is kept: its id is never used again, so this only bounds memory */
const END_CLAIM_MS = 7 * 24 * 3_600_000

interface Validated { id: string, pendingVersion: number }

/**
 * The fleet-wide bookkeeping of one pending migration, in the shared state:
 *  - its id, random and never reused: pending versions restart at 1 when a migration is abandoned
 *    and another started (or the connection deleted and created again), so a version alone cannot
 *    say which definition a validation proved;
 *  - the validation, keyed to that id and the exact pending version it logged in with;
 *  - the claim of its end: complete and abandon (and a rotation completed by a login) each take a
 *    lease named after the id that is never released on success — a check-and-set, so two of
 *    them racing cannot both happen.
 * Lost state (Redis emptied) fails closed: a migration without a remembered validation must be
 * validated again before it can switch.
 */
export class MigrationMarks {
  private readonly state: Documents & Leases

  constructor (state: Documents & Leases) {
    this.state = state
  }

  /** A new id for a migration just started; `fromVersion`: the connection version it started from (unknown when the id was lost). */
  async begin (name: string, fromVersion?: number): Promise<string> {
    const id = randomUUID()
    await this.state.putJson(migrationIdDoc(name), fromVersion === undefined ? { id } : { id, fromVersion })
    await this.state.putJson(migrationValidatedDoc(name), null, 1)
    return id
  }

  /** The id of the pending migration, if the shared state knows it. */
  async knownId (name: string): Promise<string | undefined> {
    return (await this.state.getJson<{ id: string }>(migrationIdDoc(name)))?.id
  }

  /** The connection version the pending migration started from, if the shared state knows it. */
  async startedFrom (name: string): Promise<number | undefined> {
    return (await this.state.getJson<{ id: string, fromVersion?: number }>(migrationIdDoc(name)))?.fromVersion
  }

  /** The id of the pending migration; a new one when the shared state lost it (what was validated before is then forgotten). */
  async id (name: string): Promise<string> {
    return await this.knownId(name) ?? this.begin(name)
  }

  async recordValidation (name: string, id: string, pendingVersion: number, ok: boolean): Promise<void> {
    await this.state.putJson(migrationValidatedDoc(name), ok ? { id, pendingVersion } : null, VALIDATION_REMEMBERED_MS)
  }

  /** Whether the last validation succeeded with exactly this migration's pending version. */
  async isValidated (name: string, id: string, pendingVersion: number): Promise<'yes' | 'no' | 'changed'> {
    const validated = await this.state.getJson<Validated>(migrationValidatedDoc(name))
    if (!validated || validated.id !== id) return 'no'
    return validated.pendingVersion === pendingVersion ? 'yes' : 'changed'
  }

  /**
   * Claims the end of the migration `id`; null when someone else already did (or is doing) it.
   * `release` gives the claim back when the end could not be made (a conflict on the switch).
   */
  async claimEnd (name: string, id: string): Promise<{ release: () => Promise<void> } | null> {
    const owner = randomBytes(16).toString('hex')
    const key = migrationEndLease(name, id)
    if (!await this.state.acquireLease(key, owner, END_CLAIM_MS)) return null
    return { release: async () => { await this.state.releaseLease(key, owner).catch(() => false) } }
  }

  /** Forgets the migration (ended, or its connection deleted). */
  async clear (name: string): Promise<void> {
    await this.state.putJson(migrationIdDoc(name), null, 1)
    await this.state.putJson(migrationValidatedDoc(name), null, 1)
  }
}
