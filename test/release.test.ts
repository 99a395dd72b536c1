import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import t from 'tap'
import { parse } from 'yaml'
import { buildTestApp } from './helper.ts'
import { dockerStages } from './packaging/repo.ts'

/** What a release needs besides working code: a license, a changelog, one version everywhere, a publishable SDK. */

const ROOT = join(import.meta.dirname, '..')
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8')
const pkg = JSON.parse(read('package.json')) as { version: string, license: string }

// The Apache License 2.0 exactly as the ASF publishes it (https://www.apache.org/licenses/LICENSE-2.0.txt)
const APACHE_2_0_SHA256 = 'cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30'

t.test('LICENSE is the full Apache-2.0 text that every package.json declares', async (t) => {
  t.equal(pkg.license, 'Apache-2.0')
  t.equal(createHash('sha256').update(read('LICENSE')).digest('hex'), APACHE_2_0_SHA256, 'the standard text, unaltered')
  for (const dir of ['packages/client', 'packages/simulator']) {
    t.equal(JSON.parse(read(`${dir}/package.json`)).license, 'Apache-2.0', `${dir} declares it`)
    t.equal(read(`${dir}/LICENSE`), read('LICENSE'), `${dir} ships it (npm packs a package's own LICENSE)`)
  }
})

t.test('one version: package.json, OpenAPI info.version, the image label, the chart appVersion, the changelog', async (t) => {
  const { app } = await buildTestApp(t)
  const served = app.swagger() as { info: { version: string } }
  t.equal(served.info.version, pkg.version, 'the OpenAPI document the broker serves')
  t.equal((JSON.parse(read('openapi/openapi.json')) as { info: { version: string } }).info.version, pkg.version, 'the committed document')
  const versionArg = dockerStages(read('Dockerfile')).at(-1)!.instructions.find(i => i.keyword === 'ARG' && i.args.startsWith('VERSION='))
  t.equal(versionArg?.args, `VERSION=${pkg.version}`, 'the image label default')
  t.equal(parse(read('helm/sf-broker/Chart.yaml')).appVersion, pkg.version)
  const changelog = read('CHANGELOG.md')
  t.match(changelog, new RegExp(`^## \\[${pkg.version.replaceAll('.', '\\.')}\\]`, 'm'), 'CHANGELOG.md has a section for this version')
  t.match(changelog, /^## \[Unreleased\]/m)
})

t.test('the SDK passes npm publish --dry-run (without contacting a registry)', async (t) => {
  const dir = join(ROOT, 'packages/client')
  // a closed port as the registry: a dry run must not need one (no retries: npm's back-off on the refused
  // connection cost a minute); node_modules/.bin first for tsc and a current node
  // tap's NODE_OPTIONS (its module hooks) stay out of npm and tsc: they are other programs, and slower under them
  const { NODE_OPTIONS: _tapHooks, ...env } = process.env
  const result = await new Promise<{ status: number | null, stdout: string, stderr: string }>((resolve, reject) => {
    execFile('npm', ['publish', '--dry-run', '--json', '--registry', 'http://127.0.0.1:9/', '--fetch-retries=0'], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...env, PATH: `${join(ROOT, 'node_modules/.bin')}:${dirname(process.execPath)}:${process.env.PATH ?? ''}`, npm_config_update_notifier: 'false' },
      timeout: 300_000,
    }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') reject(err)
      else resolve({ status: err ? Number(err.code) : 0, stdout, stderr })
    })
  })
  t.equal(result.status, 0, result.stderr)
  type Report = { name: string, version: string, files: Array<{ path: string }> }
  // npm 10 answers the report itself, npm 11 keyed by the package name
  const answer = JSON.parse(result.stdout.slice(result.stdout.indexOf('{'))) as Report | Record<string, Report>
  const report = ('files' in answer ? answer : answer['@sf-broker/client']) as Report
  t.equal(report.name, '@sf-broker/client')
  const files = report.files.map(f => f.path).sort()
  for (const file of ['LICENSE', 'README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts']) t.ok(files.includes(file), `the tarball holds ${file}`)
  t.notOk(files.some(f => f.startsWith('src/') || (f.endsWith('.ts') && !f.endsWith('.d.ts'))), 'compiled JavaScript and declarations only')
  t.equal((JSON.parse(read('packages/client/package.json')) as { publishConfig?: { access?: string } }).publishConfig?.access, 'public', 'a scoped package is private unless published public')
})
