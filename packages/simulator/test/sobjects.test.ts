import t from 'tap'
import { call, rejection, startDataOrg } from './data-fixtures.ts'

const NOT_FOUND = [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }]

t.test('jsforce create, retrieve, update and delete one record; the wire answers are Salesforce\'s', async t => {
  const org = await startDataOrg(t)
  const created = await call(org, '/sobjects/Account/', { method: 'POST', body: JSON.stringify({ Name: 'Express Logistics and Transport' }) })
  t.equal(created.status, 201)
  t.same(Object.keys(created.json), ['id', 'success', 'errors'])
  t.match(created.json, { id: /^001\w{15}$/, success: true, errors: [] })

  const accounts = org.conn.sobject('Account')
  const made = await accounts.create({ Name: 'Edge Two', BillingCity: 'Austin' })
  t.match(made, { success: true })
  t.match(await accounts.retrieve(made.id as string), { attributes: { type: 'Account' }, Id: made.id, Name: 'Edge Two', BillingCity: 'Austin', IsDeleted: false })
  t.same(await accounts.update({ Id: made.id as string, BillingCity: 'Dallas' }), { id: made.id, success: true, errors: [] })
  const patched = await call(org, `/sobjects/Account/${made.id}`, { method: 'PATCH', body: JSON.stringify({ Phone: '555' }) })
  t.equal(patched.status, 204)
  t.equal(patched.text, '')
  const some = await call(org, `/sobjects/Account/${made.id}?fields=Name,BillingCity,Phone`)
  t.same(Object.keys(some.json), ['attributes', 'Name', 'BillingCity', 'Phone'])
  t.match(some.json, { BillingCity: 'Dallas', Phone: '555' })

  t.same(await accounts.destroy(made.id as string), { id: made.id, success: true, errors: [] })
  t.match(await rejection(accounts.retrieve(made.id as string)), { errorCode: 'ENTITY_IS_DELETED' })
  const deleted = await call(org, `/sobjects/Account/${made.id}`, { method: 'DELETE' })
  t.equal(deleted.status, 404)
  t.same(deleted.json, [{ errorCode: 'ENTITY_IS_DELETED', message: 'entity is deleted' }])

  const live = await org.conn.query(`SELECT Id FROM Account WHERE Id = '${made.id}'`)
  t.equal(live.totalSize, 0, 'a deleted record is gone for query')
  const all = await org.conn.query(`SELECT Id, IsDeleted FROM Account WHERE Id = '${made.id}'`).scanAll(true)
  t.match(all.records, [{ Id: made.id, IsDeleted: true }], 'and still there for queryAll')
})

t.test('refusals: unknown object or id, bad fields, missing required fields, read-only fields', async t => {
  const org = await startDataOrg(t)
  const unknownType = await call(org, '/sobjects/Nope/001000000000000AAA')
  t.equal(unknownType.status, 404)
  t.same(unknownType.json, NOT_FOUND)
  const unknownId = await call(org, '/sobjects/Account/001Dn0000000000AAA')
  t.equal(unknownId.status, 404)
  t.same(unknownId.json, NOT_FOUND)
  t.ok(unknownId.headers.get('sforce-limit-info'), 'errors carry the usage header too')

  const withId = await call(org, '/sobjects/Account', { method: 'POST', body: JSON.stringify({ id: '001D000000IqhSLIAZ', Name: 'Express Donuts and Pies' }) })
  t.equal(withId.status, 400)
  t.same(withId.json, [{ message: 'The Id field should not be specified in the sobject data.', errorCode: 'INVALID_FIELD' }])
  const badField = await call(org, '/sobjects/Account', { method: 'POST', body: JSON.stringify({ Name: 'x', Colour__c: 'red' }) })
  t.same(badField.json, [{ message: 'No such column \'Colour__c\' on sobject of type Account', errorCode: 'INVALID_FIELD' }])
  const missing = await call(org, '/sobjects/Contact', { method: 'POST', body: JSON.stringify({ FirstName: 'Ann' }) })
  t.same(missing.json, [{ message: 'Required fields are missing: [LastName]', errorCode: 'REQUIRED_FIELD_MISSING', fields: ['LastName'] }])
  const readOnly = await call(org, '/sobjects/Account', { method: 'POST', body: JSON.stringify({ Name: 'x', CreatedDate: '2020-01-01T00:00:00.000+0000' }) })
  t.match(readOnly.json, [{ errorCode: 'INVALID_FIELD_FOR_INSERT_UPDATE', fields: ['CreatedDate'] }])
  const notJson = await call(org, '/sobjects/Account', { method: 'POST', body: '<Name>x</Name>' })
  t.equal(notJson.status, 400)
  t.equal(notJson.json[0].errorCode, 'JSON_PARSER_ERROR')
  t.match(await rejection(org.conn.sobject('Account').create({ Name: '' })), { errorCode: 'REQUIRED_FIELD_MISSING' })
})

