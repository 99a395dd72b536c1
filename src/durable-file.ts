import { open } from 'node:fs/promises'

/**
 * fsync of a directory: a file's own fsync makes its data durable, not the directory entry that names
 * it (Linux fsync(2): "an explicit fsync() on a file descriptor for the directory is also needed"), so
 * a file just created or renamed into place is durable only once its directory is synced too.
 */
export async function syncDirectory (path: string): Promise<void> {
  const dir = await open(path, 'r')
  try {
    await dir.sync()
  } catch (err) {
    // some systems cannot fsync a directory at all (EINVAL, EBADF): nothing more can be done there, as
    // PostgreSQL's fsync_fname_ext (src/backend/storage/file/fd.c) also concludes
    const code = (err as NodeJS.ErrnoException).code
    if (code !== 'EINVAL' && code !== 'EBADF') throw err
  } finally {
    await dir.close()
  }
}
