import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { Readable, Writable } from 'node:stream'
import { main } from '../../src/cli/main.ts'

export const SFB = join(import.meta.dirname, '..', '..', 'src', 'cli', 'sfb.ts')
/** What node needs to run sfb from the checkout: the client package from its sources (its export condition), not from a build. */
export const SOURCE_CONDITION = '--conditions=@sf-broker/source'

export interface SfbRun {
  code: number | null
  stdout: string
  stderr: string
}

/** A stream that keeps what sfb writes; not a terminal, as when a person pipes sfb's output. */
class Captured extends Writable {
  text = ''
  override _write (chunk: Buffer | string, _encoding: BufferEncoding, done: () => void): void {
    this.text += String(chunk)
    done()
  }
}

/**
 * Runs sfb's `main` with arguments, environment and stdin as a shell gives them (stdin not a
 * terminal), in this process: a process per call costs a second of start-up and type-stripping,
 * and the CLI tests make hundreds. `sfbProcess` runs the executable itself (sfb.ts: exit codes
 * reach the shell).
 */
export async function sfb (args: string[], env: Record<string, string>, stdin = ''): Promise<SfbRun> {
  const stdout = new Captured()
  const stderr = new Captured()
  const input = Readable.from(stdin === '' ? [] : [Buffer.from(stdin)]) as unknown as NodeJS.ReadStream
  const code = await main({ argv: args, env: { PATH: process.env.PATH ?? '', ...env }, stdin: input, stdout: stdout as unknown as NodeJS.WriteStream, stderr: stderr as unknown as NodeJS.WriteStream })
  return { code, stdout: stdout.text, stderr: stderr.text }
}

/** Runs sfb as a person's shell would: its own process, arguments, environment and stdin. */
export function sfbProcess (args: string[], env: Record<string, string>, stdin = ''): Promise<SfbRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SOURCE_CONDITION, SFB, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    child.on('error', reject)
    child.on('close', code => resolve({ code, stdout, stderr }))
    child.stdin.end(stdin)
  })
}

/** The broker's own answer, to hold sfb's --json output against. */
export async function api (baseUrl: string, key: string, method: string, path: string, body?: unknown): Promise<{ status: number, json: unknown }> {
  const res = await fetch(baseUrl + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  return { status: res.status, json: text === '' ? null : JSON.parse(text) }
}

export async function simControl (simUrl: string, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${simUrl}/_sim/${path}`, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) })
  if (!res.ok) throw new Error(`simulator control ${method} ${path}: ${res.status}`)
  return await res.json() as Record<string, unknown>
}
