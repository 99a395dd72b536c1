import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { Socket } from 'node:net'
import { randomBytes, randomUUID } from 'node:crypto'
import { TransitEngine } from './vault-transit-standin.ts'

/**
 * An in-process HTTP server answering like HashiCorp Vault for the parts of its API the broker
 * uses: sys/health, the KV v2 secrets engine, AppRole and Kubernetes login, token self-lookup and
 * renewal, ACL policies, sealing, and token expiry. Status codes, error texts and response
 * envelopes follow Vault's API documentation and its KV plugin, so the real node-vault client
 * can be tested against it without a Vault binary.
 */
/** Vault's tcp listener's http_idle_timeout default */
export const VAULT_HTTP_IDLE_TIMEOUT_MS = 5 * 60_000

export interface VaultStandIn {
  /** http://127.0.0.1:PORT (https:// with the tls option) */
  url: string
  port: number
  rootToken: string
  createToken (opts: { policies: string[], ttlSeconds?: number, renewable?: boolean, maxTtlSeconds?: number }): string
  /** rules: path globs as in Vault policies ('secret/data/sf-broker/*', '+' for one segment) */
  setPolicy (name: string, rules: PolicyRule[]): void
  /**
   * secretIdNumUses: the secret ID's secret_id_num_uses (0 = unlimited). As in Vault's AppRole
   * backend (builtin/credential/approle/path_login.go) each login spends one use, the last use
   * deletes the secret ID, and later logins answer 400 "invalid role or secret ID".
   */
  enableAppRole (roleName: string, opts: { policies: string[], tokenTtlSeconds?: number, tokenMaxTtlSeconds?: number, secretIdNumUses?: number, mountPath?: string }): { roleId: string, secretId: string }
  /** uses left of an AppRole secret ID: a number, 'unlimited', or 'gone' once spent */
  secretIdUsesLeft (secretId: string): number | 'unlimited' | 'gone'
  enableKubernetes (roleName: string, opts: { serviceAccountJwt: string, policies: string[], tokenTtlSeconds?: number, tokenMaxTtlSeconds?: number, mountPath?: string }): void
  /** revokes one token (as `vault token revoke`) */
  revokeToken (token: string): void
  /** revokes every token but the root token */
  revokeAllTokens (): void
  seal (): void
  unseal (): void
  /** standby node: sys/health answers 429 */
  setStandby (standby: boolean): void
  /** uninitialised: sys/health answers 501 */
  setInitialized (initialized: boolean): void
  /** disaster-recovery secondary: sys/health answers 472, replication_dr_mode "secondary" */
  setDrSecondary (secondary: boolean): void
  /**
   * a standby's request-forwarding connection to the active node: false makes sys/health answer
   * 474 with ha_connection_healthy:false (Vault 1.18+, http/sys_health.go "haunhealthycode")
   */
  setHaConnectionHealthy (healthy: boolean): void
  /** stop listening (connections refused, open ones dropped); data and tokens are kept */
  stop (): Promise<void>
  /** listen again on the same port */
  start (): Promise<void>
  requestLog: RequestLogEntry[]
  /** the Transit secrets engine mounted at `transitMount` (test/support/vault-transit-standin.ts) */
  transit: TransitEngine
  close (): Promise<void>
}

export interface PolicyRule { path: string, capabilities: string[] }

/** The KV v2 policy the README gives the broker (its connections under secret/sf-broker/). */
export const BROKER_KV_POLICY: PolicyRule[] = [
  { path: 'secret/data/sf-broker/*', capabilities: ['create', 'read', 'update', 'delete'] },
  { path: 'secret/metadata/sf-broker/*', capabilities: ['read', 'list', 'delete'] },
  { path: 'secret/metadata/sf-broker/', capabilities: ['list'] },
]

export interface RequestLogEntry {
  method: string
  /** URL path without the query, e.g. /v1/secret/data/sf-broker/acme */
  path: string
  /** query string without '?', '' when none */
  query: string
  /** status answered (0 while in flight) */
  status: number
}

