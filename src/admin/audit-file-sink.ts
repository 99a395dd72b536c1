import { open, rename, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Logger } from 'pino'
import { syncDirectory } from '../durable-file.ts'
import { BatchingSink, type AuditSinkRecord } from './audit-sink.ts'

export interface FileSinkOptions {
  path: string
  /** a file that would grow past this is rotated first: path -> path.1 -> path.2 … */
  maxBytes: number
  /** rotated files kept (path.1 … path.N); the oldest is replaced */
  keep: number
  logger: Logger
}

/**
 * JSON lines appended to a file and fsync'd before the write resolves: a record the broker
 * answered after is on disk, not in a page cache a crash loses. Opened lazily and reopened after a
 * failure, so a volume that comes back (or a fixed path) is used again without a restart. The
 * broker rotates by size itself; an external logrotate must not truncate the file (copytruncate).
 */
export class AuditFileSink extends BatchingSink {
  readonly name = 'file'
  private readonly opts: FileSinkOptions
  private handle: FileHandle | null = null
  private size = 0

  constructor (opts: FileSinkOptions) {
    super(opts.logger)
    this.opts = opts
  }

  protected async deliver (batch: AuditSinkRecord[]): Promise<void> {
    const text = Buffer.from(batch.map(r => r.json + '\n').join(''))
    let handle = await this.opened()
    if (this.size > 0 && this.size + text.length > this.opts.maxBytes) handle = await this.rotate()
    const before = this.size
    try {
      // write(2) may take fewer bytes than asked, without an error, when the disk (or the file size
      // limit) has room for part of them only (POSIX.1-2017 write(): "only as many bytes as there is
      // room for shall be written"): write the rest until done, or until it fails (ENOSPC, EFBIG)
      for (let written = 0; written < text.length;) {
        written += (await handle.write(text, written, text.length - written)).bytesWritten
      }
      await handle.datasync()
      this.size += text.length
    } catch (err) {
      // undo a partial line, so a retry does not leave half a record in front of the whole one
      await handle.truncate(before).catch(() => {})
      await this.reset()
      throw err
    }
  }

  private async opened (): Promise<FileHandle> {
    if (this.handle) return this.handle
    const handle = await open(this.opts.path, 'a', 0o600)
    try {
      this.size = (await handle.stat()).size
      // the file may have just been created (first write, or after a rotation's renames): its data's
      // fsync does not make the directory entries durable, the directory's does (Linux fsync(2): "an
      // explicit fsync() on a file descriptor for the directory is also needed"); without it a crash
      // can lose the file, and every record answered after its write
      await syncDirectory(dirname(this.opts.path))
    } catch (err) {
      await handle.close().catch(() => {})
      throw err
    }
    this.handle = handle
    return handle
  }

  private async rotate (): Promise<FileHandle> {
    await this.reset()
    for (let i = this.opts.keep - 1; i >= 1; i--) {
      await rename(`${this.opts.path}.${i}`, `${this.opts.path}.${i + 1}`).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err
      })
    }
    await rename(this.opts.path, `${this.opts.path}.1`)
    this.logger.info({ sink: this.name, path: this.opts.path, keep: this.opts.keep }, 'audit file rotated')
    return this.opened()
  }

  private async reset (): Promise<void> {
    const handle = this.handle
    this.handle = null
    await handle?.close().catch(() => {})
  }

  async close (): Promise<void> {
    await this.drain()
    await this.reset()
  }
}
