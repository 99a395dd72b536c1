import { Type } from 'typebox'
import { ConnectionNameParams } from './common.ts'
import { AuditEventSchema } from './connection.ts'

const Stream = Type.Union([Type.Literal('admin'), Type.Literal('handouts')], {
  description: 'admin: every admin action (default); handouts: every session handed out (session.issued; the default with action=session.issued). Each stream has its own retention (AUDIT_* settings)',
})
const Order = Type.Union([Type.Literal('desc'), Type.Literal('asc')], { description: 'desc: newest first (default); asc: oldest first, what a SIEM pulling since a time wants' })
const Time = (description: string) => Type.String({ format: 'date-time', maxLength: 40, description })

export const AuditQuerySchema = Type.Object({
  // a string: the service validates without type coercion, so a body can't sneak "123" in for 123
  limit: Type.Optional(Type.String({ pattern: '^(1000|[1-9][0-9]{0,2})$', description: 'Events per page, 1 to 1000, default 100' })),
  stream: Type.Optional(Stream),
  order: Type.Optional(Order),
  since: Type.Optional(Time('Only events recorded at or after this time (RFC 3339, e.g. 2026-12-01T00:00:00Z)')),
  until: Type.Optional(Time('Only events recorded at or before this time (RFC 3339)')),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512, pattern: '^[A-Za-z0-9_-]+$', description: 'The `next` of an earlier page, unchanged: continues it (in its stream and order; repeat the filters and `until`)' })),
  connection: Type.Optional(ConnectionNameParams.properties.name),
  action: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z_]+(\\.[a-z_]+)+$', description: 'Only events of this action, e.g. session.issued (not listed otherwise), credentials.rotate or consumer_rotation.complete' })),
  actor: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9._:@/-]+$', description: 'Only events of this actor (an admin, or the caller a session was issued to)' })),
}, { additionalProperties: false })

export const AuditPageSchema = Type.Object({
  stream: Stream,
  order: Order,
  events: Type.Array(AuditEventSchema),
  next: Type.Optional(Type.String({ description: 'Cursor of the next page (opaque). In asc order always present: the place to poll from later' })),
  more: Type.Boolean({ description: 'More matching events exist now: ask for `next` at once' }),
}, { additionalProperties: false })