export interface VaultStandInOptions {
  /** KV v2 mount, default 'secret' */
  kvMount?: string
  /** versions kept per key (the engine's max_versions), default 10 */
  maxVersions?: number
  /**
   * the engine's delete_version_after (`vault write secret/config delete_version_after=…`), in
   * seconds; default 0: never. Each write sets its version's deletion_time that far ahead; the
   * version is readable until then (delete_version_after.go deletionTime, path_data.go pathDataRead)
   */
  deleteVersionAfterSeconds?: number
  /** Transit secrets engine mount, default 'transit' */
  transitMount?: string
  /**
   * answer every 403 with the bare "permission denied", as older Vault releases (before the
   * "invalid token" text) and error-rewriting proxies do: a client cannot tell a dead token from a
   * policy refusal by the body and must ask auth/token/lookup-self
   */
  bareDenials?: boolean
  /**
   * Vault Enterprise namespace holding every mount, token and policy (e.g. 'team-a'). A request is
   * in the namespace its X-Vault-Namespace header names, followed by a path prefix if any
   * (docs: enterprise/namespaces, "API operations performed under a namespace can be done by
   * providing the relative request path along with the namespace path using the X-Vault-Namespace
   * header"); tokens are valid only in the namespace that issued them. Elsewhere no token is
   * known, and token checks precede routing (vault/request_handling.go): 403. sys/health and
   * sys/seal-status are root-only paths that answer whatever the namespace.
   */
  namespace?: string
  /** serve HTTPS, as Vault's tcp listener with tls_cert_file/tls_key_file; requestCert + ca: tls_require_and_verify_client_cert */
  tls?: { cert: string | Buffer, key: string | Buffer, ca?: string | Buffer, requestCert?: boolean }
  /**
   * the time token TTLs count in (issue, renewal, expiry); default the real time. A test gives the
   * broker's Vault store the same clock and moves it (test/support/manual-clock.ts)
   */
  clock?: { now (): number }
}

const SYSTEM_MAX_TTL = 2_764_800 // 768h, Vault's default max lease TTL
const VAULT_VERSION = '1.17.2'
/*
 * The three 403 texts Vault writes (vault/request_handling.go, sdk/logical/error.go; documented in
 * website/content/docs/concepts/tokens.mdx "Error Responses", hashicorp/vault#26687):
 * - no token at all: fetchACLTokenEntryAndEntity returns the bare ErrPermissionDenied;
 * - a token Vault does not know (revoked, expired, made up): ErrPermissionDenied and ErrInvalidToken
 *   together, a go-multierror of two — Vault Agent and Proxy re-authenticate only on "invalid token";
 * - a live token whose policy does not allow the request: a multierror of one "permission denied".
 */
const PERMISSION_DENIED = 'permission denied'
const INVALID_TOKEN = '2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n'
const ACL_DENIED = '1 error occurred:\n\t* permission denied\n\n'

interface TokenEntry {
  id: string
  accessor: string
  policies: string[]
  path: string
  displayName: string
  meta: Record<string, string> | null
  issuedAt: number
  creationTtl: number
  /** the period a renewal extends by (the role's token_ttl) */
  periodTtl: number
  expiresAt: number | null
  maxExpiresAt: number | null
  renewable: boolean
  orphan: boolean
  entityId: string
}

interface VersionEntry {
  createdTime: string
  deletionTime: string
  destroyed: boolean
  data: Record<string, unknown> | null
}

interface KeyEntry {
  createdTime: string
  updatedTime: string
  currentVersion: number
  oldestVersion: number
  versions: Map<number, VersionEntry>
}

interface RoleEntry { policies: string[], ttl: number, maxTtl: number }
/** remaining uses of an AppRole secret ID; 0 = unlimited (Vault's SecretIDNumUses) */
type SecretIdUses = number

interface Req { method: string, pathname: string, query: URLSearchParams, headers: Record<string, string | string[] | undefined>, body: string }
interface Res { status: number, body?: unknown }

function trimNs (ns: string | undefined): string {
  return (ns ?? '').replace(/^\/+|\/+$/g, '')
}

