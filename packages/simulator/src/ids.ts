import { randomBytes, randomInt } from 'node:crypto'

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
const SUFFIX_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345'

export function randomBase62 (length: number): string {
  let out = ''
  for (let i = 0; i < length; i++) out += BASE62[randomInt(BASE62.length)]
  return out
}

/**
 * Salesforce's 18-character id: the case-sensitive 15-character id plus a 3-character
 * suffix that encodes, per block of 5, which characters are upper case. Clients that
 * compare ids case-insensitively rely on it, so generated ids follow the real rule.
 */
export function to18 (id15: string): string {
  let suffix = ''
  for (let block = 0; block < 3; block++) {
    let bits = 0
    for (let i = 0; i < 5; i++) {
      const c = id15[block * 5 + i]
      if (c >= 'A' && c <= 'Z') bits |= 1 << i
    }
    suffix += SUFFIX_ALPHABET[bits]
  }
  return id15 + suffix
}

/** A fresh 18-character id with the given key prefix ('005' user, '00D' org, '001' account). */
export function newSalesforceId (prefix: string): string {
  return to18(prefix + 'Dn0' + randomBase62(9))
}

/** An opaque session id shaped like Salesforce's: the 15-char org id, '!', then random text. */
export function newAccessToken (orgId: string): string {
  return `${orgId.slice(0, 15)}!AQ${randomBytes(72).toString('base64url').replace(/[-_]/g, '.')}`
}

export function newSecurityToken (): string {
  return randomBase62(25)
}
