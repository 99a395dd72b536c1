import { execFileSync, spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import t from 'tap'
import { SOURCE_CONDITION } from '../cli/support.ts'
import { startBroker } from '../support/broker.ts'
import { ROOT, dockerStages, readRepoFile } from './repo.ts'

/**
 * `sfb` as the image installs it (/usr/local/bin/sfb, written by the runtime stage's printf), run with
 * this machine's sh and node against a running broker: no Docker engine needed to hold the README to it.
 */
const runtime = dockerStages(readRepoFile('Dockerfile')).at(-1)!
const install = runtime.instructions.find(i => i.keyword === 'RUN' && i.args.includes('/usr/local/bin/sfb'))!.args

async function imageSfb (dir: string): Promise<string> {
  const printf = /^printf ('[^']*')/.exec(install)?.[1]
  if (!printf) throw new Error('the runtime stage no longer writes /usr/local/bin/sfb with printf')
  const script = execFileSync('sh', ['-c', `printf ${printf}`], { encoding: 'utf8' })
  // the image's compiled CLI (and the client package it imports) is this checkout's source here
  const file = join(dir, 'sfb')
  await writeFile(file, script.replace('/app/dist/cli/sfb.js', `${SOURCE_CONDITION} ${join(ROOT, 'src/cli/sfb.ts')}`), { mode: 0o755 })
  return file
}

function run (file: string, args: string[], env: Record<string, string>): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: { PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    child.on('error', reject)
    child.on('close', code => resolve({ code, stdout, stderr }))
  })
}

t.test('sfb in the image talks to the container\'s broker by default, with the admin key from a file', async (t) => {
  const broker = await startBroker(t)
  const dir = await mkdtemp(join(tmpdir(), 'sfb-image-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const sfb = await imageSfb(dir)
  const keyFile = join(dir, 'sfb-admin-key')
  await writeFile(keyFile, broker.principals.adminKey + '\n', { mode: 0o600 })
  const port = new URL(broker.baseUrl).port

  // docker exec inherits the container's environment: PORT, not SFB_URL
  const listed = await run(sfb, ['connections', 'list'], { PORT: port, SFB_ADMIN_KEY_FILE: keyFile })
  t.equal(listed.code, 0, listed.stderr)
  t.match(listed.stdout, /^NAME\s+FLOW/)
  t.match(listed.stdout, /\nacme\s+client_credentials/)

  const elsewhere = await run(sfb, ['connections', 'list'], { PORT: port, SFB_URL: 'http://127.0.0.1:1', SFB_ADMIN_KEY_FILE: keyFile })
  t.equal(elsewhere.code, 69, 'an explicit SFB_URL wins')
  t.match(elsewhere.stderr, /cannot reach the broker at http:\/\/127\.0\.0\.1:1/)

  const noKey = await run(sfb, ['connections', 'list'], { PORT: port })
  t.equal(noKey.code, 78)
  t.match(noKey.stderr, /no admin key: set SFB_ADMIN_KEY_FILE/)
})

t.test('sfb in the image trusts SFB_CA_FILE, the CA of a broker serving HTTPS', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sfb-image-tls-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  // self-signed for 127.0.0.1: the certificate is its own CA, as a private CA's would be unknown to Node
  const cert = join(dir, 'tls.crt')
  const key = join(dir, 'tls.key')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-subj', '/CN=sf-broker', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' })
  const broker = await startBroker(t, { acme: {} }, { env: { TLS_CERT_FILE: cert, TLS_KEY_FILE: key } })
  const port = new URL(broker.baseUrl).port
  const sfb = await imageSfb(dir)
  const keyFile = join(dir, 'sfb-admin-key')
  await writeFile(keyFile, broker.principals.adminKey + '\n', { mode: 0o600 })
  const env = { PORT: port, SFB_URL: `https://127.0.0.1:${port}`, SFB_ADMIN_KEY_FILE: keyFile }

  const untrusted = await run(sfb, ['connections', 'list'], env)
  t.not(untrusted.code, 0, 'a certificate from a CA Node does not know is refused')
  const trusted = await run(sfb, ['connections', 'list'], { ...env, SFB_CA_FILE: cert })
  t.equal(trusted.code, 0, trusted.stderr)
  t.match(trusted.stdout, /\nacme\s+client_credentials/)
  // the chart's CA file is optional (a public CA's Secret has none): a missing one is no CA, and no warning
  const absent = await run(sfb, ['connections', 'list'], { ...env, SFB_CA_FILE: join(dir, 'absent.crt') })
  t.not(absent.code, 0)
  t.notMatch(absent.stderr, /extra certs/i, 'Node is not handed a file that is not there')
})

t.test('the README and the Dockerfile say the same about sfb in the image', async (t) => {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8')
  t.match(readme, /docker exec -e SFB_ADMIN_KEY_FILE=\S+ <container> sfb health/)
  t.match(readRepoFile('Dockerfile'), /docker exec -e SFB_ADMIN_KEY_FILE=\S+ <container> sfb health/)
})
