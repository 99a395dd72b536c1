import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

export interface TestPki {
  caFile: string
  ca: Buffer
  server: { cert: Buffer, key: Buffer }
  client: { certFile: string, keyFile: string, cert: Buffer, key: Buffer }
}

/** A private CA (openssl) with a server certificate for 127.0.0.1 and a client certificate, in `dir`. */
export async function makeTestPki (dir: string): Promise<TestPki> {
  const p = (name: string) => join(dir, name)
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']
  await run('openssl', ['req', '-x509', ...ec, '-days', '1', '-subj', '/CN=test-ca', '-keyout', p('ca.key'), '-out', p('ca.crt')])
  const leaf = async (name: string, ext: string) => {
    await writeFile(p(`${name}.ext`), `${ext}\n`)
    await run('openssl', ['req', ...ec, '-subj', `/CN=${name}`, '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`)])
    await run('openssl', ['x509', '-req', '-in', p(`${name}.csr`), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', p(`${name}.ext`), '-out', p(`${name}.crt`)])
    return { certFile: p(`${name}.crt`), keyFile: p(`${name}.key`), cert: await readFile(p(`${name}.crt`)), key: await readFile(p(`${name}.key`)) }
  }
  const server = await leaf('vault', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth')
  const client = await leaf('sf-broker', 'extendedKeyUsage=clientAuth')
  return { caFile: p('ca.crt'), ca: await readFile(p('ca.crt')), server: { cert: server.cert, key: server.key }, client }
}

/**
 * A server certificate for 127.0.0.1 issued by an intermediate CA of a private root, served with the
 * intermediate (`cert` is both), as a TLS-inspecting egress proxy or a company CA presents itself: a
 * client without the root refuses it with UNABLE_TO_GET_ISSUER_CERT_LOCALLY, the most common TLS
 * failure behind such a proxy ("unable to get local issuer certificate").
 */
export async function makeChainedServerCert (dir: string): Promise<{ cert: Buffer, key: Buffer }> {
  const p = (name: string) => join(dir, name)
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']
  await run('openssl', ['req', '-x509', ...ec, '-days', '1', '-subj', '/CN=private-root', '-keyout', p('root.key'), '-out', p('root.crt')])
  const issue = async (name: string, issuer: string, ext: string) => {
    await writeFile(p(`${name}.ext`), `${ext}\n`)
    await run('openssl', ['req', ...ec, '-subj', `/CN=${name}`, '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`)])
    await run('openssl', ['x509', '-req', '-in', p(`${name}.csr`), '-CA', p(`${issuer}.crt`), '-CAkey', p(`${issuer}.key`), '-CAcreateserial', '-days', '1', '-extfile', p(`${name}.ext`), '-out', p(`${name}.crt`)])
  }
  await issue('intermediate', 'root', 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign')
  await issue('login-host', 'intermediate', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth')
  return { cert: Buffer.concat([await readFile(p('login-host.crt')), await readFile(p('intermediate.crt'))]), key: await readFile(p('login-host.key')) }
}
