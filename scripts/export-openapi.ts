/**
 * Writes openapi/openapi.json from the route schemas (buildApp → ready → swagger()).
 * `npm run openapi` after changing a route; the test suite fails when the committed file drifts.
 */
import { writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { openApiDocument } from './openapi-document.ts'

const target = fileURLToPath(new URL('../openapi/openapi.json', import.meta.url))
await writeFile(target, await openApiDocument())
process.stdout.write(`wrote ${target}\n`)
