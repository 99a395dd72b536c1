import { readFile } from 'node:fs/promises'
import { adminPath, BrokerError, createAdminClient, type AdminClient, type AdminRequest, type AdminRoute } from '@sf-broker/client'

/**
 * How sfb talks to the broker: its HTTP API, through the client package (@sf-broker/client) and nothing
 * else (sfb imports none of the server's modules, so it works from any machine that can reach the broker).
 * The admin key comes from the environment or a file, never from argv, where `ps` and shell history would show it.
 */

/** Exit codes: documented in `sfb --help` and the README; scripts branch on them. */
export const EXIT = {
  ok: 0,
  /** the broker answered, and the answer is "no": credentials rejected, validation failed, a check failing */
  failed: 1,
  usage: 2,
  notFound: 3,
  /** someone changed the connection since the version you named (If-Match): read again and retry */
  conflict: 4,
  /** rate limited, or logins paused for a while: try again later */
  tempFail: 75,
  /** the broker is unreachable or answered 5xx */
  unavailable: 69,
  /** the admin key is missing from the broker's principals, or not an admin's */
  noPerm: 77,
  /** sfb itself is not configured: no SFB_URL, no admin key */
  config: 78,
} as const

export class CliError extends Error {
  readonly exitCode: number
  /** the problem+json the broker answered, for --json */
  readonly problem: Record<string, unknown> | undefined
  readonly hint: string | undefined
  constructor (exitCode: number, message: string, opts: { problem?: Record<string, unknown>, hint?: string } = {}) {
    super(message)
    this.exitCode = exitCode
    this.problem = opts.problem
    this.hint = opts.hint
  }
}

export interface BrokerTarget {
  url: string
  key: string
}

/** SFB_URL (or --url), and the admin key from SFB_ADMIN_KEY, SFB_ADMIN_KEY_FILE or --key-file. */
export async function brokerTarget (env: NodeJS.ProcessEnv, flags: { url?: string, keyFile?: string }): Promise<BrokerTarget> {
  const url = (flags.url ?? env.SFB_URL ?? '').trim()
  if (url === '') throw new CliError(EXIT.config, 'no broker URL: set SFB_URL (e.g. export SFB_URL=http://127.0.0.1:3000) or pass --url')
  if (!/^https?:\/\/[^\s/]+/.test(url)) throw new CliError(EXIT.config, 'SFB_URL must be an http(s) URL, e.g. https://sf-broker.example.com')
  // fetch refuses a URL with credentials, and every "cannot reach" message would quote it: refused
  // here, unquoted (the admin key is sfb's one credential)
  if (/^https?:\/\/[^/?#]*@/.test(url)) throw new CliError(EXIT.config, 'SFB_URL must not hold a user name or password: give the admin key in SFB_ADMIN_KEY_FILE (or SFB_ADMIN_KEY) instead')
  const keyFile = flags.keyFile ?? env.SFB_ADMIN_KEY_FILE
  let key = env.SFB_ADMIN_KEY ?? ''
  let variable = 'SFB_ADMIN_KEY'
  if (keyFile) {
    variable = flags.keyFile ? '--key-file' : 'SFB_ADMIN_KEY_FILE'
    try {
      key = await readFile(keyFile, 'utf8')
    } catch (err) {
      throw new CliError(EXIT.config, `${variable}: cannot read ${keyFile} (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
    }
  }
  // the first line only: a second line (a note, the previous key) would otherwise travel in the
  // header, and fetch's complaint about that header quotes it whole on stderr
  key = key.split(/\r?\n/, 1)[0].trim()
  if (key === '') throw new CliError(EXIT.config, 'no admin key: set SFB_ADMIN_KEY_FILE to a file holding it (or SFB_ADMIN_KEY); never pass it as an argument')
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(key)) throw new CliError(EXIT.config, `${variable}: the key holds a control character; write the key alone on the first line`)
  return { url: url.replace(/\/+$/, ''), key }
}

/** How a command calls the broker: the client package's admin request, its failures already CliErrors. */
export type Call = AdminClient['request']

/** A client for the broker at `target`; every failure it reports becomes a CliError with the exit code scripts branch on. */
export function connect (target: BrokerTarget): Call {
  let client: AdminClient
  try {
    client = createAdminClient({ baseUrl: target.url, credentials: target.key, timeoutMs: 60_000 })
  } catch {
    // the URL passed the check above but is no URL (http://[::1): the client refuses it
    throw new CliError(EXIT.config, 'SFB_URL must be an http(s) URL, e.g. https://sf-broker.example.com')
  }
  return (async (route: AdminRoute, req?: AdminRequest<AdminRoute>) => {
    try {
      return await client.request(route, req as never)
    } catch (err) {
      throw err instanceof BrokerError ? cliError(err, target.url, route, req?.params) : err
    }
  }) as Call
}

function exitCodeFor (status: number): number {
  if (status === 401 || status === 403) return EXIT.noPerm
  if (status === 404) return EXIT.notFound
  if (status === 409 || status === 412) return EXIT.conflict
  if (status === 429) return EXIT.tempFail
  if (status >= 500) return EXIT.unavailable
  return EXIT.failed
}

function cliError (err: BrokerError, url: string, route: AdminRoute, params?: Record<string, string>): Error {
  if (err.status === 0) {
    if (err.code !== 'broker_unreachable' && err.code !== 'timeout') return err
    const sent = err.cause as Error & { cause?: { code?: string, message?: string } }
    const cause = sent.cause?.code ?? sent.cause?.message ?? sent.message
    return new CliError(EXIT.unavailable, `cannot reach the broker at ${url} (${cause})`, { hint: 'is SFB_URL right, and is the broker running?' })
  }
  const problem = err.problem as Record<string, unknown> | undefined
  const title = typeof problem?.title === 'string' ? problem.title : `HTTP ${err.status}`
  const detail = typeof problem?.detail === 'string' ? `: ${problem.detail}` : ''
  // a key of too small a role: say which one the command needs (src/auth/roles.ts), not only "forbidden"
  const role = typeof problem?.requiredRole === 'string' ? `this command needs the ${problem.requiredRole} role: use the key of an admin principal that has it` : undefined
  const retryAfter = err.retryAfterSeconds === undefined ? undefined : `retry after ${err.retryAfterSeconds} s`
  const hint = [role, typeof problem?.hint === 'string' ? problem.hint : undefined, retryAfter].filter(Boolean).join('; ')
  if (err.status === 404 && problem?.detail === 'no such route') {
    return new CliError(EXIT.notFound, `the broker at ${url} has no ${route.split(' ')[0]} ${adminPath(route, params)} (an older broker version?)`, { problem })
  }
  return new CliError(exitCodeFor(err.status), `${title}${detail}`, { problem, hint: hint || undefined })
}
