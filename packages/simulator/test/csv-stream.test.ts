import t from 'tap'
import { CsvRecordSplitter, csvLine, parseCsvRecord } from '../src/csv-stream.ts'

const CSV = 'Name,Description\r\n"Quoted, comma","line one\nline two"\r\nplain,"a ""quote"""\r\n\r\nlast,no newline'

t.test('records split the same however the bytes arrive (quotes, line breaks in quotes, CRLF, no final newline)', async t => {
  for (const size of [1, 2, 3, 7, CSV.length]) {
    const splitter = new CsvRecordSplitter(10)
    const bytes = Buffer.from(CSV)
    for (let i = 0; i < bytes.length; i += size) splitter.push(bytes.subarray(i, i + size))
    splitter.end()
    t.same(splitter.kept, ['Name,Description', '"Quoted, comma","line one\nline two"', 'plain,"a ""quote"""', 'last,no newline'], `chunks of ${size}`)
    t.equal(splitter.count, 4)
  }
})

t.test('only the first records are kept; every one is counted; an unterminated quote is overlong, not unbounded', async t => {
  const splitter = new CsvRecordSplitter(2)
  splitter.push(Buffer.from('h\n1\n2\n3\n"4\n5"\n'))
  splitter.end()
  t.same(splitter.kept, ['h', '1'])
  t.equal(splitter.count, 5)
  const runaway = new CsvRecordSplitter(5, 16)
  runaway.push(Buffer.from('h\n"never closed'))
  runaway.push(Buffer.from('x'.repeat(64)))
  runaway.end()
  t.ok(runaway.overlong)
  t.same(runaway.kept, ['h'])
})

t.test('fields parse and write back as Bulk API quotes them', async t => {
  t.same(parseCsvRecord('"Quoted, comma","a ""quote""",,plain', ','), ['Quoted, comma', 'a "quote"', '', 'plain'])
  t.same(parseCsvRecord('a|b', '|'), ['a', 'b'])
  t.equal(csvLine(['001', true, 'a "q"', null]), '"001","true","a ""q""",""')
})
