import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { outsideTap } from './outside-tap.ts'

const SERVER = new URL('../../src/server.ts', import.meta.url).pathname

/**
 * Starts the real server (`src/server.ts`) as an operator would, with `env` only, on a free port, and
 * waits for it to exit: its exit code and stderr. One that does not exit within 20 s is stopped.
 * It runs outside tap's hooks (support/outside-tap.ts): the lines of a start that stops are covered
 * in-process and by the tests that spawn the server themselves; `hooks: true` keeps them, for the
 * start that is the only one to reach a line.
 */
export async function serverExit (env: Record<string, string>, { hooks = false } = {}): Promise<{ code: number | null, stderr: string }> {
  const [command, args] = hooks ? [process.execPath, [SERVER]] : outsideTap(process.execPath, [SERVER])
  const child = spawn(command, args, { env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', ...env }, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const timer = setTimeout(() => child.kill('SIGTERM'), 20_000)
  const [code] = await once(child, 'close') as [number | null]
  clearTimeout(timer)
  return { code, stderr }
}
