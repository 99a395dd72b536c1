import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { reportChecks, runChecks } from './checks.ts'

/**
 * `npm test`: the static checks (scripts/checks.ts) and tap's shards at once. The shards spend
 * about half their time waiting on other processes (servers starting, Redis failing over, a
 * child's banner), so on 2 cores eslint and tsc fit in that time rather than running first.
 * tap's output streams as it comes; the checks' is printed whole after it, and the exit code is
 * the first failure's (the checks', then tap's). Arguments go to tap.
 */
const ROOT = join(import.meta.dirname, '..')
const checks = runChecks()
const tap = spawn(join(ROOT, 'node_modules', '.bin', 'tap'), process.argv.slice(2), {
  cwd: ROOT,
  env: { ...process.env, TAP_TYPE_STRIP_ONLY: '1' },
  stdio: 'inherit',
})
const [tapCode, signal] = await once(tap, 'close') as [number | null, NodeJS.Signals | null]
const checksCode = reportChecks(await checks)
process.exitCode = checksCode !== 0 ? checksCode : (tapCode ?? (signal ? 1 : 0))
