import { Type } from 'typebox'

/**
 * What an admin principal may do. An SRE who only reads health details should not hold a key that
 * can rotate, delete and revoke: each role includes the ones before it.
 * - viewer: health details, connection metadata (list, show, versions, a pending migration), audit read
 * - operator: + forced health checks, re-probes after a fix, the session kill switch
 * - admin: + writes (create, rotate, validate candidate secrets, roll back, delete) and migrations
 * An admin principal without `role` is `admin`: documents written before roles keep full rights.
 */
export const ROLES = ['viewer', 'operator', 'admin'] as const

export type Role = typeof ROLES[number]

export const RoleSchema = Type.Union([Type.Literal('viewer'), Type.Literal('operator'), Type.Literal('admin')], {
  description: 'Admin principals only: viewer (health details, metadata, audit), operator (+ checks, re-probes, session revocation), admin (+ writes, rotations, migrations, deletes); default admin',
})

/** The role a principal holds; services hold none (they get sessions, never admin routes). */
export function roleOf (principal: { kind: string, role?: Role }): Role | undefined {
  return principal.kind === 'admin' ? principal.role ?? 'admin' : undefined
}

export function hasRole (principal: { kind: string, role?: Role }, required: Role): boolean {
  const held = roleOf(principal)
  return held !== undefined && ROLES.indexOf(held) >= ROLES.indexOf(required)
}

/** The sentence each admin operation's OpenAPI description carries, beside `x-required-role`. */
export function roleSentence (role: Role): string {
  const below = ROLES.slice(ROLES.indexOf(role) + 1)
  return `Requires an admin principal with the ${role} role${below.length > 0 ? ` (or ${below.join(' or ')})` : ''}; others get 403 forbidden naming the role.`
}
