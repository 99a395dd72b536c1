/**
 * What sfb prints is read in a terminal: whatever the broker (or something between) answers,
 * no control character reaches the screen raw.
 */
import t from 'tap'
import { sfb } from './support.ts'

t.test('sfb never prints a terminal control character raw, whatever the broker answers', async (t) => {
  // a broker (or a man in the middle) whose answers carry escapes: clear screen, home, a fake
  // verdict, a window title, a C1 CSI and a bidi override
  const hostile = '\u001b[2J\u001b[Hresult: ok\u001b]0;owned\u0007\u009b31m\r\u202eko'
  const connection = { name: 'acme', flow: 'soap', loginUrl: 'https://login.salesforce.com', username: `ops${hostile}@acme.example`, apiVersion: '62.0', sessionTimeoutSeconds: 7200, auditSessions: true, version: 1, updatedAt: '2026-01-01T00:00:00.000Z', secretsSet: ['password'], circuit: { state: 'closed' } }
  const answers: Record<string, [number, unknown]> = {
    'GET /v1/admin/connections': [200, { connections: [connection] }],
    'GET /v1/admin/connections/acme': [200, connection],
    'GET /v1/admin/connections/acme/versions': [200, { versions: [{ version: 1, createdTime: '2026-01-01T00:00:00.000Z', current: true, destroyed: false }] }],
    'POST /v1/admin/connections/acme/validate': [200, { ok: false, classification: 'invalid_credentials', message: `Salesforce answered ${hostile}`, hint: hostile, latencyMs: 3, source: 'stored' }],
    'GET /health/salesforce': [503, { status: 'failing', connections: [{ connection: 'acme', status: 'failing', classification: 'unknown', consecutiveFailures: 1, message: hostile, hint: hostile }] }],
    'DELETE /v1/admin/connections/acme': [409, { type: 'urn:sf-broker:problem:conflict', title: `Conflict${hostile}`, status: 409, code: 'conflict', detail: hostile, hint: hostile }],
  }
  const { createServer } = await import('node:http')
  const server = createServer((req, res) => {
    const [status, body] = answers[`${req.method} ${(req.url ?? '').split('?')[0]}`] ?? [404, { type: 'urn:sf-broker:problem:not_found', title: 'No', status: 404, code: 'not_found', detail: 'no such route' }]
    res.writeHead(status, { 'content-type': status >= 400 ? 'application/problem+json' : 'application/json' })
    res.end(JSON.stringify(body))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const env = { SFB_URL: `http://127.0.0.1:${(server.address() as { port: number }).port}`, SFB_ADMIN_KEY: 'sfb.ops.key' }
  // eslint-disable-next-line no-control-regex
  const control = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/
  for (const args of [['connections', 'list'], ['connections', 'validate', 'acme'], ['health'], ['connections', 'delete', 'acme', '--yes']]) {
    for (const json of [false, true]) {
      const run = await sfb(json ? [...args, '--json'] : args, env)
      t.notMatch(run.stdout, control, `${args.join(' ')}${json ? ' --json' : ''}: stdout holds no raw control character`)
      t.notMatch(run.stderr, control, `${args.join(' ')}${json ? ' --json' : ''}: stderr neither`)
      if (!json) t.match(run.stdout + run.stderr, /\\u001b\[2J/, `${args.join(' ')}: the escape is shown, visibly`)
      if (json && run.stdout !== '') t.doesNotThrow(() => JSON.parse(run.stdout), 'still JSON')
    }
  }
  const listed = await sfb(['connections', 'list', '--json'], env)
  t.same(JSON.parse(listed.stdout), answers['GET /v1/admin/connections'][1], '--json is still exactly the answer')
})
