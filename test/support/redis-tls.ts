import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { freePort } from './redis.ts'
import { BROKER_ACL_RULES, waitForServer } from './redis-topologies.ts'

const run = promisify(execFile)

export interface TestPki {
  dir: string
  caFile: string
  serverCert: string
  serverKey: string
  clientCert: string
  clientKey: string
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, made by openssl (node:crypto cannot issue certificates). */
export async function makePki (dir: string): Promise<TestPki> {
  const p = (name: string) => join(dir, name)
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']
  await run('openssl', ['req', '-x509', ...ec, '-days', '2', '-subj', '/CN=sf-broker test CA', '-keyout', p('ca.key'), '-out', p('ca.crt')])
  const leaves: Array<[string, string, string]> = [['server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1'], ['client', 'sf-broker', 'extendedKeyUsage=clientAuth']]
  for (const [name, cn, ext] of leaves) {
    await run('openssl', ['req', ...ec, '-subj', `/CN=${cn}`, '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`)])
    await writeFile(p(`${name}.ext`), `${ext}\n`)
    await run('openssl', ['x509', '-req', '-in', p(`${name}.csr`), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', p(`${name}.ext`), '-out', p(`${name}.crt`)])
  }
  return { dir, caFile: p('ca.crt'), serverCert: p('server.crt'), serverKey: p('server.key'), clientCert: p('client.crt'), clientKey: p('client.key') }
}

export interface SecureRedis {
  port: number
  pki: TestPki
  /** the ACL user the broker logs in as, allowed only the broker's keys and channels and no @dangerous command but INFO (README, Redis) */
  username: string
  password: string
  /** an ACL user allowed everything, for the test's own reads (ACL LOG) */
  adminUsername: string
  adminPassword: string
  close (): Promise<void>
}

/**
 * A redis-server speaking only TLS (no plain port), requiring client certificates, whose default
 * user is off: the ACL user `sf-broker` with its password, restricted to `sfbtest:` keys and channels
 * and to the commands the README recommends, and `admin` for the test itself.
 */
export async function startSecureRedis (): Promise<SecureRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'sfb-redis-tls-'))
  const pki = await makePki(dir)
  const port = await freePort()
  const username = 'sf-broker'
  const password = 'acl-password-0123456789'
  const adminPassword = 'admin-password-0123456789'
  const conf = join(dir, 'redis.conf')
  await writeFile(conf, [
    'port 0', `tls-port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, 'save ""', 'appendonly no', 'loglevel warning',
    `tls-cert-file ${pki.serverCert}`, `tls-key-file ${pki.serverKey}`, `tls-ca-cert-file ${pki.caFile}`, 'tls-auth-clients yes',
    'user default off',
    `user ${username} on >${password} ~sfbtest:* &sfbtest:* ${BROKER_ACL_RULES.join(' ')}`,
    `user admin on >${adminPassword} ~* &* +@all`,
  ].join('\n') + '\n')
  const proc: ChildProcess = spawn('redis-server', [conf], { stdio: 'ignore' })
  const close = async () => {
    if (proc.exitCode === null) {
      await new Promise<void>((resolve) => {
        proc.once('exit', () => resolve())
        proc.kill('SIGKILL')
      })
    }
    await rm(dir, { recursive: true, force: true })
  }
  try {
    await waitForServer(port, () => proc.exitCode === null, 15_000, { tls: { ca: pki.caFile, cert: pki.clientCert, key: pki.clientKey } })
  } catch (err) {
    await close()
    throw err
  }
  return { port, pki, username, password, adminUsername: 'admin', adminPassword, close }
}
