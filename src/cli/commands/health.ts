import { EXIT, type Call } from '../broker-api.ts'
import { ago, brief, keyValues, table, wrap } from '../output.ts'
import type { CommandContext } from '../context.ts'

type Health = Record<string, unknown> & { connection: string, status: string, classification: string, consecutiveFailures: number, circuit?: { state?: string } }

function healthBlock (h: Health): string {
  return keyValues([
    ['connection', h.connection],
    ['status', h.status],
    ['classification', h.classification],
    ['message', h.message as string | undefined],
    ['hint', h.hint as string | undefined],
    ['checkKind', h.checkKind as string | undefined],
    ['secretVersion', h.secretVersion as number | undefined],
    ['lastCheckedAt', h.lastCheckedAt as string | undefined],
    ['lastSuccessAt', h.lastSuccessAt as string | undefined],
    ['consecutiveFailures', h.consecutiveFailures],
    ['circuit', h.circuit?.state],
  ])
}

/** Exit 1 when a connection is failing, so `sfb health || page-someone` works. */
export async function health (ctx: CommandContext, call: Call, name?: string): Promise<number> {
  // 503 with the report is the broker's "something is failing": an answer to show, not an error
  const { body } = await call('GET /health/salesforce', { query: { connection: name }, answers: [503] })
  const report = body as { status: string, connections: Health[] }
  const failing = report.connections.some(c => c.status === 'failing')
  if (ctx.json) ctx.print(report)
  else if (name && report.connections.length === 1) ctx.out(healthBlock(report.connections[0]))
  else {
    // a hint can be a paragraph: its first sentence in the table, the whole of it wrapped below
    const hinted = report.connections.filter(c => typeof c.hint === 'string' && c.hint !== '')
    ctx.out(`overall: ${report.status}\n` + table(['CONNECTION', 'STATUS', 'CLASSIFICATION', 'FAILURES', 'LAST SUCCESS', 'CIRCUIT', 'HINT'], report.connections.map(c => [
      c.connection, c.status, c.classification, c.consecutiveFailures, ago(c.lastSuccessAt), c.circuit?.state, brief(c.hint as string | undefined),
    ])) + hinted.map(c => `\nhint for ${c.connection}:\n${wrap(c.hint as string)}`).join(''))
  }
  return failing ? EXIT.failed : EXIT.ok
}

/**
 * A live check now; --probe logs in even while the circuit pauses logins (after fixing the cause in
 * Salesforce); --reset-acknowledged with it: the user was unlocked or its password reset in Setup, so
 * Salesforce's failed-login count is zero and the broker's failure guard may start over.
 */
export async function check (ctx: CommandContext, call: Call, name: string, probe: boolean, resetAcknowledged = false): Promise<number> {
  const body0 = probe || resetAcknowledged ? { ...(probe ? { probe: true } : {}), ...(resetAcknowledged ? { failedLoginsReset: true } : {}) } : undefined
  const { body } = await call('POST /health/salesforce/{name}/check', { params: { name }, body: body0 })
  const h = body as Health
  // the acknowledgement alone sends nothing to Salesforce: the answer is the connection as it was (still
  // failing until the new secret is stored), and the acknowledgement taken is what this command did
  const acknowledgedOnly = resetAcknowledged && !probe
  if (ctx.json) ctx.print(h)
  else {
    ctx.out((acknowledgedOnly
      ? `acknowledged: the failure guard of ${name} starts over (nothing was sent to Salesforce); store the new secret next: sfb connections rotate ${name} password securityToken\n`
      : '') + healthBlock(h))
  }
  if (acknowledgedOnly) return EXIT.ok
  return h.status === 'failing' ? EXIT.failed : EXIT.ok
}

/** 200: revoked at Salesforce and dropped everywhere. 202: revoked, but replicas may still hold copies (`pending`). */
export async function revokeSessions (ctx: CommandContext, call: Call, name: string): Promise<number> {
  const { status, body } = await call('POST /v1/admin/connections/{name}/sessions/revoke', { params: { name } })
  const pending = (body as { pending?: unknown[] } | null)?.pending ?? []
  if (ctx.json) ctx.print(body)
  else {
    ctx.out(`sessions of ${name} revoked${status === 202 ? ', the fleet-wide purge is still pending' : ' and dropped everywhere'}\n` +
      keyValues(Object.entries(body as object).map(([k, v]) => [k, typeof v === 'object' && v !== null ? JSON.stringify(v) : v as string])))
  }
  // a 202 is not "done everywhere": scripts see it as retry-later
  return status === 202 || pending.length > 0 ? EXIT.tempFail : EXIT.ok
}
