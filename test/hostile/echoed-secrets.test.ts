/**
 * A login host that echoes what it received (a debugging proxy, a hostile allow-listed host) must
 * not get a stored secret into any surface the broker has: admin answers, a service's 503 detail,
 * /health/salesforce (public and admin), /metrics and the log lines. Property-based: random
 * secrets full of the characters encodings treat specially, echoed back in every encoding.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import fc from 'fast-check'
import t from 'tap'
import type { ConnectionDefinition, Flow } from '../../src/salesforce/types.ts'
import { bearer, buildTestApp, tempFileStore } from '../helper.ts'
import { captureLogs } from '../support/log-capture.ts'
import { testPrincipals } from '../support/principals.ts'

const MODES = ['body', 'raw', 'json', 'uri', 'xml', 'base64', 'base64url', 'uriTwice', 'slashRaw', 'cutShort'] as const
type Mode = typeof MODES[number]

interface Echo { url: string, mode: Mode, lead: string, pieces: string[] }

/** What the echo host embeds: the request body itself, or each secret-bearing value re-encoded. */
function echoText (echo: Echo, body: string, path: string): string {
  if (echo.mode === 'body') return `received ${body}`
  const values = path.startsWith('/services/Soap')
    ? [unescapeXml(/<n1:password>([\s\S]*?)<\/n1:password>/.exec(body)?.[1] ?? '')]
    : [...new URLSearchParams(body).entries()].filter(([k]) => k === 'password' || k === 'client_secret').map(([, v]) => v)
  return values.map(v => {
    const piece = encode(echo.mode, v, echo.lead)
    echo.pieces.push(piece)
    return `${echo.mode}=${piece}`
  }).join(' ')
}

function encode (mode: Mode, v: string, lead: string): string {
  switch (mode) {
    case 'json': return JSON.stringify(v)
    case 'uri': return encodeURIComponent(v)
    case 'xml': return v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;')
    case 'base64': return Buffer.from(lead + v).toString('base64')
    case 'base64url': return Buffer.from(lead + v).toString('base64url')
    case 'uriTwice': return encodeURIComponent(encodeURIComponent(v))
    case 'slashRaw': return encodeURIComponent(v).replace(/%2F/g, '/')
    case 'cutShort': return `${[...v].slice(0, Math.max(8, Math.ceil([...v].length * 2 / 3))).join('')} (truncated)`
    default: return v
  }
}

function unescapeXml (s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, '\'').replace(/&amp;/g, '&')
}

async function startEcho (t: { teardown (fn: () => unknown): void }): Promise<Echo> {
  const echo: Echo = { url: '', mode: 'body', lead: '', pieces: [] }
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', c => { body += c })
    req.on('end', () => {
      const text = echoText(echo, body, req.url ?? '')
      if ((req.url ?? '').startsWith('/services/Soap')) {
        res.writeHead(500, { 'content-type': 'text/xml' })
        const escaped = text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
        res.end(`<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><soapenv:Fault><faultcode>sf:INVALID_LOGIN</faultcode><faultstring>INVALID_LOGIN: ${escaped}</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>`)
        return
      }
      res.writeHead(400, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: 'invalid_grant', error_description: `authentication failure: ${text}` }))
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  echo.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  return echo
}

/** The ways a secret can be recognised in an answer, a metric or a log line (all are JSON or text). */
function leakForms (secret: string): string[] {
  const forms = [
    secret,
    JSON.stringify(secret).slice(1, -1),
    encodeURIComponent(secret),
    new URLSearchParams({ s: secret }).toString().slice(2),
    encode('xml', secret, ''),
    Buffer.from(secret).toString('base64').replace(/=+$/, ''),
    Buffer.from(secret).toString('base64url'),
  ]
  return [...new Set(forms)]
}

const SPECIAL = [...'&+%<>"\'=/ ', 'é', 'ß', '漢', '😀', '\\']
const ALNUM = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789']
const secretArb = fc.array(fc.oneof(fc.constantFrom(...SPECIAL), fc.constantFrom(...ALNUM)), { minLength: 8, maxLength: 24 }).map(a => a.join(''))
  .filter(s => /[A-Za-z0-9]/.test(s) && s.trim() === s)

