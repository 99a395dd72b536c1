import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

/**
 * Upload bytes between two young-generation collections while a body streams through the proxy.
 * Every piece of body Node parses off the caller's socket is a new buffer outside V8's heap
 * (Node's src/node_http_parser.cc, on_body: Buffer::Copy), freed only when a collection finds its
 * small wrapper dead. An upload allocates next to nothing inside the heap, so V8 sees no reason to
 * collect: with the default 16 MiB semi-space a 100 MiB upload grew a fresh broker's RSS by about
 * 34 MiB of dead buffers (bench/scenarios/proxy-upload.ts), which the allocator kept afterwards;
 * with a collection every 8 MiB, by 10–12 MiB, at the same upload speed. A smaller young generation
 * for the whole process (--max-semi-space-size=1, with MALLOC_ARENA_MAX=2) bounded it as well, but
 * cost every request: broker CPU per cached-session request +55–60 %, per proxied call +80–95 %.
 */
const BYTES_PER_COLLECTION = 8 * 1024 * 1024

let sinceCollection = 0
let collect: (() => void) | null | undefined

/** Counts upload bytes (all uploads together) and asks for a young-generation collection every BYTES_PER_COLLECTION. */
export function uploadedBytes (n: number): void {
  sinceCollection += n
  if (sinceCollection < BYTES_PER_COLLECTION) return
  sinceCollection = 0
  collect ??= collector()
  collect?.()
}

/**
 * V8's gc() extension, which only exists in contexts made after --expose-gc is set: a scavenge
 * takes a fraction of a millisecond when little survives, as here. null where V8 refuses (the
 * uploads then go on as before).
 */
function collector (): (() => void) | null {
  try {
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as ((options: { type: 'minor' | 'major' }) => void) | undefined
    if (typeof gc !== 'function') return null
    return () => { gc({ type: 'minor' }) }
  } catch {
    return null
  }
}
