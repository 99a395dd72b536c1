import { CliError, EXIT, type Call } from '../broker-api.ts'
import type { CommandContext } from '../context.ts'
import { keyValues } from '../output.ts'
import { fieldNames, readSecrets, type SecretSources } from '../secret-input.ts'

/**
 * Rotating a connection's consumer key and secret (README: Consumer-secret rotation): `run` does every
 * step through Salesforce's API; without the rights, start → (stage in Setup) → validate → complete →
 * (promote and delete in Setup) → verify. Each step is one call to …/consumer-rotation.
 */

type Rotation = { connection: string, mode: string, step: string, setupReason?: string, appId?: string, oldClientId: string, newClientId?: string, switchedVersion?: number, fromVersion: number, steps: string[], nextStep: string, pending?: string[] }

function rotationText (r: Rotation): string {
  return keyValues([
    ['connection', r.connection],
    ['mode', r.mode === 'api' ? 'api (the broker makes every call at Salesforce)' : 'setup (you make the Setup steps; the broker checks each)'],
    ['why setup', r.setupReason],
    ['step', r.step],
    ['old key', r.oldClientId],
    ['new key', r.newClientId],
    ['rollback', r.switchedVersion === undefined ? undefined : `sfb connections rollback ${r.connection} ${r.fromVersion}`],
    ['pending', r.pending?.join('; ')],
    ['next', r.nextStep],
  ]) + (r.mode === 'setup' && r.step === 'staged' ? 'steps:\n' + r.steps.map((s, i) => `  ${i + 1}. ${s}\n`).join('') : '')
}

/** How the broker's answers name a replica that has not heard of the switch yet (src/admin/fleet-pending.ts). */
const FLEET_PURGE = 'fleet-wide purge:'

/**
 * Done, or switched with nothing pending (Setup mode: the admin's turn): 0. Only the fleet's purge still
 * to be heard: 75, as for every other write that is done but not yet everywhere (a replica may still hand
 * out the old pair's sessions). Anything else pending (a Setup step, a call Salesforce refused): 1.
 */
function done (r: Rotation): number {
  const pending = r.pending ?? []
  if (pending.length === 0) return EXIT.ok
  return pending.every(p => p.startsWith(FLEET_PURGE)) ? EXIT.tempFail : EXIT.failed
}

export async function start (ctx: CommandContext, call: Call, name: string, opts: { app?: string, setup?: boolean }): Promise<number> {
  const body = { ...(opts.app ? { appId: opts.app } : {}), ...(opts.setup ? { mode: 'setup' } : {}) }
  const { body: answer } = await call('POST /v1/admin/connections/{name}/consumer-rotation', { params: { name }, body })
  if (ctx.json) return ctx.print(answer)
  ctx.out(`consumer-secret rotation of ${name} started (nothing switches until complete)\n` + rotationText(answer as Rotation))
  return EXIT.ok
}

export async function run (ctx: CommandContext, call: Call, name: string, opts: { app?: string }): Promise<number> {
  const { body: answer } = await call('POST /v1/admin/connections/{name}/consumer-rotation/run', { params: { name }, body: opts.app ? { appId: opts.app } : {} })
  const r = answer as Rotation
  // --json prints the answer and exits as the text does: a script reads the exit code first
  if (ctx.json) ctx.print(answer)
  else ctx.out((r.step === 'done' ? `rotated the consumer key and secret of ${name}\n` : '') + rotationText(r))
  return r.step === 'done' ? done(r) : EXIT.failed
}

export async function show (ctx: CommandContext, call: Call, name: string): Promise<number> {
  const { body } = await call('GET /v1/admin/connections/{name}/consumer-rotation', { params: { name } })
  if (ctx.json) return ctx.print(body)
  ctx.out(rotationText(body as Rotation))
  return EXIT.ok
}

export async function validate (ctx: CommandContext, call: Call, name: string, opts: { clientId?: string }, fields: string[], secrets: SecretSources): Promise<number> {
  fieldNames(fields, ['clientSecret'], ' a consumer-secret rotation takes')
  const values = await readSecrets(fields, secrets, () => 'Staged consumer secret (from Setup)')
  const body = { ...(opts.clientId ? { clientId: opts.clientId } : {}), ...values }
  const { body: answer } = await call('POST /v1/admin/connections/{name}/consumer-rotation/validate', { params: { name }, body: Object.keys(body).length > 0 ? body : undefined })
  const result = answer as { ok: boolean, classification: string, message?: string, hint?: string, nextStep: string }
  if (ctx.json) ctx.print(result)
  else ctx.out(keyValues([['result', result.ok ? 'ok' : `FAILED: ${result.classification}`], ['message', result.message], ['hint', result.hint], ['next', result.nextStep]]))
  return result.ok ? EXIT.ok : EXIT.failed
}

export async function step (ctx: CommandContext, call: Call, name: string, verb: 'complete' | 'verify', ifMatch?: number): Promise<number> {
  const { body } = await call(`POST /v1/admin/connections/{name}/consumer-rotation/${verb}`, { params: { name }, ifMatch: ifMatch && verb === 'complete' ? ifMatch : undefined })
  if (ctx.json) ctx.print(body)
  else ctx.out(rotationText(body as Rotation))
  return done(body as Rotation)
}

export async function abandon (ctx: CommandContext, call: Call, name: string): Promise<number> {
  await call('DELETE /v1/admin/connections/{name}/consumer-rotation', { params: { name } })
  if (ctx.json) return ctx.print({ abandoned: name })
  ctx.out(`consumer-secret rotation of ${name} abandoned; the connection is untouched\n`)
  return EXIT.ok
}

export async function policy (ctx: CommandContext, call: Call, name: string, opts: { app?: string, everyDays?: number }): Promise<number> {
  if (!opts.app) throw new CliError(EXIT.usage, '--app is required: the External Client App identifier')
  const { body } = await call('PUT /v1/admin/connections/{name}/consumer-rotation/policy', { params: { name }, body: { appId: opts.app, ...(opts.everyDays ? { rotateEveryDays: opts.everyDays } : {}) } })
  if (ctx.json) return ctx.print(body)
  const p = body as { appId: string, rotateEveryDays?: number, lastRotatedAt?: string }
  ctx.out(keyValues([['app', p.appId], ['rotate every', p.rotateEveryDays ? `${p.rotateEveryDays} days` : 'on demand'], ['last rotated', p.lastRotatedAt]]))
  return EXIT.ok
}
