import { readFile } from 'node:fs/promises'
import { unwatchFile, watchFile } from 'node:fs'
import type { Logger } from 'pino'
import type NodeVault from 'node-vault'
import { systemClock, type Clock, type Timer } from '../clock.ts'
import { SecretStoreUnavailableError } from './store.ts'
import { toStoreError, vaultMessageOf, vaultStatusOf } from './vault-errors.ts'

export type VaultAuth =
  /** a static token, or a file holding it (a Vault Agent sink: the Agent renews and replaces it) */
  | { method: 'token', token: string, tokenFile?: undefined }
  | { method: 'token', tokenFile: string, token?: undefined, pollMs?: number }
  | { method: 'approle', roleId: string, secretId: string, mountPath?: string }
  | { method: 'kubernetes', role: string, jwtPath?: string, mountPath?: string }

export const DEFAULT_KUBERNETES_JWT_PATH = '/var/run/secrets/kubernetes.io/serviceaccount/token'

/** Renew (or log in again) when this share of the token's TTL has passed. */
const REFRESH_AT = 2 / 3
const MAX_RETRY_MS = 5_000
const MIN_RETRY_MS = 250

interface AuthBlock { client_token?: unknown, lease_duration?: unknown, renewable?: unknown }

/**
 * Keeps the broker's Vault token alive: logs in (AppRole, Kubernetes), renews the token at 2/3 of
 * its TTL, logs in again when Vault refuses the renewal or it no longer extends the token (max TTL
 * reached; a renewal Vault could not answer is tried again while the token lives), and
 * when Vault rejects the token. A static token (method "token") is renewed while it is renewable;
 * it cannot be replaced. The token value is never logged.
 */
export class VaultTokenKeeper {
  readonly canLogin: boolean
  private readonly client: NodeVault.client
  private readonly auth: VaultAuth
  private readonly logger: Logger
  private loggingIn: Promise<void> | null = null
  private readonly clock: Clock
  private timer: Timer | null = null
  private hasToken: boolean
  /** epoch ms the token stops working; null = does not expire (or unknown) */
  private expiresAt: number | null = null
  /** TTL the login granted: a renewal answering less has hit the max TTL */
  private loginTtlSeconds = 0
  private closed = false
  /** a static token's TTL is learnt by lookup-self; until that worked it cannot be kept renewed */
  private lookup: Promise<void> | null = null
  private lookedUp = false

  /** reads of the token file started so far, and the number of the newest one that was taken (see readTokenFile) */
  private fileReads = 0
  private appliedFileRead = 0
  /** the token this keeper put in place last (node-vault also sets one: see refresh) */
  private installed: string
  private readonly readTokenText: (file: string) => Promise<string>

  /**
   * `clock`: the time renewals are counted in and their timers set on (tests move it by hand);
   * `readTokenText`: how the token file is read (a test holds one read back to finish it late)
   */
  constructor (client: NodeVault.client, auth: VaultAuth, logger: Logger, clock: Clock = systemClock, readTokenText = (file: string) => readFile(file, 'utf8')) {
    this.client = client
    this.clock = clock
    this.readTokenText = readTokenText
    this.auth = auth
    this.logger = logger
    this.canLogin = auth.method !== 'token'
    this.client.token = this.installed = auth.method === 'token' ? auth.token ?? '' : ''
    this.hasToken = auth.method === 'token' && auth.token !== undefined
  }

  /** The Vault Agent sink, when the token comes from one. */
  private get tokenFile (): string | undefined {
    return this.auth.method === 'token' ? this.auth.tokenFile : undefined
  }

  /** Whether a rejected token can be replaced: by a new login, or by what the Agent wrote since. */
  get canReplace (): boolean {
    return this.canLogin || this.tokenFile !== undefined
  }

  /** Logs in (or looks the static token up to learn its TTL) and starts the renewal timer. */
  async start (): Promise<void> {
    if (this.canLogin) return this.login()
    if (this.tokenFile !== undefined) return this.startFromFile(this.tokenFile)
    let data: { ttl?: unknown, renewable?: unknown }
    try {
      data = ((await this.client.tokenLookupSelf()) as { data?: typeof data }).data ?? {}
    } catch (err) {
      throw toStoreError(err, 'token lookup')
    }
    const ttl = typeof data.ttl === 'number' ? data.ttl : 0
    this.lookedUp = true
    this.loginTtlSeconds = ttl
    this.schedule(ttl, data.renewable === true)
  }

