import t from 'tap'
import { call, startDataOrg } from './data-fixtures.ts'

const sub = (referenceId: string, method: string, url: string, body?: unknown) => ({ method, url: `/services/data/v62.0${url}`, referenceId, ...(body === undefined ? {} : { body }) })

t.test('composite: sObject subrequests chained by @{reference}, one API call', async t => {
  const org = await startDataOrg(t)
  const before = org.sim.org('acme').apiRequestsUsed
  const res = await org.conn.requestPost<any>('/composite', {
    allOrNone: false,
    compositeRequest: [
      sub('NewAccount', 'POST', '/sobjects/Account', { Name: 'Cloudy Consulting' }),
      sub('NewContact', 'POST', '/sobjects/Contact', { LastName: 'Cloud', AccountId: '@{NewAccount.id}' }),
      sub('ReadBack', 'GET', '/sobjects/Contact/@{NewContact.id}?fields=AccountId,Name'),
      sub('Rename', 'PATCH', '/sobjects/Account/@{NewAccount.id}', { Name: 'Sunny Consulting' }),
      sub('Check', 'GET', `/query?q=${encodeURIComponent('SELECT Id, Name FROM Account WHERE Name = \'Sunny Consulting\'')}`),
    ],
  })
  t.equal(org.sim.org('acme').apiRequestsUsed - before, 1)
  const [account, contact, readBack, rename, check] = res.compositeResponse
  t.match(account, { httpStatusCode: 201, referenceId: 'NewAccount', body: { success: true, errors: [] }, httpHeaders: { Location: /^\/services\/data\/v62\.0\/sobjects\/Account\/001/ } })
  t.match(contact, { httpStatusCode: 201, body: { success: true } })
  t.match(readBack, { httpStatusCode: 200, body: { AccountId: account.body.id, Name: 'Cloud' } })
  t.same(rename, { body: null, httpHeaders: {}, httpStatusCode: 204, referenceId: 'Rename' })
  t.match(check, { httpStatusCode: 200, body: { totalSize: 1, records: [{ Id: account.body.id }] } })
})

t.test('composite: allOrNone rolls back every write at the first error; without it only dependents stop', async t => {
  const org = await startDataOrg(t)
  const count = async (name: string) => (await org.conn.query(`SELECT Id FROM Account WHERE Name = '${name}'`)).totalSize
  const rolled = await call(org, '/composite', {
    method: 'POST',
    body: JSON.stringify({
      allOrNone: true,
      compositeRequest: [
        sub('A', 'POST', '/sobjects/Account', { Name: 'Rolled Back Inc' }),
        sub('B', 'POST', '/sobjects/Contact', { FirstName: 'no last name' }),
        sub('C', 'POST', '/sobjects/Account', { Name: 'Never Run Inc' }),
      ],
    }),
  })
  t.equal(rolled.status, 200)
  t.match(rolled.json.compositeResponse, [
    { httpStatusCode: 400, body: [{ errorCode: 'PROCESSING_HALTED' }] },
    { httpStatusCode: 400, body: [{ errorCode: 'REQUIRED_FIELD_MISSING' }] },
    { httpStatusCode: 400, body: [{ errorCode: 'PROCESSING_HALTED' }] },
  ])
  t.equal(await count('Rolled Back Inc'), 0, 'the first create was rolled back')
  t.equal(await count('Never Run Inc'), 0)

  const partial = await call(org, '/composite', {
    method: 'POST',
    body: JSON.stringify({
      compositeRequest: [
        sub('Bad', 'POST', '/sobjects/Account', { Nme: 'typo' }),
        sub('Dependent', 'PATCH', '/sobjects/Account/@{Bad.id}', { Name: 'x' }),
        sub('Independent', 'POST', '/sobjects/Account', { Name: 'Independent Inc' }),
      ],
    }),
  })
  t.match(partial.json.compositeResponse, [
    { httpStatusCode: 400, body: [{ errorCode: 'INVALID_FIELD' }] },
    { httpStatusCode: 400, body: [{ errorCode: 'PROCESSING_HALTED', message: /Invalid reference specified/ }] },
    { httpStatusCode: 201 },
  ])
  t.equal(await count('Independent Inc'), 1)
})
