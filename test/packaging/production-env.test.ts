import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import t from 'tap'
import { loadConfig } from '../../src/config.ts'
import { ROOT, readRepoFile } from './repo.ts'

const EXAMPLE = 'deploy/production/broker.env.example'

/** KEY=value lines of an env file (docker --env-file syntax: no quotes, # comments). */
function parseEnvFile (text: string): Record<string, string> {
  return Object.fromEntries(text.split('\n').map(l => l.trim()).filter(l => l !== '' && !l.startsWith('#')).map(l => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
}

t.test('the example production environment starts the broker once its blanks and secret files are filled in', async (t) => {
  const env = parseEnvFile(readRepoFile(EXAMPLE))
  t.equal(env.SECRET_STORE, 'vault')
  t.ok(env.REDIS_URL, 'shared state through Redis, not in memory')
  t.equal(env.SHARED_STATE, undefined)
  const dir = await mkdtemp(join(tmpdir(), 'sfb-prod-env-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const filled: Record<string, string> = {}
  for (const [name, value] of Object.entries(env)) {
    let v = value.replace(/<([^>]+)>/g, '$1')
    if (v.startsWith('/run/secrets/')) {
      const file = join(dir, v)
      await mkdir(dirname(file), { recursive: true })
      await writeFile(file, name === 'SESSION_ENCRYPTION_KEY_FILE' ? Buffer.alloc(32, 3).toString('base64') : name === 'PRINCIPALS_FILE' ? '{"principals":[]}' : 'placeholder-value-0123456789')
      v = file
    }
    filled[name] = v
  }
  const config = loadConfig(filled)
  t.equal(config.VAULT_AUTH_METHOD, 'approle')
  t.equal(config.VAULT_SECRET_ID, 'placeholder-value-0123456789')
  t.equal(config.SESSION_ENCRYPTION_KEY, Buffer.alloc(32, 3).toString('base64'))
})

t.test('the README and the Dockerfile point to it', async (t) => {
  t.match(await readFile(join(ROOT, 'README.md'), 'utf8'), EXAMPLE)
  t.match(readRepoFile('Dockerfile'), EXAMPLE)
})