t.test('an echoing login host gets no secret into any surface, in any encoding', async (t) => {
  const echo = await startEcho(t)
  const store = await tempFileStore(t)
  const logs = captureLogs('debug')
  const principals = testPrincipals(['*'])
  const { app } = await buildTestApp(t, { secretStore: store, principals, logger: logs.logger, env: { LOG_LEVEL: 'debug' } })
  const admin = { ...bearer(principals.adminKey) }
  let run = 0
  let scrubbedAnswers = 0
  let scrubbedServiceDetails = 0
  let scrubbedHealth = 0

  await fc.assert(fc.asyncProperty(
    fc.record({
      flow: fc.constantFrom<Flow>('soap', 'oauth_password'),
      password: secretArb,
      securityToken: secretArb,
      clientSecret: secretArb,
      mode: fc.constantFrom(...MODES),
      lead: fc.constantFrom('', 'x', 'xy'),
    }),
    async ({ flow, password, securityToken, clientSecret, mode, lead }) => {
      run++
      echo.mode = mode
      echo.lead = lead
      echo.pieces = []
      const logMark = logs.text().length
      const base: ConnectionDefinition = {
        flow,
        loginUrl: echo.url,
        apiVersion: '62.0',
        sessionTimeoutSeconds: 7200,
        username: `stored${run}@echo.example`,
        password,
        securityToken,
        ...(flow === 'oauth_password' ? { clientId: `cid${run}`, clientSecret } : {}),
      }
      const name = `echo${run}`
      await store.write(name, base, 0)

      const surfaces: Array<[string, string]> = []
      const candidate = await app.inject({ method: 'PUT', url: `/v1/admin/connections/cand${run}`, headers: admin, payload: { ...base, username: `candidate${run}@echo.example` } })
      surfaces.push(['admin PUT answer', candidate.body])
      const session = await app.inject({ method: 'POST', url: `/v1/connections/${name}/session`, headers: bearer(principals.billingKey) })
      surfaces.push(['service session answer', session.body])
      const validate = await app.inject({ method: 'POST', url: `/v1/admin/connections/${name}/validate`, headers: admin, payload: {} })
      surfaces.push(['admin validate answer', validate.body])
      surfaces.push(['public /health/salesforce', (await app.inject({ method: 'GET', url: '/health/salesforce' })).body])
      surfaces.push(['admin /health/salesforce', (await app.inject({ method: 'GET', url: '/health/salesforce', headers: admin })).body])
      surfaces.push(['/metrics', (await app.inject({ method: 'GET', url: '/metrics', headers: admin })).body])
      surfaces.push(['log lines', logs.text().slice(logMark)])

      const reached = echo.pieces.length > 0 || mode === 'body'
      if (!reached) return true
      if (candidate.body.includes('[redacted]')) scrubbedAnswers++
      if (session.statusCode === 503 && session.body.includes('[redacted]')) scrubbedServiceDetails++
      if (surfaces.find(([n]) => n === 'admin /health/salesforce')?.[1].includes('[redacted]')) scrubbedHealth++
      const secrets = [password, securityToken, password + securityToken, ...(flow === 'oauth_password' ? [clientSecret] : [])]
      // base64 of lead+secret: past its first and before its last group, every character encodes the secret only
      const fragments = echo.pieces.filter(() => mode.startsWith('base64')).map(p => p.slice(4, -4)).filter(f => f.length >= 8)
      // the pieces of the echo modes no leak form above describes, as the host sent them
      const echoed = echo.pieces.filter(() => ['uriTwice', 'slashRaw', 'cutShort'].includes(mode)).map(p => p.replace(/ \(truncated\)$/, ''))
      for (const [surface, text] of surfaces) {
        for (const piece of echoed) {
          if (piece.length >= 8 && text.includes(piece)) throw new Error(`${surface} shows a secret (${mode}, ${flow}) as ${JSON.stringify(piece)}`)
        }
        for (const secret of secrets) {
          for (const form of leakForms(secret)) {
            if (text.includes(form)) throw new Error(`${surface} shows a secret (${mode}, ${flow}) as ${JSON.stringify(form)}`)
          }
        }
        for (const fragment of fragments) {
          if (text.includes(fragment)) throw new Error(`${surface} shows a base64 fragment of a secret (${mode}, lead ${lead.length})`)
        }
      }
      return true
    }
  ), { numRuns: 30 })
  t.ok(run >= 30, `${run} random secrets echoed`)
  t.ok(scrubbedAnswers > 0, `the echo reached the admin answer and was scrubbed (${scrubbedAnswers} runs)`)
  t.ok(scrubbedServiceDetails > 0, `the echo reached a service's 503 detail and was scrubbed (${scrubbedServiceDetails} runs)`)
  t.ok(scrubbedHealth > 0, `the echo reached the admin view of /health/salesforce and was scrubbed (${scrubbedHealth} runs)`)
  t.match(logs.text(), /salesforce login attempt/, 'the logins did reach the echo host')
})