  /** The token to use now: logs in first when there is none or it has run out. */
  async ensure (): Promise<string> {
    if (this.canLogin) {
      if (!this.hasToken || (this.expiresAt !== null && this.clock.now() >= this.expiresAt)) await this.login()
    } else if (this.tokenFile !== undefined && !this.hasToken) {
      await this.readTokenFile(this.tokenFile)
    } else if (!this.lookedUp && !this.lookup && !this.closed) {
      // in the background: the request itself reports what is wrong with the token or Vault
      this.lookup = this.start().catch(() => {}).finally(() => { this.lookup = null })
    }
    return this.client.token
  }

  /**
   * Whether Vault still honours `token`, asked with auth/token/lookup-self (allowed by Vault's
   * default policy). Settles a 403 whose body does not say "invalid token": true = alive (the 403
   * was the policy's), false = dead or already replaced, undefined = Vault could not be asked.
   * Not cached: a token revoked a moment after a lookup must not pass for alive.
   */
  async isAlive (token: string): Promise<boolean | undefined> {
    if (this.client.token !== token) return false
    try {
      await this.client.tokenLookupSelf()
      return true
    } catch (err) {
      return vaultStatusOf(err) === 403 ? false : undefined
    }
  }

  /**
   * A Vault Agent sink: read now and checked with lookup-self (so a start-up before the Agent
   * wrote a valid token is retried), then re-read whenever the file changes. The Agent renews and
   * re-authenticates; the broker never renews a token it does not own.
   */
  private async startFromFile (file: string): Promise<void> {
    await this.readTokenFile(file)
    try {
      await this.client.tokenLookupSelf()
    } catch (err) {
      throw toStoreError(err, `token lookup (token from ${file})`)
    }
    this.lookedUp = true
    if (!this.watching) {
      this.watching = () => { this.readTokenFile(file).catch((err: Error) => this.logger.warn({ file, reason: err.message }, 'Vault token file not re-read')) }
      const auth = this.auth as { pollMs?: number }
      watchFile(file, { interval: auth.pollMs ?? 2000, persistent: false }, this.watching)
    }
  }

  private watching: (() => void) | null = null

  /** Takes the token the file holds now; true when it differs from the one in use. */
  private async readTokenFile (file: string): Promise<boolean> {
    const read = ++this.fileReads
    let token: string
    try {
      token = (await this.readTokenText(file)).trim()
    } catch (err) {
      throw new SecretStoreUnavailableError('error', `cannot read the Vault token file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`)
    }
    // The watcher's read and a refused request's read can finish out of order: a read started
    // before the Agent's last rename must not put back the token a later read already replaced.
    if (read < this.appliedFileRead) return false
    this.appliedFileRead = read
    if (token === '') throw new SecretStoreUnavailableError('error', `the Vault token file ${file} is empty (has Vault Agent written its sink yet?)`)
    if (token === this.client.token) return false
    this.client.token = this.installed = token
    this.hasToken = true
    this.logger.info({ file }, 'Vault token taken from the token file')
    return true
  }

  /** Vault rejected `rejected`: log in again, unless another request already replaced it. */
  async replace (rejected: string): Promise<boolean> {
    if (this.tokenFile !== undefined) {
      // the Agent may have re-authenticated a moment ago: use what the sink holds now, if newer
      if (this.client.token !== rejected) return true
      await this.readTokenFile(this.tokenFile).catch(() => false)
      // a newer read (the watcher's) may have taken the Agent's new token meanwhile
      return this.client.token !== rejected
    }
    if (!this.canLogin) return false
    if (this.client.token === rejected || !this.hasToken) await this.login()
    return true
  }

  stop (): void {
    this.closed = true
    if (this.watching && this.tokenFile !== undefined) unwatchFile(this.tokenFile, this.watching)
    this.watching = null
    this.timer?.cancel()
    this.timer = null
  }

  /** One login at a time; concurrent callers share it. */
  login (): Promise<void> {
    this.loggingIn ??= this.doLogin().finally(() => { this.loggingIn = null })
    return this.loggingIn
  }

  private async doLogin (): Promise<void> {
    const auth = this.auth
    let response: { auth?: AuthBlock }
    if (auth.method === 'approle') {
      try {
        response = await this.client.approleLogin({ role_id: auth.roleId, secret_id: auth.secretId, ...(auth.mountPath ? { mount_point: auth.mountPath } : {}) })
      } catch (err) {
        throw loginError(err, 'AppRole')
      }
    } else if (auth.method === 'kubernetes') {
      const jwtPath = auth.jwtPath ?? DEFAULT_KUBERNETES_JWT_PATH
      let jwt: string
      try {
        // read at every login: projected service-account tokens are rotated by the kubelet
        jwt = (await readFile(jwtPath, 'utf8')).trim()
      } catch (err) {
        throw new SecretStoreUnavailableError('error', `cannot read the Kubernetes service-account token file ${jwtPath}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`)
      }
      try {
        response = await this.client.kubernetesLogin({ role: auth.role, jwt, ...(auth.mountPath ? { mount_point: auth.mountPath } : {}) })
      } catch (err) {
        throw loginError(err, 'Kubernetes')
      }
    } else {
      return
    }
    const block = response.auth ?? {}
    if (typeof block.client_token !== 'string' || block.client_token === '') {
      throw new SecretStoreUnavailableError('error', `Vault ${auth.method} login answered without a client token`)
    }
    this.client.token = this.installed = block.client_token
    this.hasToken = true
    const ttl = typeof block.lease_duration === 'number' ? block.lease_duration : 0
    this.loginTtlSeconds = ttl
    this.schedule(ttl, block.renewable === true)
    this.logger.info({ vaultAuth: auth.method, ttlSeconds: ttl, renewable: block.renewable === true }, 'logged in to Vault')
  }

