import { readFileSync, unwatchFile, watchFile } from 'node:fs'
import type { Server as TlsServer } from 'node:tls'
import type { FastifyBaseLogger } from 'fastify'
import { ConfigError } from '../config/config-error.ts'
import { certificateAndKey } from '../config/pem-files.ts'

export interface TlsFiles {
  certFile: string
  keyFile: string
  /** how often the files' stat is polled */
  intervalMs: number
}

export interface TlsMaterial { cert: Buffer, key: Buffer }

/**
 * The certificate chain and key, checked to belong together. What is wrong is a ConfigError naming the
 * variable to fix (exit 78 at start; the reason logged by a reload): OpenSSL's own words ("PEM
 * routines::no start line") say neither which file nor what to do. Nothing of the files is quoted.
 */
export function readTlsMaterial (files: TlsFiles): TlsMaterial {
  const material = { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) }
  certificateAndKey({ cert: 'TLS_CERT_FILE', key: 'TLS_KEY_FILE' }, material, {
    cert: 'mount the certificate chain there (tls.crt of a kubernetes.io/tls Secret), leaf first',
    key: 'mount the key of TLS_CERT_FILE there (tls.key of a kubernetes.io/tls Secret), without a passphrase',
    pair: 'mount the key and certificate of the same issuance (both from one Secret)',
  })
  return material
}

/**
 * Serves a renewed certificate without a restart: both files are polled (stat follows the symlinks a
 * Kubernetes Secret volume or cert-manager swaps atomically, which an inotify watch on the old file
 * would miss) and, when either changed, the pair is read again and installed for new connections
 * with setSecureContext. A pair that does not load (half-written, key and certificate from
 * different renewals) changes nothing and is logged; the next change is tried again.
 * Returns what stops the polling.
 */
export function reloadTlsOnChange (server: TlsServer, files: TlsFiles, logger: FastifyBaseLogger): () => void {
  let last = fingerprint(files)
  const onChange = (): void => {
    const now = fingerprint(files)
    if (now === last) return
    try {
      server.setSecureContext(readTlsMaterial(files))
      last = now
      logger.info({ certFile: files.certFile }, 'TLS certificate reloaded')
    } catch (err) {
      const reason = err instanceof ConfigError ? err.message : (err as NodeJS.ErrnoException).code ?? (err as Error).message
      logger.error({ certFile: files.certFile, keyFile: files.keyFile, reason }, 'TLS certificate not reloaded: still serving the previous one')
    }
  }
  for (const file of [files.certFile, files.keyFile]) watchFile(file, { interval: files.intervalMs, persistent: false }, onChange)
  return () => {
    for (const file of [files.certFile, files.keyFile]) unwatchFile(file, onChange)
  }
}

/** What the two files hold now ('' when unreadable), to tell a real change from a touch. */
function fingerprint (files: TlsFiles): string {
  try {
    return `${readFileSync(files.certFile, 'base64')}\n${readFileSync(files.keyFile, 'base64')}`
  } catch {
    return ''
  }
}
