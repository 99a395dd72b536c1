import { readFileSync, unwatchFile, watchFile } from 'node:fs'
import { createSecureContext, type Server as TlsServer } from 'node:tls'
import type { FastifyBaseLogger } from 'fastify'

export interface TlsFiles {
  certFile: string
  keyFile: string
  /** how often the files' stat is polled */
  intervalMs: number
}

export interface TlsMaterial { cert: Buffer, key: Buffer }

/** The certificate chain and key, checked to belong together (createSecureContext throws otherwise). */
export function readTlsMaterial (files: TlsFiles): TlsMaterial {
  const material = { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) }
  createSecureContext(material)
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
      const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message
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
