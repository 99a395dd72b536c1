import t from 'tap'
import { constants, PerformanceObserver } from 'node:perf_hooks'

/** a gc entry: its detail says which collection it was */
type GcEntry = { detail?: { kind?: number } }
import { uploadedBytes } from '../../src/proxy/upload-memory.ts'

t.test('every 8 MiB of upload asks V8 for a young-generation collection', async (t) => {
  const minor = new Promise<GcEntry>((resolve) => {
    const observer = new PerformanceObserver((list) => {
      const entry = (list.getEntries() as GcEntry[]).find(e => e.detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR)
      if (entry) {
        observer.disconnect()
        resolve(entry)
      }
    })
    observer.observe({ entryTypes: ['gc'] })
  })
  for (let i = 0; i < 8; i++) uploadedBytes(1024 * 1024)
  const entry = await minor
  t.equal(entry.detail?.kind, constants.NODE_PERFORMANCE_GC_MINOR)
})
