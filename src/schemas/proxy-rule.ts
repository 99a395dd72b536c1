import { Type, type Static } from 'typebox'

/**
 * One rule of a caller's grant on a connection, for the Salesforce proxy (src/proxy/policy.ts
 * matches it). A grant that carries rules allows through the proxy only what one of them allows:
 * deny by default. Rules see the method and the path Salesforce will be asked for, nothing else.
 */
export const PROXY_METHODS = ['GET', 'HEAD', 'POST', 'PATCH', 'PUT', 'DELETE'] as const

export const ProxyRuleSchema = Type.Object({
  api: Type.String({
    pattern: '^[A-Za-z][A-Za-z0-9-]{0,40}(/[A-Za-z][A-Za-z0-9-]{0,40})?$',
    description: 'API family: sobjects, query, queryAll, search, composite, jobs/ingest, jobs/query, tooling, apexrest, limits, or the first path segment after /services/data/vNN.N/',
  }),
  methods: Type.Optional(Type.Array(Type.Union(PROXY_METHODS.map(m => Type.Literal(m))), {
    minItems: 1,
    description: 'HTTP methods allowed (default GET; HEAD goes with GET)',
  })),
  objects: Type.Optional(Type.Array(Type.String({ pattern: '^([A-Za-z][A-Za-z0-9_]{0,79}|\\*)$' }), {
    minItems: 1,
    description: 'sobjects (and tooling sobjects): the object API names allowed, case-insensitive; "*" = every object and the global describe',
  })),
  paths: Type.Optional(Type.Array(Type.String({ pattern: '^/[A-Za-z0-9_.~*/-]*$' }), {
    minItems: 1,
    description: 'Path under the family (e.g. /MyService/* for apexrest): * matches one segment, a trailing /** any rest',
  })),
}, { additionalProperties: false })

export type ProxyRule = Static<typeof ProxyRuleSchema>
