import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import t, { type Test } from 'tap'
import { outsideTap } from '../support/outside-tap.ts'
import { demoCalendar } from '../support/demo-banner.ts'
import { api } from './support.ts'

/**
 * README "Admin CLI: sfb" works as written: the block between the admin-journey markers runs in bash
 * against `npm run demo` (node scripts/demo.ts). Only the two addresses differ: the test's demo
 * listens on free ports, which its banner prints.
 */
const ROOT = join(import.meta.dirname, '..', '..')
const DEMO_ADMIN_KEY = 'sfb.demo-admin.demo-admin-key-not-a-secret'

function journey (): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const between = /<!-- admin-journey:start -->\n```sh\n([\s\S]*?)```\n<!-- admin-journey:end -->/.exec(readme)
  if (!between) throw new Error('README has no admin-journey block')
  return between[1]
}

async function startDemo (t: Test): Promise<{ base: string, sim: string }> {
  const demo = spawn(...outsideTap(process.execPath, [join(ROOT, 'scripts', 'demo.ts')]), { cwd: ROOT, env: { ...process.env, PORT: '0', LOG_LEVEL: 'warn', ...demoCalendar() }, stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(async () => {
    if (demo.exitCode === null) {
      demo.kill('SIGTERM')
      await once(demo, 'exit')
    }
  })
  let base = ''
  let sim = ''
  for await (const line of createInterface({ input: demo.stdout })) {
    sim ||= /Salesforce simulator: (http:\/\/\S+)/.exec(line)?.[1] ?? ''
    base ||= /export SFB_URL=(http:\/\/\S+)/.exec(line)?.[1] ?? ''
    if (base && sim) break
  }
  if (!base || !sim) throw new Error('the demo printed no banner')
  return { base, sim }
}

t.test('the README admin journey runs as written against the demo', async (t) => {
  const script = journey()
  t.match(script, /^alias sfb='npm run -s sfb --'$/m, 'the checkout way to call sfb')
  t.match(script, /export SFB_URL=http:\/\/127\.0\.0\.1:3000 /, 'the demo\'s default address')
  t.match(script, /^SIM_ORG=http:\/\/127\.0\.0\.1:3001\//m)
  const { base, sim } = await startDemo(t)
  const commands = script.replaceAll('http://127.0.0.1:3000', base).replaceAll('http://127.0.0.1:3001', sim)

  // the demo and sfb run as a reader of the README runs them: outside tap's hooks (the CLI tests cover sfb's lines)
  const out = await new Promise<{ code: number, stdout: string, stderr: string }>((resolve) => {
    execFile(...outsideTap('bash', ['-c', `set -euo pipefail\nshopt -s expand_aliases\n${commands}`]), {
      cwd: ROOT,
      timeout: 120_000,
      // npm run puts node_modules/.bin (Node 22) first; npm itself runs on whatever node is on the PATH
      env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}` },
    }, (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }))
  })
  t.equal(out.code, 0, out.stderr)
  t.match(out.stdout, /^NAME\s+FLOW\s+VERSION[\s\S]*\ndemo-password\s+oauth_password\s+1\s+integration@demo\.example/m, 'connections list')
  // the demo's first checks may not have run yet (not_checked): the table lists both, whatever their status
  t.match(out.stdout, /^overall: \w+\nCONNECTION\s+STATUS\s+CLASSIFICATION[^\n]*\ndemo\s+\w+\s[^\n]*\ndemo-password\s+\w+\s/m, 'health')
  t.match(out.stdout, /rotated demo-password: now version 2/)
  t.match(out.stdout, /result:\s+ok \(stored credentials, \d+ ms\)/, 'validate')
  t.match(out.stdout, /credentials\.rotate\s+demo-password\s+success\s+2\s+fields: password,securityToken/, 'audit')
  t.match(out.stdout, /\{"ok":true\}\nconnection:\s+demo-password\nstatus:\s+warn\nclassification:\s+ok\nmessage:\s+Salesforce retires the oauth_password flow/, 'check after the sessions expired')
  t.match(out.stdout, /refused \(exit 1\), version 2 stays current/)
  t.notMatch(out.stdout + out.stderr, /demo-password-1/, 'the old password is never printed')

  const meta = await api(base, DEMO_ADMIN_KEY, 'GET', '/v1/admin/connections/demo-password')
  t.match(meta.json, { version: 2, secretsSet: ['password', 'securityToken', 'clientSecret'] })
})
