import t from 'tap'
import { execFile } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'node:tls'
import { promisify } from 'node:util'
import { Agent } from 'undici'
import { buildTestApp } from '../helper.ts'
import { captureLogs } from '../support/log-capture.ts'
import { loadConfig } from '../../src/config.ts'

const run = promisify(execFile)

/** A self-signed certificate for 127.0.0.1, made by openssl. */
async function selfSigned (dir: string, name: string): Promise<{ cert: string, key: string, fingerprint: string }> {
  const cert = join(dir, `${name}.crt`)
  const key = join(dir, `${name}.key`)
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-subj', `/CN=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert])
  return { cert, key, fingerprint: new X509Certificate(await readFile(cert)).fingerprint256 }
}

/** The certificate a new TLS connection is served. */
function servedFingerprint (port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const fingerprint = socket.getPeerX509Certificate()?.fingerprint256 ?? ''
      socket.end()
      resolve(fingerprint)
    })
    socket.on('error', reject)
  })
}

/** Replaces a file as a Secret volume does: written beside, renamed over. */
async function replace (target: string, from: string): Promise<void> {
  await writeFile(`${target}.next`, await readFile(from))
  await rename(`${target}.next`, target)
}

t.test('TLS_CERT_FILE/TLS_KEY_FILE: the broker serves HTTPS, and a renewed certificate without a restart', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sfb-tls-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const first = await selfSigned(dir, 'first')
  const second = await selfSigned(dir, 'second')
  const certFile = join(dir, 'tls.crt')
  const keyFile = join(dir, 'tls.key')
  await replace(certFile, first.cert)
  await replace(keyFile, first.key)

  const logs = captureLogs('info')
  const { app } = await buildTestApp(t, { env: { TLS_CERT_FILE: certFile, TLS_KEY_FILE: keyFile, TLS_RELOAD_SECONDS: '1' }, logger: logs.logger })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as { port: number }

  t.equal(await servedFingerprint(port), first.fingerprint, 'serves the configured certificate')
  const live = await fetch(`https://127.0.0.1:${port}/health/live`, { dispatcher: new Agent({ connect: { ca: await readFile(first.cert) } }) } as RequestInit)
  t.equal(live.status, 200, 'HTTPS answers')
  await t.rejects(fetch(`http://127.0.0.1:${port}/health/live`, { signal: AbortSignal.timeout(3000) }), 'plain HTTP is not served')

  // a half-done renewal (new certificate, old key) is refused and the old pair kept
  await replace(certFile, second.cert)
  for (let i = 0; i < 100 && !/TLS certificate not reloaded/.test(logs.text()); i++) await new Promise(resolve => setTimeout(resolve, 50))
  t.match(logs.text(), /TLS certificate not reloaded: still serving the previous one/)
  t.equal(await servedFingerprint(port), first.fingerprint, 'still the previous certificate')

  await replace(keyFile, second.key)
  let served = ''
  for (let i = 0; i < 100 && served !== second.fingerprint; i++) {
    await new Promise(resolve => setTimeout(resolve, 50))
    served = await servedFingerprint(port)
  }
  t.equal(served, second.fingerprint, 'the new certificate is served without a restart')
  t.match(logs.text(), /TLS certificate reloaded/)
})

t.test('TLS_CERT_FILE and TLS_KEY_FILE go together and must be readable', async (t) => {
  const base = { SECRET_STORE: 'file', FILE_STORE_KEY: Buffer.alloc(32, 7).toString('base64'), PRINCIPALS_JSON: '{"principals":[]}', SHARED_STATE: 'memory' }
  t.throws(() => loadConfig({ ...base, TLS_CERT_FILE: '/etc/hostname' }), /^missing TLS_KEY_FILE: TLS_CERT_FILE and TLS_KEY_FILE go together/)
  t.throws(() => loadConfig({ ...base, TLS_KEY_FILE: '/etc/hostname' }), /^missing TLS_CERT_FILE/)
  t.throws(() => loadConfig({ ...base, TLS_CERT_FILE: '/nonexistent/tls.crt', TLS_KEY_FILE: '/etc/hostname' }), /^invalid TLS_CERT_FILE: cannot read the file \(ENOENT\)/)
})

t.test('a TLS_CERT_FILE or TLS_KEY_FILE that does not hold a usable pair is a configuration error naming the variable', async (t) => {
  // these used to stop the broker with OpenSSL's words alone ("failed to start: error:0480006C:PEM routines::no start
  // line", exit 1): which file, and what to do, were left to guess
  const dir = await mkdtemp(join(tmpdir(), 'sfb-tls-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const one = await selfSigned(dir, 'one')
  const other = await selfSigned(dir, 'other')
  const garbage = join(dir, 'garbage.pem')
  await writeFile(garbage, 'not a PEM file\n')
  const { ConfigError } = await import('../../src/config.ts')
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ TLS_CERT_FILE: garbage, TLS_KEY_FILE: one.key }, /^invalid TLS_CERT_FILE: no PEM certificate in the file; /],
    [{ TLS_CERT_FILE: one.key, TLS_KEY_FILE: one.key }, /^invalid TLS_CERT_FILE: no PEM certificate in the file; /],
    [{ TLS_CERT_FILE: one.cert, TLS_KEY_FILE: garbage }, /^invalid TLS_KEY_FILE: no unencrypted PEM private key in the file; /],
    [{ TLS_CERT_FILE: one.cert, TLS_KEY_FILE: other.key }, /^invalid TLS_KEY_FILE: not the private key of the certificate in TLS_CERT_FILE; /],
  ]
  for (const [env, pattern] of cases) {
    const err = await buildTestApp(t, { env }).then(() => undefined, (e: unknown) => e)
    t.type(err, ConfigError, `${JSON.stringify(env)}: a configuration error (exit 78)`)
    t.match((err as Error).message, pattern)
    t.notMatch((err as Error).message, /BEGIN|PRIVATE KEY/, 'nothing of the files quoted')
  }
})
