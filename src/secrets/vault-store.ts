import nodeVault from 'node-vault'
import type NodeVault from 'node-vault'
import type { Logger } from 'pino'
import { Agent, type Dispatcher } from 'undici'
import { systemClock, type Clock } from '../clock.ts'
import type { ConnectionDefinition } from '../salesforce/types.ts'
import { assertConnectionName, isConnectionName } from './connection-name.ts'
import { definitionToFields, fieldsToDefinition } from './definition-fields.ts'
import { CasConflictError, SecretStoreUnavailableError, type SecretStore, type StoreHealth, type StoredConnection, type VersionInfo } from './store.ts'
import { isCasMismatch, toStoreError, vaultMessageOf, vaultStatusOf } from './vault-errors.ts'
import { VaultTokenKeeper, type VaultAuth } from './vault-token.ts'
import { vaultRequestPromise } from './vault-transport.ts'

export type { VaultAuth } from './vault-token.ts'

export interface VaultSecretStoreOptions {
  /** e.g. https://vault.internal:8200 */
  endpoint: string
  /** KV v2 mount, default 'secret' */
  kvMount?: string
  /** folder under the mount; each connection is {pathPrefix}/{name}. Default 'sf-broker' */
  pathPrefix?: string
  auth: VaultAuth
  /** timeout of one Vault request, default 5000 */
  requestTimeoutMs?: number
  /** Vault Enterprise namespace (X-Vault-Namespace on every request but sys/health, which ignores it) */
  namespace?: string
  /** how requests reach Vault: proxy, CA, client certificate (src/egress.ts egressDispatcher); default direct */
  dispatcher?: Dispatcher
  logger: Logger
  /** the time the token's TTL and the start-up retries are counted in; default the system clock */
  clock?: Clock
}

/** the sys/health fields read here (http/sys_health.go HealthResponse) */
interface VaultHealthBody {
  initialized?: unknown
  sealed?: unknown
  standby?: unknown
  version?: unknown
  replication_dr_mode?: unknown
  ha_connection_healthy?: unknown
  removed_from_cluster?: unknown
}

interface KvVersionMetadata { created_time?: unknown, deletion_time?: unknown, destroyed?: unknown, version?: unknown }

/**
 * Connections in Vault's KV v2 engine, through node-vault: one secret per connection at
 * {mount}/data/{prefix}/{name}, every write check-and-set. Names are checked before any request.
 * Requests whose token Vault rejects are retried once after a fresh login. Errors become
 * SecretStoreUnavailableError (unreachable, sealed, permission_denied) or CasConflictError.
 */
export class VaultSecretStore implements SecretStore {
  readonly kind = 'vault' as const
  private readonly client: NodeVault.client
  private readonly token: VaultTokenKeeper
  private readonly mount: string
  private readonly prefix: string
  private readonly logger: Logger
  private readonly dispatcher: Dispatcher
  private readonly clock: Clock
  private closed = false
  /** while startWithRetry() has not yet succeeded: why the last attempt failed */
  private notStarted: string | null = null

  constructor (opts: VaultSecretStoreOptions) {
    this.mount = trimSlashes(opts.kvMount ?? 'secret')
    this.prefix = trimSlashes(opts.pathPrefix ?? 'sf-broker')
    this.logger = opts.logger
    this.clock = opts.clock ?? systemClock
    this.dispatcher = opts.dispatcher ?? new Agent()
    this.client = nodeVault({
      endpoint: opts.endpoint,
      apiVersion: 'v1',
      // through undici with the broker's proxy and TLS settings, not axios's (src/secrets/vault-transport.ts)
      'request-promise': vaultRequestPromise(this.dispatcher, opts.requestTimeoutMs ?? 5000),
      requestOptions: { timeout: opts.requestTimeoutMs ?? 5000 },
      // node-vault's debug output prints request bodies, i.e. secrets
      debug: () => {},
    })
    // node-vault falls back to VAULT_PREFIX and VAULT_NAMESPACE from the environment when its
    // options are empty; the paths here are exact and the namespace is the configured one or none
    Object.assign(this.client, { pathPrefix: '', namespace: opts.namespace ?? '' })
    this.token = new VaultTokenKeeper(this.client, opts.auth, opts.logger, this.clock)
  }

  /** Logs in (AppRole, Kubernetes) or checks the static token, and starts keeping it renewed. */
  async start (): Promise<void> {
    await this.token.start()
    this.notStarted = null
  }

