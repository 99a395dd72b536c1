import { Readable } from 'node:stream'
import t from 'tap'
import { call, startDataOrg } from './data-fixtures.ts'

t.test('jsforce bulk2: insert job from CSV; results and failures as Salesforce writes them', async t => {
  const org = await startDataOrg(t)
  org.conn.bulk2.pollInterval = 5
  const csv = 'Name,BillingCity\nBulk One,Paris\n"Bulk, Two","Ly""on"\n,Nameless\n"Multi\nLine",Oslo\n'
  const results = await org.conn.bulk2.loadAndWaitForResults({ object: 'Account', operation: 'insert', input: csv, pollInterval: 5, pollTimeout: 5000 })
  t.match(results.successfulResults, [
    { sf__Id: /^001/, sf__Created: 'true', Name: 'Bulk One', BillingCity: 'Paris' },
    { sf__Created: 'true', Name: 'Bulk, Two', BillingCity: 'Ly"on' },
    { Name: 'Multi\nLine', BillingCity: 'Oslo' },
  ])
  t.same(results.failedResults, [{ sf__Id: '', sf__Error: 'REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --', Name: '', BillingCity: 'Nameless' }])
  t.same(results.unprocessedRecords, [])
  const stored = await org.conn.query('SELECT Name, BillingCity FROM Account WHERE BillingCity = \'Paris\'')
  t.match(stored.records, [{ Name: 'Bulk One' }], 'the rows are in the org')

  const ids = results.successfulResults.map(r => ({ Id: r.sf__Id as string }))
  const deleted = await org.conn.bulk2.loadAndWaitForResults({ object: 'Account', operation: 'delete', input: ids, pollInterval: 5, pollTimeout: 5000 })
  t.equal(deleted.successfulResults.length, 3)
  t.equal((await org.conn.query('SELECT Id FROM Account WHERE BillingCity = \'Paris\'')).totalSize, 0)
})

t.test('the job\'s wire shapes and states: Open, 201 upload, UploadComplete, InProgress, JobComplete', async t => {
  const org = await startDataOrg(t)
  const created = await call(org, '/jobs/ingest/', { method: 'POST', body: JSON.stringify({ object: 'Contact', operation: 'upsert', externalIdFieldName: 'Email', lineEnding: 'CRLF' }) })
  t.equal(created.status, 200)
  const job = created.json
  t.match(job, { id: /^750\w{15}$/, operation: 'upsert', object: 'Contact', state: 'Open', externalIdFieldName: 'Email', concurrencyMode: 'Parallel', contentType: 'CSV', apiVersion: 62, lineEnding: 'CRLF', columnDelimiter: 'COMMA' })
  t.equal(job.contentUrl, `services/data/v62.0/jobs/ingest/${job.id}/batches`)
  const csv = 'Email,LastName\r\nrose@edge.example,Gonzalez-Smith\r\nnew@example.com,Newman\r\n'
  const put = await call(org, `/jobs/ingest/${job.id}/batches`, { method: 'PUT', headers: { 'content-type': 'text/csv' }, body: csv })
  t.equal(put.status, 201)
  t.equal(put.text, '')
  const again = await call(org, `/jobs/ingest/${job.id}/batches`, { method: 'PUT', headers: { 'content-type': 'text/csv' }, body: csv })
  t.equal(again.status, 409, 'one upload per job')
  t.equal(again.json[0].errorCode, 'INVALIDJOBSTATE')
  const early = await call(org, `/jobs/ingest/${job.id}/successfulResults`)
  t.equal(early.status, 409, 'no results before the job is done')

  const closed = await call(org, `/jobs/ingest/${job.id}`, { method: 'PATCH', body: JSON.stringify({ state: 'UploadComplete' }) })
  t.match(closed.json, { id: job.id, state: 'UploadComplete' })
  t.equal((await call(org, `/jobs/ingest/${job.id}`)).json.state, 'InProgress')
  const info = await call(org, `/jobs/ingest/${job.id}`)
  t.match(info.json, { state: 'JobComplete', jobType: 'V2Ingest', numberRecordsProcessed: 2, numberRecordsFailed: 0, retries: 0 })
  const ok = await call(org, `/jobs/ingest/${job.id}/successfulResults/`)
  t.equal(ok.headers.get('content-type'), 'text/csv')
  const lines = ok.text.trim().split('\n')
  t.equal(lines[0], '"sf__Id","sf__Created","Email","LastName"')
  t.match(lines[1], /^"003\w{15}","false","rose@edge\.example","Gonzalez-Smith"$/, 'upsert matched the existing contact by Email')
  t.match(lines[2], /^"003\w{15}","true","new@example\.com","Newman"$/)
  t.equal((await call(org, `/jobs/ingest/${job.id}/failedResults/`)).text, '"sf__Id","sf__Error","Email","LastName"\n')
  t.match((await call(org, '/jobs/ingest')).json, { done: true, records: [{ id: job.id }] })
  t.equal((await call(org, `/jobs/ingest/${job.id}`, { method: 'DELETE' })).status, 204)
  t.equal((await call(org, `/jobs/ingest/${job.id}`)).status, 404)
})

