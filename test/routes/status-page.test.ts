import t, { type Test } from 'tap'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { chromium, type Browser, type Page } from 'playwright-core'
import { ACME, KEYS, acmeDefinition, bearer, listenTestApp, startSim, tempFileStore, type Teardown } from '../helper.ts'
import { http } from '../support/http.ts'
import { renderStatusPage, STATUS_PAGE_CSP } from '../../src/routes/status-page.ts'

/** Debian's chromium, installed by .ci/run as redis-server is; flags for a container without a user namespace or network. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
/** an iPhone 12–15 screen, in CSS pixels */
const PHONE = { width: 390, height: 844 }

async function launch (t: Teardown): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: install Debian's chromium (apt-get install chromium, as .ci/run does) or set CHROMIUM_PATH`)
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
  t.teardown(() => browser.close())
  return browser
}

/** A self-signed certificate of the test key that expires in `days` (a JWT bearer connection's). */
async function certificate (t: Teardown, days: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sfb-cert-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'key.pem'), KEYS.privateKeyPem)
  await promisify(execFile)('openssl', ['req', '-x509', '-key', join(dir, 'key.pem'), '-subj', '/CN=acme-integration', '-days', String(days), '-out', join(dir, 'cert.pem')])
  return readFile(join(dir, 'cert.pem'), 'utf8')
}

/** Four connections in four states, each checked once; the flow calendar stands ten days before the password flow ends. */
async function brokerWithConnections (t: Test, env: Record<string, string> = {}) {
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'client_credentials'), 0)
  await store.write('legacy', acmeDefinition(sim, 'oauth_password'), 0)
  await store.write('jwt', acmeDefinition(sim, 'jwt_bearer', { certificate: await certificate(t, 20) }), 0)
  await store.write('broken', acmeDefinition(sim, 'client_credentials', { clientSecret: 'not-the-consumer-secret' }), 0)
  const { url, principals } = await listenTestApp(t, {
    secretStore: store,
    principals: (await import('../support/principals.ts')).testPrincipals(['acme', 'legacy', 'jwt', 'broken']),
    env: { SECRET_CACHE_TTL_SECONDS: '0', ...env },
    overrides: { now: () => Date.parse('2027-02-10T12:00:00Z') },
  })
  for (const name of ['acme', 'legacy', 'jwt', 'broken']) {
    const checked = await http(`${url}/health/salesforce/${name}/check`, { method: 'POST', headers: bearer(principals.adminKey) })
    t.equal(checked.status, 200, `${name} checked`)
  }
  return { url, principals }
}

/** What a person reads on each card: name, status, and the rows as "label: text". */
async function cards (page: Page): Promise<Record<string, { status: string, rows: Record<string, string> }>> {
  return page.locator('section.card').evaluateAll(sections => Object.fromEntries(sections.map(s => {
    const rows: Record<string, string> = {}
    for (const dt of s.querySelectorAll('dt')) rows[dt.textContent ?? ''] = (dt.nextElementSibling?.textContent ?? '').trim()
    return [s.querySelector('h2')?.textContent, { status: s.querySelector('.badge')?.textContent ?? '', rows }]
  })))
}

// one browser and one broker for the tests that only read
const browserReady = launch(t)
const brokerReady = brokerWithConnections(t)
// each test awaits them and fails with the reason; unawaited, a rejection would end the whole test process
browserReady.catch(() => {})
brokerReady.catch(() => {})

