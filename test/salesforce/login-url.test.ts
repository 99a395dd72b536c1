import t from 'tap'
import {
  assertLoginUrlAllowed, createLoginUrlPolicy, isLoginUrlAllowed, jwtAudience, LoginUrlNotAllowedError, loginUrlRejection,
} from '../../src/salesforce/index.ts'

const salesforceOnly = createLoginUrlPolicy({ extraAllowedOrigins: [] })

t.test('Salesforce login hosts are allowed', async t => {
  for (const url of [
    'https://login.salesforce.com',
    'https://login.salesforce.com/',
    'https://test.salesforce.com',
    'https://acme.my.salesforce.com',
    'https://acme--uat.sandbox.my.salesforce.com',
    'https://acme.lightning.force.com',
    'https://na42.salesforce.com',
    'https://LOGIN.Salesforce.COM',
    'https://acme-corp.my.salesforce.com:443',
  ]) {
    t.ok(isLoginUrlAllowed(url, salesforceOnly), url)
    t.doesNotThrow(() => assertLoginUrlAllowed(url, salesforceOnly), url)
  }
})

t.test('hostile and malformed login URLs are refused', async t => {
  const hostile: Array<[string, RegExp]> = [
    ['http://login.salesforce.com', /https/],
    ['https://login.salesforce.com.evil.com', /not a Salesforce login host/],
    ['https://evilsalesforce.com', /not a Salesforce login host/],
    ['https://salesforce.com', /not a Salesforce login host/],
    ['https://evil.com/login.salesforce.com', /origin only/],
    ['https://evil.com?.salesforce.com', /origin only/],
    ['https://evil.com#.salesforce.com', /origin only/],
    ['https://login.salesforce.com@evil.com', /user information/],
    ['https://user:pw@login.salesforce.com', /user information/],
    ['https://login.salesforce.com/services/oauth2/token', /origin only/],
    ['https://login.salesforce.com?x=1', /origin only/],
    ['https://login.salesforce.com/#x', /origin only/],
    ['https://login.salesforce.com:8443', /default https port/],
    ['https://127.0.0.1', /not a Salesforce login host/],
    ['https://[::1]', /not a Salesforce login host/],
    ['https://2130706433', /not a Salesforce login host/],
    ['https://login.salesforce.com.', /not a Salesforce login host/],
    ['https://evil_host.my.salesforce.com', /not a Salesforce login host/],
    ['https://-bad.my.salesforce.com', /not a Salesforce login host/],
    ['https://login.salesforce.com\\@evil.com', /user information|origin only/],
    ['https:login.salesforce.com', /origin only/],
    ['//login.salesforce.com', /not a valid absolute URL/],
    ['ftp://login.salesforce.com', /https/],
    ['javascript:alert(1)', /origin only/],
    ['file:///etc/passwd', /origin only/],
    ['', /empty/],
    ['not a url', /not a valid absolute URL/],
    ['https://login.salesforce.com.', /not a Salesforce login host/],
    ['https://xn--lgin-salesforce-com-2qb.evil.com', /not a Salesforce login host|not a valid absolute URL/],
    ['https://lоgin.salesforce.com.evil.com', /not a Salesforce login host/], // Cyrillic o
  ]
  for (const [url, reason] of hostile) {
    t.notOk(isLoginUrlAllowed(url, salesforceOnly), url)
    t.match(loginUrlRejection(url, salesforceOnly), reason, url)
    t.throws(() => assertLoginUrlAllowed(url, salesforceOnly), LoginUrlNotAllowedError, url)
  }
})

t.test('rejection messages never echo credentials', async t => {
  const reason = loginUrlRejection('https://admin:s3cretPw@login.salesforce.com', salesforceOnly) ?? ''
  t.notMatch(reason, /s3cretPw/)
  t.notMatch(reason, /admin/)
  try {
    assertLoginUrlAllowed('https://admin:s3cretPw@login.salesforce.com', salesforceOnly)
    t.fail('should throw')
  } catch (error) {
    t.type(error, LoginUrlNotAllowedError)
    t.equal((error as Error).name, 'LoginUrlNotAllowedError')
    t.notMatch((error as Error).message, /s3cretPw/)
  }
})