t.test('describe and describe global, shaped like Salesforce\'s', async t => {
  const org = await startDataOrg(t)
  const account = await org.conn.describe('Account')
  t.match(account, { name: 'Account', label: 'Account', keyPrefix: '001', createable: true, queryable: true, custom: false })
  t.match(account.urls, { sobject: '/services/data/v62.0/sobjects/Account', describe: '/services/data/v62.0/sobjects/Account/describe' })
  t.match(account.fields.find(f => f.name === 'Id'), { type: 'id', length: 18, createable: false, updateable: false })
  t.match(account.fields.find(f => f.name === 'Name'), { type: 'string', nillable: false, createable: true })
  const contact = await org.conn.describe('Contact')
  t.match(contact.fields.find(f => f.name === 'AccountId'), { type: 'reference', referenceTo: ['Account'], relationshipName: 'Account' })
  const global = await org.conn.describeGlobal()
  t.same(global.sobjects.map(s => s.name), ['Account', 'Contact'])
  t.match(await rejection(org.conn.describe('Nope')), { errorCode: 'NOT_FOUND' })
})

t.test('query paging: nextRecordsUrl batches as Sforce-Query-Options asks (200..2000), jsforce follows them', async t => {
  const org = await startDataOrg(t)
  const accounts = org.conn.sobject('Account')
  for (let i = 0; i < 3; i++) {
    const results = await accounts.create(Array.from({ length: 150 }, (_, j) => ({ Name: `Paged ${i * 150 + j}` })))
    t.ok(results.every(r => r.success))
  }
  const first = await call(org, `/query?q=${encodeURIComponent('SELECT Id, Name FROM Account')}`, { headers: { 'sforce-query-options': 'batchSize=50' } })
  t.equal(first.json.totalSize, 453)
  t.equal(first.json.records.length, 200, 'below the minimum batch size: 200')
  t.equal(first.json.done, false)
  t.match(first.json.nextRecordsUrl, /^\/services\/data\/v62\.0\/query\/01g\w+-200$/)
  const second = await call(org, first.json.nextRecordsUrl.replace('/services/data/v62.0', ''))
  t.equal(second.json.records.length, 200)
  t.equal(second.json.done, false)
  const third = await call(org, second.json.nextRecordsUrl.replace('/services/data/v62.0', ''))
  t.same([third.json.records.length, third.json.done, third.json.nextRecordsUrl], [53, true, undefined])
  const bad = await call(org, '/query/01gNOPE-200')
  t.equal(bad.status, 400)
  t.same(bad.json, [{ errorCode: 'INVALID_QUERY_LOCATOR', message: 'invalid query locator' }])

  const all = await org.conn.query('SELECT Id FROM Account', { autoFetch: true, maxFetch: 1000, headers: { 'Sforce-Query-Options': 'batchSize=200' } })
  t.equal(all.records.length, 453, 'jsforce fetched every batch')
  const calls = org.sim.org('acme').apiRequestsUsed
  await org.conn.query('SELECT Id FROM Account', { autoFetch: true, maxFetch: 1000, headers: { 'Sforce-Query-Options': 'batchSize=200' } })
  t.equal(org.sim.org('acme').apiRequestsUsed - calls, 3, 'each batch is one API call')
})

t.test('sObject Collections: jsforce arrays in one call; allOrNone rolls every record back', async t => {
  const org = await startDataOrg(t)
  const contacts = org.conn.sobject('Contact')
  const before = org.sim.org('acme').apiRequestsUsed
  const made = await contacts.create([{ LastName: 'One' }, { FirstName: 'No last name' }, { LastName: 'Three' }])
  t.equal(org.sim.org('acme').apiRequestsUsed - before, 1, 'one call')
  t.match(made, [{ success: true }, { success: false, errors: [{ statusCode: 'REQUIRED_FIELD_MISSING', fields: ['LastName'] }] }, { success: true }])
  const ids = [made[0].id, made[2].id] as string[]
  t.match(await contacts.retrieve(ids), [{ LastName: 'One' }, { LastName: 'Three' }])
  t.match(await contacts.update([{ Id: ids[0], FirstName: 'Ann' }, { Id: ids[1], Email: 'three@example.com' }]), [{ success: true }, { success: true }])
  t.match(await contacts.retrieve(ids[0]), { Name: 'Ann One' })

  const rolledBack = await contacts.create([{ LastName: 'Kept?' }, { LastName: '' }], { allOrNone: true })
  t.match(rolledBack, [{ success: false, errors: [{ statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK' }] }, { success: false }])
  t.equal((await org.conn.query('SELECT Id FROM Contact WHERE LastName = \'Kept?\'')).totalSize, 0, 'the valid record was rolled back')

  t.match(await contacts.destroy(ids), [{ id: ids[0], success: true }, { id: ids[1], success: true }])
  t.match(await contacts.destroy([ids[0]]), [{ success: false, errors: [{ statusCode: 'ENTITY_IS_DELETED' }] }])
})