t.test('an SRE with an admin key reads every connection on a phone; the page is static and refreshes itself', async (t) => {
  const { url, principals } = await brokerReady
  const browser = await browserReady
  const context = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 2, isMobile: true, hasTouch: true, extraHTTPHeaders: bearer(principals.adminKey) })
  const page = await context.newPage()
  const blocked: string[] = []
  page.on('console', m => { if (/Content Security Policy/i.test(m.text())) blocked.push(m.text()) })

  const res = await page.goto(`${url}/status`)
  t.equal(res?.status(), 200)
  t.match(res?.headers()['content-type'], /^text\/html; charset=utf-8/)
  t.equal(res?.headers()['content-security-policy'], STATUS_PAGE_CSP)
  t.equal(await page.locator('#overall').textContent(), 'failing')
  t.equal(await page.title(), 'failing · sf-broker status')

  const seen = await cards(page)
  t.same(Object.keys(seen).sort(), ['acme', 'broken', 'jwt', 'legacy'])
  t.equal(seen.acme.status, 'ok')
  t.match(seen.acme.rows['Last success'], /s ago$/)
  t.match(seen.acme.rows['Login budget'], /^\d+ of 3600 this hour$/)
  t.notOk('Failure class' in seen.acme.rows, 'no failure on a working connection')

  t.equal(seen.broken.status, 'failing')
  t.equal(seen.broken.rows['Failure class'], 'invalid_client')
  t.ok(seen.broken.rows.Hint.length > 10, 'a hint says what to fix')
  t.equal(seen.broken.rows['Last success'], 'never')
  t.match(seen.broken.rows['Recent events'], /connection\.status_changed not_checked → failing/)

  t.equal(seen.legacy.status, 'warn')
  t.notOk('Failure class' in seen.legacy.rows, 'a warning is no failure')
  t.match(seen.legacy.rows.Hint, /Move the connection to jwt_bearer or client_credentials/)
  t.match(seen.legacy.rows['Flow sunset'], /oauth_password retires 2027-02-20 in 10 days; move to jwt_bearer or client_credentials/)
  t.match(seen.legacy.rows['Recent events'], /flow\.sunset_threshold in 10 days/)

  t.equal(seen.jwt.status, 'warn')
  t.match(seen.jwt.rows.Certificate, /^expires \d{4}-\d\d-\d\d in (19|20) days$/)
  t.match(seen.jwt.rows['Recent events'], /certificate\.expiry_threshold/)

  // readable at phone width: nothing wider than the screen, the stylesheet applied despite the strict CSP
  const layout = await page.evaluate(() => {
    // runs in the page (this project's TypeScript has no DOM types)
    const { document, window } = globalThis as any
    return {
      scrollWidth: document.documentElement.scrollWidth as number,
      innerWidth: window.innerWidth as number,
      scripts: document.scripts.length as number,
      refresh: document.querySelector('meta[http-equiv="refresh"]')?.getAttribute('content') as string,
      viewport: document.querySelector('meta[name="viewport"]')?.getAttribute('content') as string,
      cardWidths: [...document.querySelectorAll('section.card')].map((c: any) => c.getBoundingClientRect().width as number),
      badge: window.getComputedStyle(document.querySelector('.badge.failing')).backgroundColor as string,
    }
  })
  t.equal(layout.innerWidth, PHONE.width)
  t.ok(layout.scrollWidth <= layout.innerWidth, `no sideways scrolling (${layout.scrollWidth} px of content)`)
  t.ok(layout.cardWidths.every(w => w > PHONE.width * 0.85), 'one card per row on a phone')
  t.equal(layout.scripts, 0, 'no script at all')
  t.equal(layout.refresh, '30')
  t.match(layout.viewport, /width=device-width/)
  t.equal(layout.badge, 'rgb(207, 34, 46)', 'styles applied (allowed by their hash)')
  t.same(blocked, [], 'nothing refused by the Content-Security-Policy')

  const dir = await mkdtemp(join(tmpdir(), 'sfb-status-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const shot = await page.screenshot({ fullPage: true, path: join(dir, 'status-phone.png') })
  t.equal(shot.subarray(1, 4).toString(), 'PNG')
  t.equal(shot.readUInt32BE(16), PHONE.width * 2, 'the screenshot is phone-wide (at 2x)')
})

t.test('without an admin key: statuses only, as in /health/salesforce; a wrong key is refused', async (t) => {
  const { url } = await brokerReady
  const browser = await browserReady
  const page = await (await browser.newContext({ viewport: PHONE })).newPage()
  await page.goto(`${url}/status`)
  const seen = await cards(page)
  t.same(Object.fromEntries(Object.entries(seen).map(([k, v]) => [k, v.status])), { acme: 'ok', broken: 'failing', jwt: 'warn', legacy: 'warn' })
  t.ok(Object.values(seen).every(c => Object.keys(c.rows).length === 0), 'no detail rows')
  const text = await page.locator('body').textContent() ?? ''
  t.notOk(/invalid_client|Hint|sunset_threshold/.test(text), 'no classification, hint or event')
  t.match(text, /need an admin credential/)

  const wrong = await http(`${url}/status`, { headers: bearer('sfb.ops.wrong') })
  t.equal(wrong.status, 401)
  t.match(wrong.headers.get('content-type'), /^application\/problem\+json/)
})

t.test('HEALTH_DETAILS=public shows the details to everybody', async (t) => {
  const { url } = await brokerWithConnections(t, { HEALTH_DETAILS: 'public' })
  const page = await http(`${url}/status`)
  t.equal(page.status, 200)
  t.match(page.text, /<dt>Failure class<\/dt><dd><code>invalid_client<\/code>/)
})

t.test('whatever a connection reports is escaped', async (t) => {
  const hostile = '<script>alert(1)</script><img src=x onerror=alert(2)>"\''
  const html = renderStatusPage({
    detailed: true,
    status: 'failing',
    checkedAt: new Date().toISOString(),
    connections: [{
      connection: 'acme',
      status: 'failing',
      classification: 'unknown',
      message: hostile,
      hint: hostile,
      checkKind: 'full',
      consecutiveFailures: 1,
      circuit: { state: 'closed' } as any,
    }],
    events: [{ id: 'evt_1', type: 'connection.status_changed', occurredAt: new Date().toISOString(), connection: 'acme', data: { from: hostile, to: 'failing' } }],
  }, { refreshSeconds: 30, now: Date.now() })
  t.notOk(html.includes('<script>'), 'no script element')
  t.notOk(html.includes('<img'), 'no element from the text')
  t.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;&lt;img src=x onerror=alert\(2\)&gt;&quot;&#39;/)
  t.notOk(html.includes(ACME.clientSecret))
})
