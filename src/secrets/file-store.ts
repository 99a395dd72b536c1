import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises'
import { dirname } from 'node:path'
import { syncDirectory } from '../durable-file.ts'
import type { ConnectionDefinition } from '../salesforce/types.ts'
import { assertConnectionName } from './connection-name.ts'
import { CasConflictError, SecretStoreUnavailableError, type SecretStore, type StoreHealth, type StoredConnection, type VersionInfo } from './store.ts'

export interface FileSecretStoreOptions {
  /** the encrypted file; created (with its directory) on the first write */
  path: string
  /** AES-256-GCM key: 32 bytes */
  key: Buffer
  /** versions kept per connection, default 10 (as Vault's KV v2) */
  maxVersions?: number
}

/** Format tag, also bound to the ciphertext as additional authenticated data. */
const FORMAT = 'sf-broker-secrets/v1'
/** GCM authentication tag: the full 128 bits, written and required */
const TAG_BYTES = 16

interface StoredVersion {
  createdTime: string
  deletionTime?: string
  destroyed: boolean
  definition: ConnectionDefinition | null
}

interface StoredKey {
  currentVersion: number
  versions: Record<string, StoredVersion>
}

interface Contents { connections: Record<string, StoredKey> }

interface PendingChange {
  change: (contents: Contents) => unknown
  resolve: (value: unknown) => void
  reject: (reason: unknown) => void
}

interface Envelope { format: string, iv: string, tag: string, ciphertext: string }

/**
 * Connections in one local file, encrypted with AES-256-GCM: a fresh IV per write, the auth tag
 * checked on every read, so a wrong key or an edited file fails with an error naming the file.
 * Same semantics as Vault KV v2: versions, check-and-set, version metadata. Writes are serialised
 * in this process, committed in groups (all writes that arrive during one replacement share the
 * next) and land atomically (temp file + rename); one process owns the file.
 */
export class FileSecretStore implements SecretStore {
  readonly kind = 'file' as const
  private readonly path: string
  private readonly key: Buffer
  private readonly maxVersions: number
  private decrypted: { identity: string, contents: Contents } | null = null
  /** changes waiting for the next file replacement */
  private pending: PendingChange[] = []
  /** the batch being written, if any; the next batch starts when it settles */
  private flushing: Promise<void> | null = null
  private replacements = 0

  constructor (opts: FileSecretStoreOptions) {
    if (!Buffer.isBuffer(opts.key) || opts.key.length !== 32) throw new TypeError('the secret file key must be 32 bytes (AES-256)')
    this.path = opts.path
    this.key = Buffer.from(opts.key)
    this.maxVersions = opts.maxVersions ?? 10
  }

  /**
   * The store for a folder beside this one: its own file next to this file ({path}.{folder}),
   * sealed with the same key — pending migrations wait there, encrypted like the connections.
   */
  folder (folder: string): FileSecretStore {
    return new FileSecretStore({ path: `${this.path}.${folder.replace(/[^a-z0-9_-]/gi, '')}`, key: this.key, maxVersions: this.maxVersions })
  }

  /** Reads and decrypts the file once, so a wrong key or a damaged file is reported at startup. */
  async open (): Promise<void> {
    await this.load()
  }

  async list (): Promise<string[]> {
    const { connections } = await this.load()
    return Object.keys(connections).sort()
  }

  async read (name: string, version?: number): Promise<StoredConnection | null> {
    assertConnectionName(name)
    if (version !== undefined && (!Number.isInteger(version) || version < 1)) throw new RangeError('version must be a positive integer')
    const key = (await this.load()).connections[name]
    if (!key) return null
    const n = version ?? key.currentVersion
    const v = key.versions[String(n)]
    if (!v || v.destroyed || v.deletionTime || !v.definition) return null
    return { name, version: n, createdTime: v.createdTime, definition: structuredClone(v.definition) }
  }

  async write (name: string, definition: ConnectionDefinition, cas: number): Promise<{ version: number, createdTime: string }> {
    assertConnectionName(name)
    if (!Number.isInteger(cas) || cas < 0) throw new RangeError('cas must be a non-negative integer')
    return this.mutate((contents) => {
      const key = contents.connections[name] ?? { currentVersion: 0, versions: {} }
      if (key.currentVersion !== cas) throw new CasConflictError(name, key.currentVersion)
      const version = key.currentVersion + 1
      const createdTime = new Date().toISOString()
      key.versions[String(version)] = { createdTime, destroyed: false, definition: structuredClone(definition) }
      key.currentVersion = version
      for (const n of Object.keys(key.versions)) {
        if (Number(n) <= version - this.maxVersions) delete key.versions[n]
      }
      contents.connections[name] = key
      return { version, createdTime }
    })
  }

  async versions (name: string): Promise<VersionInfo[]> {
    assertConnectionName(name)
    const key = (await this.load()).connections[name]
    if (!key) return []
    return Object.entries(key.versions)
      .map(([n, v]): VersionInfo => ({ version: Number(n), createdTime: v.createdTime, ...(v.deletionTime ? { deletionTime: v.deletionTime } : {}), destroyed: v.destroyed }))
      .sort((a, b) => a.version - b.version)
  }

  async remove (name: string): Promise<void> {
    assertConnectionName(name)
    await this.mutate((contents) => {
      delete contents.connections[name]
    })
  }

  async health (): Promise<StoreHealth> {
    try {
      const { connections } = await this.load()
      return { ok: true, detail: `${Object.keys(connections).length} connection(s) in ${this.path}` }
    } catch (err) {
      return { ok: false, detail: (err as Error).message }
    }
  }

  /** How many times this store replaced the file: one per batch of concurrent changes, not one per write. */
  get fileReplacements (): number {
    return this.replacements
  }

