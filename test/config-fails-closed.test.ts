import { spawn } from 'node:child_process'
import t from 'tap'
import { serverExit } from './support/server-exit.ts'

/** A start with a misspelt variable or without shared state, as an operator runs it: the real server process, its stderr and exit code. */

const SERVER = new URL('../src/server.ts', import.meta.url).pathname
const KEY = Buffer.alloc(32, 7).toString('base64')
const BASE = { SECRET_STORE: 'file', FILE_STORE_KEY: KEY, PRINCIPALS_JSON: '{"principals":[]}', SHARED_STATE: 'memory' }

t.test('a misspelt REDIS_URL stops the start (exit 78, the setting meant), with every other problem, in one go', async (t) => {
  const production = { SECRET_STORE: 'file', FILE_STORE_KEY: KEY, PRINCIPALS_JSON: '{"principals":[]}' }
  const typo = await serverExit({ ...production, REDIS_ULR: 'redis://redis:6379', SESSION_ENCRYPTION_KEY: KEY, LOG_LEVEL: 'loud', LOCKOUT_THRESHOLD: '1' })
  t.equal(typo.code, 78, 'EX_CONFIG: no replica without the fleet-wide lockout guard')
  const lines = typo.stderr.trim().split('\n')
  t.same(lines, [
    'sf-broker: configuration error: unknown variable REDIS_ULR; did you mean REDIS_URL? (ALLOW_UNKNOWN_VARIABLES=true starts anyway)',
    'sf-broker: configuration error: invalid LOG_LEVEL: must be one of: fatal, error, warn, info, debug, trace, silent',
    'sf-broker: configuration error: invalid LOCKOUT_THRESHOLD: must be >= 2',
    'sf-broker: configuration error: missing REDIS_URL: replicas share sessions, the lockout guard and the login budget through Redis; set REDIS_URL (or REDIS_SENTINELS, REDIS_CLUSTER_NODES), or SHARED_STATE=memory to run one replica without shared state',
  ], 'all four problems of the environment, one line each, in one start')

  // under tap's hooks: the only start that writes the warning (src/serve.ts)
  const optedOut = await serverExit({ ...production, SHARED_STATE: 'memory', ALLOW_UNKNOWN_VARIABLES: 'true', REDIS_ULR: 'redis://redis:6379', PORT: 'x' }, { hooks: true })
  t.equal(optedOut.code, 78, 'still stopped by the bad PORT')
  t.match(optedOut.stderr, /^sf-broker: warning: unknown variable REDIS_ULR; did you mean REDIS_URL\?$/m, 'with the opt-out, a typo is a warning')
  t.notMatch(optedOut.stderr, /configuration error: unknown variable/)
})

t.test('SHARED_STATE=memory starts one replica and says so loudly', async (t) => {
  const child = spawn(process.execPath, [SERVER], { env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', ...BASE, SCHEDULER_ENABLED: 'false' }, stdio: ['ignore', 'ignore', 'pipe'] })
  t.teardown(() => { child.kill('SIGKILL') })
  let stderr = ''
  child.stderr.setEncoding('utf8')
  for await (const chunk of child.stderr) {
    stderr += chunk as string
    if (stderr.includes('\n')) break
  }
  t.match(stderr, /^sf-broker: WARNING: SHARED_STATE=memory: sessions, the lockout guard and the login budget live in this process only; run exactly ONE replica/)
})
