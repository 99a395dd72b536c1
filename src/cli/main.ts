import { parseArgs } from 'node:util'
import { brokerTarget, CliError, connect, EXIT } from './broker-api.ts'
import * as connections from './commands/connections.ts'
import { audit } from './commands/audit.ts'
import { check, health, revokeSessions } from './commands/health.ts'
import * as migrate from './commands/migrate.ts'
import * as certRotation from './commands/cert-rotation.ts'
import * as consumerRotation from './commands/consumer-rotation.ts'
import type { CommandContext } from './context.ts'
import { visible } from './output.ts'
import { hiddenPrompt, type SecretSources } from './secret-input.ts'

/**
 * sfb: the sf-broker admin CLI. It speaks the broker's HTTP API only, through the client package
 * (never the server's modules), so the same binary works from a laptop, a CI job or `kubectl exec` into the image.
 */

export const USAGE = `sfb — sf-broker admin CLI

  sfb connections list
  sfb connections show NAME
  sfb connections put NAME --flow FLOW --login-url URL [--username U] [--client-id ID] [--api-version 62.0]
                           [--session-timeout 7200] [--required-permission P]… [--password-expires-after-days N]
                           [--without securityToken] [--accept-retired-flow]
  sfb connections rotate NAME FIELD… [--username U] [--client-id ID]   FIELD: password securityToken clientSecret privateKey
  sfb connections validate NAME [FIELD…]        stored credentials, or candidate values for FIELDs (stores nothing)
  sfb connections rollback NAME VERSION
  sfb connections delete NAME [--yes]
  sfb sessions revoke NAME                      kill switch: revoke every session at Salesforce, drop it fleet-wide
  sfb migrate start NAME --to jwt_bearer|client_credentials [--login-url URL] [--username U] [--client-id ID] [clientSecret]
  sfb migrate show|certificate|complete|abandon NAME
  sfb migrate validate NAME [--client-id ID] [--username U] [clientSecret]
  sfb cert-rotation start|show|certificate|validate|complete|abandon NAME   new key and certificate (jwt_bearer)
  sfb consumer-rotation run NAME [--app ID]     every step through Salesforce's API (stage, validate, switch, promote, delete)
  sfb consumer-rotation start NAME [--app ID] [--setup]
  sfb consumer-rotation validate NAME [--client-id ID] [clientSecret]     the staged pair from Setup
  sfb consumer-rotation show|complete|verify|abandon NAME
  sfb consumer-rotation policy NAME --app ID [--every-days N]
  sfb health [NAME]
  sfb check NAME [--probe] [--reset-acknowledged]   the user was unlocked (or its password reset) in Setup: the guard starts over
  sfb audit [--stream admin|handouts] [--connection NAME] [--actor ID] [--action A] [--limit N]
            [--since TIME] [--until TIME]     TIME: 2026-12-01T09:00:00Z, 2026-12-01 or 30m, 12h, 7d ago;
                                              with --since: everything from then on, oldest first

Secrets are never arguments. They come from a hidden prompt, or --stdin (one field: all of stdin; several:
one line each, in the order named), or --from-file FIELD=PATH.

Options: --json (the API's answer as JSON, for scripts)   --if-match VERSION (refuse if changed since)
         --url URL (default $SFB_URL)   --key-file PATH (default $SFB_ADMIN_KEY_FILE, else $SFB_ADMIN_KEY)

Exit codes: 0 done · 1 the broker said no (credentials rejected, validation failed, a connection failing)
  2 usage · 3 not found · 4 conflict (changed since --if-match) · 69 broker unreachable or 5xx
  75 rate limited or paused, retry later · 77 admin key refused · 78 sfb not configured (SFB_URL, admin key)
  130 cancelled at a prompt
`

const OPTIONS = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  url: { type: 'string' },
  'key-file': { type: 'string' },
  'if-match': { type: 'string' },
  stdin: { type: 'boolean' },
  'from-file': { type: 'string', multiple: true },
  yes: { type: 'boolean' },
  probe: { type: 'boolean' },
  'reset-acknowledged': { type: 'boolean' },
  to: { type: 'string' },
  app: { type: 'string' },
  setup: { type: 'boolean' },
  'every-days': { type: 'string' },
  connection: { type: 'string' },
  limit: { type: 'string' },
  stream: { type: 'string' },
  actor: { type: 'string' },
  action: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  flow: { type: 'string' },
  'login-url': { type: 'string' },
  username: { type: 'string' },
  'client-id': { type: 'string' },
  'api-version': { type: 'string' },
  'session-timeout': { type: 'string' },
  'required-permission': { type: 'string', multiple: true },
  'password-expires-after-days': { type: 'string' },
  without: { type: 'string', multiple: true },
  'accept-retired-flow': { type: 'boolean' },
  // refused with a pointer to the safe ways: a secret on the command line ends up in `ps` and shell history
  password: { type: 'string' },
  'security-token': { type: 'string' },
  'client-secret': { type: 'string' },
  'private-key': { type: 'string' },
  key: { type: 'string' },
} as const

