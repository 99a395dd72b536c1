import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { LoginStats, SimOrgOptions } from '../../packages/simulator/src/types.ts'
import { spawnChild, type StartedChild } from './children.ts'

export interface BenchSimulator {
  loginUrl: string
  myDomainUrl (org: string): string
  child: StartedChild
  stats (org?: string): Promise<LoginStats>
  resetStats (): Promise<void>
  setLatency (ms: number): Promise<void>
  /** REST calls the org has counted (GET /_sim/orgs/{key}) */
  apiRequestsUsed (org: string): Promise<number>
}

/**
 * The Salesforce simulator as its own process (packages/simulator/src/main.ts), driven over its /_sim/
 * control API, so its request handling never competes with the load generator's event loop.
 */
export async function startSimulatorProcess (o: { repoRoot: string, workDir: string, orgs: SimOrgOptions[] }): Promise<BenchSimulator> {
  const configPath = join(o.workDir, 'simulator-orgs.json')
  await writeFile(configPath, JSON.stringify({ orgs: o.orgs }), { mode: 0o600 })
  const { child, firstLine } = await spawnChild({
    name: 'simulator',
    command: process.execPath,
    args: ['packages/simulator/src/main.ts', configPath],
    cwd: o.repoRoot,
    env: { PATH: process.env.PATH, SIM_HOST: '127.0.0.1' },
    captureFirstLine: true,
  })
  const ready = JSON.parse(firstLine as string) as { loginUrl: string, orgs: Record<string, string> }
  const control = async (path: string, init?: RequestInit): Promise<unknown> => {
    const res = await fetch(`${ready.loginUrl}/_sim/${path}`, { ...init, signal: AbortSignal.timeout(5_000) })
    const body = await res.json() as unknown
    if (!res.ok) throw new Error(`simulator control ${path}: HTTP ${res.status} ${JSON.stringify(body)}`)
    return body
  }
  return {
    loginUrl: ready.loginUrl,
    myDomainUrl (org) {
      const url = ready.orgs[org]
      if (!url) throw new Error(`the simulator has no org "${org}"`)
      return url
    },
    child,
    async stats (org) {
      return await control(org ? `stats?org=${encodeURIComponent(org)}` : 'stats') as LoginStats
    },
    async resetStats () {
      await control('stats/reset', { method: 'POST' })
    },
    async setLatency (ms) {
      await control('latency', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ms }) })
    },
    async apiRequestsUsed (org) {
      return (await control(`orgs/${encodeURIComponent(org)}`) as { apiRequestsUsed: number }).apiRequestsUsed
    },
  }
}
