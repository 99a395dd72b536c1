import t from 'tap'
import { readFile } from 'node:fs/promises'
import { openApiDocument } from '../../scripts/openapi-document.ts'

t.test('the committed OpenAPI document matches the routes (run `npm run openapi` after changing a route)', async (t) => {
  const committed = await readFile(new URL('../../openapi/openapi.json', import.meta.url), 'utf8')
  const generated = await openApiDocument()
  t.equal(committed, generated)
})

t.test('every operation documents its errors as problem+json and declares a success response', async (t) => {
  const doc = JSON.parse(await openApiDocument())
  for (const [path, item] of Object.entries<Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>>(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const statuses = Object.keys(op.responses)
      t.ok(statuses.some(s => s.startsWith('2')), `${method} ${path} has a success response`)
      // readiness and credential health answer 503 with their status report, by design
      for (const s of statuses.filter(s => Number(s) >= 400 && !(path.startsWith('/health/') && s === '503'))) {
        t.ok(op.responses[s].content?.['application/problem+json'], `${method} ${path} ${s} is problem+json`)
      }
    }
  }
})
