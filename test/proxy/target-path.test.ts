import t from 'tap'
import { targetPath } from '../../src/proxy/target-path.ts'

const PREFIX = '/v1/connections/acme/salesforce'

/**
 * The rules of targetPath spelled out the slow, obvious way (split into segments, every escape
 * checked): the fast checks of the real one (no escape pass for a path without %, string searches
 * instead of splitting) must decide every path as this does.
 */
function byTheRules (rawUrl: string): ReturnType<typeof targetPath> {
  const q = rawUrl.indexOf('?')
  const rawPath = q === -1 ? rawUrl : rawUrl.slice(0, q)
  const query = q === -1 ? '' : rawUrl.slice(q)
  if (!rawPath.startsWith(PREFIX + '/')) return { ok: false, reason: 'malformed' }
  const path = rawPath.slice(PREFIX.length)
  if (!/^[A-Za-z0-9\-._~!$&'()*+,=:@/%]*$/.test(path)) return { ok: false, reason: 'malformed' }
  const escapes = path.split('%').length - 1
  let wellFormed = 0
  for (const m of path.matchAll(/%([0-9A-Fa-f]{2})/g)) {
    if (/^(2f|5c|2e|3b|25|[01][0-9a-f]|7f)$/i.test(m[1])) return { ok: false, reason: 'malformed' }
    wellFormed++
  }
  if (wellFormed !== escapes) return { ok: false, reason: 'malformed' }
  try { decodeURIComponent(path) } catch { return { ok: false, reason: 'malformed' } }
  const segments = path.split('/').slice(1)
  for (let i = 0; i < segments.length; i++) {
    if (segments[i] === '' && i !== segments.length - 1) return { ok: false, reason: 'malformed' }
    if (segments[i] === '.' || segments[i].startsWith('..')) return { ok: false, reason: 'malformed' }
    if (segments[i].endsWith('..') && i !== segments.length - 1) return { ok: false, reason: 'malformed' }
  }
  if (!(path === '/services/data' || path.startsWith('/services/data/') || path.startsWith('/services/apexrest/'))) return { ok: false, reason: 'not_forwarded' }
  // the broker's credentials under /services/data/, as Salesforce reads the segments (upper-cased, as Java compares them):
  // apps/oauth anywhere, and sobjects/User/{id}/password (or SelfServiceUser)
  const read = decodeURIComponent(path).toUpperCase().split('/').slice(1)
  if (read[1] === 'DATA' && read.length > 2) {
    for (let i = 2; i < read.length; i++) {
      // without the .json/.xml format suffix Salesforce takes (REST API Developer Guide, "REST API Architecture")
      const bare = (segment: string | undefined) => segment?.replace(/(\.(json|xml))+$/i, '')
      if (bare(read[i]) === 'APPS' && bare(read[i + 1]) === 'OAUTH') return { ok: false, reason: 'credentials_api' }
      if (bare(read[i]) === 'SOBJECTS' && ['USER', 'SELFSERVICEUSER'].includes(bare(read[i + 1]) ?? '') && bare(read[i + 3]) === 'PASSWORD') return { ok: false, reason: 'credentials_api' }
    }
  }
  return { ok: true, path, query }
}

t.test('every path is decided as the segment-by-segment rules decide it', async (t) => {
  // every string of up to 4 pieces after the two forwarded roots and a few other starts
  const pieces = ['/', '.', '..', '...', 'a', '%41', '%2e', '%2F', '%', '%zz', '%C3%A9', '%C0', ';', '\\', '~', '?x=/../']
  const starts = ['/services/data', '/services/apexrest', '/services/datax', '/services', '', '/']
  let checked = 0
  const differing: string[] = []
  const grow = (path: string, depth: number): void => {
    for (const start of starts) {
      const url = PREFIX + start + path
      if (JSON.stringify(targetPath(url, PREFIX)) !== JSON.stringify(byTheRules(url))) differing.push(url)
      checked++
    }
    if (depth === 0) return
    for (const piece of pieces) grow(path + piece, depth - 1)
  }
  grow('', 4)
  t.same(differing.slice(0, 20), [], `${checked} paths, ${differing.length} decided differently`)
  t.ok(checked > 100_000)
})

t.test('the usual calls pass with their path and query as received', async (t) => {
  t.same(targetPath(`${PREFIX}/services/data/v62.0/limits`, PREFIX), { ok: true, path: '/services/data/v62.0/limits', query: '' })
  t.same(targetPath(`${PREFIX}/services/data/v62.0/query?q=SELECT+Id+FROM+Account`, PREFIX), { ok: true, path: '/services/data/v62.0/query', query: '?q=SELECT+Id+FROM+Account' })
  t.same(targetPath(`${PREFIX}/services/data/v62.0/sobjects/`, PREFIX), { ok: true, path: '/services/data/v62.0/sobjects/', query: '' })
  t.same(targetPath(`${PREFIX}/services/apexrest/Caf%C3%A9/v1`, PREFIX), { ok: true, path: '/services/apexrest/Caf%C3%A9/v1', query: '' })
})

t.test('the broker\'s own credentials (the OAuth credentials API, a user\'s password) are refused in every spelling Salesforce reads the same, and only they', async (t) => {
  const refused = ['/services/data/v62.0/apps/oauth/credentials/x', '/services/data/v62.0/APPS/OAuth', '/services/data/v62.0/%61pps/oauth/usage',
    '/services/data/v62.0/apps/%6F%61uth/credentials/x/y/staged', '/services/data/apps/oauth/credentials', '/services/data/v62.0/apps/oauth/',
    '/services/data/v62.0/connect/communities/0DB000000000001/apps/oauth/credentials/x',
    '/services/data/v62.0/sobjects/User/005000000000001AAA/password', '/services/data/v62.0/sobjects/user/005x/PASSWORD/',
    '/services/data/v62.0/sobjects/SelfServiceUser/005x/password', '/services/data/v62.0/sobjects/%55ser/005x/password',
    '/services/data/v62.0/sobjects/User/005x/password/more', '/services/data/v62.0/app%C5%BF/oauth',
    // the format suffix of API versions up to 57.0: the same resources
    '/services/data/v57.0/sobjects/User/005x/password.json', '/services/data/v57.0/sobjects/SelfServiceUser/005x/PASSWORD.XML',
    '/services/data/v57.0/sobjects/User/005x/password%2Ejson', '/services/data/v57.0/apps/oauth.json', '/services/data/v57.0/apps/oauth/credentials/x.xml']
  const passed = ['/services/data/v62.0/apps', '/services/data/v62.0/apps/other', '/services/apexrest/apps/oauth/credentials', '/services/data/v62.0/apps/oauthx', '/services/data/v62.0/myapps/oauth',
    '/services/data/v62.0/sobjects/User/005x', '/services/data/v62.0/sobjects/User/005x/passwords', '/services/data/v62.0/sobjects/Contact/003x/password',
    '/services/data/v57.0/sobjects/User/005x.json', '/services/data/v57.0/sobjects/User/005x/passwords.json', '/services/data/v57.0/sobjects/User/005x/password.csv']
  for (const path of [...refused, ...passed]) {
    const url = PREFIX + path
    t.same(targetPath(url, PREFIX), byTheRules(url), `${path}: as the rules decide`)
  }
  t.same(refused.map(p => targetPath(PREFIX + p, PREFIX).ok), refused.map(() => false))
  t.same(passed.map(p => targetPath(PREFIX + p, PREFIX).ok), passed.map(() => true))
})
