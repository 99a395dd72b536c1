import { execFileSync, spawn } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { DEMO_ADMIN_KEY, DEMO_CALLER_KEY, DEMO_USER } from '../../scripts/demo.ts'
import { outsideTap } from '../support/outside-tap.ts'
import { ROOT, configDefault, dockerEnv, dockerStages, getRoutes, readRepoFile } from './repo.ts'

const stages = dockerStages(readRepoFile('Dockerfile'))
const runtime = stages[stages.length - 1]
const runtimeArgs = (keyword: string): string[] => runtime.instructions.filter(i => i.keyword === keyword).map(i => i.args)

t.test('the image is built in stages: deps, build, runtime', async (t) => {
  t.same(stages.map(s => s.name), ['deps', 'build', 'runtime'])
  const build = stages.find(s => s.name === 'build')
  t.ok(build?.instructions.some(i => i.keyword === 'RUN' && /\bnpm run build\b/.test(i.args)), 'build stage runs npm run build')
  t.ok(stages[0].instructions.some(i => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args)), 'deps stage installs from the lockfile')
})

t.test('the runtime stage holds production dependencies, dist/ and the built client package only', async (t) => {
  const installs = runtimeArgs('RUN').filter(args => /\bnpm (ci|install)\b/.test(args))
  t.equal(installs.length, 1)
  t.match(installs[0], /\bnpm ci\b.*--omit=dev/)
  const copies = runtimeArgs('COPY')
  const sources = copies.flatMap(args => args.split(/\s+/).filter(word => !word.startsWith('--')).slice(0, -1))
  t.notOk(sources.some(path => /node_modules/.test(path)), 'no node_modules copied from a stage that had devDependencies')
  t.ok(copies.some(args => /--from=build\s+\/app\/dist\s+\.\/dist/.test(args)), 'dist/ comes from the build stage')
  t.ok(copies.some(args => /package\.json/.test(args)), 'package.json ("type": "module") is in the image')
  // sfb imports @sf-broker/client by name: the package's manifest and its build, where node looks for it
  t.ok(copies.some(args => /^--from=build\s+\/app\/packages\/client\/package\.json\s+\.\/node_modules\/@sf-broker\/client\/$/.test(args)), 'the client\'s package.json')
  t.ok(copies.some(args => /^--from=build\s+\/app\/packages\/client\/dist\s+\.\/node_modules\/@sf-broker\/client\/dist$/.test(args)), 'the client\'s build')
})

/**
 * The repository files in the program of `tsc -p tsconfig.build.json` (what `npm run build` compiles
 * into dist/), node_modules aside: tsc's own list (--listFilesOnly resolves every import, checks no type).
 */
function buildProgramFiles (): string[] {
  const [command, args] = outsideTap(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', join(ROOT, 'tsconfig.build.json'), '--listFilesOnly'])
  return execFileSync(command, args, { encoding: 'utf8' }).split('\n')
    // a checkout sharing another's node_modules (a git worktree) sees its workspace packages at their real path, outside ROOT
    .filter(f => f.startsWith(ROOT) && !f.includes('/node_modules/')).map(f => f.slice(ROOT.length))
}

t.test('dist/ holds neither the simulator nor the demo and its fixed keys', async (t) => {
  const files = buildProgramFiles()
  t.ok(files.includes('src/server.ts'), 'the build compiles the broker')
  // sfb's import of the client package is checked against its declarations (built first by npm run build), not compiled in
  t.same(files.filter(f => !f.startsWith('src/') && !/^packages\/client\/dist\/[\w-]+\.d\.ts$/.test(f)), [], 'nothing else from packages/ (the simulator) or scripts/ (the demo) is in the build')
  t.same(files.filter(f => /simulator|demo/i.test(f)), [], 'no simulator or demo module')
  const secrets = [DEMO_CALLER_KEY, DEMO_ADMIN_KEY, DEMO_USER.password, DEMO_USER.securityToken]
  t.same(files.filter(f => secrets.some(secret => readRepoFile(f).includes(secret))), [], 'no source carries a demo key')
  const build = stages.find(s => s.name === 'build')
  const copied = build!.instructions.filter(i => i.keyword === 'COPY').flatMap(i => i.args.split(/\s+/).slice(0, -1))
  t.notOk(copied.some(path => /^(packages\/(?!client\/)|scripts\b)/.test(path)), 'the build stage copies neither the simulator package nor the demo')
})

t.test('the runtime stage runs as a non-root user', async (t) => {
  const users = runtimeArgs('USER')
  t.ok(users.length > 0, 'USER is set')
  const user = users[users.length - 1].split(':')[0]
  t.notOk(['root', '0'].includes(user))
  t.match(user, /^\d+$/, 'numeric, so Kubernetes runAsNonRoot can verify it')
  t.not(Number(user), 0)
})

t.test('runtime settings match the service', async (t) => {
  t.same(runtimeArgs('WORKDIR'), ['/app'])
  t.same(runtimeArgs('EXPOSE'), [String(configDefault('PORT'))], 'EXPOSE is the PORT default of src/config.ts')
  t.same(runtimeArgs('STOPSIGNAL'), ['SIGTERM'])
  t.equal(dockerEnv(runtime.instructions).NODE_ENV, 'production')
  const cmd = JSON.parse(runtimeArgs('CMD')[0]) as string[]
  t.equal(cmd[0], 'node')
  t.equal(cmd[cmd.length - 1], 'dist/server.js', 'the compiled src/server.ts')
  const build = JSON.parse(readRepoFile('tsconfig.build.json')).compilerOptions
  t.same([build.rootDir, build.outDir], ['src', 'dist'], 'tsc compiles src/server.ts to dist/server.js')
  t.ok(existsSync(join(ROOT, 'src/server.ts')))
  t.same(JSON.parse(runtimeArgs('ENTRYPOINT')[0]), ['/usr/bin/tini', '--'], 'tini is PID 1 and forwards signals')
})

const healthcheckArgs = runtimeArgs('HEALTHCHECK')[0]
const healthcheck = JSON.parse(healthcheckArgs.slice(healthcheckArgs.indexOf('CMD') + 3).trim()) as string[]

/** Runs the image's HEALTHCHECK command with this machine's node; resolves to its exit code. */
function runHealthcheck (port: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(...outsideTap(process.execPath, ['-e', healthcheck[2]]), { env: { ...process.env, PORT: String(port) }, stdio: 'ignore' })
    child.on('error', reject)
    child.on('exit', code => resolve(code))
  })
}

