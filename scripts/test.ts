import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CLAIMS_VARIABLE } from '../test/shards/plan.ts'
import { reportChecks, runChecks } from './checks.ts'

/**
 * `npm test`: the static checks (scripts/checks.ts) and tap's shards at once. The shards spend
 * about half their time waiting on other processes (servers starting, Redis failing over, a
 * child's banner), so on 2 cores eslint and tsc fit in that time rather than running first.
 * tap's output streams as it comes; the checks' is printed whole after it, and the exit code is
 * the first failure's (the checks', then tap's). Arguments go to tap. The shards claim their files
 * from one list as they go (test/shards/plan.ts), in a folder made here for this run.
 */
const ROOT = join(import.meta.dirname, '..')
const checks = runChecks()
const claims = mkdtempSync(join(tmpdir(), 'sfb-test-claims-'))
const tap = spawn(join(ROOT, 'node_modules', '.bin', 'tap'), process.argv.slice(2), {
  cwd: ROOT,
  env: { ...process.env, TAP_TYPE_STRIP_ONLY: '1', [CLAIMS_VARIABLE]: claims },
  stdio: 'inherit',
})
const [tapCode, signal] = await once(tap, 'close') as [number | null, NodeJS.Signals | null]
rmSync(claims, { recursive: true, force: true })
const checksCode = reportChecks(await checks)
process.exitCode = checksCode !== 0 ? checksCode : (tapCode ?? (signal ? 1 : 0))
