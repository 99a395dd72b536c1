import { BlockList, isIPv4, isIPv6 } from 'node:net'

/** The client address as Salesforce would see it: IPv4-mapped IPv6 addresses become plain IPv4. */
export function normalizeIp (address: string | undefined): string {
  if (!address) return ''
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address
}

/** true when `ip` falls inside any of the CIDR ranges (a bare address counts as a /32 or /128). */
export function ipInRanges (ip: string, ranges: readonly string[]): boolean {
  const family = isIPv4(ip) ? 'ipv4' : isIPv6(ip) ? 'ipv6' : undefined
  if (!family) return false
  const list = new BlockList()
  for (const range of ranges) {
    const [base, bits] = range.split('/')
    const rangeFamily = isIPv4(base) ? 'ipv4' : isIPv6(base) ? 'ipv6' : undefined
    if (!rangeFamily) continue
    const prefix = bits === undefined ? (rangeFamily === 'ipv4' ? 32 : 128) : Number(bits)
    list.addSubnet(base, prefix, rangeFamily)
  }
  return list.check(ip, family)
}