/** The writes that send --if-match as If-Match (check-and-set on the connection's version). */
const IF_MATCH_COMMANDS = new Set(['connections put', 'connections rotate', 'connections rollback', 'connections delete', 'migrate complete', 'consumer-rotation complete', 'cert-rotation complete'])

function integer (value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined
  if (!/^\d{1,9}$/.test(value)) throw new CliError(EXIT.usage, `${flag} must be a whole number (got "${value}")`)
  return Number(value)
}

function need (value: string | undefined, what: string): string {
  if (!value) throw new CliError(EXIT.usage, `missing ${what}; see sfb --help`)
  return value
}

export interface Io {
  argv: string[]
  env: NodeJS.ProcessEnv
  stdin: NodeJS.ReadStream
  stdout: NodeJS.WriteStream
  stderr: NodeJS.WriteStream
}

export async function main (io: Io): Promise<number> {
  try {
    return await run(io)
  } catch (err) {
    return report(err, io, io.argv.includes('--json'))
  }
}

async function run (io: Io): Promise<number> {
  const { values: o, positionals: p } = parseArgs({ args: io.argv, options: OPTIONS, allowPositionals: true, strict: true })
  const json = o.json === true
  if (o.help || p.length === 0) {
    io.stdout.write(USAGE)
    return p.length === 0 && !o.help ? EXIT.usage : EXIT.ok
  }
  for (const flag of ['password', 'security-token', 'client-secret', 'private-key', 'key'] as const) {
    if (o[flag] !== undefined) throw new CliError(EXIT.usage, `--${flag} is refused: a secret on the command line lands in ps and shell history. Use the hidden prompt, --stdin or --from-file`)
  }
  const ctx: CommandContext = {
    json,
    // everything a command prints goes through visible(): answers may carry upstream text
    out: text => { io.stdout.write(visible(text)) },
    print: body => { io.stdout.write(visible(JSON.stringify(body, null, 2)) + '\n'); return EXIT.ok },
  }
  const files = new Map<string, string>()
  for (const spec of o['from-file'] ?? []) {
    const at = spec.indexOf('=')
    if (at < 1) throw new CliError(EXIT.usage, `--from-file wants FIELD=PATH (got "${spec}")`)
    files.set(spec.slice(0, at), spec.slice(at + 1))
  }
  const secrets: SecretSources = { stdin: o.stdin === true, files, input: io.stdin, output: io.stderr }
  const ifMatch = integer(o['if-match']?.replace(/^(W\/)?"|"$/g, ''), '--if-match')
  const broker = async () => connect(await brokerTarget(io.env, { url: o.url, keyFile: o['key-file'] }))
  const [group, verb, name, ...rest] = p
  // a check-and-set the broker never sees protects nothing: refuse it rather than write without it
  if (ifMatch !== undefined && !IF_MATCH_COMMANDS.has(`${group} ${verb}`)) {
    throw new CliError(EXIT.usage, `--if-match is not checked by "sfb ${group} ${verb ?? ''}"; it applies to: ${[...IF_MATCH_COMMANDS].map(c => `sfb ${c}`).join(', ')}`)
  }

  if (group === 'connections') {
    switch (verb) {
      case 'list': return connections.list(ctx, await broker())
      case 'show': return connections.show(ctx, await broker(), need(name, 'NAME'))
      case 'put': return connections.put(ctx, await broker(), need(name, 'NAME'), {
        flow: o.flow,
        loginUrl: o['login-url'],
        username: o.username,
        clientId: o['client-id'],
        apiVersion: o['api-version'],
        sessionTimeoutSeconds: integer(o['session-timeout'], '--session-timeout'),
        requiredPermissions: o['required-permission'],
        passwordExpiresAfterDays: integer(o['password-expires-after-days'], '--password-expires-after-days'),
        without: o.without ?? [],
        acceptRetiredFlow: o['accept-retired-flow'] === true,
        ifMatch,
      }, secrets)
      case 'rotate': return connections.rotate(ctx, await broker(), need(name, 'NAME'), rest, { username: o.username, clientId: o['client-id'], ifMatch }, secrets)
      case 'validate': return connections.validate(ctx, await broker(), need(name, 'NAME'), rest, secrets)
      case 'rollback': return connections.rollback(ctx, await broker(), need(name, 'NAME'), integer(need(rest[0], 'VERSION'), 'VERSION') as number, ifMatch)
      case 'delete': return connections.remove(ctx, await broker(), need(name, 'NAME'), { yes: o.yes === true, ifMatch },
        () => confirmByTyping(io, `Type the name "${name}" to delete it and every version of its secret: `))
    }
  }
  if (group === 'migrate') {
    const step = { username: o.username, clientId: o['client-id'] }
    switch (verb) {
      case 'start': return migrate.start(ctx, await broker(), need(name, 'NAME'), { ...step, to: o.to, loginUrl: o['login-url'] }, rest, secrets)
      case 'show': return migrate.show(ctx, await broker(), need(name, 'NAME'))
      case 'certificate': return migrate.certificate(ctx, await broker(), need(name, 'NAME'))
      case 'validate': return migrate.validate(ctx, await broker(), need(name, 'NAME'), step, rest, secrets)
      case 'complete': return migrate.complete(ctx, await broker(), need(name, 'NAME'), ifMatch)
      case 'abandon': return migrate.abandon(ctx, await broker(), need(name, 'NAME'))
    }
  }
  if (group === 'cert-rotation') {
    switch (verb) {
      case 'start': return certRotation.start(ctx, await broker(), need(name, 'NAME'))
      case 'show': return certRotation.show(ctx, await broker(), need(name, 'NAME'))
      case 'certificate': return certRotation.certificate(ctx, await broker(), need(name, 'NAME'))
      case 'validate': return certRotation.validate(ctx, await broker(), need(name, 'NAME'))
      case 'complete': return certRotation.complete(ctx, await broker(), need(name, 'NAME'), ifMatch)
      case 'abandon': return certRotation.abandon(ctx, await broker(), need(name, 'NAME'))
    }
  }
  if (group === 'consumer-rotation') {
    switch (verb) {
      case 'run': return consumerRotation.run(ctx, await broker(), need(name, 'NAME'), { app: o.app })
      case 'start': return consumerRotation.start(ctx, await broker(), need(name, 'NAME'), { app: o.app, setup: o.setup === true })
      case 'show': return consumerRotation.show(ctx, await broker(), need(name, 'NAME'))
      case 'validate': return consumerRotation.validate(ctx, await broker(), need(name, 'NAME'), { clientId: o['client-id'] }, rest, secrets)
      case 'complete': return consumerRotation.step(ctx, await broker(), need(name, 'NAME'), 'complete', ifMatch)
      case 'verify': return consumerRotation.step(ctx, await broker(), need(name, 'NAME'), 'verify')
      case 'abandon': return consumerRotation.abandon(ctx, await broker(), need(name, 'NAME'))
      case 'policy': return consumerRotation.policy(ctx, await broker(), need(name, 'NAME'), { app: o.app, everyDays: integer(o['every-days'], '--every-days') })
    }
  }
  if (group === 'sessions' && verb === 'revoke') return revokeSessions(ctx, await broker(), need(name, 'NAME'))
  if (group === 'health') return health(ctx, await broker(), verb)
  if (group === 'check') return check(ctx, await broker(), need(verb, 'NAME'), o.probe === true, o['reset-acknowledged'] === true)
  if (group === 'audit') {
    return audit(ctx, await broker(), { stream: o.stream, connection: o.connection, actor: o.actor, action: o.action, since: o.since, until: o.until, limit: integer(o.limit, '--limit') })
  }
  // the command's first two words only: what follows may be a secret typed where a field name belongs
  throw new CliError(EXIT.usage, `unknown command "sfb ${p.slice(0, 2).join(' ')}"; see sfb --help`)
}

/** A confirmation is not a secret, but it must come from a person: no terminal, no deletion without --yes. */
async function confirmByTyping (io: Io, question: string): Promise<string> {
  if (!io.stdin.isTTY) throw new CliError(EXIT.usage, 'deleting needs a confirmation: run it in a terminal, or pass --yes')
  return hiddenPrompt(question, io.stdin, io.stderr)
}

function report (err: unknown, io: Io, json: boolean): number {
  if (err instanceof CliError) {
    if (json && err.problem) io.stdout.write(visible(JSON.stringify(err.problem, null, 2)) + '\n')
    io.stderr.write(visible(`sfb: ${err.message}\n${err.hint ? `hint: ${err.hint}\n` : ''}`))
    return err.exitCode
  }
  if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    io.stderr.write(visible(`sfb: ${(err as Error).message}; see sfb --help\n`))
    return EXIT.usage
  }
  io.stderr.write(visible(`sfb: unexpected error: ${(err as Error).message}\n`))
  return EXIT.failed
}
