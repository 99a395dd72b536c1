import type { Logger } from 'pino'
import type { Clock } from '../clock.ts'
import { decodeKey, type Config } from '../config.ts'
import { readPeerTls } from '../config/pem-files.ts'
import { egressDispatcher } from '../egress.ts'
import { FileSecretStore } from './file-store.ts'
import type { SecretStore } from './store.ts'
import { VaultSecretStore, type VaultAuth } from './vault-store.ts'

function vaultAuth (c: Config): VaultAuth {
  switch (c.VAULT_AUTH_METHOD) {
    case 'token': return c.VAULT_TOKEN_FILE ? { method: 'token', tokenFile: c.VAULT_TOKEN_FILE } : { method: 'token', token: c.VAULT_TOKEN as string }
    case 'approle': return { method: 'approle', roleId: c.VAULT_ROLE_ID as string, secretId: c.VAULT_SECRET_ID as string, mountPath: c.VAULT_APPROLE_MOUNT }
    case 'kubernetes': return { method: 'kubernetes', role: c.VAULT_KUBERNETES_ROLE as string, jwtPath: c.VAULT_KUBERNETES_TOKEN_PATH, mountPath: c.VAULT_KUBERNETES_MOUNT }
  }
}

/**
 * The secret store the configuration names, and the promise of its start-up (see below).
 * `clock`: what Vault's token renewals count in (default the system clock).
 */
export async function createSecretStore (c: Config, logger: Logger, clock?: Clock): Promise<{ store: SecretStore, startup: Promise<void> }> {
  if (c.SECRET_STORE === 'file') {
    const file = new FileSecretStore({ path: c.FILE_STORE_PATH, key: decodeKey(c.FILE_STORE_KEY as string) })
    // a wrong key or a damaged file stops the broker at start, not at the first request
    await file.open()
    return { store: file, startup: Promise.resolve() }
  }
  const store = new VaultSecretStore({
    endpoint: c.VAULT_ADDR as string,
    kvMount: c.VAULT_KV_MOUNT,
    pathPrefix: c.VAULT_PATH_PREFIX,
    auth: vaultAuth(c),
    requestTimeoutMs: c.VAULT_TIMEOUT_MS,
    namespace: c.VAULT_NAMESPACE,
    dispatcher: egressDispatcher({ httpsProxy: c.HTTPS_PROXY, httpProxy: c.HTTP_PROXY, noProxy: c.NO_PROXY }, vaultTls(c)),
    logger: logger.child({ component: 'vault' }),
    clock,
  })
  if (c.VAULT_STARTUP_TIMEOUT_SECONDS === 0) {
    await store.start()
    return { store, startup: Promise.resolve() }
  }
  // Vault may come up after the broker (same rollout, a Vault Agent sidecar still writing its
  // sink): the broker listens, stays not ready and retries; the server exits if this rejects
  return { store, startup: store.startWithRetry(c.VAULT_STARTUP_TIMEOUT_SECONDS * 1000) }
}

/** Vault's private CA and the broker's client certificate (mutual TLS), from files, checked as read (exit 78 naming the variable). */
function vaultTls (c: Config): { ca?: Buffer, cert?: Buffer, key?: Buffer } {
  return readPeerTls('Vault', { ca: 'VAULT_CACERT', cert: 'VAULT_CLIENT_CERT', key: 'VAULT_CLIENT_KEY' }, { ca: c.VAULT_CACERT, cert: c.VAULT_CLIENT_CERT, key: c.VAULT_CLIENT_KEY })
}
