import { CliError, EXIT, type Call } from '../broker-api.ts'
import { ago, keyValues, pendingLines, table } from '../output.ts'
import { fieldNames, readSecrets, type SecretSources } from '../secret-input.ts'
import type { CommandContext } from '../context.ts'

/** The write-only fields of a connection: they only ever arrive by prompt, stdin or file. */
export const SECRET_FIELDS = ['password', 'securityToken', 'clientSecret', 'privateKey'] as const
type SecretField = typeof SECRET_FIELDS[number]

/** What each flow logs in with (README: Connections and flows). */
const SECRETS_BY_FLOW: Record<string, SecretField[]> = {
  soap: ['password', 'securityToken'],
  oauth_password: ['password', 'securityToken', 'clientSecret'],
  jwt_bearer: ['privateKey'],
  client_credentials: ['clientSecret'],
}

const DESCRIBE: Record<string, string> = {
  password: 'Password of the integration user',
  securityToken: 'Security token (from the reset e-mail)',
  clientSecret: 'Consumer secret of the connected app',
  privateKey: 'PEM private key',
}

type Metadata = Record<string, unknown> & { name: string, flow: string, version: number, circuit?: { state?: string, classification?: string } }

function secretFieldsFrom (names: string[]): SecretField[] {
  return fieldNames(names, SECRET_FIELDS) as SecretField[]
}

function metadataBlock (m: Metadata): string {
  return keyValues([
    ['name', m.name],
    ['flow', m.flow],
    ['loginUrl', m.loginUrl as string],
    ['username', m.username as string | undefined],
    ['clientId', m.clientId as string | undefined],
    ['apiVersion', m.apiVersion as string],
    ['version', m.version],
    ['updatedAt', m.updatedAt as string],
    ['secretsSet', (m.secretsSet as string[] | undefined)?.join(', ')],
    ['circuit', m.circuit ? [m.circuit.state, m.circuit.classification].filter(Boolean).join(' ') : undefined],
  ]) + ((m.warnings as Array<{ message: string }> | undefined) ?? []).map(w => `warning: ${w.message}\n`).join('')
}

/** Prints a write's answer; 0 when it happened everywhere, 75 (try again later) while something is pending. */
function printWritten (ctx: CommandContext, verb: string, m: Metadata): number {
  const pending = (m.pending as string[] | undefined) ?? []
  if (ctx.json) ctx.print(m)
  else ctx.out(`${verb} ${m.name}: now version ${m.version}\n` + metadataBlock(m) + pendingLines(pending))
  return pending.length > 0 ? EXIT.tempFail : EXIT.ok
}

export async function list (ctx: CommandContext, call: Call): Promise<number> {
  const { body } = await call('GET /v1/admin/connections')
  if (ctx.json) return ctx.print(body)
  const connections = (body as { connections: Metadata[] }).connections
  if (connections.length === 0) {
    ctx.out('no connections yet: sfb connections put NAME --flow …\n')
    return EXIT.ok
  }
  ctx.out(table(['NAME', 'FLOW', 'VERSION', 'USERNAME', 'CIRCUIT', 'UPDATED'], connections.map(c => [
    c.name, c.flow, c.version, c.username as string | undefined, c.circuit?.state === 'closed' ? 'closed' : [c.circuit?.state, c.circuit?.classification].filter(Boolean).join(' '), ago(c.updatedAt),
  ])))
  return EXIT.ok
}

export async function show (ctx: CommandContext, call: Call, name: string): Promise<number> {
  const [{ body: meta }, { body: versions }] = await Promise.all([
    call('GET /v1/admin/connections/{name}', { params: { name } }),
    call('GET /v1/admin/connections/{name}/versions', { params: { name } }),
  ])
  if (ctx.json) return ctx.print({ ...(meta as object), versions: (versions as { versions: unknown[] }).versions })
  ctx.out(metadataBlock(meta as Metadata) + '\n' + table(['VERSION', 'CREATED', 'CURRENT', 'DESTROYED'],
    (versions as { versions: Array<Record<string, unknown>> }).versions.map(v => [v.version as number, v.createdTime as string, v.current ? 'yes' : '', v.destroyed ? 'yes' : ''])))
  return EXIT.ok
}

export interface PutOptions {
  flow?: string
  loginUrl?: string
  username?: string
  clientId?: string
  apiVersion?: string
  sessionTimeoutSeconds?: number
  requiredPermissions?: string[]
  passwordExpiresAfterDays?: number
  /** secret fields the flow has but this connection does not use (e.g. securityToken with trusted IP ranges) */
  without: string[]
  acceptRetiredFlow: boolean
  ifMatch?: number
}

