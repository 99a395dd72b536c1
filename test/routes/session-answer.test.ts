import t from 'tap'
import Value from 'typebox/value'
import { sessionBody, sessionJson } from '../../src/routes/session-answer.ts'
import { SessionSchema } from '../../src/schemas/session.ts'
import type { IssuedSession } from '../../src/sessions/session-service.ts'

function issued (overrides: Partial<IssuedSession['entry']['session']> = {}, connection = 'acme', expiresAt = Date.parse('2026-11-30T14:00:00.123Z')): IssuedSession {
  const session = {
    accessToken: '00D5g000004Xyz!AQ0AQ.token"with\\quotes\u2028and\u00e9',
    instanceUrl: 'https://acme.my.salesforce.com',
    issuedAt: Date.parse('2026-11-30T13:00:00.000Z'),
    userId: '005000000000001AAA',
    orgId: '00D000000000001EAA',
    flow: 'client_credentials' as const,
    ...overrides,
  }
  return { connection, entry: { session, secretVersion: 1, apiVersion: '62.0', realEnd: 0, validUntil: 0 }, expiresAt, apiVersion: '62.0', cache: 'hit' }
}

t.test('the pre-built answer is the Session schema\'s answer, byte for byte, whatever the clock and the connection', async (t) => {
  const first = issued()
  t.equal(sessionJson(first), JSON.stringify(sessionBody(first)))
  t.ok(Value.Check(SessionSchema, JSON.parse(sessionJson(first))), 'valid against the Session schema (no field outside it)')

  // the same cached session a moment later: only expiresAt moves
  const later = { ...first, expiresAt: first.expiresAt + 61_001 }
  t.equal(sessionJson(later), JSON.stringify(sessionBody(later)))
  t.equal(JSON.parse(sessionJson(later)).expiresAt, '2026-11-30T14:01:01.124Z')

  // the same entry object issued under another name is not answered with the first name
  const renamed = { ...first, connection: 'other' }
  t.equal(JSON.parse(sessionJson(renamed)).connection, 'other')
  t.equal(sessionJson(renamed), JSON.stringify(sessionBody(renamed)))

  const odd = issued({ instanceUrl: 'https://x.example/"expiresAt":"1970-01-01T00:00:00.000Z"' })
  t.equal(sessionJson(odd), JSON.stringify(sessionBody(odd)), 'a field that mimics expiresAt does not confuse it')
})
