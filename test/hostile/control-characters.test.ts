/**
 * Text from upstream (a login host's error, a SOAP fault, Salesforce's code) and fields an admin
 * stored reach answers that people read in a terminal (sfb prints them). Terminal control
 * sequences in them — ESC, BEL, OSC titles, CSI screen clears, 8-bit C1 controls, bidi overrides —
 * are removed before they reach any answer, and stored fields cannot hold them in the first place.
 */
import { createServer } from 'node:http'
import t from 'tap'
import { acmeDefinition, bearer, buildTestApp, startSim, tempFileStore } from '../helper.ts'
import { testPrincipals } from '../support/principals.ts'

/** What a terminal acts on instead of printing: C0 (but tab and line feed), DEL, C1, bidi overrides. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/

const HOSTILE = '\u001b[2J\u001b[H\u001b]0;owned\u0007\u001b]8;;https://evil.example\u001b\\link\u001b]8;;\u001b\\\u009b31mresult: ok\u0007\r\u202eko\u0000'

/** Every string in a parsed answer that holds a control character, with where it is. */
function controlStrings (value: unknown, path = '$'): string[] {
  if (typeof value === 'string') return CONTROL.test(value) ? [`${path}: ${JSON.stringify(value)}`] : []
  if (Array.isArray(value)) return value.flatMap((v, i) => controlStrings(v, `${path}[${i}]`))
  if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => controlStrings(v, `${path}.${k}`))
  return []
}

t.test('a login host answering with terminal escapes gets none of them into an answer', async t => {
  const host = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      if ((req.url ?? '').startsWith('/services/Soap')) {
        res.writeHead(500, { 'content-type': 'text/xml' })
        res.end(`<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><soapenv:Fault><faultcode>sf:INVALID_LOGIN${HOSTILE}</faultcode><faultstring>INVALID_LOGIN: ${HOSTILE.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>`)
        return
      }
      res.writeHead(400, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: `invalid_grant${HOSTILE}`, error_description: `authentication failure ${HOSTILE}` }))
    })
  })
  await new Promise<void>(resolve => host.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { host.closeAllConnections(); host.close() })
  const loginUrl = `http://127.0.0.1:${(host.address() as { port: number }).port}`
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  const principals = testPrincipals(['*'])
  const { app } = await buildTestApp(t, { secretStore: store, principals })
  const admin = bearer(principals.adminKey)
  for (const flow of ['soap', 'oauth_password', 'client_credentials'] as const) {
    const definition = { ...acmeDefinition(sim, flow), loginUrl, ...(flow === 'client_credentials' ? {} : { username: `user-${flow}@acme.example` }) }
    await store.write(`stored-${flow.replace('_', '-')}`, definition, 0)
    const answers: Array<[string, { statusCode: number, body: string }]> = [
      ['admin PUT', await app.inject({ method: 'PUT', url: `/v1/admin/connections/new-${flow.replace('_', '-')}`, headers: admin, payload: definition })],
      ['service session', await app.inject({ method: 'POST', url: `/v1/connections/stored-${flow.replace('_', '-')}/session`, headers: bearer(principals.billingKey) })],
      ['admin validate', await app.inject({ method: 'POST', url: `/v1/admin/connections/stored-${flow.replace('_', '-')}/validate`, headers: admin, payload: {} })],
      ['forced check', await app.inject({ method: 'POST', url: `/health/salesforce/stored-${flow.replace('_', '-')}/check`, headers: admin })],
      ['public health', await app.inject({ method: 'GET', url: '/health/salesforce' })],
      ['admin health', await app.inject({ method: 'GET', url: '/health/salesforce', headers: admin })],
      ['audit', await app.inject({ method: 'GET', url: '/v1/admin/audit', headers: admin })],
    ]
    for (const [what, answer] of answers) {
      t.ok(answer.statusCode >= 200 && answer.statusCode < 600, `${flow}: ${what} answered ${answer.statusCode}`)
      t.same(controlStrings(JSON.parse(answer.body)), [], `${flow}: no control character in the ${what} answer`)
    }
    t.match(answers[0][1].body, /authentication failure|INVALID_LOGIN/, `${flow}: the host's words still arrive (${answers[0][1].body.slice(0, 300)})`)
  }
})

t.test('stored fields cannot hold control characters, and those stored before are not shown raw', async t => {
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  const principals = testPrincipals(['*'])
  const { app } = await buildTestApp(t, { secretStore: store, principals })
  const admin = bearer(principals.adminKey)
  const base = acmeDefinition(sim, 'soap')
  for (const [field, value] of [['username', 'ops\u001b[2J@acme.example'], ['username', 'ops\u009b2J@acme.example'], ['clientId', 'cid\u0007'], ['loginUrl', `${sim.loginUrl}\u001b]0;x\u0007`]] as const) {
    const put = await app.inject({ method: 'PUT', url: '/v1/admin/connections/fresh', headers: admin, payload: { ...base, [field]: value } })
    t.equal(put.statusCode, 400, `PUT refuses ${field} with a control character`)
    t.same(controlStrings(put.json()), [], 'and does not echo it')
  }
  const patch = await app.inject({ method: 'PATCH', url: '/v1/admin/connections/fresh/credentials', headers: admin, payload: { username: 'a\u001b[Hb' } })
  t.equal(patch.statusCode, 400, 'PATCH refuses it too')
  await store.write('legacy', { ...base, username: 'ops\u001b[2J\u001b[Hresult: ok@acme.example', clientId: 'cid\u0007' }, 0)
  const shown = await app.inject({ method: 'GET', url: '/v1/admin/connections/legacy', headers: admin })
  t.equal(shown.statusCode, 200)
  t.same(controlStrings(shown.json()), [], 'a field stored before is shown without its control characters')
  t.match(shown.json().username, /^ops.*result: ok@acme\.example$/)
})
