/**
 * `npm run demo`: the broker on embedded defaults, from a checkout only (the production build has
 * neither this file nor the simulator package): node scripts/demo.ts
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { hashApiKey } from '../src/auth/api-key.ts'
import { flowSunsetTable, isRetired, type FlowSunset } from '../src/salesforce/flow-sunset.ts'
import { startSimulator } from '../packages/simulator/src/index.ts'
import { exitOnStartupError, serve, type Embedded } from '../src/serve.ts'

/** Fixed keys so the README's curl lines work as written. They only exist in demo mode. */
export const DEMO_CALLER_KEY = 'sfb.demo-caller.demo-caller-key-not-a-secret'
export const DEMO_ADMIN_KEY = 'sfb.demo-admin.demo-admin-key-not-a-secret'
/** a proxy-only caller (sessions: false): it reaches Salesforce through the proxy, under rules, and never holds a session */
export const DEMO_PROXY_KEY = 'sfb.invoicing.demo-proxy-key-not-a-secret'

/**
 * The simulated integration user and connected app. Fixed, printed in the banner and the README: they
 * exist only inside the embedded simulator and are not secrets of any real org.
 */
export const DEMO_USER = { username: 'integration@demo.example', password: 'demo-password-1', securityToken: 'demoSecurityToken42' }
export const DEMO_APP = { clientId: '3MVG9demo.consumer.key', clientSecret: 'demo-consumer-secret' }
/** On the default broker port the simulator takes the next one, so the README's control-API lines work as written. */
const DEFAULT_PORT = '3000'
const DEFAULT_SIMULATOR_PORT = 3001

/** The demo around the broker: file store in a temp dir, in-memory sessions, simulator allowed (see Embedded). */
export type Demo = Embedded

/**
 * The day the demo org ends the username-password flow: the day the broker is told it ends (the
 * announced 2027-02-20 unless FLOW_SUNSET_OAUTH_PASSWORD_DATE says another), read from the same table.
 * Not a calendar date: undefined, and the broker's configuration refuses it at start (exit 78).
 */
function demoFlowEnd (day: string | undefined): FlowSunset | undefined {
  try {
    // set but empty is unset, as the broker's configuration reads it
    return flowSunsetTable({ oauth_password: day === '' ? undefined : day }).get('oauth_password')
  } catch {
    return undefined
  }
}

/**
 * The flow's end for a demo "before that day", as the banner suggests it and the tests of the README's
 * journeys start the demo: 60 days ahead, inside health's 90-day warning (FLOW_SUNSET_WARN_DAYS), so
 * the journey's check shows warn as the README says.
 */
export function preRetirementDay (now = Date.now()): string {
  return new Date(now + 60 * 86_400_000).toISOString().slice(0, 10)
}

/** The banner's lines on demo-password: its flow ends (health warn), or has ended (failing) and what to do then. */
function passwordFlowLines (sunset: FlowSunset | undefined, now: number): string[] {
  if (sunset === undefined || !isRetired(sunset, now)) {
    return [`  demo-password logs in with the flow Salesforce retires on ${sunset?.date ?? '2027-02-20'} (health: warn). Migrate it to`]
  }
  return [
    `  demo-password's flow ended on ${sunset.date}, in this org as in Salesforce (health: failing, flow_retired), so`,
    '  the README\'s password rotation is refused. To walk it as before that day, start the demo with',
    `  FLOW_SUNSET_OAUTH_PASSWORD_DATE=${preRetirementDay(now)} npm run demo. Or migrate demo-password to`,
  ]
}

/**
 * Embedded defaults for a first run: a built-in Salesforce simulator with one org, an encrypted
 * file store in a temp folder seeded with a `demo` connection (client credentials flow) and a
 * `demo-password` connection (OAuth username-password flow, the one whose password and security
 * token an admin rotates; the flow Salesforce retires, so health shows its sunset and the README
 * "Before 2027-02-20" migrates it to JWT bearer), and in-memory sessions. No Vault, no Redis.
 */
