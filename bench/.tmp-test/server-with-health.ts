import { buildApp } from '../../src/app.ts'
import { loadConfig } from '../../src/config.ts'
import healthPlugin from '../../src/health/plugin.ts'
const config = loadConfig(process.env)
const app = await buildApp(config)
await app.register(healthPlugin, { broker: app.broker })
await app.listen({ host: config.HOST, port: config.PORT })
process.once('SIGTERM', () => { app.close().then(() => process.exit(0)) })
