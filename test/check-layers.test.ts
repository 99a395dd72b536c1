import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { test } from 'tap'
import { findViolations, partOf } from '../scripts/check-layers.ts'

const run = promisify(execFile)
const script = new URL('../scripts/check-layers.ts', import.meta.url).pathname

const tree = (files: Record<string, string>) => new Map(Object.entries(files))

test('parts are top-level files and folders of src/', async (t) => {
  t.equal(partOf('src/health/plugin.ts'), 'health/')
  t.equal(partOf('src/app.ts'), 'app.ts')
  t.equal(partOf('test/helper.ts'), undefined)
})

test('an import that looks down is fine; one that looks up names the file, the import and both floors', async (t) => {
  t.same(findViolations(tree({
    'src/routes/sessions.ts': "import { SessionService } from '../sessions/session-service.ts'",
    'src/sessions/session-service.ts': "import { login } from '../salesforce/login.ts'",
  })), [])

  const [finding, ...rest] = findViolations(tree({
    'src/health/plugin.ts': "import salesforceHealthRoutes from '../routes/salesforce-health.ts'",
    'src/routes/salesforce-health.ts': '',
  }))
  t.same(rest, [])
  t.equal(finding.file, 'src/health/plugin.ts')
  t.equal(finding.specifier, '../routes/salesforce-health.ts')
  t.match(finding.message, /src\/health\/plugin\.ts imports '\.\.\/routes\/salesforce-health\.ts': src\/health\/ \(floor 3\) may not import src\/routes\/ \(floor 4\)/)
})

test('type-only imports, re-exports and import() count too', async (t) => {
  const findings = findViolations(tree({
    'src/health/a.ts': "import type { Broker } from '../broker.ts'",
    'src/health/b.ts': "export { thing } from '../app.ts'",
    'src/health/c.ts': "const m = await import('../server.ts')",
  }))
  t.same(findings.map((f) => f.specifier), ['../broker.ts', '../app.ts', '../server.ts'])
})

