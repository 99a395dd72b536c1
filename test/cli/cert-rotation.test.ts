import { X509Certificate } from 'node:crypto'
import t from 'tap'
import { ACME } from '../helper.ts'
import { startBroker } from '../support/broker.ts'
import { api, sfb, simControl } from './support.ts'

t.test('sfb cert-rotation: start, print the certificate, upload it in Setup, validate, complete', async (t) => {
  const broker = await startBroker(t, { acme: { flow: 'jwt_bearer' }, cc: { flow: 'client_credentials' } })
  const env = { SFB_URL: broker.baseUrl, SFB_ADMIN_KEY: broker.principals.adminKey }
  const admin = (method: string, path: string) => api(broker.baseUrl, broker.principals.adminKey, method, path)

  const started = await sfb(['cert-rotation', 'start', 'acme'], env)
  t.equal(started.code, 0, started.stderr)
  t.match(started.stdout, /certificate rotation of acme started \(the current key keeps serving\)\n[\s\S]*from:\s+jwt_bearer \(version 1, kept for rollback\)\nto:\s+jwt_bearer/)
  t.match(started.stdout, /checklist:\n {2}1\. [\s\S]*Use digital signatures/)
  t.match(started.stdout, /sfb cert-rotation certificate acme > acme\.crt/)
  const shown = await sfb(['cert-rotation', 'show', 'acme', '--json'], env)
  t.same(JSON.parse(shown.stdout), (await admin('GET', '/v1/admin/connections/acme/certificate-rotation')).json, '--json is the API\'s view')

  const pem = await sfb(['cert-rotation', 'certificate', 'acme'], env)
  t.equal(pem.code, 0)
  const cert = new X509Certificate(pem.stdout)
  t.ok(cert.verify(cert.publicKey), 'the printed PEM is the self-signed certificate, ready for > acme.crt')

  const early = await sfb(['cert-rotation', 'validate', 'acme'], env)
  t.equal(early.code, 1, 'a failed validation exits 1')
  t.match(early.stdout, /result:\s+FAILED: invalid_assertion[\s\S]*next:\s+.*Upload the certificate/)

  await simControl(broker.sim.loginUrl, 'PUT', `orgs/acme/apps/${ACME.clientId}/certificate`, { certificatePem: pem.stdout })
  t.equal((await sfb(['cert-rotation', 'validate', 'acme'], env)).code, 0)
  // the switch is check-and-set on the version named: a stale one is a conflict, and nothing switches
  const stale = await sfb(['cert-rotation', 'complete', 'acme', '--if-match', '7'], env)
  t.equal(stale.code, 4, stale.stderr)
  t.equal((await sfb(['cert-rotation', 'show', 'acme'], env)).code, 0, 'nothing switched')
  const done = await sfb(['cert-rotation', 'complete', 'acme', '--if-match', '1'], env)
  t.equal(done.code, 0, done.stderr)
  t.match(done.stdout, /switched acme to the new key: now version 2 \(sfb connections rollback acme 1 goes back/)
  t.equal((await sfb(['cert-rotation', 'show', 'acme'], env)).code, 3, 'nothing pending any more')

  t.equal((await sfb(['cert-rotation', 'start', 'acme'], env)).code, 0)
  const abandoned = await sfb(['cert-rotation', 'abandon', 'acme', '--json'], env)
  t.same(JSON.parse(abandoned.stdout), { abandoned: 'acme' })
  const notJwt = await sfb(['cert-rotation', 'start', 'cc'], env)
  t.equal(notJwt.code, 4, 'a client_credentials connection has no key to rotate: conflict')
  t.match(notJwt.stderr, /not jwt_bearer/)
})
