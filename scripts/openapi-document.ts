import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildApp } from '../src/app.ts'
import { loadConfig } from '../src/config.ts'

/** The OpenAPI document of the app as buildApp makes it, serialised stably (2-space JSON, trailing newline). */
export async function openApiDocument (): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sfb-openapi-'))
  try {
    const app = await buildApp(loadConfig({
      LOG_LEVEL: 'silent',
      SECRET_STORE: 'file',
      FILE_STORE_PATH: join(dir, 'store.enc'),
      FILE_STORE_KEY: randomBytes(32).toString('base64'),
      PRINCIPALS_JSON: '{"principals":[]}',
      SHARED_STATE: 'memory',
      SCHEDULER_ENABLED: 'false',
      DOCS_ENABLED: 'false',
    }))
    await app.ready()
    const doc = app.swagger()
    await app.close()
    return JSON.stringify(doc, null, 2) + '\n'
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
