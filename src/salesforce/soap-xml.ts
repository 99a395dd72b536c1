/**
 * The few XML operations the SOAP login needs. Salesforce's login response is flat and
 * predictable, so tags are picked by name (any namespace prefix) rather than with a parser:
 * no DTDs or entities beyond the five predefined ones and numeric references are ever expanded.
 */

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\'': '&apos;' }

export function escapeXml (text: string): string {
  return text.replace(/[&<>"']/g, c => ESCAPES[c])
}

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: '\'' }

export function unescapeXml (text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|amp|lt|gt|quot|apos);/gi, (whole, ref: string) => {
    if (ref[0] === '#') {
      const code = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10)
      return Number.isFinite(code) && code <= 0x10ffff ? String.fromCodePoint(code) : whole
    }
    return NAMED[ref.toLowerCase()] ?? whole
  })
}

/** Raw inner XML of the first element with this local name, or undefined. */
export function innerXml (xml: string, localName: string): string | undefined {
  const match = new RegExp(`<(?:[\\w.-]+:)?${localName}(?:\\s[^>]*)?>([\\s\\S]*?)</(?:[\\w.-]+:)?${localName}>`).exec(xml)
  return match?.[1]
}

/** Text of the first element with this local name, unescaped and trimmed. */
export function textOf (xml: string, localName: string): string | undefined {
  const inner = innerXml(xml, localName)
  return inner === undefined ? undefined : unescapeXml(inner).trim()
}