export async function put (ctx: CommandContext, call: Call, name: string, opts: PutOptions, secrets: SecretSources): Promise<number> {
  if (!opts.flow || !Object.hasOwn(SECRETS_BY_FLOW, opts.flow)) throw new CliError(EXIT.usage, `--flow is required, one of: ${Object.keys(SECRETS_BY_FLOW).join(', ')}`)
  if (!opts.loginUrl) throw new CliError(EXIT.usage, '--login-url is required, e.g. https://login.salesforce.com or https://<domain>.my.salesforce.com')
  const fields = SECRETS_BY_FLOW[opts.flow].filter(f => !opts.without.includes(f))
  const values = await readSecrets(fields, secrets, f => DESCRIBE[f])
  const definition = {
    flow: opts.flow,
    loginUrl: opts.loginUrl,
    apiVersion: opts.apiVersion ?? '62.0',
    sessionTimeoutSeconds: opts.sessionTimeoutSeconds ?? 7200,
    ...(opts.username ? { username: opts.username } : {}),
    ...(opts.clientId ? { clientId: opts.clientId } : {}),
    ...(opts.requiredPermissions?.length ? { requiredPermissions: opts.requiredPermissions } : {}),
    ...(opts.passwordExpiresAfterDays ? { passwordExpiresAfterDays: opts.passwordExpiresAfterDays } : {}),
    ...values,
  }
  const query = opts.acceptRetiredFlow ? { acceptRetiredFlow: true } : {}
  const { status, body } = await call('PUT /v1/admin/connections/{name}', { params: { name }, query, body: definition, ifMatch: opts.ifMatch })
  return printWritten(ctx, status === 201 ? 'created' : 'replaced', body as Metadata)
}

export async function rotate (ctx: CommandContext, call: Call, name: string, fieldNames: string[], opts: { username?: string, clientId?: string, ifMatch?: number }, secrets: SecretSources): Promise<number> {
  const fields = secretFieldsFrom(fieldNames)
  if (fields.length === 0 && !opts.username && !opts.clientId) {
    throw new CliError(EXIT.usage, `name what changed: sfb connections rotate ${name} password securityToken (after a password reset Salesforce sends a new security token too)`)
  }
  const values = await readSecrets(fields, secrets, f => `New ${DESCRIBE[f].charAt(0).toLowerCase()}${DESCRIBE[f].slice(1)}`)
  const patch = { ...values, ...(opts.username ? { username: opts.username } : {}), ...(opts.clientId ? { clientId: opts.clientId } : {}) }
  const { body } = await call('PATCH /v1/admin/connections/{name}/credentials', { params: { name }, body: patch, ifMatch: opts.ifMatch })
  return printWritten(ctx, 'rotated', body as Metadata)
}

export async function validate (ctx: CommandContext, call: Call, name: string, fieldNames: string[], secrets: SecretSources): Promise<number> {
  const fields = secretFieldsFrom(fieldNames)
  const candidate = fields.length > 0 ? await readSecrets(fields, secrets, f => `Candidate ${DESCRIBE[f].charAt(0).toLowerCase()}${DESCRIBE[f].slice(1)}`) : undefined
  const { body } = await call('POST /v1/admin/connections/{name}/validate', { params: { name }, body: candidate })
  const result = body as { ok: boolean, classification: string, message?: string, hint?: string, latencyMs: number, source: string, warnings?: string[] }
  if (ctx.json) ctx.print(result)
  else {
    ctx.out(keyValues([
      ['result', result.ok ? `ok (${result.source} credentials, ${result.latencyMs} ms)` : `FAILED: ${result.classification} (${result.source} credentials)`],
      ['message', result.message],
      ['hint', result.hint],
    ]) + (result.warnings ?? []).map(w => `warning: ${w}\n`).join(''))
  }
  return result.ok ? EXIT.ok : EXIT.failed
}

export async function rollback (ctx: CommandContext, call: Call, name: string, version: number, ifMatch?: number): Promise<number> {
  const { body } = await call('POST /v1/admin/connections/{name}/rollback', { params: { name }, body: { version }, ifMatch })
  return printWritten(ctx, `rolled back to the content of version ${version}:`, body as Metadata)
}

export async function remove (ctx: CommandContext, call: Call, name: string, opts: { yes: boolean, ifMatch?: number }, confirm: () => Promise<string>): Promise<number> {
  if (!opts.yes) {
    const typed = await confirm()
    if (typed.trim() !== name) throw new CliError(EXIT.usage, 'not deleted: the name typed did not match')
  }
  const { body } = await call('DELETE /v1/admin/connections/{name}', { params: { name }, ifMatch: opts.ifMatch })
  const pending = (body as { pending?: string[] } | null)?.pending ?? []
  if (ctx.json) ctx.print({ deleted: name, ...pending.length > 0 ? { pending } : {} })
  else ctx.out(`deleted ${name}: cached sessions purged, every version removed\n` + pendingLines(pending))
  return pending.length > 0 ? EXIT.tempFail : EXIT.ok
}
