/**
 * CSV as Bulk API 2.0 reads it ("Prepare CSV Files": a header row of field names, one record per
 * line, fields in double quotes when they hold the delimiter, a quote or a line break, a quote
 * doubled inside quotes; line ending LF or CRLF). The splitter works on the bytes as they arrive:
 * it finds record ends with Buffer.indexOf and keeps the bytes of only the first `keep` records,
 * so a 100 MB upload is counted in full without being held.
 */

const QUOTE = 0x22
const LF = 0x0a

export class CsvRecordSplitter {
  readonly #keep: number
  readonly #maxRecordBytes: number
  #inQuotes = false
  #pending: Buffer[] = []
  #pendingBytes = 0
  #firstByte = 0
  /** records seen so far (the header row included) */
  count = 0
  /** the first `keep` records, as text */
  readonly kept: string[] = []
  /** a kept record grew past maxRecordBytes (an unterminated quote, most likely) */
  overlong = false

  constructor (keep: number, maxRecordBytes = 1024 * 1024) {
    this.#keep = keep
    this.#maxRecordBytes = maxRecordBytes
  }

  push (chunk: Buffer): void {
    let start = 0
    let pos = 0
    let nextQuote = chunk.indexOf(QUOTE)
    while (pos < chunk.length) {
      if (this.#inQuotes) {
        if (nextQuote < 0) break
        this.#inQuotes = false
        pos = nextQuote + 1
        nextQuote = chunk.indexOf(QUOTE, pos)
        continue
      }
      const lineEnd = chunk.indexOf(LF, pos)
      if (nextQuote >= 0 && (lineEnd < 0 || nextQuote < lineEnd)) {
        this.#inQuotes = true
        pos = nextQuote + 1
        nextQuote = chunk.indexOf(QUOTE, pos)
        continue
      }
      if (lineEnd < 0) break
      this.#record(chunk.subarray(start, lineEnd))
      start = pos = lineEnd + 1
    }
    if (start < chunk.length) this.#collect(chunk.subarray(start))
  }

  end (): void {
    if (this.#pendingBytes > 0 || this.#pending.length > 0) this.#record(Buffer.alloc(0))
  }

  #collecting (): boolean {
    return this.kept.length < this.#keep
  }

  #collect (piece: Buffer): void {
    if (this.#pendingBytes === 0 && piece.length > 0) this.#firstByte = piece[0]
    this.#pendingBytes += piece.length
    if (!this.#collecting()) return
    if (this.#pendingBytes > this.#maxRecordBytes) {
      this.overlong = true
      this.#pending = []
      return
    }
    this.#pending.push(piece)
  }

  #record (tail: Buffer): void {
    // a blank line (or a lone CR of a CRLF blank line) is no record
    const length = this.#pendingBytes + tail.length
    const first = this.#pendingBytes > 0 ? this.#firstByte : tail[0]
    const empty = length === 0 || (length === 1 && first === 0x0d)
    if (!empty) {
      this.count++
      if (this.#collecting() && !this.overlong) {
        this.kept.push(Buffer.concat([...this.#pending, tail]).toString('utf8').replace(/\r$/, ''))
      }
    }
    this.#pending = []
    this.#pendingBytes = 0
  }
}

/** The fields of one record. */
export function parseCsvRecord (line: string, delimiter: string): string[] {
  const fields: string[] = []
  let field = ''
  let quoted = false
  for (let i = 0; i < line.length; i++) {
    const c = line[i]
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"'
        i++
      } else if (c === '"') {
        quoted = false
      } else {
        field += c
      }
    } else if (c === '"') {
      quoted = true
    } else if (c === delimiter) {
      fields.push(field)
      field = ''
    } else {
      field += c
    }
  }
  fields.push(field)
  return fields
}

/** One CSV line with every field quoted, as Bulk API 2.0 writes its result files. */
export function csvLine (fields: Array<string | number | boolean | null>): string {
  return fields.map(f => `"${String(f ?? '').replace(/"/g, '""')}"`).join(',')
}
