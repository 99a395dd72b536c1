import type { ConnectionDefinition } from '../salesforce/types.ts'

/**
 * The one place connection secrets live. Implementations: Vault KV v2 (production) and an
 * AES-256-GCM encrypted local file (demo, single node). Both follow Vault's semantics:
 * every write makes a new version, writes are check-and-set, old versions stay readable.
 */
export interface StoredConnection {
  name: string
  version: number
  /** ISO time this version was written */
  createdTime: string
  definition: ConnectionDefinition
}

export interface VersionInfo {
  version: number
  createdTime: string
  /** ISO time the version was soft-deleted, if it was */
  deletionTime?: string
  destroyed: boolean
}

export interface StoreHealth {
  ok: boolean
  /** Vault answered "sealed" */
  sealed?: boolean
  detail: string
}

export interface SecretStore {
  readonly kind: 'vault' | 'file'
  /** Names of every connection (not soft-deleted as a whole). */
  list (): Promise<string[]>
  /** The current version, or a given one; null when the connection (or that version) does not exist or is deleted/destroyed. */
  read (name: string, version?: number): Promise<StoredConnection | null>
  /**
   * Writes a new version. `cas` is the version the caller read: 0 means "must not exist yet".
   * Throws CasConflictError when the current version differs.
   */
  write (name: string, definition: ConnectionDefinition, cas: number): Promise<{ version: number, createdTime: string }>
  /** Every version's metadata, oldest first; [] when the connection does not exist. */
  versions (name: string): Promise<VersionInfo[]>
  /** Removes the connection and all its versions (Vault: DELETE metadata). Idempotent. */
  remove (name: string): Promise<void>
  health (): Promise<StoreHealth>
  close (): Promise<void>
  /**
   * The same kind of store for a folder beside the connections (Vault: {prefix}/{folder}/; file:
   * a file beside the file), encrypted and versioned alike; absent on stores that have none.
   */
  folder? (folder: string): SecretStore
}

/** The write's check-and-set version did not match the stored current version (someone else wrote first). */
export class CasConflictError extends Error {
  readonly currentVersion: number | undefined
  constructor (name: string, currentVersion?: number) {
    super(`check-and-set conflict on connection "${name}"`)
    this.name = 'CasConflictError'
    this.currentVersion = currentVersion
  }
}

/** The store cannot be used right now: unreachable, sealed, or the broker's token lacks permission. */
export class SecretStoreUnavailableError extends Error {
  readonly reason: 'unreachable' | 'sealed' | 'permission_denied' | 'error'
  constructor (reason: SecretStoreUnavailableError['reason'], detail: string) {
    super(`secret store unavailable (${reason}): ${detail}`)
    this.name = 'SecretStoreUnavailableError'
    this.reason = reason
  }
}
