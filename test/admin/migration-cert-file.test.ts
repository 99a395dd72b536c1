import t from 'tap'
import { acmeDefinition, bearer, buildTestApp, startSim, tempFileStore } from '../helper.ts'
import { testPrincipals } from '../support/principals.ts'
import { readRepoFile } from '../packaging/repo.ts'

/** The certificate an admin uploads to Salesforce has one file name: the download's, the checklist's and the README's. */

t.test('the checklist names the certificate file the download saves, <connection>.crt, as the README does', async (t) => {
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('demo-password', acmeDefinition(sim, 'oauth_password'), 0)
  const principals = testPrincipals(['demo-password'])
  const { app } = await buildTestApp(t, { secretStore: store, principals })
  const admin = bearer(principals.adminKey)
  const started = await app.inject({ method: 'POST', url: '/v1/admin/connections/demo-password/migration', headers: admin, payload: { flow: 'jwt_bearer' } })
  t.equal(started.statusCode, 201, started.body)
  const download = await app.inject({ url: '/v1/admin/connections/demo-password/migration/certificate', headers: admin })
  const file = /filename="([^"]+)"/.exec(String(download.headers['content-disposition']))?.[1]
  t.equal(file, 'demo-password.crt')
  const checklist = (started.json() as { checklist: string[] }).checklist.join('\n')
  t.match(checklist, 'keep it as demo-password.crt')
  t.match(checklist, 'upload demo-password.crt')
  t.notMatch(checklist, 'sf-broker.crt')

  const readme = readRepoFile('README.md')
  const named = new Set([...readme.matchAll(/\b([\w.-]+\.(?:crt|pem))\b/g)].map(m => m[1]).filter(f => !/^(ca|tls)\.crt$/.test(f)))
  t.same([...named].filter(f => f !== 'demo-password.crt' && f !== 'NAME.crt'), [], 'the README saves the certificate as <connection>.crt only')
})
