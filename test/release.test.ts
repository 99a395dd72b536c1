import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { parse } from 'yaml'
import { buildTestApp } from './helper.ts'
import { dockerStages } from './packaging/repo.ts'

/** What a release needs besides working code: a license, a changelog, one version everywhere (the SDK's publish: packages/client/test/consumer.test.ts). */

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

// npm publish --dry-run of the SDK runs on the tarball packages/client/test/consumer.test.ts packs
