import { promises as fsPromises } from 'node:fs'
import { syncBuiltinESMExports } from 'node:module'

/**
 * What code does to the files of `dir`, seen through node:fs/promises itself, in order: `open NAME`,
 * `sync NAME`, `datasync NAME`, `rename FROM TO` (names relative to `dir`, `dir` itself as "dir",
 * `rename` for a temporary file's pid and random part). Durability is an order of system calls that
 * no outcome shows (a crash would): this is how a test sees it. Undone at the test's end.
 */
export function watchFileCalls (t: { teardown (fn: () => unknown): void }, dir: string, rename: (name: string) => string = n => n): string[] {
  const events: string[] = []
  const original = { open: fsPromises.open, rename: fsPromises.rename }
  const name = (p: unknown) => p === dir ? 'dir' : rename(String(p).slice(dir.length + 1))
  fsPromises.open = (async (...args: Parameters<typeof fsPromises.open>) => {
    const handle = await original.open(...args)
    const opened = name(args[0])
    const { sync, datasync } = handle
    handle.sync = () => { events.push(`sync ${opened}`); return sync.call(handle) }
    handle.datasync = () => { events.push(`datasync ${opened}`); return datasync.call(handle) }
    events.push(`open ${opened}`)
    return handle
  }) as typeof fsPromises.open
  fsPromises.rename = (async (from: string, to: string) => {
    await original.rename(from, to)
    events.push(`rename ${name(from)} ${name(to)}`)
  }) as typeof fsPromises.rename
  syncBuiltinESMExports()
  t.teardown(() => {
    Object.assign(fsPromises, original)
    syncBuiltinESMExports()
  })
  return events
}
