import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.ts'
import { ConfigError, loadConfig, unknownVariableWarnings } from './config.ts'
import { startDemo } from './demo.ts'

/**
 * Reads config, builds the app, listens. `--demo` (npm run demo) runs on embedded defaults:
 * a built-in Salesforce simulator, an encrypted file store seeded with a demo connection,
 * in-memory sessions — no Vault, no Redis.
 */
async function main (): Promise<void> {
  for (const warning of unknownVariableWarnings(process.env)) process.stderr.write(`sf-broker: warning: ${warning}\n`)
  const demo = process.argv.includes('--demo') ? await startDemo(process.env) : null
  const config = loadConfig(demo ? demo.env : process.env)
  // the principals document, TLS files, keys: read while building, each a ConfigError when wrong
  const app = await buildApp(config)
  if (demo) await demo.seed(app.broker.uncachedSecretStore)

  // app.close() answers every request in flight within SHUTDOWN_TIMEOUT_MS (see buildApp);
  // the delay is the last resort that exits 1 if something still hangs after it
  // SIGHUP reloads the principals file (src/auth/principals-reload.ts) instead of stopping the broker
  closeWithGrace({ delay: config.SHUTDOWN_TIMEOUT_MS, skip: ['SIGHUP'] }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'shutting down after an error')
    else app.log.info({ signal }, 'shutting down: finishing in-flight requests')
    // app.close() stops accepting connections, waits for in-flight requests, then closes Redis/Vault clients
    await app.close()
    await demo?.close()
  })

  await app.listen({ host: config.HOST, port: config.PORT })
  // not ready until Vault is usable; past VAULT_STARTUP_TIMEOUT_SECONDS, give up so the orchestrator sees it
  app.broker.startup.catch(async (err: unknown) => {
    app.log.fatal({ reason: (err as Error).message }, 'Vault stayed unusable for VAULT_STARTUP_TIMEOUT_SECONDS: exiting')
    await app.close().catch(() => {})
    process.exit(1)
  })
  if (demo) process.stdout.write(demo.banner(app.server.address()) + '\n')
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`sf-broker: configuration error: ${err.message}\n`)
    process.exit(78) // EX_CONFIG, for every configuration error wherever it is found
  }
  process.stderr.write(`sf-broker: failed to start: ${(err as Error).message}\n`)
  process.exit(1)
})
