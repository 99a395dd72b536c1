// `npm start` runs the built server (dist/): without a build, say so instead of Node's module-not-found stack.
import { existsSync } from 'node:fs'

const entry = process.argv[2] ?? 'dist/server.js'
if (!existsSync(entry)) {
  process.stderr.write(`sf-broker: ${entry} is missing: run \`npm run build\` first (or \`npm run demo\` to try the broker without a build)\n`)
  process.exit(1)
}
