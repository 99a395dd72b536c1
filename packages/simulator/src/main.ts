/**
 * The simulator as its own process, for benchmarks and compose:
 *   node packages/simulator/src/main.ts [org-config.json]
 * Config: argv[2] or SIM_CONFIG, a JSON file holding either { "orgs": [...] } or an array of
 * SimOrgOptions; without one, a built-in demo org. Ports: SIM_PORT (login listener, default
 * free), SIM_ORG_PORT_BASE (org i on base + i, default free). SIM_HOST / SIM_ADVERTISED_HOST
 * choose the interface and the host name put in URLs; SIM_LATENCY_MS delays every login.
 * Prints one JSON line {"loginUrl":…,"orgs":{key:url}} when ready; closes on SIGTERM/SIGINT.
 */
import { readFile } from 'node:fs/promises'
import { startSimulator } from './simulator.ts'
import type { SimOrgOptions } from './types.ts'

const DEMO_ORGS: SimOrgOptions[] = [{
  key: 'acme',
  users: [{ username: 'integration@acme.example', password: 'demo-password', securityToken: 'DemoSecurityToken0000000' }],
  connectedApps: [{
    clientId: 'demo-consumer-key',
    clientSecret: 'demo-consumer-secret',
    clientCredentialsUser: 'integration@acme.example',
  }],
}]

function optionalInt (name: string): number | undefined {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return undefined
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer`)
  return value
}

async function loadOrgs (path: string | undefined): Promise<SimOrgOptions[]> {
  if (!path) return DEMO_ORGS
  const parsed = JSON.parse(await readFile(path, 'utf8')) as unknown
  if (Array.isArray(parsed)) return parsed as SimOrgOptions[]
  if (typeof parsed === 'object' && parsed !== null && Array.isArray((parsed as { orgs?: unknown }).orgs)) {
    return (parsed as { orgs: SimOrgOptions[] }).orgs
  }
  throw new Error(`${path}: expected { "orgs": [...] } or an array of orgs`)
}

const orgs = await loadOrgs(process.argv[2] ?? process.env.SIM_CONFIG)
const sim = await startSimulator({
  orgs,
  host: process.env.SIM_HOST || undefined,
  advertisedHost: process.env.SIM_ADVERTISED_HOST || undefined,
  loginPort: optionalInt('SIM_PORT'),
  orgPortBase: optionalInt('SIM_ORG_PORT_BASE'),
  latencyMs: optionalInt('SIM_LATENCY_MS'),
})

process.stdout.write(JSON.stringify({
  loginUrl: sim.loginUrl,
  orgs: Object.fromEntries(orgs.map(o => [o.key, sim.myDomainUrl(o.key)])),
}) + '\n')

let closing = false
const shutdown = (): void => {
  if (closing) return
  closing = true
  sim.close().then(() => process.exit(0), () => process.exit(1))
}
process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)