test('a circle between two parts on one floor is reported once, with every import in it', async (t) => {
  const findings = findViolations(tree({
    'src/sessions/a.ts': "import { b } from '../admin/b.ts'",
    'src/admin/b.ts': "import { a } from '../sessions/a.ts'",
  }))
  t.equal(findings.length, 1)
  t.match(findings[0].message, /circle between src\/admin\/ → src\/sessions\/ → src\/admin\//)
  t.match(findings[0].message, /src\/admin\/b\.ts imports '\.\.\/sessions\/a\.ts'; src\/sessions\/a\.ts imports '\.\.\/admin\/b\.ts'/)
})

test('a longer circle is found too', async (t) => {
  const findings = findViolations(tree({
    'src/sessions/a.ts': "import '../admin/b.ts'",
    'src/admin/b.ts': "import '../metrics/c.ts'",
    'src/metrics/c.ts': "import '../sessions/a.ts'",
  }))
  t.equal(findings.length, 1)
  t.match(findings[0].message, /circle between src\/admin\/ → src\/metrics\/ → src\/sessions\/ → src\/admin\//)
})

test('two files of one part that import each other are a circle, with both imports named', async (t) => {
  const findings = findViolations(tree({
    'src/admin/connection-admin.ts': "import { revokeSessions } from './session-revocation.ts'",
    'src/admin/session-revocation.ts': "import type { AdminContext } from './connection-admin.ts'",
    'src/admin/migration.ts': "import type { AdminContext } from './connection-admin.ts'",
  }))
  t.equal(findings.length, 1, 'reported once')
  t.equal(findings[0].file, 'src/admin/connection-admin.ts')
  t.match(findings[0].message, /circle between files src\/admin\/connection-admin\.ts → src\/admin\/session-revocation\.ts → src\/admin\/connection-admin\.ts/)
  t.match(findings[0].message, /src\/admin\/connection-admin\.ts imports '\.\/session-revocation\.ts'; src\/admin\/session-revocation\.ts imports '\.\/connection-admin\.ts'/)
  t.match(findings[0].message, /move what both need into a file of its own/)

  t.same(findViolations(tree({
    'src/admin/connection-admin.ts': "import { revokeSessions } from './session-revocation.ts'\nimport type { AdminContext } from './admin-context.ts'",
    'src/admin/session-revocation.ts': "import type { AdminContext } from './admin-context.ts'",
    'src/admin/admin-context.ts': 'export interface AdminContext {}',
  })), [], 'the shared type in a file of its own: no circle')
})

test('a longer circle of files, in a part or in a package, is found too; imports of files outside the tree are not', async (t) => {
  const findings = findViolations(tree({
    'src/sessions/a.ts': "import './b.ts'",
    'src/sessions/b.ts': "import './c.ts'",
    'src/sessions/c.ts': "import './a.ts'",
    'packages/simulator/src/x.ts': "import './y.ts'",
    'packages/simulator/src/y.ts': "import './x.ts'",
    'src/health/d.ts': "import './missing.ts'",
  }))
  t.same(findings.map((f) => f.message.replace(/:.*/, '')), [
    'circle between files packages/simulator/src/x.ts → packages/simulator/src/y.ts → packages/simulator/src/x.ts',
    'circle between files src/sessions/a.ts → src/sessions/b.ts → src/sessions/c.ts → src/sessions/a.ts',
  ])
})

test('the CLI and the server never import each other; a package imports nothing outside itself', async (t) => {
  const findings = findViolations(tree({
    'src/cli/main.ts': "import { loadConfig } from '../config.ts'",
    'src/app.ts': "import { main } from './cli/main.ts'",
    'packages/client/src/index.ts': "import { problem } from '../../../src/schemas/problem.ts'",
    'src/routes/x.ts': "import { createBrokerClient } from '../../packages/client/src/index.ts'",
    'src/cli/ok.ts': "import { main } from './main.ts'",
  }))
  t.same(findings.map((f) => f.file), ['src/cli/main.ts', 'src/app.ts', 'packages/client/src/index.ts', 'src/routes/x.ts'])
})

test('the server reaches no workspace package by name either: the simulator stays out of the production build', async (t) => {
  const findings = findViolations(tree({
    'src/app.ts': "import { startSimulator } from '@sf-broker/salesforce-simulator'",
    'src/routes/x.ts': "const sdk = await import('@sf-broker/client')",
    'src/config.ts': "import { Type } from 'typebox'",
    'scripts/demo.ts': "import { startSimulator } from '../packages/simulator/src/index.ts'",
  }))
  t.same(findings.map((f) => [f.file, f.specifier]), [['src/app.ts', '@sf-broker/salesforce-simulator'], ['src/routes/x.ts', '@sf-broker/client']])
})

test('sfb reaches the client package by name, and no other package, nor the client by path', async (t) => {
  const findings = findViolations(tree({
    'src/cli/broker-api.ts': "import { createAdminClient } from '@sf-broker/client'",
    'src/cli/sim.ts': "import { startSimulator } from '@sf-broker/salesforce-simulator'",
    'src/cli/path.ts': "import { createAdminClient } from '../../packages/client/src/index.ts'",
  }))
  t.same(findings.map((f) => [f.file, f.specifier]), [['src/cli/sim.ts', '@sf-broker/salesforce-simulator'], ['src/cli/path.ts', '../../packages/client/src/index.ts']])
})

test('a new folder must be given a floor', async (t) => {
  const [finding] = findViolations(tree({ 'src/jobs/a.ts': "import '../config.ts'" }))
  t.match(finding.message, /src\/jobs\/ is on no floor/)
})

test('the script fails with the import named on a tree with one bad import, and passes on a clean one', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'layers-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  const write = (file: string, text: string) => {
    mkdirSync(dirname(join(root, file)), { recursive: true })
    writeFileSync(join(root, file), text)
  }
  write('src/routes/salesforce-health.ts', "import { report } from '../health/health-report.ts'\n")
  write('src/health/health-report.ts', 'export const report = 1\n')
  const clean = await run(process.execPath, [script, root])
  t.match(clean.stdout, /every import looks down/)

  write('src/health/plugin.ts', "import routes from '../routes/salesforce-health.ts'\n")
  const failed = await run(process.execPath, [script, root]).then(() => undefined, (error) => error)
  t.equal(failed?.code, 1)
  t.match(failed?.stderr, /src\/health\/plugin\.ts imports '\.\.\/routes\/salesforce-health\.ts'/)
  t.match(failed?.stderr, /circle between src\/health\/ → src\/routes\//)

  write('src/health/plugin.ts', "import { report } from './health-report.ts'\n")
  write('src/health/health-report.ts', "import './plugin.ts'\nexport const report = 1\n")
  const circled = await run(process.execPath, [script, root]).then(() => undefined, (error) => error)
  t.equal(circled?.code, 1, 'a circle of two files fails the script')
  t.match(circled?.stderr, /circle between files src\/health\/health-report\.ts → src\/health\/plugin\.ts → src\/health\/health-report\.ts/)
})
