import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { parse } from 'yaml'
import { hashApiKey, verifyApiKey } from '../../src/auth/api-key.ts'
import { isGranted, parsePrincipals } from '../../src/auth/principals.ts'
import { loadConfig } from '../../src/config.ts'
import { createLoginUrlPolicy, isLoginUrlAllowed, login } from '../../src/salesforce/index.ts'
import { fieldsToDefinition } from '../../src/secrets/definition-fields.ts'
import { startSimulator } from '../../packages/simulator/src/index.ts'
import { CONFIG_VARIABLES, FILE_VARIABLES, ROOT, getRoutes, readRepoFile } from './repo.ts'
import { findInlineSecrets } from './secrets-scan.ts'

const run = promisify(execFile)
const compose = parse(readRepoFile('docker-compose.yml'))
const services = compose.services as Record<string, any>
const broker = services['sf-broker']
const simulator = services['sf-simulator']
const readJson = (path: string): any => JSON.parse(readRepoFile(path))

/** The documented demo keys (deploy/compose/README.md). */
const DEMO_SERVICE_KEY = 'sfb.demo-app.demo-service-key-not-for-production'
const DEMO_ADMIN_KEY = 'sfb.demo-admin.demo-admin-key-not-for-production'
/** Values that are published on purpose and documented as demo-only. */
const DEMO_SECRETS = ['demo-redis-password']

/** The files vault-init writes into the broker-credentials volume, and the variables naming them. */
const CREDENTIAL_FILES: Record<string, string> = {
  VAULT_ROLE_ID_FILE: 'role_id',
  VAULT_SECRET_ID_FILE: 'secret_id',
  SESSION_ENCRYPTION_KEY_FILE: 'session_encryption_key',
}

t.test('every service the stack needs is there, started in dependency order', async (t) => {
  t.same(Object.keys(services).sort(), ['redis', 'sf-broker', 'sf-simulator', 'vault', 'vault-init'])
  t.same(broker.depends_on, {
    'vault-init': { condition: 'service_completed_successfully' },
    redis: { condition: 'service_healthy' },
    'sf-simulator': { condition: 'service_healthy' },
  })
  t.same(services['vault-init'].depends_on, { vault: { condition: 'service_healthy' } })
  for (const name of ['vault', 'redis', 'sf-simulator', 'sf-broker']) {
    t.ok(services[name].healthcheck?.test, `${name} has a healthcheck (depends_on waits for it)`)
  }
  t.equal(services['vault-init'].restart, 'no', 'vault-init is a one-shot job')
})

t.test('the broker runs the image built from this repository, the simulator its package\'s own image', async (t) => {
  for (const service of [broker, simulator]) {
    t.equal(service.read_only, true, 'read-only root filesystem, as in Kubernetes')
    t.same(service.tmpfs, ['/tmp'])
    t.same(service.cap_drop, ['ALL'])
  }
  t.equal(broker.build, '.')
  t.equal(broker.image, 'sf-broker:local')
  // The simulator is its own workspace package with its own image; the broker's holds none
  t.equal(simulator.build, './packages/simulator')
  t.not(simulator.image, broker.image)
  t.equal(JSON.parse(readRepoFile('packages/simulator/package.json')).name, '@sf-broker/salesforce-simulator')
  const simDockerfile = readRepoFile('packages/simulator/Dockerfile')
  t.match(simDockerfile, /^COPY src \.\/src$/m, 'the image holds the package\'s sources')
  t.match(simDockerfile, /^CMD \["node", "src\/main\.ts"\]$/m)
  t.same(simulator.command, ['node', 'src/main.ts', '/config/sim.json'])
  t.ok(existsSync(join(ROOT, 'packages/simulator/src/main.ts')), 'the package\'s entry, run as it is (Node 22 strips the types)')
  t.equal(broker.entrypoint, undefined, 'no wrapper: the image\'s entrypoint (tini) and command run as they are')
  t.equal(broker.command, undefined)
  t.match(readRepoFile('Dockerfile'), 'ENTRYPOINT ["/usr/bin/tini", "--"]')
  t.match(readRepoFile('Dockerfile'), 'CMD ["node", "--enable-source-maps", "dist/server.js"]')
})

