import { exitOnStartupError, serve } from './serve.ts'

/**
 * The production entry (dist/server.js in the image): config from the environment, nothing embedded.
 * The demo (`npm run demo`: a built-in Salesforce simulator, a seeded file store, in-memory sessions)
 * is scripts/demo.ts, a checkout-only entry: the simulator and the demo's fixed keys are not in dist/.
 */
if (process.argv.includes('--demo')) {
  process.stderr.write('sf-broker: --demo runs from a checkout, not this build: npm run demo (node scripts/demo.ts)\n')
  process.exit(64) // EX_USAGE
}
serve(process.env).catch(exitOnStartupError)
