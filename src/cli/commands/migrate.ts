import { CliError, EXIT, type Call } from '../broker-api.ts'
import type { CommandContext } from '../context.ts'
import { keyValues, pendingLines } from '../output.ts'
import { fieldNames, readSecrets, type SecretSources } from '../secret-input.ts'

/**
 * The move off a retiring password flow (README: Flow retirement), step by step:
 * start → (Setup in Salesforce, following the checklist) → validate → complete, or abandon.
 * Each step is one call to /v1/admin/connections/{name}/migration.
 */

export type Migration = { connection: string, from: { flow: string, version: number }, to: { flow: string, loginUrl: string, username?: string, clientId?: string }, checklist: string[], nextStep: string, pendingVersion: number, certificate?: { notAfter: string, fingerprint256: string, keyCustody: string } }

export function migrationText (m: Migration): string {
  return keyValues([
    ['connection', m.connection],
    ['from', `${m.from.flow} (version ${m.from.version}, kept for rollback)`],
    ['to', m.to.flow],
    ['loginUrl', m.to.loginUrl],
    ['username', m.to.username],
    ['clientId', m.to.clientId],
    ['certificate', m.certificate ? `${m.certificate.fingerprint256} until ${m.certificate.notAfter} (key: ${m.certificate.keyCustody})` : undefined],
    ['next', m.nextStep],
  ]) + (m.checklist.length > 0 ? 'checklist:\n' + m.checklist.map((step, i) => `  ${i + 1}. ${step}\n`).join('') : '')
}

function clientSecretOnly (fields: string[]): string[] {
  return fieldNames(fields, ['clientSecret'], ' a migration takes; jwt_bearer keys are made by the broker')
}

export async function start (ctx: CommandContext, call: Call, name: string, opts: { to?: string, loginUrl?: string, username?: string, clientId?: string }, fields: string[], secrets: SecretSources): Promise<number> {
  if (opts.to !== 'jwt_bearer' && opts.to !== 'client_credentials') throw new CliError(EXIT.usage, '--to is required, one of: jwt_bearer, client_credentials')
  const values = await readSecrets(clientSecretOnly(fields), secrets, () => 'Consumer secret of the External Client App')
  const body = { flow: opts.to, ...(opts.loginUrl ? { loginUrl: opts.loginUrl } : {}), ...(opts.username ? { username: opts.username } : {}), ...(opts.clientId ? { clientId: opts.clientId } : {}), ...values }
  const { body: answer } = await call('POST /v1/admin/connections/{name}/migration', { params: { name }, body })
  if (ctx.json) return ctx.print(answer)
  ctx.out(`migration of ${name} started (nothing switches until complete)\n` + migrationText(answer as Migration))
  return EXIT.ok
}

export async function show (ctx: CommandContext, call: Call, name: string): Promise<number> {
  const { body } = await call('GET /v1/admin/connections/{name}/migration', { params: { name } })
  if (ctx.json) return ctx.print(body)
  ctx.out(migrationText(body as Migration))
  return EXIT.ok
}

/** The PEM to upload to the app ("Use digital signatures"): public, printed as is so `> cert.pem` works. */
export async function certificate (ctx: CommandContext, call: Call, name: string): Promise<number> {
  const { text } = await call('GET /v1/admin/connections/{name}/migration/certificate', { params: { name } })
  ctx.out(text.endsWith('\n') ? text : text + '\n')
  return EXIT.ok
}

export async function validate (ctx: CommandContext, call: Call, name: string, opts: { username?: string, clientId?: string }, fields: string[], secrets: SecretSources): Promise<number> {
  const values = await readSecrets(clientSecretOnly(fields), secrets, () => 'Consumer secret of the External Client App')
  const body = { ...(opts.username ? { username: opts.username } : {}), ...(opts.clientId ? { clientId: opts.clientId } : {}), ...values }
  const { body: answer } = await call('POST /v1/admin/connections/{name}/migration/validate', { params: { name }, body: Object.keys(body).length > 0 ? body : undefined })
  const result = answer as { ok: boolean, classification: string, message?: string, hint?: string, nextStep: string }
  if (ctx.json) ctx.print(result)
  else ctx.out(keyValues([['result', result.ok ? 'ok' : `FAILED: ${result.classification}`], ['message', result.message], ['hint', result.hint], ['next', result.nextStep]]))
  return result.ok ? EXIT.ok : EXIT.failed
}

export async function complete (ctx: CommandContext, call: Call, name: string, ifMatch?: number): Promise<number> {
  const { body } = await call('POST /v1/admin/connections/{name}/migration/complete', { params: { name }, ifMatch })
  const { connection: m, previousVersion } = body as { connection: { name: string, flow: string, version: number, pending?: string[] }, previousVersion: number }
  if (ctx.json) ctx.print(body)
  else ctx.out(`switched ${m.name} to ${m.flow}: now version ${m.version} (sfb connections rollback ${m.name} ${previousVersion} goes back)\n${pendingLines(m.pending)}`)
  return m.pending?.length ? EXIT.tempFail : EXIT.ok
}

export async function abandon (ctx: CommandContext, call: Call, name: string): Promise<number> {
  await call('DELETE /v1/admin/connections/{name}/migration', { params: { name } })
  if (ctx.json) return ctx.print({ abandoned: name })
  ctx.out(`migration of ${name} abandoned; the connection is untouched\n`)
  return EXIT.ok
}
