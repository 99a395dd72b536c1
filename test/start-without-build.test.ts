import { spawn } from 'node:child_process'
import { once } from 'node:events'
import t from 'tap'

t.test('npm start without a build says to build first', async (t) => {
  const pkg = JSON.parse(await import('node:fs').then(fs => fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')))
  t.match(pkg.scripts.prestart, /^node scripts\/check-build\.ts dist\/server\.js$/)
  const child = spawn(process.execPath, [new URL('../scripts/check-build.ts', import.meta.url).pathname, 'dist/no-such-build.js'], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const [code] = await once(child, 'close')
  t.equal(code, 1)
  t.equal(stderr.trim(), 'sf-broker: dist/no-such-build.js is missing: run `npm run build` first (or `npm run demo` to try the broker without a build)')
})