t.test('docker compose stop leaves the broker its whole drain (SHUTDOWN_TIMEOUT_MS) before the SIGKILL', async (t) => {
  // Compose sends SIGTERM, then SIGKILL after stop_grace_period (10 s when unset): the broker may take
  // SHUTDOWN_TIMEOUT_MS to answer what is in flight and close Redis and Vault
  const seconds = (text: string | undefined): number => {
    if (text === undefined) return 10
    const match = /^(\d+)(ms|s|m)$/.exec(text)
    if (match === null) throw new Error(`stop_grace_period ${text}: not read by this test`)
    return Number(match[1]) * { ms: 0.001, s: 1, m: 60 }[match[2] as 'ms' | 's' | 'm']
  }
  const shutdownMs = Number(broker.environment.SHUTDOWN_TIMEOUT_MS ?? loadConfig({ SECRET_STORE: 'file', FILE_STORE_KEY: Buffer.alloc(32).toString('base64'), PRINCIPALS_JSON: '{"principals":[]}', SHARED_STATE: 'memory' }).SHUTDOWN_TIMEOUT_MS)
  t.ok(seconds(broker.stop_grace_period) > shutdownMs / 1000, `stop_grace_period ${broker.stop_grace_period ?? '10s (unset)'} > ${shutdownMs / 1000} s`)
})

t.test('every bind mount exists in the repository', async (t) => {
  const all = Object.values(services).flatMap(s => (s.volumes ?? []) as string[])
  const binds = all.filter(v => v.startsWith('./'))
  t.ok(binds.length >= 4)
  for (const bind of binds) t.ok(existsSync(join(ROOT, bind.split(':')[0])), bind)
  const named = all.filter(v => !v.startsWith('./')).map(v => v.split(':')[0])
  for (const volume of named) t.ok(volume in compose.volumes, `volume ${volume} is declared`)
})

