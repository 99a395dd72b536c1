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

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']

/** A self-signed CA, `dir`/`name`.crt and .key, valid for a day. */
async function makeRoot (dir: string, name: string): Promise<void> {
  await run('openssl', ['req', '-x509', ...EC_KEY, '-days', '1', '-subj', `/CN=${name}`, '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.crt`)])
}

/** A certificate `dir`/`name`.crt (key `name`.key) issued by `issuer` (`issuer`.crt and .key in `dir`), with the extensions `ext`. */
async function issue (dir: string, name: string, issuer: string, ext: string): Promise<{ certFile: string, keyFile: string }> {
  const p = (file: string) => join(dir, file)
  await writeFile(p(`${name}.ext`), `${ext}\n`)
  await run('openssl', ['req', ...EC_KEY, '-subj', `/CN=${name}`, '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`)])
  await run('openssl', ['x509', '-req', '-in', p(`${name}.csr`), '-CA', p(`${issuer}.crt`), '-CAkey', p(`${issuer}.key`), '-CAcreateserial', '-days', '1', '-extfile', p(`${name}.ext`), '-out', p(`${name}.crt`)])
  return { certFile: p(`${name}.crt`), keyFile: p(`${name}.key`) }
}

/** A private CA (openssl) with a server certificate for 127.0.0.1 and a client certificate, in `dir`. */
export async function makeTestPki (dir: string): Promise<TestPki> {
  await makeRoot(dir, 'ca')
  const leaf = async (name: string, ext: string) => {
    const files = await issue(dir, name, 'ca', ext)
    return { ...files, cert: await readFile(files.certFile), key: await readFile(files.keyFile) }
  }
  const server = await leaf('vault', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth')
  const client = await leaf('sf-broker', 'extendedKeyUsage=clientAuth')
  return { caFile: join(dir, 'ca.crt'), ca: await readFile(join(dir, 'ca.crt')), server: { cert: server.cert, key: server.key }, client }
}

/**
 * A server certificate for 127.0.0.1 issued by an intermediate CA of a private root, served with the
 * intermediate (`cert` is both), as a TLS-inspecting egress proxy or a company CA presents itself: a
 * client without the root refuses it with UNABLE_TO_GET_ISSUER_CERT_LOCALLY, the most common TLS
 * failure behind such a proxy ("unable to get local issuer certificate").
 */
export async function makeChainedServerCert (dir: string): Promise<{ cert: Buffer, key: Buffer }> {
  await makeRoot(dir, 'private-root')
  const intermediate = await issue(dir, 'intermediate', 'private-root', 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign')
  const leaf = await issue(dir, 'login-host', 'intermediate', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth')
  return { cert: Buffer.concat([await readFile(leaf.certFile), await readFile(intermediate.certFile)]), key: await readFile(leaf.keyFile) }
}