  private schedule (ttlSeconds: number, renewable: boolean): void {
    this.timer?.cancel()
    this.timer = null
    if (this.closed) return
    if (ttlSeconds <= 0) {
      this.expiresAt = null
      return
    }
    this.expiresAt = this.clock.now() + ttlSeconds * 1000
    // renew while renewal still buys the full TTL; once capped by the max TTL, log in afresh
    const next = renewable && (ttlSeconds >= this.loginTtlSeconds || !this.canLogin) ? 'renew' : 'login'
    if (next === 'login' && !this.canLogin) return
    this.arm(ttlSeconds * 1000 * REFRESH_AT, next)
  }

  private arm (delayMs: number, action: 'renew' | 'login'): void {
    if (this.closed) return
    this.timer = this.clock.setTimer(delayMs, () => { this.refresh(action).catch(() => {}) })
  }

  private async refresh (action: 'renew' | 'login'): Promise<void> {
    this.timer = null
    if (this.closed) return
    if (action === 'renew') {
      try {
        const renewing = this.installed
        const response = await this.client.tokenRenewSelf() as { auth?: AuthBlock }
        // node-vault puts the token a renewal names in place when its answer arrives (renew-self is a
        // token source in its command list); a login or the token file that installed a newer one
        // meanwhile wins, and has scheduled its own renewal
        if (this.installed !== renewing) {
          this.client.token = this.installed
          this.logger.debug('a renewal answered for a Vault token already replaced: the newer one is kept')
          return
        }
        const ttl = typeof response.auth?.lease_duration === 'number' ? response.auth.lease_duration : 0
        this.logger.debug({ ttlSeconds: ttl }, 'renewed the Vault token')
        // a renewal that grants nothing more means the max TTL is reached: log in afresh now
        if (ttl > 0 || !this.canLogin) {
          this.schedule(ttl, response.auth?.renewable === true)
          return
        }
      } catch (err) {
        const mapped = toStoreError(err, 'token renewal')
        // Vault did not judge the token (unreachable, sealed, a 5xx): a login would fail alike, and once
        // Vault answers it would spend a use of a limited-use AppRole secret ID and leave the live
        // token's lease behind, so the renewal is tried again while the token lives
        const status = vaultStatusOf(err)
        const unjudged = status === undefined || status >= 500
        const lives = this.expiresAt !== null && this.clock.now() < this.expiresAt
        if (!this.canLogin || (unjudged && lives)) {
          this.logger.warn({ reason: mapped.message }, 'Vault token renewal failed: will retry')
          return this.retryLater('renew')
        }
        this.logger.warn({ reason: mapped.message }, 'Vault token renewal failed: logging in again')
      }
    }
    try {
      await this.login()
    } catch (err) {
      this.logger.warn({ reason: (err as Error).message }, 'Vault login failed: will retry')
      this.retryLater('login')
    }
  }

  private retryLater (action: 'renew' | 'login'): void {
    if (this.closed || this.timer) return
    const left = this.expiresAt === null ? 0 : this.expiresAt - this.clock.now()
    if (action === 'renew' && left <= 0) {
      // the token is gone: a static one cannot be replaced (requests report permission_denied), a login can
      if (!this.canLogin) return
      action = 'login'
    }
    // before expiry, retry soon enough to beat it; after, requests log in on demand and the timer backs off
    this.arm(left <= 0 ? MAX_RETRY_MS : Math.min(MAX_RETRY_MS, Math.max(MIN_RETRY_MS, left / 3)), action)
  }
}

/** A refused login is about the broker's credentials (permission), anything else about Vault. */
function loginError (err: unknown, method: string): Error {
  const status = vaultStatusOf(err)
  if (status === 400 || status === 401 || status === 403) {
    return new SecretStoreUnavailableError('permission_denied', `Vault refused the ${method} login: ${vaultMessageOf(err) || `status ${status}`}`)
  }
  return toStoreError(err, `${method} login`)
}
