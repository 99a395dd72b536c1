import t from 'tap'
import { createRequire } from 'node:module'

/**
 * test/support/compile-cache.ts (loaded into every test process by package.json's tap node-arg)
 * hands a serializer compiled once to every later app asking for the same schema with the same
 * options. What it must never do: hand one over for a schema or options that differ.
 */
const fastifyRequire = createRequire(createRequire(import.meta.url).resolve('fastify'))
const build = createRequire(fastifyRequire.resolve('@fastify/fast-json-stringify-compiler'))('fast-json-stringify') as (schema: object, options?: object) => (value: unknown) => string

const schema = () => ({ type: 'object', properties: { a: { type: 'integer' }, b: { type: 'string' } } })

t.test('the same schema and options: the serializer compiled the first time', async (t) => {
  const first = build(schema(), { rounding: 'floor' })
  t.equal(build(schema(), { rounding: 'floor' }), first, 'a structurally equal schema (another object) finds it')
  t.equal(first({ a: 1.7, b: 'x', secret: 's' }), '{"a":1,"b":"x"}', 'and it serializes as compiled: undeclared fields left out')
})

t.test('a different schema or different options: compiled anew', async (t) => {
  const floor = build(schema(), { rounding: 'floor' })
  const ceil = build(schema(), { rounding: 'ceil' })
  t.not(ceil, floor)
  t.equal(ceil({ a: 1.2 }), '{"a":2}')
  const narrower = build({ type: 'object', properties: { a: { type: 'integer' } } }, { rounding: 'floor' })
  t.not(narrower, floor)
  t.equal(narrower({ a: 1, b: 'x' }), '{"a":1}')
  const refSchema = { type: 'object', properties: { p: { $ref: 'shared#' } } }
  const one = build(refSchema, { schema: { shared: { $id: 'shared', type: 'object', properties: { x: { type: 'string' } } } } })
  const other = build(refSchema, { schema: { shared: { $id: 'shared', type: 'object', properties: { y: { type: 'string' } } } } })
  t.not(one, other, 'the shared schemas are part of the key')
  t.equal(other({ p: { x: '1', y: '2' } }), '{"p":{"y":"2"}}')
})