t.test('the allow-list admits exactly what it names', async t => {
  const policy = createLoginUrlPolicy({ extraAllowedOrigins: ['http://127.0.0.1:*', 'http://localhost:8080', ' https://proxy.example.com ', ''] })
  t.ok(isLoginUrlAllowed('http://127.0.0.1:41234', policy), 'any port on 127.0.0.1')
  t.ok(isLoginUrlAllowed('http://127.0.0.1:80', policy), 'port * includes the default port written out')
  t.ok(isLoginUrlAllowed('http://127.0.0.1', policy), 'port * includes the default port')
  t.ok(isLoginUrlAllowed('http://localhost:8080/', policy))
  t.notOk(isLoginUrlAllowed('http://localhost:8081', policy), 'other port')
  t.notOk(isLoginUrlAllowed('https://localhost:8080', policy), 'other scheme')
  t.ok(isLoginUrlAllowed('https://proxy.example.com', policy))
  t.notOk(isLoginUrlAllowed('https://proxy.example.com:444', policy), 'no port = default port only')
  t.notOk(isLoginUrlAllowed('https://sub.proxy.example.com', policy), 'no subdomains')
  t.notOk(isLoginUrlAllowed('http://127.0.0.2:41234', policy), 'other host')
  t.notOk(isLoginUrlAllowed('http://127.0.0.1:41234/path', policy), 'still an origin only')
  t.notOk(isLoginUrlAllowed('http://user@127.0.0.1:41234', policy), 'still no userinfo')
  t.ok(isLoginUrlAllowed('https://login.salesforce.com', policy), 'Salesforce hosts stay allowed')
  const ipv6 = createLoginUrlPolicy({ extraAllowedOrigins: ['http://[::1]:*'] })
  t.ok(isLoginUrlAllowed('http://[::1]:9000', ipv6))
})

t.test('malformed allow-list entries fail loudly', async t => {
  for (const entry of ['127.0.0.1:*', 'http://127.0.0.1:*/path', 'http://*.example.com', 'ftp://x', 'http://x:99999', 'http://u@x']) {
    t.throws(() => createLoginUrlPolicy({ extraAllowedOrigins: [entry] }), /allow-list entry/, entry)
  }
})

t.test('JWT audience: the host the assertion is posted to', async t => {
  t.equal(jwtAudience('https://login.salesforce.com'), 'https://login.salesforce.com')
  t.equal(jwtAudience('https://test.salesforce.com'), 'https://test.salesforce.com')
  t.equal(jwtAudience('https://acme.my.salesforce.com'), 'https://acme.my.salesforce.com', 'My Domain: its origin, for connected apps and External Client Apps alike')
  t.equal(jwtAudience('https://Acme.My.Salesforce.com/'), 'https://acme.my.salesforce.com')
  t.equal(jwtAudience('https://acme--uat.sandbox.my.salesforce.com'), 'https://acme--uat.sandbox.my.salesforce.com', 'a sandbox My Domain too')
  t.equal(jwtAudience('https://acme.cs42.my.salesforce.com'), 'https://acme.cs42.my.salesforce.com', 'a legacy instanced My Domain too')
  t.equal(jwtAudience('https://na42.salesforce.com'), 'https://login.salesforce.com', 'an instance host (health warns): the generic audience of its kind')
  t.equal(jwtAudience('https://cs42.salesforce.com'), 'https://test.salesforce.com')
  t.equal(jwtAudience('http://127.0.0.1:4000/'), 'http://127.0.0.1:4000', 'an allow-listed host (the simulator): its origin, the same rule')
})
