import fastJsonStringify, { type Options as SerializerOptions } from 'fast-json-stringify'

type Serializer = (value: unknown) => string
type Build = (schema: object, options: SerializerOptions) => Serializer
type ExternalSchemas = Record<string, unknown>

/** What Fastify passes a route's serializer compiler (its method, url and status do not shape the output). */
interface RouteSchema { schema?: unknown }
type Schema = object & { $id?: string }

/** Serializers built so far, per build function: a serializer is a pure function of its schema and options. */
const builtBy = new WeakMap<Build, Map<string, Serializer>>()

/**
 * Fastify's `schemaController.compilersFactory.buildSerializer`: the same serializers as Fastify's
 * default (@fastify/fast-json-stringify-compiler's SerializerSelector, whose `$id` rule this repeats),
 * each built once per distinct schema instead of once per route, status and content type.
 *
 * Why: every route declares the shared problem+json schema for each error status it answers, so
 * one app asked fast-json-stringify for 711 serializers of 24 distinct schemas, about 0.9 s of CPU
 * at every start (a replica's, a rollout's, each test that starts a broker). One serializer per
 * schema serves every route that declares it.
 *
 * The key is the schema's JSON together with the JSON of the shared schemas and options of the
 * encapsulation context asking; a context with other shared schemas builds its own. The builds are
 * kept for the process, so an app built again (the tests build hundreds) finds them done.
 */
export function sharedSerializerBuilds (build: Build = fastJsonStringify as unknown as Build) {
  const serializers = builtBy.get(build) ?? new Map<string, Serializer>()
  builtBy.set(build, serializers)
  return function buildSerializerFactory (externalSchemas?: unknown, serializerOptions?: SerializerOptions) {
    const options: SerializerOptions = { ...serializerOptions, schema: externalSchemas as SerializerOptions['schema'] }
    /** JSON of this context's shared schemas and options, made at its first route */
    let contextKey: string | undefined
    return function compileSerializer (route: RouteSchema): Serializer {
      const schema = route.schema as Schema
      contextKey ??= JSON.stringify(options)
      const key = `${contextKey}\u0000${JSON.stringify(schema)}`
      let serializer = serializers.get(key)
      if (serializer === undefined) {
        serializer = build(schema, withoutOwnExternal(schema, options))
        serializers.set(key, serializer)
      }
      return serializer
    }
  }
}

/** Fastify's rule: a response schema that is itself one of the shared schemas (by `$id`) is not passed to itself as external. */
function withoutOwnExternal (schema: Schema, options: SerializerOptions): SerializerOptions {
  const externals = options.schema as ExternalSchemas | undefined
  if (schema.$id === undefined || externals?.[schema.$id] === undefined) return options
  const { [schema.$id]: _own, ...others } = externals
  return { ...options, schema: others as SerializerOptions['schema'] }
}