t.test('a job fails on an unknown column; bad jobs are refused; an aborted job is not processed', async t => {
  const org = await startDataOrg(t)
  org.conn.bulk2.pollInterval = 5
  await t.rejects(org.conn.bulk2.loadAndWaitForResults({ object: 'Account', operation: 'insert', input: 'Name,Colour__c\nx,red\n', pollInterval: 5, pollTimeout: 5000 }), /Field name not found : Colour__c/)
  t.equal((await call(org, '/jobs/ingest', { method: 'POST', body: JSON.stringify({ object: 'Nope', operation: 'insert' }) })).json[0].errorCode, 'INVALIDJOB')
  t.equal((await call(org, '/jobs/ingest', { method: 'POST', body: JSON.stringify({ object: 'Account', operation: 'merge' }) })).json[0].errorCode, 'INVALIDJOB')
  const job = (await call(org, '/jobs/ingest', { method: 'POST', body: JSON.stringify({ object: 'Account', operation: 'insert' }) })).json
  await call(org, `/jobs/ingest/${job.id}/batches`, { method: 'PUT', headers: { 'content-type': 'text/csv' }, body: 'Name\nAborted Corp\n' })
  t.equal((await call(org, `/jobs/ingest/${job.id}`, { method: 'PATCH', body: JSON.stringify({ state: 'Aborted' }) })).json.state, 'Aborted')
  t.equal((await call(org, `/jobs/ingest/${job.id}`, { method: 'PATCH', body: JSON.stringify({ state: 'UploadComplete' }) })).status, 409)
  t.equal((await org.conn.query('SELECT Id FROM Account WHERE Name = \'Aborted Corp\'')).totalSize, 0)
})

t.test('a large upload is read as it streams and counted in full', async t => {
  const org = await startDataOrg(t)
  const job = (await call(org, '/jobs/ingest', { method: 'POST', body: JSON.stringify({ object: 'Account', operation: 'insert' }) })).json
  const rows = 200_000
  const row = '"Streamed Account, with a quoted comma",Somewhere\n'
  let sent = 0
  const body = Readable.from((function * () {
    yield Buffer.from('Name,BillingCity\n')
    const chunk = Buffer.from(row.repeat(1000))
    while (sent < rows) {
      sent += 1000
      yield chunk
    }
  })())
  const put = await fetch(`${org.base}/jobs/ingest/${job.id}/batches`, {
    method: 'PUT', headers: { authorization: `Bearer ${org.token}`, 'content-type': 'text/csv' }, body: Readable.toWeb(body) as ReadableStream, duplex: 'half',
  } as RequestInit)
  t.equal(put.status, 201)
  await call(org, `/jobs/ingest/${job.id}`, { method: 'PATCH', body: JSON.stringify({ state: 'UploadComplete' }) })
  await call(org, `/jobs/ingest/${job.id}`)
  const info = (await call(org, `/jobs/ingest/${job.id}`)).json
  t.match(info, { state: 'JobComplete', numberRecordsProcessed: rows, numberRecordsFailed: 0 }, `${(rows * row.length / 1e6).toFixed(0)} MB counted`)
})
