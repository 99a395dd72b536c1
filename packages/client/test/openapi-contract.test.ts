/**
 * The SDK's types against the broker's published contract (openapi/openapi.json at the repository
 * root): the session it returns has exactly the answer's fields, its flows are the schema's, every
 * problem field it reads exists in the Problem schema with the same type, its own client-side
 * codes never collide with a code the broker answers with, and its admin routes are the document's.
 */
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import t from 'tap'
import { ADMIN_ROUTES, BrokerError, createBrokerClient, type AdminRoute, type BrokerFlow, type BrokerSession, type RouteParams } from '../src/index.ts'

interface JsonSchema { type?: string, enum?: unknown[], required?: string[], properties?: Record<string, JsonSchema>, format?: string }
interface Operation { parameters?: Array<{ in: string, name: string }>, responses: Record<string, { description: string, content?: Record<string, unknown> }> }
interface OpenApi { components: { schemas: Record<string, JsonSchema> }, paths: Record<string, Record<string, Operation>> }

const doc = JSON.parse(readFileSync(new URL('../../../openapi/openapi.json', import.meta.url), 'utf8')) as OpenApi
const session = doc.components.schemas.Session
const problem = doc.components.schemas.Problem

/** Every flow the SDK's type names: a flow missing here fails the typecheck, one too many fails below. */
const SDK_FLOWS: Record<BrokerFlow, true> = { soap: true, oauth_password: true, jwt_bearer: true, client_credentials: true }
/** What the SDK reads of a problem+json answer, and the type it expects (BrokerErrorFields). */
const SDK_PROBLEM_FIELDS = { type: 'string', title: 'string', status: 'integer', code: 'string', detail: 'string', classification: 'string', hint: 'string', retryable: 'boolean', connection: 'string' }
/** The codes the SDK makes up itself (urn:sf-broker:client:…). */
const SDK_CLIENT_CODES = ['broker_unreachable', 'timeout', 'client_closed', 'invalid_response', 'invalid_options', 'credentials_unavailable']

/** A session answer built from the schema alone: each required field with a value of its type. */
function answerFromSchema (): Record<string, unknown> {
  const body: Record<string, unknown> = {}
  for (const name of session.required ?? []) {
    const field = session.properties?.[name] ?? {}
    body[name] = field.enum !== undefined ? field.enum[0] : field.format === 'date-time' ? new Date(Date.now() + 3_600_000).toISOString() : `${name}-value`
  }
  return body
}

t.test('the session the SDK returns has the answer\'s fields, dates as Date, and no others', async t => {
  const body = answerFromSchema()
  const server = createServer((req, res) => { req.resume(); res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify(body)) })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const client = createBrokerClient({ baseUrl: `http://127.0.0.1:${(server.address() as { port: number }).port}`, credentials: 'key' })
  t.teardown(() => client.close())
  const got: BrokerSession = await client.getSession('acme')
  // tokenType is always "Bearer" (an enum of one): the SDK leaves it out on purpose
  const expected = (session.required ?? []).filter(f => f !== 'tokenType').sort()
  t.same(Object.keys(got).sort(), expected, 'every field of the answer, nothing the answer lacks')
  t.same(session.properties?.tokenType?.enum, ['Bearer'])
  for (const name of expected) {
    const field = session.properties?.[name] ?? {}
    const value = got[name as keyof BrokerSession]
    if (field.format === 'date-time') t.ok(value instanceof Date, `${name} is a Date`)
    else t.equal(value, body[name], `${name} is passed on as sent`)
  }
})

t.test('the SDK\'s flows are the schema\'s flows', async t => {
  t.same(Object.keys(SDK_FLOWS).sort(), [...(session.properties?.flow?.enum ?? [])].sort())
})

t.test('every problem field the SDK reads is in the Problem schema, with the same type', async t => {
  for (const [name, type] of Object.entries(SDK_PROBLEM_FIELDS)) {
    t.equal(problem.properties?.[name]?.type, type, `Problem.${name}: ${type}`)
  }
  const fields = new BrokerError({ status: 503, type: 'urn:sf-broker:problem:internal', code: 'internal', title: 't', detail: 'd', classification: 'c', hint: 'h', retryable: true, connection: 'acme' })
  for (const name of Object.keys(SDK_PROBLEM_FIELDS)) t.not(fields[name as keyof BrokerError], undefined, `BrokerError carries ${name}`)
})

t.test('the SDK\'s own codes never collide with a code the broker answers with', async t => {
  const brokerCodes = new Set<string>()
  for (const methods of Object.values(doc.paths)) {
    for (const operation of Object.values(methods)) {
      for (const response of Object.values(operation.responses ?? {})) {
        for (const m of response.description.matchAll(/(?:^|; )([a-z][a-z_]+):/g)) brokerCodes.add(m[1])
      }
    }
  }
  t.ok(brokerCodes.has('circuit_open') && brokerCodes.has('forbidden'), `the broker's codes are read from the document (${brokerCodes.size})`)
  for (const code of SDK_CLIENT_CODES) t.notOk(brokerCodes.has(code), `${code} is the SDK's alone`)
})

/** The operations an admin client covers: the admin API, and the health routes an operator reads and forces. */
const ADMIN_PATH = /^\/v1\/admin\/|^\/health\/salesforce(\/|$)/
const METHODS = ['get', 'put', 'post', 'patch', 'delete']

t.test('the admin routes are the document\'s admin operations, no more and no fewer, with the same path parameters', async t => {
  const documented = Object.entries(doc.paths).filter(([path]) => ADMIN_PATH.test(path))
    .flatMap(([path, methods]) => Object.keys(methods).filter(m => METHODS.includes(m)).map(m => `${m.toUpperCase()} ${path}`))
  t.ok(documented.length > 30, `${documented.length} admin operations in the document`)
  t.same([...ADMIN_ROUTES].sort(), documented.sort())
  for (const route of ADMIN_ROUTES) {
    const [method, path] = route.split(' ')
    const inPath = (doc.paths[path][method.toLowerCase()].parameters ?? []).filter(p => p.in === 'path').map(p => p.name)
    t.same([...path.matchAll(/\{(\w+)\}/g)].map(m => m[1]), inPath, `${route}: the path parameters`)
  }
  // compile-time: a route's parameters are read from its template
  const params: Record<RouteParams<'POST /health/salesforce/{name}/check'>, string> = { name: 'acme' }
  const none: [RouteParams<'GET /v1/admin/audit'>] extends [never] ? true : false = true
  t.same([params, none], [{ name: 'acme' }, true])
})

t.test('every refusal of an admin route is problem+json, so the client answers it with a BrokerError that carries the document', async t => {
  for (const route of ADMIN_ROUTES) {
    const [method, path] = route.split(' ') as [string, string]
    for (const [status, response] of Object.entries(doc.paths[path][method.toLowerCase()].responses)) {
      if (Number(status) < 400) continue
      t.ok(response.content?.['application/problem+json'], `${route} ${status}`)
    }
  }
  // what sfb reads of the document besides the error's fields: the role a refused key lacks
  const role = problem.properties?.requiredRole as { anyOf?: JsonSchema[] } | undefined
  t.ok(role?.anyOf?.length && role.anyOf.every(r => r.type === 'string'), 'Problem.requiredRole: a string')
  // the one refusal status with a result beside it: sfb asks for it with answers: [503]
  const health: AdminRoute = 'GET /health/salesforce'
  t.ok(doc.paths['/health/salesforce'].get.responses['503'].content?.['application/json'], `${health} 503: the report, as JSON`)
})
