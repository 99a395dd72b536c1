import { systemClock, type Clock, type Timer } from '../clock.ts'
import type { ConnectionDefinition } from '../salesforce/types.ts'
import type { SecretStore, StoreHealth, StoredConnection, VersionInfo } from './store.ts'

export interface CachingSecretStoreOptions {
  /** how long a read of the current version is served from memory; 0 = every read reaches the store */
  ttlMs: number
  /** the time the TTL runs on; default the system clock */
  clock?: Clock
}

/** What is remembered of a connection after its cached secret expired: which version it was, never the secret. */
export interface KnownVersion {
  name: string
  version: number
  createdTime: string
}

interface CacheEntry {
  value: StoredConnection | null
  timer: Timer | null
}

/**
 * Keeps reads of the current version in memory for a short TTL so the session hot path does not
 * reach Vault on every request, with concurrent misses for one name sharing one store read.
 * Writes and removals made through it invalidate. When the TTL ends the definition (the secrets)
 * is dropped from memory; only the version metadata stays, for `lastKnown` while the store is down.
 */
export class CachingSecretStore implements SecretStore {
  readonly kind: SecretStore['kind']
  private readonly inner: SecretStore
  private readonly ttlMs: number
  private readonly clock: Clock
  private readonly entries = new Map<string, CacheEntry>()
  private readonly inflight = new Map<string, Promise<StoredConnection | null>>()
  private readonly known = new Map<string, KnownVersion>()
  /** bumped by invalidation, so a read that started before it does not refill the cache */
  private readonly generations = new Map<string, number>()

  constructor (inner: SecretStore, opts: CachingSecretStoreOptions) {
    this.inner = inner
    this.kind = inner.kind
    this.ttlMs = Math.max(0, opts.ttlMs)
    this.clock = opts.clock ?? systemClock
  }

  list (): Promise<string[]> {
    return this.inner.list()
  }

  async read (name: string, version?: number): Promise<StoredConnection | null> {
    if (version !== undefined) return this.inner.read(name, version)
    const hit = this.entries.get(name)
    if (hit) return copy(hit.value)
    let pending = this.inflight.get(name)
    if (!pending) {
      const generation = this.generation(name)
      pending = this.inner.read(name).then((value) => {
        if (generation === this.generation(name)) this.remember(name, value)
        return value
      })
      const settled = pending.finally(() => {
        if (this.inflight.get(name) === pending) this.inflight.delete(name)
      })
      settled.catch(() => {})
      this.inflight.set(name, pending)
    }
    return copy(await pending)
  }

  async write (name: string, definition: ConnectionDefinition, cas: number): Promise<{ version: number, createdTime: string }> {
    try {
      const written = await this.inner.write(name, definition, cas)
      this.invalidate(name)
      this.known.set(name, { name, version: written.version, createdTime: written.createdTime })
      return written
    } catch (err) {
      // a conflict means the cached version is stale; a failure may have half-happened
      this.invalidate(name)
      throw err
    }
  }

  versions (name: string): Promise<VersionInfo[]> {
    return this.inner.versions(name)
  }

  /**
   * The store's current version of `name`, read through the cache from the version metadata only
   * (Vault: the KV metadata, no secret): null when there is none. Cheap enough to ask before a login.
   */
  async currentVersion (name: string): Promise<number | null> {
    // a deletion time still ahead is only scheduled: with KV v2's delete_version_after every version
    // carries one from its write, and is read as usual until then (Vault's builtin/logical/kv
    // path_data.go pathDataRead compares it with now)
    const now = Date.now()
    const live = (await this.inner.versions(name)).filter(v => !v.destroyed && !(v.deletionTime && Date.parse(v.deletionTime) <= now))
    return live.length === 0 ? null : Math.max(...live.map(v => v.version))
  }

  async remove (name: string): Promise<void> {
    try {
      await this.inner.remove(name)
      this.known.delete(name)
    } finally {
      this.invalidate(name)
    }
  }

  health (): Promise<StoreHealth> {
    return this.inner.health()
  }

  /** Forgets the cached secret of `name` (of every connection when no name is given). */
  invalidate (name?: string): void {
    const names = name === undefined ? [...new Set([...this.entries.keys(), ...this.inflight.keys()])] : [name]
    for (const n of names) {
      this.drop(n)
      if (this.inflight.delete(n)) this.generations.set(n, this.generation(n) + 1)
    }
  }

  /**
   * The version last read or written, even after its cached secret expired: enough for callers to
   * keep serving sessions of that version while the store is unreachable. Never the definition.
   */
  /**
   * The cached current version, synchronously, or undefined on a miss: the session hot path
   * answers without a single await when both the secret and the session are in memory.
   * Read-only: the caller must not change what it gets.
   */
  peek (name: string): Readonly<StoredConnection> | null | undefined {
    const hit = this.entries.get(name)
    return hit ? hit.value : undefined
  }

  lastKnown (name: string): KnownVersion | null {
    const k = this.known.get(name)
    return k ? { ...k } : null
  }

  async close (): Promise<void> {
    for (const n of [...this.entries.keys()]) this.drop(n)
    this.inflight.clear()
    this.known.clear()
    await this.inner.close()
  }

  private remember (name: string, value: StoredConnection | null): void {
    if (value) this.known.set(name, { name, version: value.version, createdTime: value.createdTime })
    else this.known.delete(name)
    if (this.ttlMs === 0) return
    this.drop(name)
    const timer = this.clock.setTimer(this.ttlMs, () => this.drop(name))
    this.entries.set(name, { value, timer })
  }

  private drop (name: string): void {
    const entry = this.entries.get(name)
    if (!entry) return
    entry.timer?.cancel()
    this.entries.delete(name)
  }

  private generation (name: string): number {
    return this.generations.get(name) ?? 0
  }
}

/** Callers get their own object: one caller changing it must not change what the next one is served. */
function copy (value: StoredConnection | null): StoredConnection | null {
  return value ? { ...value, definition: { ...value.definition } } : null
}
