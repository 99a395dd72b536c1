import t from 'tap'
import { createRequire } from 'node:module'
import { randomBytes } from 'node:crypto'
import fastJsonStringify from 'fast-json-stringify'
import { buildApp } from '../../src/app.ts'
import { loadConfig } from '../../src/config.ts'
import { sharedSerializerBuilds } from '../../src/http/serializer-builds.ts'
import { tempFileStore } from '../helper.ts'

type Build = (schema: object, options?: object) => (value: unknown) => string

/** fast-json-stringify, counting its builds: each test its own, so each has its own shelf of builds */
function countingBuild () {
  const made: object[] = []
  const build = ((schema: object, options?: object) => {
    made.push(schema)
    return (fastJsonStringify as unknown as Build)(schema, options)
  }) as Build
  return { build, made }
}

/** Fastify's own default (what app.ts replaces), resolved from Fastify's directory as Fastify does */
const fastifyRequire = createRequire(createRequire(import.meta.url).resolve('fastify'))
const fastifyDefault = (fastifyRequire('@fastify/fast-json-stringify-compiler') as { SerializerSelector: () => typeof factoryOf })
  .SerializerSelector
const factoryOf = sharedSerializerBuilds()

const schema = () => ({ type: 'object', properties: { a: { type: 'integer' }, b: { type: 'string' } } })
const route = (s: object, httpStatus = '200') => ({ schema: s, method: 'GET', url: '/x', httpStatus })

t.test('the same schema in many routes and statuses is built once, and serializes as declared', async (t) => {
  const { build, made } = countingBuild()
  const compile = sharedSerializerBuilds(build)(undefined, { rounding: 'floor' })
  const first = compile(route(schema()))
  t.equal(compile(route(schema(), '400')), first, 'a structurally equal schema (another object) finds it')
  t.equal(sharedSerializerBuilds(build)(undefined, { rounding: 'floor' })(route(schema())), first, 'another app of the process finds it too')
  t.equal(made.length, 1)
  t.equal(first({ a: 1.7, b: 'x', secret: 's' }), '{"a":1,"b":"x"}', 'undeclared fields left out')
})

t.test('a different schema, options or set of shared schemas is built anew', async (t) => {
  const { build, made } = countingBuild()
  const factory = sharedSerializerBuilds(build)
  const floor = factory(undefined, { rounding: 'floor' })(route(schema()))
  const ceil = factory(undefined, { rounding: 'ceil' })(route(schema()))
  t.not(ceil, floor)
  t.equal(ceil({ a: 1.2 }), '{"a":2}')
  const narrower = factory(undefined, { rounding: 'floor' })(route({ type: 'object', properties: { a: { type: 'integer' } } }))
  t.not(narrower, floor)
  t.equal(narrower({ a: 1, b: 'x' }), '{"a":1}')
  const refSchema = { type: 'object', properties: { p: { $ref: 'shared#' } } }
  const one = factory({ shared: { $id: 'shared', type: 'object', properties: { x: { type: 'string' } } } })(route(refSchema))
  const other = factory({ shared: { $id: 'shared', type: 'object', properties: { y: { type: 'string' } } } })(route(refSchema))
  t.not(one, other, 'the shared schemas are part of the key')
  t.equal(other({ p: { x: '1', y: '2' } }), '{"p":{"y":"2"}}')
  t.equal(made.length, 5)
})

t.test("what Fastify's default serializer writes, a response schema that is itself a shared schema included", async (t) => {
  const shared = { Thing: { $id: 'Thing', type: 'object', properties: { n: { type: 'integer' }, s: { type: 'string' } } } }
  const value = { n: 2.5, s: 'é"\n', extra: 'secret' }
  for (const declared of [{ $ref: 'Thing#' }, shared.Thing, { type: 'array', items: { $ref: 'Thing#' } }]) {
    const input = (declared as { type?: string }).type === 'array' ? [value] : value
    t.equal(factoryOf(shared, {})(route(declared))(input), fastifyDefault()(shared, {})(route(declared))(input), JSON.stringify(declared))
  }
})

t.test("a broker app: every route's problem+json answer goes through one serializer", async (t) => {
  const app = await buildApp(loadConfig({
    LOG_LEVEL: 'silent',
    SECRET_STORE: 'file',
    FILE_STORE_KEY: randomBytes(32).toString('base64'),
    PRINCIPALS_JSON: '{"principals":[]}',
    SHARED_STATE: 'memory',
    SCHEDULER_ENABLED: 'false',
    DOCS_ENABLED: 'false',
  }), { secretStore: await tempFileStore(t) })
  t.teardown(() => app.close())
  const used = new Map<string, unknown>()
  app.addHook('onSend', async (request, reply) => {
    used.set(request.routeOptions.url ?? '', reply.getSerializationFunction(String(reply.statusCode), 'application/problem+json'))
  })
  for (const [method, url] of [['POST', '/v1/connections/acme/session'], ['GET', '/v1/admin/connections'], ['GET', '/v1/connections/acme/salesforce/services/data/v62.0/limits']] as const) {
    const res = await app.inject({ method, url })
    t.equal(res.statusCode, 401, `${method} ${url} unauthenticated`)
  }
  const serializers = [...used.values()]
  t.equal(serializers.length, 3, 'three routes answered')
  t.ok(typeof serializers[0] === 'function' && serializers.every(s => s === serializers[0]), 'the same serializer for all three')
})
