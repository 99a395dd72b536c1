import { EXIT, type Call } from '../broker-api.ts'
import type { CommandContext } from '../context.ts'
import { keyValues, pendingLines } from '../output.ts'
import { migrationText, type Migration } from './migrate.ts'

/**
 * A new key and certificate for a jwt_bearer connection (README: Certificate rotation):
 * start → upload the printed certificate to the app in Setup → done (the broker switches at the
 * next login the old key is refused for), or validate and complete to switch at once.
 * Each step is one call to /v1/admin/connections/{name}/certificate-rotation.
 */

export async function start (ctx: CommandContext, call: Call, name: string): Promise<number> {
  const { body } = await call('POST /v1/admin/connections/{name}/certificate-rotation', { params: { name } })
  if (ctx.json) return ctx.print(body)
  ctx.out(`certificate rotation of ${name} started (the current key keeps serving)\n` + migrationText(body as Migration) +
    `upload the new certificate: sfb cert-rotation certificate ${name} > ${name}.crt\n`)
  return EXIT.ok
}

export async function show (ctx: CommandContext, call: Call, name: string): Promise<number> {
  const { body } = await call('GET /v1/admin/connections/{name}/certificate-rotation', { params: { name } })
  if (ctx.json) return ctx.print(body)
  ctx.out(migrationText(body as Migration))
  return EXIT.ok
}

/** The PEM to upload to the app ("Use digital signatures"): public, printed as is so `> new.crt` works. */
export async function certificate (ctx: CommandContext, call: Call, name: string): Promise<number> {
  const { text } = await call('GET /v1/admin/connections/{name}/certificate-rotation/certificate', { params: { name } })
  ctx.out(text.endsWith('\n') ? text : text + '\n')
  return EXIT.ok
}

export async function validate (ctx: CommandContext, call: Call, name: string): Promise<number> {
  const { body } = await call('POST /v1/admin/connections/{name}/certificate-rotation/validate', { params: { name } })
  const result = body as { ok: boolean, classification: string, message?: string, hint?: string, nextStep: string }
  if (ctx.json) ctx.print(result)
  else ctx.out(keyValues([['result', result.ok ? 'ok' : `FAILED: ${result.classification}`], ['message', result.message], ['hint', result.hint], ['next', result.nextStep]]))
  return result.ok ? EXIT.ok : EXIT.failed
}

export async function complete (ctx: CommandContext, call: Call, name: string, ifMatch?: number): Promise<number> {
  const { body } = await call('POST /v1/admin/connections/{name}/certificate-rotation/complete', { params: { name }, ifMatch })
  const { connection: m, previousVersion } = body as { connection: { name: string, version: number, pending?: string[] }, previousVersion: number }
  if (ctx.json) ctx.print(body)
  else ctx.out(`switched ${m.name} to the new key: now version ${m.version} (sfb connections rollback ${m.name} ${previousVersion} goes back, if the app still holds the old certificate)\n${pendingLines(m.pending)}`)
  return m.pending?.length ? EXIT.tempFail : EXIT.ok
}

export async function abandon (ctx: CommandContext, call: Call, name: string): Promise<number> {
  await call('DELETE /v1/admin/connections/{name}/certificate-rotation', { params: { name } })
  if (ctx.json) return ctx.print({ abandoned: name })
  ctx.out(`certificate rotation of ${name} abandoned; the connection keeps its key\n`)
  return EXIT.ok
}