export async function startVaultStandIn (opts: VaultStandInOptions = {}): Promise<VaultStandIn> {
  const kvMount = opts.kvMount ?? 'secret'
  const maxVersions = opts.maxVersions ?? 10
  const deleteVersionAfterMs = (opts.deleteVersionAfterSeconds ?? 0) * 1000
  /** a deletion_time that has come: Vault compares it with now (deletionTime.Before(time.Now())), a later one is only scheduled */
  const isDeleted = (v: VersionEntry): boolean => v.deletionTime !== '' && Date.parse(v.deletionTime) <= Date.now()
  const transitMount = opts.transitMount ?? 'transit'
  const transit = new TransitEngine()
  const clock = opts.clock ?? { now: () => Date.now() }
  const requestLog: RequestLogEntry[] = []
  const tokens = new Map<string, TokenEntry>()
  const policies = new Map<string, PolicyRule[]>()
  const kv = new Map<string, KeyEntry>()
  const appRoles = new Map<string, RoleEntry & { roleName: string, secretIds: Map<string, SecretIdUses> }>() // by role_id
  const approleMounts = new Set<string>()
  const k8sMounts = new Map<string, Map<string, RoleEntry & { jwt: string }>>() // mount -> role -> entry
  let sealed = false
  let standby = false
  let initialized = true
  let drSecondary = false
  /** undefined until a standby has a request-forwarding heartbeat to report */
  let haConnectionHealthy: boolean | undefined

  const issueToken = (t: Omit<TokenEntry, 'id' | 'accessor' | 'issuedAt' | 'entityId' | 'expiresAt' | 'maxExpiresAt'> & { maxTtl: number }): TokenEntry => {
    const now = clock.now()
    const entry: TokenEntry = {
      ...t,
      id: `hvs.${randomBytes(18).toString('base64url')}`,
      accessor: randomBytes(12).toString('base64url'),
      issuedAt: now,
      entityId: t.path.startsWith('auth/token/') ? '' : randomUUID(),
      expiresAt: t.creationTtl > 0 ? now + t.creationTtl * 1000 : null,
      maxExpiresAt: t.creationTtl > 0 ? now + t.maxTtl * 1000 : null,
    }
    tokens.set(entry.id, entry)
    return entry
  }

  const root = issueToken({ policies: ['root'], path: 'auth/token/root', displayName: 'root', meta: null, creationTtl: 0, periodTtl: 0, maxTtl: 0, renewable: false, orphan: true })

  const liveToken = (id: string | undefined): TokenEntry | null => {
    if (!id) return null
    const t = tokens.get(id)
    if (!t) return null
    if (t.expiresAt !== null && t.expiresAt <= clock.now()) {
      tokens.delete(id) // Vault revokes a token when its lease ends
      return null
    }
    return t
  }

  // ---------------------------------------------------------------- dispatch

  function handle (req: Req): Res {
    const p = req.pathname
    if (!p.startsWith('/v1/')) return { status: 404, body: { errors: [] } }
    let path = p.slice(4)
    let method = req.method
    if (method === 'GET' && isTrue(req.query.get('list'))) method = 'LIST'

    if (path === 'sys/health' && (method === 'GET' || method === 'HEAD')) return health(req.query, method)
    if (path === 'sys/seal-status' && method === 'GET') {
      return { status: 200, body: { type: 'shamir', initialized, sealed, t: 1, n: 1, progress: 0, nonce: '', version: VAULT_VERSION, build_date: '2024-07-10T00:00:00Z', migration: false, recovery_seal: false, storage_type: 'inmem' } }
    }
    if (sealed) return { status: 503, body: { errors: ['Vault is sealed'] } }

    const nsHeader = req.headers['x-vault-namespace']
    let ns = trimNs(Array.isArray(nsHeader) ? nsHeader[0] : nsHeader)
    const home = trimNs(opts.namespace)
    if (home !== '' && ns !== home && `${ns}/${path}`.replace(/^\//, '').startsWith(`${home}/`)) {
      // the rest of the namespace given as a path prefix
      path = `${ns}/${path}`.replace(/^\//, '').slice(home.length + 1)
      ns = home
    }
    if (ns !== home) {
      const given = req.headers['x-vault-token']
      return { status: 403, body: { errors: [given && !opts.bareDenials ? INVALID_TOKEN : PERMISSION_DENIED] } }
    }

    let body: Record<string, unknown> = {}
    if (req.body.trim() !== '') {
      try {
        const parsed: unknown = JSON.parse(req.body)
        if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>
      } catch (err) {
        return { status: 400, body: { errors: [`failed to parse JSON input: ${(err as Error).message}`] } }
      }
    }

    const approle = /^auth\/(.+)\/login$/.exec(path)
    if (approle && approleMounts.has(approle[1]) && isWrite(method)) return approleLogin(body)
    const k8s = /^auth\/(.+)\/login$/.exec(path)
    if (k8s && k8sMounts.has(k8s[1]) && isWrite(method)) return kubernetesLogin(k8s[1], body)

    const header = req.headers['x-vault-token'] ?? bearer(req.headers.authorization)
    const presented = Array.isArray(header) ? header[0] : header
    const token = liveToken(presented)
    if (!token) return { status: 403, body: { errors: [presented && !opts.bareDenials ? INVALID_TOKEN : PERMISSION_DENIED] } }

    if (path === 'auth/token/lookup-self' && (method === 'GET' || isWrite(method))) return lookupSelf(token)
    if (path === 'auth/token/renew-self' && isWrite(method)) return renewSelf(token, body)
    if (path === 'auth/token/revoke-self' && isWrite(method)) {
      tokens.delete(token.id)
      return { status: 204 }
    }

    if (path.startsWith(`${kvMount}/`)) return kvRequest(method, path, req.query, body, token)
    if (path.startsWith(`${transitMount}/`)) {
      // transit's paths have no existence check: a write needs update, whether it creates or not
      if (!allowed(token, path, method === 'GET' ? 'read' : method === 'LIST' ? 'list' : 'update')) return denied()
      const answer = transit.handle(method, path.slice(transitMount.length + 1), body, (data, warnings) => envelope(data, { warnings }))
      if (answer) return answer as Res
    }
    if (!allowed(token, path, method === 'LIST' ? 'list' : method === 'GET' ? 'read' : 'update')) return denied()
    return { status: 404, body: { errors: [`no handler for route "${path}". route entry not found.`] } }
  }

  function denied (): Res {
    return { status: 403, body: { errors: [opts.bareDenials ? PERMISSION_DENIED : ACL_DENIED] } }
  }

  // ---------------------------------------------------------------- sys/health

  function health (query: URLSearchParams, method: string): Res {
    const code = (name: string, fallback: number) => {
      const v = Number(query.get(name))
      return query.has(name) && Number.isInteger(v) ? v : fallback
    }
    // precedence as in http/sys_health.go: uninitialised, sealed, HA connection lost, DR secondary, standby
    const haReported = standby && haConnectionHealthy !== undefined && !sealed && initialized
    let status: number
    if (!initialized) status = code('uninitcode', 501)
    else if (sealed) status = code('sealedcode', 503)
    else if (haReported && haConnectionHealthy === false) status = code('haunhealthycode', 474)
    else if (drSecondary) status = code('drsecondarycode', 472)
    else if (standby) status = isTrue(query.get('standbyok')) ? code('activecode', 200) : code('standbycode', 429)
    else status = code('activecode', 200)
    const down = !initialized || sealed
    const body = {
      initialized,
      sealed: sealed || !initialized,
      standby: standby || down,
      performance_standby: false,
      replication_performance_mode: down ? 'unknown' : 'disabled',
      replication_dr_mode: down ? 'unknown' : drSecondary ? 'secondary' : 'disabled',
      server_time_utc: Math.floor(clock.now() / 1000),
      version: VAULT_VERSION,
      enterprise: false,
      ...(down ? {} : { cluster_name: 'vault-cluster-standin', cluster_id: clusterId }),
      echo_duration_ms: 0,
      clock_skew_ms: 0,
      ...(haReported ? { ha_connection_healthy: haConnectionHealthy, last_request_forwarding_heartbeat_ms: haConnectionHealthy ? 500 : 30_000 } : {}),
    }
    return { status, body: method === 'HEAD' ? undefined : body }
  }
  const clusterId = randomUUID()

  // ---------------------------------------------------------------- auth

  function authResponse (t: TokenEntry, mountType: string, warnings: string[] | null = null): Res {
    return {
      status: 200,
      body: envelope(null, {
        warnings,
        mount_type: mountType,
        auth: {
          client_token: t.id,
          accessor: t.accessor,
          policies: t.policies,
          token_policies: t.policies,
          metadata: t.meta,
          lease_duration: t.expiresAt === null ? 0 : Math.max(0, Math.round((t.expiresAt - clock.now()) / 1000)),
          renewable: t.renewable,
          entity_id: t.entityId,
          token_type: 'service',
          orphan: t.orphan,
          mfa_requirement: null,
          num_uses: 0,
        },
      }),
    }
  }

  function approleLogin (body: Record<string, unknown>): Res {
    const roleId = body.role_id
    if (typeof roleId !== 'string' || roleId === '') return { status: 400, body: { errors: ['missing role_id'] } }
    const role = appRoles.get(roleId)
    if (!role || typeof body.secret_id !== 'string' || !role.secretIds.has(body.secret_id)) {
      return { status: 400, body: { errors: ['invalid role or secret ID'] } }
    }
    // secret_id_num_uses: the last use deletes the secret ID (path_login.go), so the next login
    // with it finds no entry and answers as for an unknown one
    const uses = role.secretIds.get(body.secret_id) ?? 0
    if (uses === 1) role.secretIds.delete(body.secret_id)
    else if (uses > 1) role.secretIds.set(body.secret_id, uses - 1)
    const t = issueToken({
      policies: withDefault(role.policies),
      path: 'auth/approle/login',
      displayName: 'approle',
      meta: { role_name: role.roleName },
      creationTtl: role.ttl,
      periodTtl: role.ttl,
      maxTtl: role.maxTtl,
      renewable: true,
      orphan: true,
    })
    return authResponse(t, 'approle')
  }

  function kubernetesLogin (mount: string, body: Record<string, unknown>): Res {
    if (typeof body.role !== 'string' || body.role === '') return { status: 400, body: { errors: ['missing role'] } }
    if (typeof body.jwt !== 'string' || body.jwt === '') return { status: 400, body: { errors: ['missing jwt'] } }
    const role = k8sMounts.get(mount)?.get(body.role)
    if (!role) return { status: 400, body: { errors: [`invalid role name "${body.role}"`] } }
    if (body.jwt !== role.jwt) return { status: 403, body: { errors: [PERMISSION_DENIED] } }
    const t = issueToken({
      policies: withDefault(role.policies),
      path: `auth/${mount}/login`,
      displayName: `${mount}-default-broker`,
      meta: { role: body.role, service_account_name: 'broker', service_account_namespace: 'default', service_account_secret_name: '', service_account_uid: clusterId },
      creationTtl: role.ttl,
      periodTtl: role.ttl,
      maxTtl: role.maxTtl,
      renewable: true,
      orphan: true,
    })
    return authResponse(t, 'kubernetes')
  }

  function lookupSelf (t: TokenEntry): Res {
    const ttl = t.expiresAt === null ? 0 : Math.max(0, Math.round((t.expiresAt - clock.now()) / 1000))
    return {
      status: 200,
      body: envelope({
        accessor: t.accessor,
        creation_time: Math.floor(t.issuedAt / 1000),
        creation_ttl: t.creationTtl,
        display_name: t.displayName,
        entity_id: t.entityId,
        expire_time: t.expiresAt === null ? null : new Date(t.expiresAt).toISOString(),
        explicit_max_ttl: 0,
        id: t.id,
        issue_time: new Date(t.issuedAt).toISOString(),
        meta: t.meta,
        num_uses: 0,
        orphan: t.orphan,
        path: t.path,
        policies: t.policies,
        renewable: t.renewable,
        ttl,
        type: 'service',
      }, { mount_type: 'token' }),
    }
  }

  function renewSelf (t: TokenEntry, body: Record<string, unknown>): Res {
    if (!t.renewable || t.expiresAt === null) return { status: 400, body: { errors: ['lease is not renewable'] } }
    const requested = parseDuration(body.increment) ?? t.periodTtl
    const now = clock.now()
    let ttl = requested
    let warnings: string[] | null = null
    if (t.maxExpiresAt !== null && now + ttl * 1000 > t.maxExpiresAt) {
      ttl = Math.max(0, Math.floor((t.maxExpiresAt - now) / 1000))
      warnings = [`TTL of "${requested}s" exceeded the effective max_ttl of "${ttl}s"; TTL value is capped accordingly`]
    }
    t.expiresAt = now + ttl * 1000
    return authResponse(t, 'token', warnings)
  }

  // ---------------------------------------------------------------- ACL

  function allowed (t: TokenEntry, path: string, capability: string): boolean {
    if (t.policies.includes('root')) return true
    let best: { pattern: string, rank: number[] } | null = null
    let caps = new Set<string>()
    for (const name of t.policies) {
      for (const rule of policies.get(name) ?? []) {
        if (!globMatches(rule.path, path)) continue
        const rank = specificity(rule.path)
        const cmp = best ? compareRank(rank, best.rank) : 1
        if (cmp > 0) {
          best = { pattern: rule.path, rank }
          caps = new Set(rule.capabilities)
        } else if (cmp === 0 && rule.path === best?.pattern) {
          for (const c of rule.capabilities) caps.add(c)
        }
      }
    }
    return !caps.has('deny') && caps.has(capability)
  }

  // ---------------------------------------------------------------- KV v2

  function kvRequest (method: string, path: string, query: URLSearchParams, body: Record<string, unknown>, t: TokenEntry): Res {
    const rest = path.slice(kvMount.length + 1)
    const slash = rest.indexOf('/')
    const op = slash === -1 ? rest : rest.slice(0, slash)
    const key = slash === -1 ? '' : rest.slice(slash + 1)
    const deny = denied()
    const unsupported = { status: 405, body: { errors: ['1 error occurred:\n\t* unsupported operation\n\n'] } }
    if (key.split('/').some(s => s === '..' || s === '.')) return { status: 400, body: { errors: ['invalid request path'] } }

    if (op === 'data') {
      if (key === '' || key.endsWith('/')) return unsupported
      if (method === 'GET') return allowed(t, path, 'read') ? readData(key, query) : deny
      if (method === 'POST' || method === 'PUT') return allowed(t, path, kv.has(key) ? 'update' : 'create') ? writeData(key, body) : deny
      if (method === 'DELETE') return allowed(t, path, 'delete') ? deleteLatest(key) : deny
      return unsupported
    }
    if (op === 'metadata') {
      if (method === 'LIST') {
        const aclPath = key === '' || key.endsWith('/') ? path : `${path}/`
        return allowed(t, aclPath, 'list') ? listKeys(key) : deny
      }
      if (key === '' || key.endsWith('/')) return unsupported
      if (method === 'GET') return allowed(t, path, 'read') ? readMetadata(key) : deny
      if (method === 'DELETE') {
        if (!allowed(t, path, 'delete')) return deny
        kv.delete(key)
        return { status: 204 }
      }
      return unsupported
    }
    if (op === 'delete' || op === 'undelete' || op === 'destroy') {
      if (!isWrite(method)) return unsupported
      if (!allowed(t, path, 'update')) return deny
      const versions = body.versions
      if (!Array.isArray(versions) || versions.length === 0) return { status: 400, body: { errors: ['no version number provided'] } }
      const entry = kv.get(key)
      if (!entry) return { status: 204 }
      for (const raw of versions) {
        const v = entry.versions.get(Number(raw))
        if (!v) continue
        if (op === 'delete' && !v.destroyed && !isDeleted(v)) v.deletionTime = vaultTime()
        if (op === 'undelete' && !v.destroyed) v.deletionTime = ''
        if (op === 'destroy') {
          v.destroyed = true
          v.data = null
        }
      }
      return { status: 204 }
    }
    if (!allowed(t, path, method === 'GET' ? 'read' : 'update')) return deny
    return { status: 404, body: { errors: [] } }
  }

  function versionMetadata (v: VersionEntry, version: number) {
    return { created_time: v.createdTime, custom_metadata: null, deletion_time: v.deletionTime, destroyed: v.destroyed, version }
  }

  function readData (key: string, query: URLSearchParams): Res {
    const entry = kv.get(key)
    if (!entry) return { status: 404, body: { errors: [] } }
    const asked = Number(query.get('version') ?? 0)
    const version = Number.isInteger(asked) && asked > 0 ? asked : entry.currentVersion
    const v = entry.versions.get(version)
    if (!v) return { status: 404, body: { errors: [] } }
    // a deleted or destroyed version answers 404 with its metadata and data: null, as Vault does
    if (isDeleted(v) || v.destroyed) return { status: 404, body: envelope({ data: null, metadata: versionMetadata(v, version) }, { mount_type: 'kv' }) }
    return { status: 200, body: envelope({ data: structuredClone(v.data), metadata: versionMetadata(v, version) }, { mount_type: 'kv' }) }
  }

  function writeData (key: string, body: Record<string, unknown>): Res {
    const data = body.data
    if (data === null || typeof data !== 'object' || Array.isArray(data)) return { status: 400, body: { errors: ['no data provided'] } }
    const existing = kv.get(key)
    const options = body.options
    if (options !== null && typeof options === 'object' && 'cas' in options) {
      const cas = Number((options as { cas: unknown }).cas)
      if (!Number.isInteger(cas)) return { status: 400, body: { errors: ['error parsing check-and-set parameter'] } }
      if (cas !== (existing?.currentVersion ?? 0)) return { status: 400, body: { errors: ['check-and-set parameter did not match the current version'] } }
    }
    const now = vaultTime()
    const entry: KeyEntry = existing ?? { createdTime: now, updatedTime: now, currentVersion: 0, oldestVersion: 0, versions: new Map() }
    entry.currentVersion++
    const deletionTime = deleteVersionAfterMs > 0 ? vaultTime(Date.parse(now) + deleteVersionAfterMs) : ''
    const v: VersionEntry = { createdTime: now, deletionTime, destroyed: false, data: structuredClone(data as Record<string, unknown>) }
    entry.versions.set(entry.currentVersion, v)
    entry.updatedTime = now
    // the oldest versions beyond max_versions are removed for good, and the window moves, as in Vault's
    // KeyMetadata.AddVersion (builtin/logical/kv path_data.go): counted from oldest_version, not by the versions left
    if (entry.currentVersion - entry.oldestVersion >= maxVersions) {
      const versionToDelete = entry.currentVersion - maxVersions
      for (let i = entry.oldestVersion; i <= versionToDelete; i++) entry.versions.delete(i)
      entry.oldestVersion = versionToDelete + 1
    }
    kv.set(key, entry)
    const { version: _v, ...meta } = versionMetadata(v, entry.currentVersion)
    return { status: 200, body: envelope({ ...meta, version: entry.currentVersion }, { mount_type: 'kv' }) }
  }

  function deleteLatest (key: string): Res {
    const entry = kv.get(key)
    const v = entry?.versions.get(entry.currentVersion)
    if (v && !v.destroyed && !isDeleted(v)) v.deletionTime = vaultTime()
    return { status: 204 }
  }

  function listKeys (prefix: string): Res {
    const folder = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`
    const keys = new Set<string>()
    for (const key of kv.keys()) {
      if (!key.startsWith(folder)) continue
      const rest = key.slice(folder.length)
      const slash = rest.indexOf('/')
      keys.add(slash === -1 ? rest : rest.slice(0, slash + 1))
    }
    if (keys.size === 0) return { status: 404, body: { errors: [] } }
    return { status: 200, body: envelope({ keys: [...keys].sort() }, { mount_type: 'kv' }) }
  }

  function readMetadata (key: string): Res {
    const entry = kv.get(key)
    if (!entry) return { status: 404, body: { errors: [] } }
    const versions: Record<string, unknown> = {}
    for (const [n, v] of [...entry.versions].sort((a, b) => a[0] - b[0])) {
      versions[String(n)] = { created_time: v.createdTime, deletion_time: v.deletionTime, destroyed: v.destroyed }
    }
    return {
      status: 200,
      body: envelope({
        cas_required: false,
        created_time: entry.createdTime,
        current_version: entry.currentVersion,
        custom_metadata: null,
        delete_version_after: '0s',
        max_versions: 0,
        oldest_version: entry.oldestVersion,
        updated_time: entry.updatedTime,
        versions,
      }, { mount_type: 'kv' }),
    }
  }

  // ---------------------------------------------------------------- HTTP plumbing

  function logAndHandle (req: Req): Res {
    const entry: RequestLogEntry = { method: req.method, path: req.pathname, query: req.query.toString(), status: 0 }
    requestLog.push(entry)
    let res: Res
    try {
      res = handle(req)
    } catch (err) {
      res = { status: 500, body: { errors: [`1 error occurred:\n\t* ${(err as Error).message}\n\n`] } }
    }
    entry.status = res.status
    return res
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://vault.invalid')
      const out = logAndHandle({ method: req.method ?? 'GET', pathname: decodePath(url.pathname), query: url.searchParams, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') })
      const payload = out.body === undefined ? '' : JSON.stringify(out.body)
      res.writeHead(out.status, { 'Cache-Control': 'no-store', ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } : {}) })
      res.end(payload)
    })
  }
  const server: Server = opts.tls
    ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key, ca: opts.tls.ca, requestCert: opts.tls.requestCert ?? false, rejectUnauthorized: opts.tls.requestCert ?? false }, onRequest)
    : createServer(onRequest)
  // Vault's tcp listener keeps an idle keep-alive connection http_idle_timeout, "5m" by default
  // (Vault's documentation, configuration/listener/tcp); Node's 5 s reset a request sent by a
  // test process right after a stall of a few seconds on a loaded machine
  server.keepAliveTimeout = VAULT_HTTP_IDLE_TIMEOUT_MS

  // Node's HTTP parser does not know Vault's LIST verb; such a request arrives here as a parse
  // error with the raw bytes, and is answered by hand on that connection.
  server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket) => {
    const raw = err.rawPacket?.toString('latin1') ?? ''
    if (err.code === 'HPE_INVALID_METHOD' && raw.startsWith('LIST ')) {
      const [head] = raw.split('\r\n\r\n')
      const [requestLine, ...headerLines] = head.split('\r\n')
      const target = requestLine.split(' ')[1] ?? '/'
      const headers: Record<string, string> = {}
      for (const line of headerLines) {
        const i = line.indexOf(':')
        if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim()
      }
      const url = new URL(target, 'http://vault.invalid')
      const out = logAndHandle({ method: 'LIST', pathname: decodePath(url.pathname), query: url.searchParams, headers, body: '' })
      const payload = out.body === undefined ? '' : JSON.stringify(out.body)
      socket.end(`HTTP/1.1 ${out.status} ${statusText(out.status)}\r\nCache-Control: no-store\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\nConnection: close\r\n\r\n${payload}`)
      return
    }
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n')
    else socket.destroy()
  })

  let port = 0
  const listen = () => new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject)
      port = (server.address() as { port: number }).port
      resolve()
    })
  })
  const stopListening = () => new Promise<void>((resolve) => {
    if (!server.listening) return resolve()
    server.close(() => resolve())
    server.closeAllConnections()
  })
  await listen()

  return {
    get url () { return `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}` },
    get port () { return port },
    rootToken: root.id,
    requestLog,
    transit,
    createToken (o) {
      const ttl = o.ttlSeconds ?? SYSTEM_MAX_TTL
      const t = issueToken({
        policies: withDefault(o.policies),
        path: 'auth/token/create',
        displayName: 'token',
        meta: null,
        creationTtl: ttl,
        periodTtl: ttl,
        maxTtl: o.maxTtlSeconds ?? SYSTEM_MAX_TTL,
        renewable: o.renewable ?? true,
        orphan: false,
      })
      return t.id
    },
    setPolicy (name, rules) { policies.set(name, rules.map(r => ({ path: r.path, capabilities: [...r.capabilities] }))) },
    enableAppRole (roleName, o) {
      approleMounts.add(o.mountPath ?? 'approle')
      const roleId = randomUUID()
      const secretId = randomUUID()
      appRoles.set(roleId, { roleName, policies: o.policies, ttl: o.tokenTtlSeconds ?? SYSTEM_MAX_TTL, maxTtl: o.tokenMaxTtlSeconds ?? SYSTEM_MAX_TTL, secretIds: new Map([[secretId, o.secretIdNumUses ?? 0]]) })
      return { roleId, secretId }
    },
    secretIdUsesLeft (secretId) {
      for (const role of appRoles.values()) {
        const uses = role.secretIds.get(secretId)
        if (uses !== undefined) return uses === 0 ? 'unlimited' : uses
      }
      return 'gone'
    },
    enableKubernetes (roleName, o) {
      const mount = o.mountPath ?? 'kubernetes'
      const roles = k8sMounts.get(mount) ?? new Map()
      roles.set(roleName, { jwt: o.serviceAccountJwt, policies: o.policies, ttl: o.tokenTtlSeconds ?? SYSTEM_MAX_TTL, maxTtl: o.tokenMaxTtlSeconds ?? SYSTEM_MAX_TTL })
      k8sMounts.set(mount, roles)
    },
    revokeToken (token) { if (token !== root.id) tokens.delete(token) },
    revokeAllTokens () {
      for (const id of tokens.keys()) if (id !== root.id) tokens.delete(id)
    },
    seal () { sealed = true },
    unseal () { sealed = false },
    setStandby (s) { standby = s },
    setInitialized (i) { initialized = i },
    setDrSecondary (d) { drSecondary = d },
    setHaConnectionHealthy (h) { haConnectionHealthy = h },
    stop: stopListening,
    start: async () => { if (!server.listening) await listen() },
    close: stopListening,
  }
}

function envelope (data: unknown, extra: { auth?: unknown, warnings?: string[] | null, mount_type?: string } = {}) {
  return {
    request_id: randomUUID(),
    lease_id: '',
    renewable: false,
    lease_duration: 0,
    data,
    wrap_info: null,
    warnings: extra.warnings ?? null,
    auth: extra.auth ?? null,
    mount_type: extra.mount_type ?? '',
  }
}

/** RFC 3339 with nanoseconds and trailing zeros trimmed, as Go's time.RFC3339Nano prints it. */
function vaultTime (at = Date.now()): string {
  const now = process.hrtime.bigint()
  const iso = new Date(at).toISOString()
  const sub = String(now % 1_000_000n).padStart(6, '0')
  return iso.replace(/\.(\d{3})Z$/, (_m, ms: string) => `.${`${ms}${sub}`.replace(/0+$/, '')}Z`).replace('.Z', 'Z')
}

function withDefault (p: string[]): string[] {
  return [...new Set(['default', ...p])].sort()
}

function isWrite (method: string): boolean {
  return method === 'POST' || method === 'PUT'
}

function isTrue (v: string | null): boolean {
  return v === 'true' || v === '1' || v === 't' || v === 'T' || v === 'TRUE' || v === 'True'
}

function bearer (h: string | string[] | undefined): string | undefined {
  const v = Array.isArray(h) ? h[0] : h
  return v?.startsWith('Bearer ') ? v.slice(7) : undefined
}

function decodePath (p: string): string {
  try {
    return decodeURIComponent(p)
  } catch {
    return p
  }
}

/** Seconds from a number or a Go duration ("1h", "90s", "2h30m"). */
function parseDuration (v: unknown): number | undefined {
  if (typeof v === 'number' && v > 0) return Math.floor(v)
  if (typeof v !== 'string' || v === '') return undefined
  if (/^\d+$/.test(v)) return Number(v)
  const units: Record<string, number> = { h: 3600, m: 60, s: 1 }
  let total = 0
  const re = /(\d+)([hms])/g
  let m: RegExpExecArray | null
  while ((m = re.exec(v)) !== null) total += Number(m[1]) * units[m[2]]
  return total > 0 ? total : undefined
}

/** Vault policy globs: a trailing '*' is a prefix match, '+' matches exactly one path segment. */
function globMatches (pattern: string, path: string): boolean {
  const prefix = pattern.endsWith('*')
  const body = prefix ? pattern.slice(0, -1) : pattern
  const re = new RegExp('^' + body.split('+').map(escapeRegExp).join('[^/]+') + (prefix ? '' : '$'))
  return re.test(path)
}

function escapeRegExp (s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** Exact rules beat globs; among globs, fewer '+' and a longer fixed part win (Vault's priority rules, simplified). */
function specificity (pattern: string): number[] {
  const glob = pattern.endsWith('*') || pattern.includes('+')
  return [glob ? 0 : 1, -(pattern.split('+').length - 1), pattern.replace(/[*+]/g, '').length]
}

function compareRank (a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i]
  return 0
}

function statusText (status: number): string {
  return ({ 200: 'OK', 204: 'No Content', 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable' } as Record<number, string>)[status] ?? 'Unknown'
}
