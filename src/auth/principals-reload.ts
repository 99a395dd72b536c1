import { readFile } from 'node:fs/promises'
import { unwatchFile, watchFile, type Stats } from 'node:fs'
import type { Logger } from 'pino'
import { withoutByteOrderMark } from '../config.ts'
import { parsePrincipals, type PrincipalDirectory } from './principals.ts'

export interface PrincipalsReloadOptions {
  file: string
  logger: Logger
  /** how often the file's stat is polled */
  intervalMs: number
}

/**
 * Callers without restarts: the principals file is re-read when it changes (polled with stat, which
 * follows the symlinks a Kubernetes Secret volume swaps atomically: an inotify watch on the old file
 * would see nothing) and on demand (SIGHUP). The directory object given to the auth plugin and the
 * JWT verifier is updated in place, so every holder sees the new callers at once. A file that does
 * not parse or validate changes nothing: the callers loaded before keep working and the log says why.
 */
export class PrincipalsReloader {
  private readonly directory: PrincipalDirectory
  private readonly opts: PrincipalsReloadOptions
  private lastText: string | null = null
  private running: Promise<boolean> | null = null
  private again = false
  private readonly onChange = (current: Stats, previous: Stats): void => {
    if (current.mtimeMs === previous.mtimeMs && current.ino === previous.ino && current.size === previous.size) return
    this.reload().catch(() => {})
  }

  constructor (directory: PrincipalDirectory, opts: PrincipalsReloadOptions, loadedText?: string) {
    this.directory = directory
    this.opts = opts
    this.lastText = loadedText ?? null
  }

  start (): void {
    watchFile(this.opts.file, { interval: this.opts.intervalMs, persistent: false }, this.onChange)
  }

  stop (): void {
    unwatchFile(this.opts.file, this.onChange)
  }

  /** Re-reads the file; true when new callers are in force. Calls during a reload run once more after it. */
  reload (): Promise<boolean> {
    if (this.running) {
      this.again = true
      return this.running
    }
    this.running = this.readAndApply().finally(() => {
      this.running = null
      if (this.again) {
        this.again = false
        this.reload().catch(() => {})
      }
    })
    return this.running
  }

  private async readAndApply (): Promise<boolean> {
    const { file, logger } = this.opts
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (err) {
      logger.error({ file, reason: `cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'})` }, 'principals file not reloaded: keeping the callers loaded before')
      return false
    }
    if (text === this.lastText) return false
    let next: PrincipalDirectory
    try {
      let doc: unknown
      try {
        doc = JSON.parse(withoutByteOrderMark(text))
      } catch {
        throw new Error('not valid JSON')
      }
      next = parsePrincipals(doc)
    } catch (err) {
      // the message names a JSON path, an id or a subject, never a key hash's owner secret
      logger.error({ file, reason: (err as Error).message }, 'principals file not reloaded: keeping the callers loaded before')
      this.lastText = text
      return false
    }
    this.directory.byId = next.byId
    this.directory.bySubject = next.bySubject
    this.lastText = text
    logger.info({ file, principals: next.byId.size }, 'principals file reloaded')
    return true
  }
}