  /**
   * start(), retried with capped exponential backoff while Vault is unreachable, sealed or refuses
   * the login (Vault and the broker often start together; a Vault Agent may not have written its
   * sink yet). Readiness stays false meanwhile (health()). Rejects with the last error once
   * `timeoutMs` has passed.
   */
  async startWithRetry (timeoutMs: number): Promise<void> {
    const deadline = this.clock.now() + timeoutMs
    for (let attempt = 0; ; attempt++) {
      try {
        await this.start()
        if (attempt > 0) this.logger.info({ attempts: attempt + 1 }, 'Vault reachable: secret store started')
        return
      } catch (err) {
        const reason = (err as Error).message
        this.notStarted = reason
        const delay = Math.min(10_000, 250 * 2 ** attempt) * (0.8 + Math.random() * 0.4)
        if (this.closed || this.clock.now() + delay >= deadline) throw err
        this.logger.warn({ reason, retryInMs: Math.round(delay) }, 'Vault not usable yet: retrying (not ready meanwhile)')
        await new Promise<void>(resolve => { this.clock.setTimer(delay, resolve) })
      }
    }
  }

  async list (): Promise<string[]> {
    const path = `${this.mount}/metadata/${this.prefix}/`
    const body = await this.call('list', path, () => this.client.list(path), () => null) as { data?: { keys?: unknown } } | null
    const keys = Array.isArray(body?.data?.keys) ? body.data.keys : []
    // folders ("x/") and keys an operator created by hand that are not valid names are not connections
    return keys.filter(isConnectionName).sort()
  }

  async read (name: string, version?: number): Promise<StoredConnection | null> {
    assertConnectionName(name)
    if (version !== undefined && (!Number.isInteger(version) || version < 1)) throw new RangeError('version must be a positive integer')
    const path = this.dataPath(name)
    const body = await this.call('read', path, () => this.client.read(version === undefined ? path : `${path}?version=${version}`), () => null) as
      { data?: { data?: Record<string, unknown> | null, metadata?: KvVersionMetadata } } | null
    const data = body?.data?.data
    const metadata = body?.data?.metadata
    if (!data || !metadata || typeof metadata.version !== 'number') return null
    return { name, version: metadata.version, createdTime: String(metadata.created_time ?? ''), definition: fieldsToDefinition(data) }
  }

  async write (name: string, definition: ConnectionDefinition, cas: number): Promise<{ version: number, createdTime: string }> {
    assertConnectionName(name)
    if (!Number.isInteger(cas) || cas < 0) throw new RangeError('cas must be a non-negative integer')
    const path = this.dataPath(name)
    let body: { data?: KvVersionMetadata }
    try {
      body = await this.call('write', path, () => this.client.write(path, { data: definitionToFields(definition), options: { cas } }))
    } catch (err) {
      if (err instanceof CasMismatch) throw new CasConflictError(name, await this.currentVersion(name))
      throw err
    }
    const version = body.data?.version
    if (typeof version !== 'number') throw new SecretStoreUnavailableError('error', `Vault answered the write of "${name}" without a version`)
    return { version, createdTime: String(body.data?.created_time ?? '') }
  }

  async versions (name: string): Promise<VersionInfo[]> {
    assertConnectionName(name)
    const path = this.metadataPath(name)
    const body = await this.call('versions', path, () => this.client.read(path), () => null) as { data?: { versions?: Record<string, KvVersionMetadata> } } | null
    const versions = body?.data?.versions ?? {}
    return Object.entries(versions)
      .map(([n, v]): VersionInfo => ({
        version: Number(n),
        createdTime: String(v.created_time ?? ''),
        ...(typeof v.deletion_time === 'string' && v.deletion_time !== '' ? { deletionTime: v.deletion_time } : {}),
        destroyed: v.destroyed === true,
      }))
      .sort((a, b) => a.version - b.version)
  }

  async remove (name: string): Promise<void> {
    assertConnectionName(name)
    const path = this.metadataPath(name)
    await this.call('remove', path, () => this.client.delete(path), () => null)
  }

  async health (): Promise<StoreHealth> {
    if (this.notStarted !== null) return { ok: false, detail: `Vault login pending: ${this.notStarted}` }
    try {
      // node-vault resolves sys/health with the body whatever the status (429, 501, 503…)
      const body = await this.client.health() as VaultHealthBody | string
      if (typeof body !== 'object' || body === null) return { ok: false, detail: 'unexpected answer from sys/health' }
      const version = typeof body.version === 'string' ? ` ${body.version}` : ''
      if (body.initialized === false) return { ok: false, sealed: body.sealed === true, detail: `Vault${version} is not initialised` }
      if (body.removed_from_cluster === true) return { ok: false, sealed: body.sealed === true, detail: `Vault${version} node was removed from its cluster (530)` }
      if (body.sealed === true) return { ok: false, sealed: true, detail: `Vault${version} is sealed` }
      // http/sys_health.go answers these with 474 and 472; node-vault hands over the body alike, so the fields decide
      if (body.ha_connection_healthy === false) {
        return { ok: false, sealed: false, detail: `Vault${version} standby lost its connection to the active node (474): it cannot forward requests` }
      }
      if (body.replication_dr_mode === 'secondary') {
        return { ok: false, sealed: false, detail: `Vault${version} is a DR secondary (472): it serves no secrets until promoted` }
      }
      return { ok: true, sealed: false, detail: body.standby === true ? `Vault${version} standby (requests are forwarded to the active node)` : `Vault${version} active` }
    } catch (err) {
      return { ok: false, detail: toStoreError(err, 'sys/health').message }
    }
  }