t.test('the broker sets only variables src/config.ts reads, and they make a valid configuration', async (t) => {
  const env = broker.environment as Record<string, string>
  for (const name of Object.keys(env)) t.ok(CONFIG_VARIABLES.has(name) || FILE_VARIABLES.has(name), `${name} is in ConfigSchema (or a *_FILE variant of a setting)`)
  for (const [variable, file] of Object.entries(CREDENTIAL_FILES)) t.equal(env[variable], `/run/sf-broker/${file}`, `${variable} names the file vault-init writes`)
  // the files as vault-init leaves them, at a temporary place
  const dir = await mkdtemp(join(tmpdir(), 'sfb-creds-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'role_id'), 'the-role')
  await writeFile(join(dir, 'secret_id'), 'the-secret\n')
  await writeFile(join(dir, 'session_encryption_key'), `${Buffer.alloc(32, 1).toString('base64')}\n`)
  const config = loadConfig({ ...env, ...Object.fromEntries(Object.entries(CREDENTIAL_FILES).map(([variable, file]) => [variable, join(dir, file)])) })
  t.equal(config.VAULT_ROLE_ID, 'the-role')
  t.equal(config.VAULT_SECRET_ID, 'the-secret')
  t.equal(config.SESSION_ENCRYPTION_KEY, Buffer.alloc(32, 1).toString('base64'))
  t.equal(config.VAULT_AUTH_METHOD, 'approle')
  t.equal(config.SECRET_STORE, 'vault')
  t.match(config.REDIS_URL, /^redis:\/\/:[^@]+@redis:6379/)
  t.ok(broker.volumes.includes(`./deploy/compose/principals.json:${config.PRINCIPALS_FILE}:ro`), 'PRINCIPALS_FILE is the mounted file')
  t.equal(broker.ports[0], `127.0.0.1:${config.PORT}:${config.PORT}`)
  t.match(broker.healthcheck.test.join(' '), `127.0.0.1:${config.PORT}/health/ready`)
  t.ok(getRoutes().has('/health/ready'))
})

t.test('the shell scripts parse', async (t) => {
  for (const script of ['deploy/compose/vault-init.sh']) {
    await t.resolves(run('sh', ['-n', join(ROOT, script)]), script)
  }
})

t.test('vault-init gives the broker what it is configured to use', async (t) => {
  const init = readRepoFile('deploy/compose/vault-init.sh')
  const env = broker.environment as Record<string, string>
  t.match(init, `KV_MOUNT=${env.VAULT_KV_MOUNT}\n`)
  t.match(init, `PATH_PREFIX=${env.VAULT_PATH_PREFIX}\n`)
  t.match(init, 'BROKER_UID=10001\n', 'files are owned by the image user')
  t.match(readRepoFile('Dockerfile'), 'USER 10001:10001')
  for (const file of ['role_id', 'secret_id', 'session_encryption_key']) t.match(init, `> "$CREDS_DIR/${file}"`, `writes ${file}`)
  t.match(services['vault-init'].volumes, ['./deploy/compose:/deploy:ro', 'vault-init-state:/vault-init', 'broker-credentials:/run/sf-broker'])
  t.ok(broker.volumes.includes('broker-credentials:/run/sf-broker:ro'))
  t.match(init, /^CREDS_DIR=\/run\/sf-broker$/m, 'the directory the *_FILE variables name')

  const policy = readRepoFile('deploy/compose/sf-broker-policy.hcl')
  for (const area of ['data', 'metadata']) {
    const path = `${env.VAULT_KV_MOUNT}/${area}/${env.VAULT_PATH_PREFIX}/*`
    t.match(policy, new RegExp(`path "${path.replace(/[/*]/g, '\\$&')}" \\{\\s*capabilities = \\["create", "read", "update", "delete", "list"\\]`), path)
  }
  t.notMatch(policy, /sudo|root/, 'nothing beyond its own prefix')
})

t.test('the documented demo keys authenticate the demo principals', async (t) => {
  const directory = parsePrincipals(readJson('deploy/compose/principals.json'))
  const service = verifyApiKey(directory, DEMO_SERVICE_KEY)
  t.equal(service?.kind, 'service')
  t.ok(service && isGranted(service, 'demo'), 'granted the seeded connection')
  t.equal(verifyApiKey(directory, DEMO_ADMIN_KEY)?.kind, 'admin')
  const readme = readRepoFile('deploy/compose/README.md')
  for (const key of [DEMO_SERVICE_KEY, DEMO_ADMIN_KEY]) {
    t.match(readme, key)
    t.match(readme, hashApiKey(key), 'README shows the hash that is in principals.json')
  }
  t.match(readRepoFile('docker-compose.yml'), DEMO_SERVICE_KEY, 'the compose file shows how to call it')
})

t.test('the seeded demo connection uses a flow that survives 2027 and logs in to the simulator org the stack starts', async (t) => {
  const env = simulator.environment as Record<string, string>
  const definition = fieldsToDefinition(readJson('deploy/compose/demo-connection.json'))
  // Salesforce retires soap and oauth_password logins; these two stay
  t.ok(['jwt_bearer', 'client_credentials'].includes(definition.flow), `flow ${definition.flow}`)
  const loginUrl = new URL(definition.loginUrl)
  t.equal(loginUrl.hostname, env.SIM_ADVERTISED_HOST, 'the login URL names the simulator service')
  t.equal(loginUrl.port, env.SIM_ORG_PORT_BASE, 'on the first org\'s My Domain port (client credentials are served only on My Domain)')
  const allowlist = (broker.environment.LOGIN_URL_ALLOWLIST as string).split(',')
  const policy = createLoginUrlPolicy({ extraAllowedOrigins: allowlist })
  t.ok(isLoginUrlAllowed(definition.loginUrl, policy), 'LOGIN_URL_ALLOWLIST admits the login host')
  t.ok(isLoginUrlAllowed(`http://${env.SIM_ADVERTISED_HOST}:${env.SIM_PORT}`, policy), 'and the simulator\'s login port')

  // The same org, on loopback: compose's host names do not resolve here. The org has the
  // retiring flows switched off, as they will be everywhere.
  const { orgs } = readJson('deploy/compose/sim.json')
  t.match(orgs[0].flows, { soap: false, oauthPassword: false })
  const sim = await startSimulator({ orgs })
  t.teardown(() => sim.close())
  const outcome = await login({ ...definition, loginUrl: sim.myDomainUrl(orgs[0].key) }, {
    timeoutMs: 5000,
    allowedLoginHosts: createLoginUrlPolicy({ extraAllowedOrigins: ['http://127.0.0.1:*'] }),
  })
  t.equal(outcome.ok, true, outcome.ok ? 'logged in' : outcome.failure.message)
})

t.test('no inline secret in the compose file beyond the documented demo ones', async (t) => {
  const found = findInlineSecrets(compose)
  t.same(found.filter(f => !DEMO_SECRETS.some(d => f.value.includes(d))), [])
  t.ok(found.length > 0, 'the scanner does see the demo Redis password')
  const readme = readRepoFile('deploy/compose/README.md')
  for (const secret of DEMO_SECRETS) t.match(readme, secret, `${secret} is documented as a demo value`)
})

t.test('the compose file states its minimum Compose version where the spec has no key for it', async (t) => {
  t.notOk('version' in compose, 'no top-level version: obsolete in the Compose Specification, ignored by Compose')
  t.equal(compose.name, 'sf-broker', 'the project name is fixed (the spec\'s top-level name)')
  const minimum = /Requires Docker Compose (v\d+\.\d+\.\d+) or later/.exec(readRepoFile('docker-compose.yml'))?.[1]
  t.equal(minimum, 'v2.7.0', 'the first release whose up --wait lets a one-shot service exit (vault-init)')
  t.match(readRepoFile('deploy/compose/README.md'), `Docker Compose ${minimum} or later`, 'the README says the same')
  t.ok(services['vault-init'].restart === 'no' && broker.depends_on['vault-init'].condition === 'service_completed_successfully', 'the one-shot service that needs it')
  for (const file of ['docker-compose.yml', 'deploy/compose/README.md', 'README.md']) {
    t.notMatch(readRepoFile(file), /\bdocker-compose (up|down|run)\b/, `${file} uses the v2 plugin's \`docker compose\``)
  }
})
