import type { Logger } from 'pino'
import { decodeKey, type Config } from '../config.ts'
import { FileSecretStore } from './file-store.ts'
import type { SecretStore } from './store.ts'
import { VaultSecretStore, type VaultAuth } from './vault-store.ts'

function vaultAuth (c: Config): VaultAuth {
  switch (c.VAULT_AUTH_METHOD) {
    case 'token': return { method: 'token', token: c.VAULT_TOKEN as string }
    case 'approle': return { method: 'approle', roleId: c.VAULT_ROLE_ID as string, secretId: c.VAULT_SECRET_ID as string }
    case 'kubernetes': return { method: 'kubernetes', role: c.VAULT_KUBERNETES_ROLE as string, jwtPath: c.VAULT_KUBERNETES_TOKEN_PATH, mountPath: c.VAULT_KUBERNETES_MOUNT }
  }
}

/** The secret store the configuration names. Vault logs in before the broker starts serving. */
export async function createSecretStore (c: Config, logger: Logger): Promise<SecretStore> {
  if (c.SECRET_STORE === 'file') {
    const file = new FileSecretStore({ path: c.FILE_STORE_PATH, key: decodeKey(c.FILE_STORE_KEY as string) })
    // a wrong key or a damaged file stops the broker at start, not at the first request
    await file.open()
    return file
  }
  const store = new VaultSecretStore({
    endpoint: c.VAULT_ADDR as string,
    kvMount: c.VAULT_KV_MOUNT,
    pathPrefix: c.VAULT_PATH_PREFIX,
    auth: vaultAuth(c),
    requestTimeoutMs: c.VAULT_TIMEOUT_MS,
    logger: logger.child({ component: 'vault' }),
  })
  await store.start()
  return store
}
