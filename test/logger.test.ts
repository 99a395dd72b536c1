import t from 'tap'
import { captureLogs } from './support/log-capture.ts'

t.test('secrets are censored at the top level and inside logged objects, down to three levels', async (t) => {
  const logs = captureLogs('info')
  logs.logger.info({
    password: 'S1',
    definition: { password: 'S2', clientSecret: 'S3', privateKey: 'S4', nested: { securityToken: 'S5' } },
    err: { config: { headers: { 'X-Vault-Token': 'S6' }, data: { secret_id: 'S7' } } },
    req: { headers: { authorization: 'S8' } },
    'x-vault-token': 'S9',
    session: { accessToken: 'S10' },
    body: { rejectedToken: 'S11' },
    connection: 'acme',
  }, 'something happened')
  logs.logger.child({ reqId: 'req-1' }).warn({ candidate: { password: 'S12' } }, 'child line')
  const text = logs.text()
  t.notMatch(text, /S\d+/, 'no secret value reaches the sink')
  t.match(text, /"connection":"acme"/, 'ordinary fields stay')
  t.match(text, /"reqId":"req-1"/)
  t.equal(logs.records().length, 2)
})