async function listen (t: Test, status: number): Promise<{ port: number, paths: string[] }> {
  const paths: string[] = []
  const server: Server = createServer((req, res) => {
    paths.push(req.url as string)
    res.statusCode = status
    res.end('{}')
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => server.close(() => resolve())))
  return { port: (server.address() as AddressInfo).port, paths }
}

t.test('HEALTHCHECK asks /health/live, a real route, and fails when it is not 2xx', async (t) => {
  t.same(healthcheck.slice(0, 2), ['node', '-e'], 'node\'s fetch: the image needs no curl')
  t.ok(getRoutes().has('/health/live'), 'src/routes declares GET /health/live')
  t.match(healthcheck[2], /'\/health\/live'/)

  const healthy = await listen(t, 200)
  t.equal(await runHealthcheck(healthy.port), 0)
  t.same(healthy.paths, ['/health/live'])

  const failing = await listen(t, 503)
  t.equal(await runHealthcheck(failing.port), 1)

  t.equal(await runHealthcheck(1), 1, 'nothing listening: unhealthy, not a hang')
})

t.test('.dockerignore lets in exactly what the Dockerfile copies from the context', async (t) => {
  const rules = readRepoFile('.dockerignore').split('\n').map(l => l.trim()).filter(l => l !== '' && !l.startsWith('#'))
  t.equal(rules[0], '*', 'allow-list: everything else (node_modules, .env, data/, .git) stays out')
  const allowed = rules.slice(1).map(r => r.replace(/^!/, '').replace(/\/$/, ''))
  const copied = stages.flatMap(s => s.instructions)
    .filter(i => i.keyword === 'COPY' && !i.args.startsWith('--from'))
    .flatMap(i => i.args.split(/\s+/).slice(0, -1))
  t.same([...new Set(copied)].sort(), allowed.sort())
})

/** KEY="value" pairs of every LABEL in the runtime stage. */
function runtimeLabels (): Record<string, string> {
  const labels: Record<string, string> = {}
  for (const args of runtimeArgs('LABEL')) {
    for (const match of args.matchAll(/([\w.-]+)="([^"]*)"/g)) labels[match[1]] = match[2]
  }
  return labels
}

/** Default of an ARG as the runtime stage declares it (undefined: not declared there). */
function runtimeArgDefault (name: string): string | undefined {
  const declared = runtimeArgs('ARG').find(args => args.split('=')[0] === name)
  if (declared === undefined) return undefined
  return declared.includes('=') ? declared.slice(declared.indexOf('=') + 1).replace(/^"|"$/g, '') : ''
}

/** How a Dockerfile refers to a build argument: ${NAME}. */
const buildArg = (name: string): string => '$' + `{${name}}`

