import { createRequire } from 'node:module'

/**
 * Loaded before every test process (package.json, tap `node-arg` --import): a broker app compiles a
 * response serializer (fast-json-stringify) and a request validator (Ajv) for every route at
 * `ready()`, about a second of CPU per app, and the suite builds hundreds of apps from the same
 * schemas. Here each serializer and each validator is compiled once per process and handed to every
 * later app that asks for the same schema with the same options, so a test pays for its app's
 * plugins and routes, not for compiling the same schemas again.
 *
 * Nothing is shared that an app could tell apart: a serializer is a pure function of its schema and
 * options (both part of the key, as JSON), and the validators come from the pool @fastify/ajv-compiler
 * already keeps per app, keyed by the shared schemas and the Ajv options (one pool per process instead
 * of one per app). The server, the bench and the OpenAPI export never load this file.
 */

const require = createRequire(import.meta.url)
// the copies Fastify itself loads (resolved from Fastify's own directory, as its require() does)
const fastifyRequire = createRequire(require.resolve('fastify'))
const serializerCompilerRequire = createRequire(fastifyRequire.resolve('@fastify/fast-json-stringify-compiler'))
const fjsPath = serializerCompilerRequire.resolve('fast-json-stringify')
const ajvCompilerPath = fastifyRequire.resolve('@fastify/ajv-compiler')

type Build = ((schema: unknown, options?: Record<string, unknown>) => unknown) & Record<string, unknown>

function memoizeSerializers (build: Build): Build {
  const compiled = new Map<string, unknown>()
  /** JSON of the shared schemas, once per object: the same object comes with every route of an app */
  const sharedKeys = new WeakMap<object, string>()
  const cached = ((schema: unknown, options: Record<string, unknown> = {}) => {
    const { schema: shared, ...rest } = options
    let sharedKey = typeof shared === 'object' && shared !== null ? sharedKeys.get(shared) : undefined
    if (sharedKey === undefined) {
      sharedKey = JSON.stringify(shared ?? null)
      if (typeof shared === 'object' && shared !== null) sharedKeys.set(shared, sharedKey)
    }
    const key = `${sharedKey}\u0000${JSON.stringify(rest)}\u0000${JSON.stringify(schema)}`
    let fn = compiled.get(key)
    if (fn === undefined) {
      fn = build(schema, options)
      compiled.set(key, fn)
    }
    return fn
  }) as Build
  return Object.assign(cached, build)
}

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

replaceExports<Build>(fjsPath, memoizeSerializers)
replaceExports<Selector>(ajvCompilerPath, sharePools)
