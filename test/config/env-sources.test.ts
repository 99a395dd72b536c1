import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ConfigError } from '../../src/config/config-error.ts'
import { readFileVariants, readLowerCaseProxyVariables } from '../../src/config/env-sources.ts'

t.test('readFileVariants fills a setting from <NAME>_FILE, without its trailing newline', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sfb-env-sources-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'password')
  await writeFile(file, 's3cret\n')
  const raw: Record<string, string> = {}
  readFileVariants({ REDIS_PASSWORD_FILE: file, OTHER_FILE: file }, raw, ['REDIS_PASSWORD'])
  t.same(raw, { REDIS_PASSWORD: 's3cret' }, 'only the names passed in are read')
})

t.test('readFileVariants refuses both spellings, an unreadable file and an empty one, never quoting the content', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sfb-env-sources-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const empty = join(dir, 'empty')
  await writeFile(empty, '\n')
  const full = join(dir, 'full')
  await writeFile(full, 'do-not-echo')
  const messageOf = (env: NodeJS.ProcessEnv, raw: Record<string, string> = {}): string => {
    try {
      readFileVariants(env, raw, ['METRICS_TOKEN'])
    } catch (err) {
      t.ok(err instanceof ConfigError, 'a ConfigError')
      return (err as Error).message
    }
    return 'no error'
  }
  t.equal(messageOf({ METRICS_TOKEN_FILE: full }, { METRICS_TOKEN: 'x' }), 'invalid METRICS_TOKEN_FILE: set either METRICS_TOKEN or METRICS_TOKEN_FILE, not both')
  t.equal(messageOf({ METRICS_TOKEN_FILE: join(dir, 'missing') }), 'invalid METRICS_TOKEN_FILE: cannot read the file (ENOENT); mount the secret at that path or unset METRICS_TOKEN_FILE')
  t.equal(messageOf({ METRICS_TOKEN_FILE: empty }), 'invalid METRICS_TOKEN_FILE: the file is empty; put the value of METRICS_TOKEN in it')
  t.equal(messageOf({ METRICS_TOKEN_FILE: '' }), 'no error', 'an empty variable means not set')
})

t.test('readLowerCaseProxyVariables takes curl\'s spelling only where the upper case is unset', async (t) => {
  const raw: Record<string, string> = { HTTPS_PROXY: 'http://upper:1' }
  readLowerCaseProxyVariables({ https_proxy: 'http://lower:1', http_proxy: 'http://lower:2', no_proxy: '' }, raw)
  t.same(raw, { HTTPS_PROXY: 'http://upper:1', HTTP_PROXY: 'http://lower:2' })
})
