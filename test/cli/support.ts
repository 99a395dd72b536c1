import { spawn } from 'node:child_process'
import { join } from 'node:path'

export const SFB = join(import.meta.dirname, '..', '..', 'src', 'cli', 'sfb.ts')

export interface SfbRun {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs sfb as a person's shell would: its own process, arguments, environment and stdin. */
export function sfb (args: string[], env: Record<string, string>, stdin = ''): Promise<SfbRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SFB, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
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