export async function startDemo (baseEnv: NodeJS.ProcessEnv): Promise<Demo> {
  const flowEnd = demoFlowEnd(baseEnv.FLOW_SUNSET_OAUTH_PASSWORD_DATE)
  const sim = await startSimulator({
    loginPort: (baseEnv.PORT ?? DEFAULT_PORT) === DEFAULT_PORT ? DEFAULT_SIMULATOR_PORT : 0,
    orgs: [{
      key: 'demo',
      sessionTimeoutSeconds: 7200,
      // Salesforce's strictest "Maximum invalid login attempts": the demo shows the broker's lockout guard
      // stopping one failure short of it (LOCKOUT_THRESHOLD defaults to the same 3)
      lockout: { maxAttempts: 3, durationSeconds: 900 },
      users: [DEMO_USER],
      connectedApps: [{ ...DEMO_APP, clientCredentialsUser: DEMO_USER.username }],
      ...(flowEnd !== undefined ? { oauthPasswordFlowRetiredAt: flowEnd.at } : {}),
    }],
  })
  const dir = await mkdtemp(join(tmpdir(), 'sf-broker-demo-'))
  const principals = {
    principals: [
      { id: 'demo-caller', kind: 'service', apiKeySha256: [hashApiKey(DEMO_CALLER_KEY)], connections: ['*'] },
      { id: 'demo-admin', kind: 'admin', apiKeySha256: [hashApiKey(DEMO_ADMIN_KEY)] },
      {
        id: 'invoicing',
        kind: 'service',
        apiKeySha256: [hashApiKey(DEMO_PROXY_KEY)],
        sessions: false,
        connections: [{ connection: 'demo', rules: [{ api: 'query' }, { api: 'sobjects', objects: ['Account'], methods: ['GET', 'POST', 'PATCH'] }, { api: 'limits' }] }],
      },
    ],
  }
  const env: NodeJS.ProcessEnv = {
    HOST: '127.0.0.1',
    PORT: '3000',
    LOG_LEVEL: 'info',
    VALIDATION_INTERVAL_SECONDS: '60',
    FULL_VALIDATION_INTERVAL_SECONDS: '300',
    // a developer's shell holds all sorts of variables: the demo warns about look-alikes instead of refusing
    ALLOW_UNKNOWN_VARIABLES: 'true',
    ...baseEnv,
    SECRET_STORE: 'file',
    FILE_STORE_PATH: join(dir, 'connections.enc'),
    FILE_STORE_KEY: randomBytes(32).toString('base64'),
    PRINCIPALS_JSON: JSON.stringify(principals),
    LOGIN_URL_ALLOWLIST: 'http://127.0.0.1:*',
    REDIS_URL: '',
    // the demo is the one start without shared state that need not ask for it (its banner says so)
    SHARED_STATE: 'memory',
  }
  return {
    env,
    async seed (store) {
      await store.write('demo', {
        flow: 'client_credentials',
        loginUrl: sim.myDomainUrl('demo'),
        apiVersion: '62.0',
        sessionTimeoutSeconds: 7200,
        ...DEMO_APP,
      }, 0)
      await store.write('demo-password', {
        flow: 'oauth_password',
        loginUrl: sim.loginUrl,
        apiVersion: '62.0',
        sessionTimeoutSeconds: 7200,
        ...DEMO_APP,
        ...DEMO_USER,
      }, 0)
    },
    banner (address) {
      const a = address as AddressInfo
      const base = `http://${a.address}:${a.port}`
      const user = `${sim.loginUrl}/_sim/orgs/demo/users/${DEMO_USER.username}`
      return [
        '',
        'sf-broker demo is running (embedded Salesforce simulator, file store, in-memory sessions).',
        `  Salesforce simulator: ${sim.loginUrl} (org "demo": ${sim.myDomainUrl('demo')})`,
        '  Connections: demo (client credentials), demo-password (OAuth username-password flow)',
        '  Get a session:',
        `    curl -s -X POST -H 'Authorization: Bearer ${DEMO_CALLER_KEY}' ${base}/v1/connections/demo/session`,
        '  Through the proxy, as the proxy-only caller "invoicing" (query and Account only; no session for it):',
        `    curl -s -H 'Authorization: Bearer ${DEMO_PROXY_KEY}' '${base}/v1/connections/demo/salesforce/services/data/v62.0/query?q=SELECT+Id,Name+FROM+Account'`,
        '  Admin CLI (sfb):',
        `    export SFB_URL=${base} SFB_ADMIN_KEY=${DEMO_ADMIN_KEY}`,
        '    npm run -s sfb -- connections list       (in the image: sfb connections list)',
        '  Simulated integration user (fixed demo values, not secrets of any real org):',
        `    username ${DEMO_USER.username}   password ${DEMO_USER.password}   security token ${DEMO_USER.securityToken}`,
        '  Simulator control API (what a Salesforce admin would do):',
        `    reset the password (new token too): curl -s -X POST ${user}/reset-password`,
        `    reset the security token:           curl -s -X POST ${user}/reset-token`,
        `    lock the user (unlock: false):      curl -s -X PATCH -H 'content-type: application/json' -d '{"locked":true}' ${user}`,
        `    expire every session:               curl -s -X POST ${sim.loginUrl}/_sim/orgs/demo/sessions/expire`,
        `  Health: ${base}/health/salesforce   Docs: ${base}/docs   Metrics: ${base}/metrics`,
        ...passwordFlowLines(flowEnd, Date.now()),
        '  JWT bearer with the README section "Before 2027-02-20", after:',
        `    export SFB=${base} SIM=${sim.loginUrl} ADMIN='Authorization: Bearer ${DEMO_ADMIN_KEY}'`,
        '',
      ].join('\n')
    },
    async close () {
      await sim.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  startDemo(process.env).then((demo) => serve(process.env, demo)).catch(exitOnStartupError)
}
