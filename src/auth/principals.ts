import { Type, type Static } from 'typebox'
import Value from 'typebox/value'
import { ConfigError } from '../config.ts'
import { describePrincipalsError } from './principals-errors.ts'
import { RoleSchema } from './roles.ts'
import { ProxyRuleSchema, type ProxyRule } from '../schemas/proxy-rule.ts'

/**
 * Who may call the broker. Services (kind "service") get sessions for the connections they are
 * granted; admins (kind "admin") manage connections and never get sessions. Keeping the two
 * kinds apart means a leaked service key can't rotate secrets and an admin key isn't a
 * Salesforce session in disguise.
 *
 * API keys are never stored: only their SHA-256 (hex). A key reads `sfb.<principal id>.<secret>`,
 * so the principal is found without comparing against every hash.
 */
const Slug = Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' })

/** A grant with proxy rules: deny by default once rules are present (an empty list allows no proxied call). */
const ProxyGrantSchema = Type.Object({
  connection: Type.Union([Slug, Type.Literal('*')]),
  rules: Type.Array(ProxyRuleSchema),
}, { additionalProperties: false })

export const PrincipalSchema = Type.Object({
  id: Slug,
  kind: Type.Union([Type.Literal('service'), Type.Literal('admin')]),
  role: Type.Optional(RoleSchema),
  apiKeySha256: Type.Optional(Type.Array(Type.String({ pattern: '^[0-9a-f]{64}$' }))),
  /** JWT `sub` values (e.g. system:serviceaccount:billing:billing) that authenticate as this principal */
  jwtSubjects: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  /**
   * connection names, or "*" for all; an entry may be `{ connection, rules }` instead: the caller's
   * proxied calls on that connection are then limited to what the rules allow (src/proxy/policy.ts),
   * and it gets no session for it (a session would allow everything)
   */
  connections: Type.Optional(Type.Array(Type.Union([Slug, Type.Literal('*'), ProxyGrantSchema]))),
  /** false: a proxy-only caller (its calls go through the proxy; the session endpoint refuses it) */
  sessions: Type.Optional(Type.Boolean()),
  /** proxied calls this caller may make per minute and per day, counted by each replica (absent: no cap) */
  proxyCallsPerMinute: Type.Optional(Type.Integer({ minimum: 1 })),
  proxyCallsPerDay: Type.Optional(Type.Integer({ minimum: 1 })),
  rateLimitPerMinute: Type.Optional(Type.Integer({ minimum: 1 })),
}, { additionalProperties: false })

export const PrincipalsDocumentSchema = Type.Object({
  principals: Type.Array(PrincipalSchema),
}, { additionalProperties: false })

export type Principal = Static<typeof PrincipalSchema>

export interface PrincipalDirectory {
  byId: Map<string, Principal>
  bySubject: Map<string, Principal>
}

export function parsePrincipals (doc: unknown): PrincipalDirectory {
  const errors = [...Value.Errors(PrincipalsDocumentSchema, doc)]
  if (errors.length > 0) {
    throw new ConfigError(describePrincipalsError(errors, { document: Object.keys(PrincipalsDocumentSchema.properties), principal: Object.keys(PrincipalSchema.properties) }))
  }
  const { principals } = doc as Static<typeof PrincipalsDocumentSchema>
  const byId = new Map<string, Principal>()
  const bySubject = new Map<string, Principal>()
  for (const p of principals) {
    if (p.role !== undefined && p.kind !== 'admin') throw new ConfigError(`invalid principals document: "${p.id}" is a service; only admin principals have a role`)
    if (byId.has(p.id)) throw new ConfigError(`invalid principals document: duplicate id "${p.id}"`)
    const twice = connectionGrantedTwice(p)
    if (twice !== undefined) throw new ConfigError(`invalid principals document: "${p.id}" is granted connection "${twice}" more than once; give it one entry (with its rules, if any)`)
    byId.set(p.id, p)
    for (const sub of p.jwtSubjects ?? []) {
      if (bySubject.has(sub)) throw new ConfigError(`invalid principals document: JWT subject "${sub}" maps to two principals`)
      bySubject.set(sub, p)
    }
  }
  return { byId, bySubject }
}

/**
 * A connection (or "*") named by two of a principal's grants. grantFor takes the first, so a plain
 * grant left beside one with rules would silently drop the rules: such a document is refused.
 */
function connectionGrantedTwice (principal: Principal): string | undefined {
  const seen = new Set<string>()
  for (const grant of principal.connections ?? []) {
    const name = typeof grant === 'string' ? grant : grant.connection
    if (seen.has(name)) return name
    seen.add(name)
  }
  return undefined
}

export function isGranted (principal: Principal, connection: string): boolean {
  return grantFor(principal, connection) !== undefined
}

/**
 * The caller's grant on a connection: undefined = none; `rules` undefined = everything (a plain
 * name or "*"); otherwise the proxy rules. A grant naming the connection wins over a "*" one.
 */
export function grantFor (principal: Principal, connection: string): { rules?: ProxyRule[] } | undefined {
  if (principal.kind !== 'service') return undefined
  let wildcard: { rules?: ProxyRule[] } | undefined
  for (const grant of principal.connections ?? []) {
    const name = typeof grant === 'string' ? grant : grant.connection
    const found = typeof grant === 'string' ? {} : { rules: grant.rules }
    if (name === connection) return found
    if (name === '*') wildcard ??= found
  }
  return wildcard
}