t.test('the image carries the OCI annotations, filled from the repository and the build', async (t) => {
  const pkg = JSON.parse(readRepoFile('package.json'))
  const labels = runtimeLabels()
  t.match(labels, {
    'org.opencontainers.image.title': pkg.name,
    'org.opencontainers.image.description': pkg.description,
    'org.opencontainers.image.licenses': pkg.license,
    'org.opencontainers.image.source': readRepoFile('helm/sf-broker/Chart.yaml').match(/^home: (\S+)$/m)?.[1],
    'org.opencontainers.image.version': buildArg('VERSION'),
    'org.opencontainers.image.revision': buildArg('REVISION'),
    'org.opencontainers.image.created': buildArg('CREATED'),
    'org.opencontainers.image.base.name': buildArg('NODE_IMAGE'),
  })
  t.equal(runtimeArgDefault('VERSION'), pkg.version, 'VERSION defaults to the package version')
  t.equal(runtimeArgDefault('NODE_IMAGE'), '', 'NODE_IMAGE is re-declared in the stage, else the label would be empty')
  for (const arg of ['REVISION', 'CREATED']) t.match(readRepoFile('Dockerfile'), `--build-arg ${arg}=`, `the build command shows how to set ${arg}`)
})

t.test('every stage builds on the one NODE_IMAGE, Node 22 as the node devDependency, a tag or a checked digest', async (t) => {
  const source = readRepoFile('Dockerfile')
  const image = /^ARG NODE_IMAGE=(\S+)$/m.exec(source)?.[1] as string
  t.match(image, /^node:22-bookworm-slim(@sha256:[a-f0-9]{64})?$/)
  const nodeMajor = /(\d+)/.exec(JSON.parse(readRepoFile('package.json')).devDependencies.node)?.[1]
  t.equal(/^node:(\d+)/.exec(image)?.[1], nodeMajor, 'the Node major the tests run on')
  const names = stages.map(s => s.name)
  for (const stage of stages) t.ok(stage.from === buildArg('NODE_IMAGE') || names.includes(stage.from), `${stage.name} FROM ${stage.from}`)
  t.match(source, /docker buildx imagetools inspect/, 'how a release finds the digest to pin')
})

t.test('jsforce is the client SDK\'s, not a production dependency of the server', async (t) => {
  const pkg = JSON.parse(readRepoFile('package.json'))
  t.notOk('jsforce' in pkg.dependencies, 'not in dependencies')
  t.ok('jsforce' in pkg.devDependencies, 'the root tests drive the SDK with it')
  t.same(pkg.workspaces, ['packages/*'], 'the SDK is a workspace package')
  const client = JSON.parse(readRepoFile('packages/client/package.json'))
  t.ok('jsforce' in client.dependencies, 'jsforce is the SDK\'s own dependency')
  const sources = readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' }).filter(file => file.endsWith('.ts'))
  t.same(sources.filter(file => /from 'jsforce'|import\('jsforce'\)/.test(readRepoFile(join('src', file)))), [], 'nothing in src/ imports jsforce')
  t.same(sources.filter(file => !file.startsWith('cli/') && /@sf-broker\/client/.test(readRepoFile(join('src', file)))), [], 'the server does not import the SDK (sfb does, for its admin calls)')
  // the image holds the client package without jsforce: its main module must not load jsforce until a Connection is asked for
  const clientSources = readdirSync(join(ROOT, 'packages/client/src')).filter(file => file.endsWith('.ts'))
  t.same(clientSources.filter(file => /^import \{[^}]*\} from 'jsforce'/m.test(readRepoFile(join('packages/client/src', file)))), [], 'the client imports jsforce\'s types only, and loads it with import() when needed')

  // A workspace's dependencies are production ones in the lockfile, so the runtime stage drops the
  // workspaces before `npm ci --omit=dev`: what it installs is then what the root's own
  // dependencies reach, which is computed here from the lockfile the way npm resolves it.
  const install = runtimeArgs('RUN').find(args => /\bnpm ci\b/.test(args)) ?? ''
  t.match(install, /npm pkg delete workspaces\s*&&\s*npm ci\b/, 'the runtime stage installs without the workspaces')
  const lock = JSON.parse(readRepoFile('package-lock.json')).packages as Record<string, { dependencies?: Record<string, string>, optionalDependencies?: Record<string, string>, hasInstallScript?: boolean, link?: boolean }>
  const reached = new Set<string>()
  const visit = (from: string, name: string): void => {
    // node_modules resolution: the nearest node_modules up from the requiring package
    for (let dir = from; ; dir = dir.includes('/node_modules/') ? dir.slice(0, dir.lastIndexOf('/node_modules/')) : '') {
      const path = `${dir === '' ? '' : dir + '/'}node_modules/${name}`
      if (lock[path]) {
        if (reached.has(path)) return
        reached.add(path)
        for (const dep of Object.keys({ ...lock[path].dependencies, ...lock[path].optionalDependencies })) visit(path, dep)
        return
      }
      if (dir === '') return
    }
  }
  for (const dep of Object.keys(pkg.dependencies)) visit('', dep)
  t.ok(reached.size > 50, `${reached.size} production packages`)
  t.same([...reached].filter(path => /(^|\/)node_modules\/(jsforce|core-js|@sf-broker\/client)$/.test(path)), [], 'jsforce\'s tree stays out of the image')
  t.same([...reached].filter(path => lock[path].hasInstallScript === true), [], 'no production dependency needs an install script (the image runs npm ci --ignore-scripts)')
})
