import { createRequire } from 'node:module'

/**
 * Loaded before every test process (package.json, tap `node-arg` --import): a broker app compiles a
 * request validator (Ajv) for every route at `ready()`, and the suite builds hundreds of apps from
 * the same schemas. Here the validators come from one pool per process instead of one per app, so a
 * test pays for its app's plugins and routes, not for compiling the same schemas again. (Response
 * serializers are shared by the app itself: src/http/serializer-builds.ts.)
 *
 * Nothing is shared that an app could tell apart: the validators come from the pool
 * @fastify/ajv-compiler already keeps per app, keyed by the shared schemas and the Ajv options. The
 * server, the bench and the OpenAPI export never load this file.
 */

const require = createRequire(import.meta.url)
// the copies Fastify itself loads (resolved from Fastify's own directory, as its require() does)
const fastifyRequire = createRequire(require.resolve('fastify'))
const ajvCompilerPath = fastifyRequire.resolve('@fastify/ajv-compiler')

type Selector = ((opts?: unknown) => unknown) & Record<string, unknown>

function sharePools (selector: Selector): Selector {
  let shared: unknown
  const once = ((opts?: unknown) => {
    // the options Fastify passes to the selector carry nothing per app (its own per-app pool is keyed inside)
    if (opts !== undefined) return selector(opts)
    shared ??= selector()
    return shared
  }) as Selector
  return Object.assign(once, selector)
}

function replaceExports<T> (path: string, wrap: (original: T) => T): void {
  const original = require(path) as T
  const entry = require.cache[path]
  if (entry === undefined) throw new Error(`${path} is not in the require cache`)
  entry.exports = wrap(original)
}

replaceExports<Selector>(ajvCompilerPath, sharePools)
