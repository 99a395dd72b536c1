/** `sfb health` in a terminal: a paragraph-long hint does not become a 700-character table cell. */
import { createServer } from 'node:http'
import t from 'tap'
import { GUARD_HINT } from '../../src/sessions/login-refusal.ts'
import { startBroker } from '../support/broker.ts'
import { api, sfb } from './support.ts'

t.test('sfb health: the table shows the hint\'s first sentence; the whole hint follows, wrapped', async (t) => {
  t.ok(GUARD_HINT.length > 400, 'the broker\'s own long hint (the failure guard\'s)')
  const report = {
    status: 'failing',
    connections: [
      { connection: 'acme', status: 'failing', classification: 'invalid_credentials', consecutiveFailures: 2, hint: GUARD_HINT, circuit: { state: 'open' } },
      { connection: 'billing', status: 'ok', classification: 'ok', consecutiveFailures: 0, circuit: { state: 'closed' } },
    ],
  }
  const server = createServer((req, res) => {
    res.writeHead(503, { 'content-type': 'application/json' })
    res.end(JSON.stringify(report))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const env = { SFB_URL: `http://127.0.0.1:${(server.address() as { port: number }).port}`, SFB_ADMIN_KEY: 'sfb.ops.key' }

  const run = await sfb(['health'], env)
  t.equal(run.code, 1, 'a failing connection: exit 1')
  const lines = run.stdout.split('\n')
  const longest = Math.max(...lines.map(l => l.length))
  t.ok(longest <= 140, `no line wider than a terminal (longest ${longest})`)
  const row = lines.find(l => l.startsWith('acme'))!
  const cell = row.slice(row.indexOf("Salesforce's"))
  t.ok(cell.length <= 60 && cell.endsWith('…'), `the table cell is the first sentence, cut short: ${cell}`)
  t.ok(row.length < 160)
  t.match(run.stdout, /\nhint for acme:\n {2}\S/)
  t.equal(run.stdout.slice(run.stdout.indexOf('hint for acme:') + 'hint for acme:'.length).split(/\s+/).join(' ').trim(), GUARD_HINT.split(/\s+/).join(' '), 'the whole hint, word for word')
  t.notMatch(run.stdout, 'hint for billing', 'no hint, no block')
  t.same(JSON.parse((await sfb(['health', '--json'], env)).stdout), report, '--json is still the answer as it came')
})

t.test('sfb health: a 503 that is a problem, not the report, is the broker unavailable (69), with its reason', async (t) => {
  const problem = { type: 'urn:sf-broker:problem:secret_store_unavailable', title: 'Secret store unavailable', status: 503, code: 'secret_store_unavailable', detail: 'the secret store did not answer' }
  const server = createServer((req, res) => {
    res.writeHead(503, { 'content-type': 'application/problem+json', 'retry-after': '5' })
    res.end(JSON.stringify(problem))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const env = { SFB_URL: `http://127.0.0.1:${(server.address() as { port: number }).port}`, SFB_ADMIN_KEY: 'sfb.ops.key' }
  const run = await sfb(['health'], env)
  t.equal(run.code, 69, run.stderr)
  t.equal(run.stderr, 'sfb: Secret store unavailable: the secret store did not answer\nhint: retry after 5 s\n')
  const json = await sfb(['health', '--json'], env)
  t.same(JSON.parse(json.stdout), problem, '--json: the problem document')
})

t.test('sfb health <connection> and sfb check: that connection\'s fields, one per line, and exit 1 while it fails', async (t) => {
  const acme = { connection: 'acme', status: 'failing', classification: 'invalid_credentials', message: 'Salesforce refused the login', consecutiveFailures: 2, lastCheckedAt: '2026-12-05T10:00:00.000Z', circuit: { state: 'open' } }
  const asked: string[] = []
  const server = createServer((req, res) => {
    asked.push(`${req.method as string} ${req.url as string}`)
    // the report answers 503 while a connection fails; a check answers its result with 200
    const check = req.method === 'POST'
    res.writeHead(check ? 200 : 503, { 'content-type': 'application/json' })
    res.end(JSON.stringify(check ? acme : { status: 'failing', connections: [acme] }))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const env = { SFB_URL: `http://127.0.0.1:${(server.address() as { port: number }).port}`, SFB_ADMIN_KEY: 'sfb.ops.key' }
  const run = await sfb(['health', 'acme'], env)
  const checked = await sfb(['check', 'acme'], env)
  t.same(asked, ['GET /health/salesforce?connection=acme', 'POST /health/salesforce/acme/check'], 'the one connection asked for')
  t.equal(run.code, 1, run.stderr)
  t.equal(checked.code, 1, checked.stderr)
  t.equal(checked.stdout, run.stdout, 'a check prints the same block')
  t.equal(run.stdout, [
    'connection:           acme',
    'status:               failing',
    'classification:       invalid_credentials',
    'message:              Salesforce refused the login',
    'lastCheckedAt:        2026-12-05T10:00:00.000Z',
    'consecutiveFailures:  2',
    'circuit:              open',
    '',
  ].join('\n'), 'fields it does not have are left out')
})

t.test('sfb check --reset-acknowledged: the acknowledgement taken is done (exit 0), though the connection still fails until the new secret is stored', async (t) => {
  const broker = await startBroker(t, { acme: { flow: 'soap', password: 'stale-password' } })
  const env = { SFB_URL: broker.baseUrl, SFB_ADMIN_KEY: broker.principals.adminKey }
  // a caller's login is refused: the circuit opens, the connection is failing
  const refused = await fetch(`${broker.baseUrl}/v1/connections/acme/session`, { method: 'POST', headers: { authorization: `Bearer ${broker.principals.billingKey}` } })
  t.equal(refused.status, 503)
  t.equal((await sfb(['health', 'acme'], env)).code, 1, 'failing')
  const attempts = broker.sim.stats('acme').attempts

  // README runbook: unlock in Setup, tell the broker, then rotate: `sfb check NAME --reset-acknowledged && sfb connections rotate …`
  const ack = await sfb(['check', 'acme', '--reset-acknowledged'], env)
  t.equal(ack.code, 0, 'the broker took the acknowledgement: the runbook goes on to the rotation')
  t.match(ack.stdout, /acknowledged/)
  t.equal(broker.sim.stats('acme').attempts, attempts, 'nothing was sent to Salesforce')
  const audit = await api(broker.baseUrl, broker.principals.adminKey, 'GET', '/v1/admin/audit?action=guard.reset')
  t.equal((audit.json as { events: unknown[] }).events.length, 1, 'audited as guard.reset')
})
