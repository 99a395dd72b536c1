import closeWithGrace from 'close-with-grace'
import type { AddressInfo } from 'node:net'
import { principalsFromConfig } from './auth/principals-config.ts'
import { ConfigError, loadConfig, unknownVariableWarnings } from './config.ts'
import type { SecretStore } from './secrets/store.ts'

/**
 * What an embedded setup wraps around the broker: `npm run demo` (scripts/demo.ts) brings its own
 * environment, seeds the store once the app is built and prints a banner once it listens. The
 * production entry (src/server.ts) has none, so neither the simulator nor the demo's keys are in dist/.
 */
export interface Embedded {
  env: NodeJS.ProcessEnv
  seed (store: SecretStore): Promise<void>
  banner (address: AddressInfo | string | null): string
  close (): Promise<void>
}

/** Reads config, builds the app, listens, and closes it gracefully on a signal. */
export async function serve (env: NodeJS.ProcessEnv, embedded?: Embedded): Promise<void> {
  const source = embedded ? embedded.env : env
  // an unknown variable is a configuration error (exit 78), unless ALLOW_UNKNOWN_VARIABLES=true asked for warnings
  if (source.ALLOW_UNKNOWN_VARIABLES === 'true') for (const warning of unknownVariableWarnings(source)) process.stderr.write(`sf-broker: warning: ${warning}\n`)
  const config = loadConfig(source)
  // the principals document too (read again, and watched, by the app): it is the most edited file
  principalsFromConfig(config)
  // the app's modules are loaded once the configuration holds: a bad value exits 78 in a fraction of
  // the time (a crash-looping pod, and the tests that start one per bad value, wait less)
  const { buildApp } = await import('./app.ts')
  // TLS files, keys: read while building, each a ConfigError when wrong
  const app = await buildApp(config)
  if (embedded) await embedded.seed(app.broker.uncachedSecretStore)

  // app.close() answers every request in flight within SHUTDOWN_TIMEOUT_MS (see buildApp);
  // the delay is the last resort that exits 1 if something still hangs after it
  // SIGHUP reloads the principals file (src/auth/principals-reload.ts) instead of stopping the broker
  closeWithGrace({ delay: config.SHUTDOWN_TIMEOUT_MS, skip: ['SIGHUP'] }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'shutting down after an error')
    else app.log.info({ signal }, 'shutting down: finishing in-flight requests')
    // app.close() stops accepting connections, waits for in-flight requests, then closes Redis/Vault clients
    await app.close()
    await embedded?.close()
  })

  await app.listen({ host: config.HOST, port: config.PORT }).catch((err: NodeJS.ErrnoException) => {
    throw listenRefusal(err) ?? err
  })
  if (config.SHARED_STATE === 'memory' && !embedded) {
    process.stderr.write('sf-broker: WARNING: SHARED_STATE=memory: sessions, the lockout guard and the login budget live in this process only; run exactly ONE replica (set REDIS_URL for more)\n')
  }
  // not ready until Vault is usable; past VAULT_STARTUP_TIMEOUT_SECONDS, give up so the orchestrator sees it
  app.broker.startup.catch(async (err: unknown) => {
    app.log.fatal({ reason: (err as Error).message }, 'Vault stayed unusable for VAULT_STARTUP_TIMEOUT_SECONDS: exiting')
    await app.close().catch(() => {})
    process.exit(1)
  })
  if (embedded) process.stdout.write(embedded.banner(app.server.address()) + '\n')
}

/**
 * What listen() says about HOST or PORT: a name that does not resolve, an address of another machine,
 * a port another process holds, a port below 1024 for a process without the right to it (the image
 * runs as a user, not root). Those are settings to fix (exit 78 naming the variable), not failures:
 * "listen EADDRINUSE" or "getaddrinfo ENOTFOUND" alone named no variable.
 */
function listenRefusal (err: NodeJS.ErrnoException): ConfigError | undefined {
  if (err.code === 'EADDRINUSE') return new ConfigError('invalid PORT: another process listens on it (EADDRINUSE); stop that process or set PORT to a free port')
  if (err.code === 'EACCES' && err.syscall === 'listen') {
    return new ConfigError('invalid PORT: this process may not listen on it (EACCES): ports below 1024 need root or CAP_NET_BIND_SERVICE, and a security policy (SELinux, a raised ip_unprivileged_port_start) may refuse others; use a port of 1024 or above that the policy allows (the image listens on 3000)')
  }
  if (err.syscall !== 'getaddrinfo' && err.code !== 'EADDRNOTAVAIL') return undefined
  return new ConfigError(`invalid HOST: the broker cannot listen on it (${err.code ?? 'error'}); use an address of this machine without a port (PORT sets it): 0.0.0.0 for every IPv4 address, :: for every address, 127.0.0.1 for this host only`)
}

/** Every way startup can fail, as one line: a configuration error exits 78 (EX_CONFIG) wherever it is found. */
export function exitOnStartupError (err: unknown): never {
  if (err instanceof ConfigError) {
    // every problem at once, one line each: a start shows everything to fix, not one thing per attempt
    for (const problem of err.problems) process.stderr.write(`sf-broker: configuration error: ${problem}\n`)
    process.exit(78)
  }
  process.stderr.write(`sf-broker: failed to start: ${(err as Error).message}\n`)
  process.exit(1)
}
