import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readFileSync } from 'node:fs'
import { Agent, createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { DEMO_CALLER_KEY } from '../scripts/demo.ts'
import { untilPrinted } from './support/child-output.ts'
import { demoAddresses } from './support/demo-banner.ts'
import { outsideTap } from './support/outside-tap.ts'

const SERVER = new URL('../src/server.ts', import.meta.url).pathname
/** `npm run demo`: a checkout-only entry, not part of the production build */
const DEMO = new URL('../scripts/demo.ts', import.meta.url).pathname

/** `hooks: false` runs the child outside tap's hooks (support/outside-tap.ts): a start that stops at its configuration, covered in-process */
function run (args: string[], env: Record<string, string>, { entry = SERVER, hooks = true } = {}) {
  const [command, argv] = hooks ? [process.execPath, [entry, ...args]] : outsideTap(process.execPath, [entry, ...args])
  const child = spawn(command, argv, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => { stdout += String(d) })
  child.stderr.on('data', (d) => { stderr += String(d) })
  return { child, out: () => stdout, err: () => stderr }
}

interface Answer { status: number, type: string | null, retryAfter: string | null, body: { code?: string } }

/** One request on `agent`; `sent` gets a promise that resolves once the request is written whole. */
function exchange (agent: Agent, url: string, method: string, headers: Record<string, string> = {}, sent?: Promise<void>[]): Promise<Answer> {
  return new Promise(resolve => {
    const req = request(url, { method, agent, headers })
    sent?.push(once(req, 'finish').then(() => undefined))
    req.on('response', res => {
      let text = ''
      res.setEncoding('utf8').on('data', (d: string) => { text += d })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'] ?? null, retryAfter: (res.headers['retry-after'] as string | undefined) ?? null, body: text.startsWith('{') ? JSON.parse(text) as { code?: string } : {} }))
    })
    req.on('error', (err: Error) => resolve({ status: 0, type: null, retryAfter: null, body: { code: `no answer: ${err.message}` } }))
    req.end()
  })
}

t.test('a bad variable stops the broker with one line naming it', async (t) => {
  const p = run([], { PORT: 'not-a-port', SECRET_STORE: 'file', FILE_STORE_KEY: Buffer.alloc(32).toString('base64'), PRINCIPALS_JSON: '{"principals":[]}', SHARED_STATE: 'memory' }, { hooks: false })
  const [code] = await once(p.child, 'close')
  t.equal(code, 78)
  t.equal(p.err().trim().split('\n').length, 1)
  t.match(p.err(), /^sf-broker: configuration error: invalid PORT: /)
  const missing = run([], {}, { hooks: false })
  const [code2] = await once(missing.child, 'close')
  t.equal(code2, 78)
  t.match(missing.err(), /missing VAULT_ADDR/)
  // JWKS_URL alone used to start a broker that accepted tokens minted for any audience
  const loose = run([], { SECRET_STORE: 'file', FILE_STORE_KEY: Buffer.alloc(32).toString('base64'), PRINCIPALS_JSON: '{"principals":[]}', SHARED_STATE: 'memory', JWKS_URL: 'https://kubernetes.default.svc/openid/v1/jwks' }, { hooks: false })
  const [code3] = await once(loose.child, 'close')
  t.equal(code3, 78)
  t.equal(loose.err().trim().split('\n').length, 1)
  t.match(loose.err(), /^sf-broker: configuration error: missing JWT_AUDIENCE: /)
})

t.test('a HOST the broker cannot listen on stops it with one line naming HOST (exit 78)', async (t) => {
  const env = { PORT: '0', SECRET_STORE: 'file', FILE_STORE_KEY: Buffer.alloc(32).toString('base64'), PRINCIPALS_JSON: '{"principals":[]}', SHARED_STATE: 'memory' }
  // a name that never resolves (RFC 6761 .invalid), an address of another machine (RFC 5737 TEST-NET-1), host:port in HOST
  for (const host of ['broker.invalid', '192.0.2.1', '0.0.0.0:3000']) {
    const p = run([], { ...env, HOST: host }, { hooks: false })
    const [code] = await once(p.child, 'close')
    t.equal(code, 78, `${host}: a configuration error`)
    t.match(p.err(), /^sf-broker: configuration error: invalid HOST: the broker cannot listen on it \([A-Z_]+\); use an address of this machine/m, host)
  }
})

t.test('a PORT another process holds stops the broker with one line naming PORT (exit 78), not a library error', async (t) => {
  const holder = createServer()
  await new Promise<void>(resolve => holder.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { holder.close() })
  const { port } = holder.address() as AddressInfo
  const p = run([], { PORT: String(port), HOST: '127.0.0.1', SECRET_STORE: 'file', FILE_STORE_KEY: Buffer.alloc(32).toString('base64'), PRINCIPALS_JSON: '{"principals":[]}', SHARED_STATE: 'memory' }, { hooks: false })
  const [code] = await once(p.child, 'close')
  t.equal(code, 78)
  t.equal(p.err().trim().split('\n').length, 1, p.err())
  t.match(p.err(), /^sf-broker: configuration error: invalid PORT: another process listens on it \(EADDRINUSE\); stop that process or set PORT to a free port/)
})

// root may listen below 1024: the broker runs without CAP_NET_BIND_SERVICE then, as the image's user does
const asRoot = process.getuid?.() === 0
const privilegedBelow = existsSync('/proc/sys/net/ipv4/ip_unprivileged_port_start') ? Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8')) : 0
const cannotDropPrivilege = privilegedBelow <= 1023 ? 'this machine lets any process listen below 1024' : asRoot && !existsSync('/usr/bin/setpriv') ? 'no setpriv to run without CAP_NET_BIND_SERVICE' : false

t.test('a PORT below 1024 without the right to it stops the broker with one line naming PORT (exit 78)', { skip: cannotDropPrivilege }, async (t) => {
  const env = { PORT: '1023', HOST: '127.0.0.1', SECRET_STORE: 'file', FILE_STORE_KEY: Buffer.alloc(32).toString('base64'), PRINCIPALS_JSON: '{"principals":[]}', SHARED_STATE: 'memory' }
  const [command, argv] = outsideTap(process.execPath, [SERVER])
  const [runAs, args] = asRoot ? ['/usr/bin/setpriv', ['--bounding-set', '-net_bind_service', '--inh-caps', '-net_bind_service', command, ...argv]] : [command, argv]
  const child = spawn(runAs, args, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const [code] = await once(child, 'close')
  t.equal(code, 78, stderr)
  t.match(stderr, /^sf-broker: configuration error: invalid PORT: this process may not listen on it \(EACCES\): ports below 1024 need root or CAP_NET_BIND_SERVICE/)
})

t.test('the production entry has no demo: --demo names the checkout command instead of starting', async (t) => {
  const p = run(['--demo'], {})
  const [code] = await once(p.child, 'close')
  t.equal(code, 64)
  t.equal(p.err().trim().split('\n').length, 1)
  t.match(p.err(), /npm run demo/)
  t.equal(p.out(), '')
})

t.test('demo mode serves a session; SIGTERM lets in-flight requests finish', async (t) => {
  const p = run([], { PORT: '0', LOG_LEVEL: 'warn' }, { entry: DEMO })
  t.teardown(() => { p.child.kill('SIGKILL') })
  const { base, sim: simUrl } = demoAddresses(await untilPrinted(p.child, /Health: http:/))
  t.match(p.out(), /curl -s -X POST/)
  t.ok(simUrl)
  // make Salesforce slow, so the first (cold) session request is still in flight when SIGTERM arrives
  await fetch(`${simUrl}/_sim/latency`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"ms":1500}' })
  const inFlight = fetch(`${base}/v1/connections/demo/session`, { method: 'POST', headers: { authorization: `Bearer ${DEMO_CALLER_KEY}` } })
  await new Promise(resolve => setTimeout(resolve, 300))
  p.child.kill('SIGTERM')
  const res = await inFlight
  t.equal(res.status, 200, 'the request in flight completed')
  t.match(((await res.json()) as { accessToken: string }).accessToken, /^00D/)
  const [code] = await once(p.child, 'close')
  t.equal(code, 0, 'clean exit')
  await t.rejects(fetch(`${base}/health/live`), 'no longer listening')
})

t.test('SIGTERM while Salesforce hangs: every request waiting for a login is answered 503 with Retry-After, then a clean exit', async (t) => {
  // a 5 s shutdown budget; logins could take 10 s × 3 and waits 20 s
  const p = run([], { PORT: '0', LOG_LEVEL: 'warn', SCHEDULER_ENABLED: 'false', SHUTDOWN_TIMEOUT_MS: '5000', LOGIN_TIMEOUT_MS: '10000', LOGIN_WAIT_TIMEOUT_MS: '20000' }, { entry: DEMO })
  t.teardown(() => { p.child.kill('SIGKILL') })
  const { base, sim: simUrl } = demoAddresses(await untilPrinted(p.child, /Health: http:/))
  t.ok(simUrl)
  // Salesforce hangs: logins answer after a minute
  await fetch(`${simUrl}/_sim/latency`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"ms":60000}' })
  // 30 connections the broker has accepted (each answered once), so that SIGTERM finds every session
  // request on a connection it knows, however slowly a loaded machine lets the requests start
  const agent = new Agent({ keepAlive: true, maxSockets: 30 })
  t.teardown(() => agent.destroy())
  await Promise.all(Array.from({ length: 30 }, () => exchange(agent, `${base}/health/live`, 'GET')))
  t.equal(Object.values(agent.freeSockets).flat().length, 30, '30 connections open')
  const sent: Promise<void>[] = []
  const answers = Array.from({ length: 30 }, () => exchange(agent, `${base}/v1/connections/demo/session`, 'POST', { authorization: `Bearer ${DEMO_CALLER_KEY}` }, sent))
  await Promise.all(sent)
  await new Promise(resolve => setTimeout(resolve, 500))
  const signalled = Date.now()
  p.child.kill('SIGTERM')
  const [code] = await once(p.child, 'close')
  const settled = await Promise.all(answers)
  t.same([...new Set(settled.map(a => a.status))], [503], 'every accepted request got an HTTP answer')
  t.same([...new Set(settled.map(a => a.body.code))], ['shutting_down'])
  t.ok(settled.every(a => a.type?.startsWith('application/problem+json') && Number(a.retryAfter) >= 1), 'problem+json with Retry-After')
  t.equal(code, 0, 'clean exit')
  const stopped = Date.now() - signalled
  t.ok(stopped < 6_000, `within the shutdown budget (${stopped} ms)`)
  const line = p.out().split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l) as Record<string, unknown>).find(r => typeof r.cutShort === 'number')
  t.equal(line?.cutShort, 30, `a log line counts the requests cut short (${p.out().slice(-600)})`)
})