  async close (): Promise<void> {
    this.closed = true
    this.token.stop()
    await this.dispatcher.close()
  }

  /**
   * The same store one folder down ({prefix}/{folder}/{name}) sharing the client, the token and the
   * error handling: pending migrations wait there beside the connections they will replace. The
   * folder is not a valid connection name, so `list` of the parent never shows it. Closing the
   * parent closes the view; closing the view does nothing.
   */
  folder (folder: string): VaultSecretStore {
    const view = Object.create(VaultSecretStore.prototype) as VaultSecretStore
    // the fields, not the methods: an instrumented (wrapped) method of this instance would act on this prefix
    for (const [key, value] of Object.entries(this)) if (typeof value !== 'function' && key !== 'prefix' && key !== 'closed') Object.defineProperty(view, key, { value, writable: true })
    Object.defineProperty(view, 'prefix', { value: `${this.prefix}/${trimSlashes(folder)}` })
    Object.defineProperty(view, 'closed', { get: () => this.closed })
    Object.defineProperty(view, 'close', { value: async () => {} })
    return view
  }

  /** One request to another engine of the same Vault (Transit), with this store's token, re-login and error mapping. */
  request<T> (op: string, path: string, send: (client: NodeVault.client) => Promise<T>, notFound?: () => T): Promise<T> {
    return this.call(op, path, () => send(this.client), notFound)
  }

  private dataPath (name: string): string {
    return `${this.mount}/data/${this.prefix}/${name}`
  }

  private metadataPath (name: string): string {
    return `${this.mount}/metadata/${this.prefix}/${name}`
  }

  private async currentVersion (name: string): Promise<number | undefined> {
    try {
      const path = this.metadataPath(name)
      const body = await this.call('versions', path, () => this.client.read(path), () => null) as { data?: { current_version?: unknown } } | null
      return typeof body?.data?.current_version === 'number' ? body.data.current_version : undefined
    } catch {
      return undefined
    }
  }

  /**
   * A 403 means a dead token or a policy refusal. Vault says "invalid token" for a dead one
   * (vault/request_handling.go, sdk/logical/error.go ErrInvalidToken; Vault Agent re-authenticates
   * on exactly that text); a bare "permission denied" is settled by asking lookup-self.
   */
  private async tokenIsDead (err: unknown, used: string): Promise<boolean> {
    if (/invalid token/i.test(vaultMessageOf(err))) return true
    return await this.token.isAlive(used) === false
  }

  /**
   * One Vault request: with a live token, retried once after a fresh login when Vault rejects
   * the token (revoked, expired early), 404 answered by `notFound`, logged with path and duration.
   */
  private async call<T> (op: string, path: string, request: () => Promise<T>, notFound?: () => T): Promise<T> {
    if (this.closed) throw new SecretStoreUnavailableError('error', 'the Vault secret store is closed')
    const started = performance.now()
    let outcome = 'ok'
    const attempt = async (): Promise<T> => {
      try {
        return await request()
      } catch (err) {
        if (notFound && vaultStatusOf(err) === 404) {
          outcome = 'not_found'
          return notFound()
        }
        if (isCasMismatch(err)) throw new CasMismatch()
        throw err
      }
    }
    try {
      const used = await this.token.ensure()
      try {
        const value = await attempt()
        this.notStarted = null // Vault answered with the token: usable, whatever start() said
        return value
      } catch (err) {
        if (vaultStatusOf(err) !== 403 || !this.token.canReplace) throw err
        if (!await this.tokenIsDead(err, used)) {
          outcome = 'policy_denied'
          throw policyRefusal(op, path)
        }
        outcome = 'relogin'
        // a token file the Agent has not rewritten yet has nothing newer to offer
        if (!await this.token.replace(used)) throw err
        return await attempt()
      }
    } catch (err) {
      if (err instanceof CasMismatch) {
        outcome = 'cas_conflict'
        throw err
      }
      const mapped = toStoreError(err, `${op} ${path}`)
      outcome = mapped instanceof SecretStoreUnavailableError ? mapped.reason : 'error'
      throw mapped
    } finally {
      this.logger.debug({ vault: { op, path, outcome, durationMs: Math.round(performance.now() - started) } }, 'vault request')
    }
  }
}

/**
 * A live token refused by its policy: logging in again would get the same policies and spend
 * one use of a limited-use AppRole secret ID (and leave a token lease behind), so say it plainly.
 */
function policyRefusal (op: string, path: string): SecretStoreUnavailableError {
  return new SecretStoreUnavailableError('permission_denied',
    `Vault policy refuses ${op} ${path}: the broker's token is valid, so its role's policies lack this capability`)
}

/** Internal marker: Vault refused a write because the check-and-set version was stale. */
class CasMismatch extends Error {}

function trimSlashes (s: string): string {
  return s.replace(/^\/+|\/+$/g, '')
}