  async close (): Promise<void> {
    while (this.flushing) await this.flushing
  }

  /**
   * Queues `change` for the next file replacement (group commit). Re-encrypting the whole file
   * costs the same for one change as for thousands, so every change that arrives while a
   * replacement is under way waits for the next one and shares it: seeding 10,000 connections
   * concurrently is a handful of replacements instead of 10,000. Changes still apply one after
   * the other in arrival order, so check-and-set behaves exactly as with serial writes, and a
   * caller is answered only once the file holding its change has been renamed into place.
   */
  private mutate<T> (change: (contents: Contents) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ change, resolve: resolve as (v: unknown) => void, reject })
      this.flushing ??= this.flush()
    })
  }

  private async flush (): Promise<void> {
    // let the callers of this tick queue their changes before the batch is cut
    await Promise.resolve()
    try {
      while (this.pending.length > 0) {
        const batch = this.pending
        this.pending = []
        await this.commit(batch)
      }
    } finally {
      this.flushing = null
    }
  }

  private async commit (batch: PendingChange[]): Promise<void> {
    let contents: Contents
    try {
      // a copy: if the write fails, the cached contents stay as on disk (structuredClone gives the
      // map of names a prototype again: a connection named "constructor" would find a function)
      contents = { connections: Object.assign(Object.create(null), structuredClone((await this.load()).connections)) }
    } catch (err) {
      for (const p of batch) p.reject(err)
      return
    }
    const applied: Array<{ p: PendingChange, result: unknown }> = []
    for (const p of batch) {
      // a change checks before it touches anything (check-and-set), so a refused one leaves no trace
      try {
        applied.push({ p, result: p.change(contents) })
      } catch (err) {
        p.reject(err)
      }
    }
    if (applied.length === 0) return
    try {
      await this.save(contents)
    } catch (err) {
      for (const { p } of applied) p.reject(err)
      return
    }
    for (const { p, result } of applied) p.resolve(result)
  }

  /**
   * The decrypted contents. Decrypting and parsing the whole file costs milliseconds at a thousand
   * connections, so the result is kept while the file's identity (inode, size, mtime) is unchanged;
   * a write by this or another process replaces the file (rename) and so invalidates it.
   * Callers must not change what this returns; mutate() works on its own copy.
   */
  private async load (): Promise<Contents> {
    let text: string
    let identity: string
    try {
      const st = await stat(this.path)
      identity = `${st.ino}:${st.size}:${st.mtimeMs}`
      if (this.decrypted?.identity === identity) return this.decrypted.contents
      text = await readFile(this.path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { connections: Object.create(null) }
      throw new SecretStoreUnavailableError('error', `cannot read the secret file ${this.path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`)
    }
    const contents = this.decrypt(text)
    this.decrypted = { identity, contents }
    return contents
  }

  private decrypt (text: string): Contents {
    let envelope: Envelope
    try {
      envelope = JSON.parse(text) as Envelope
    } catch {
      throw new SecretStoreUnavailableError('error', `the secret file ${this.path} is damaged: not an encrypted secret file`)
    }
    if (envelope?.format !== FORMAT || typeof envelope.iv !== 'string' || typeof envelope.tag !== 'string' || typeof envelope.ciphertext !== 'string') {
      throw new SecretStoreUnavailableError('error', `the secret file ${this.path} is damaged: not an encrypted secret file (format ${FORMAT})`)
    }
    let plain: Buffer
    try {
      // the tag's length is fixed: told nothing, GCM accepts a tag cut to 4 bytes (a prefix of the right
      // one verifies), which leaves a forged file 2^32 guesses (NIST SP 800-38D, 5.2.1.2)
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(envelope.iv, 'base64'), { authTagLength: TAG_BYTES })
      decipher.setAAD(Buffer.from(FORMAT))
      decipher.setAuthTag(Buffer.from(envelope.tag, 'base64'))
      plain = Buffer.concat([decipher.update(Buffer.from(envelope.ciphertext, 'base64')), decipher.final()])
    } catch {
      throw new SecretStoreUnavailableError('error', `cannot decrypt the secret file ${this.path}: wrong key, or the file was modified`)
    }
    const contents = JSON.parse(plain.toString('utf8')) as Contents
    return { connections: Object.assign(Object.create(null), contents.connections) }
  }

  /** Encrypts and atomically replaces the file, then keeps `contents` as the decrypted file. */
  private async save (contents: Contents): Promise<void> {
    const iv = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES })
    cipher.setAAD(Buffer.from(FORMAT))
    const ciphertext = Buffer.concat([cipher.update(JSON.stringify(contents), 'utf8'), cipher.final()])
    const envelope: Envelope = { format: FORMAT, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), ciphertext: ciphertext.toString('base64') }

    await mkdir(dirname(this.path), { recursive: true })
    const temp = `${this.path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
    let identity: string
    try {
      const handle = await open(temp, 'w', 0o600)
      try {
        await handle.writeFile(JSON.stringify(envelope))
        await handle.sync()
        // the identity load() will see: rename keeps inode, size and mtime
        const st = await handle.stat()
        identity = `${st.ino}:${st.size}:${st.mtimeMs}`
      } finally {
        await handle.close()
      }
      await rename(temp, this.path)
      // the rename is durable once the directory is: before, a crash could bring back the file as it was
      await syncDirectory(dirname(this.path))
      this.replacements++
    } catch (err) {
      await rm(temp, { force: true })
      throw new SecretStoreUnavailableError('error', `cannot write the secret file ${this.path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`)
    }
    // what was just written need not be read back and decrypted: remember it under its identity
    this.decrypted = { identity, contents }
  }
}
