/**
 * A self-signed X.509 certificate for JWT bearer, built with nothing but DER: Salesforce only needs
 * the certificate to carry the RSA public key whose private half signs the assertions ("Use digital
 * signatures" on the connected app or External Client App). The signer is a function, so the key
 * may live in this process (file custody) or never leave Vault's Transit engine.
 *
 * Structure from RFC 5280 §4.1 (Certificate, TBSCertificate, Validity, Name) with the encodings of
 * X.690 (DER); node:crypto's X509Certificate parses the result, which the tests use as the check.
 */
import { randomBytes } from 'node:crypto'

/** Signs the DER TBSCertificate with RSASSA-PKCS1-v1_5 and SHA-256; returns the raw signature. */
export type CertificateSigner = (tbs: Buffer) => Promise<Buffer>

export interface CertificateRequest {
  /** SubjectPublicKeyInfo DER of the RSA public key */
  spkiDer: Buffer
  /** Common name of subject and issuer (self-signed) */
  commonName: string
  notBefore: Date
  notAfter: Date
  sign: CertificateSigner
}

const SHA256_WITH_RSA = '1.2.840.113549.1.1.11'
const COMMON_NAME = '2.5.4.3'
const ORGANIZATION = '2.5.4.10'
const BASIC_CONSTRAINTS = '2.5.29.19'
const KEY_USAGE = '2.5.29.15'

function length (n: number): Buffer {
  if (n < 0x80) return Buffer.from([n])
  const bytes: number[] = []
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff)
  return Buffer.from([0x80 | bytes.length, ...bytes])
}

function tlv (tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content)
  return Buffer.concat([Buffer.from([tag]), length(body.length), body])
}

const sequence = (...items: Buffer[]): Buffer => tlv(0x30, ...items)
const set = (...items: Buffer[]): Buffer => tlv(0x31, ...items)
const explicit = (n: number, item: Buffer): Buffer => tlv(0xa0 + n, item)
const NULL = Buffer.from([0x05, 0x00])

function integer (value: Buffer): Buffer {
  let v = value
  while (v.length > 1 && v[0] === 0 && (v[1] & 0x80) === 0) v = v.subarray(1)
  // a leading 1 bit would make the number negative: DER prefixes a zero byte
  return tlv(0x02, (v[0] & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), v]) : v)
}

function oid (dotted: string): Buffer {
  const parts = dotted.split('.').map(Number)
  const bytes: number[] = [parts[0] * 40 + parts[1]]
  for (const part of parts.slice(2)) {
    const chunk: number[] = [part & 0x7f]
    for (let v = Math.floor(part / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80)
    bytes.push(...chunk)
  }
  return tlv(0x06, Buffer.from(bytes))
}

const utf8String = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'))
const bitString = (bytes: Buffer, unusedBits = 0): Buffer => tlv(0x03, Buffer.from([unusedBits]), bytes)
const octetString = (bytes: Buffer): Buffer => tlv(0x04, bytes)
const TRUE = Buffer.from([0x01, 0x01, 0xff])

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, always UTC with seconds. */
function time (d: Date): Buffer {
  const iso = d.toISOString() // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '')
  const year = d.getUTCFullYear()
  if (year < 2050) return tlv(0x17, Buffer.from(`${digits.slice(2)}Z`, 'ascii'))
  return tlv(0x18, Buffer.from(`${digits}Z`, 'ascii'))
}

function name (commonName: string): Buffer {
  return sequence(
    set(sequence(oid(ORGANIZATION), utf8String('sf-broker'))),
    set(sequence(oid(COMMON_NAME), utf8String(commonName)))
  )
}

function extensions (): Buffer {
  // an end-entity signing certificate: not a CA (critical), key usage digitalSignature only
  const basicConstraints = sequence(oid(BASIC_CONSTRAINTS), TRUE, octetString(sequence()))
  const keyUsage = sequence(oid(KEY_USAGE), TRUE, octetString(bitString(Buffer.from([0x80]), 7)))
  return explicit(3, sequence(basicConstraints, keyUsage))
}

/** The TBSCertificate (what is signed), exported for tests that check the signature themselves. */
export function tbsCertificate (req: Omit<CertificateRequest, 'sign'>, serial: Buffer): Buffer {
  const algorithm = sequence(oid(SHA256_WITH_RSA), NULL)
  const subject = name(req.commonName)
  return sequence(
    explicit(0, integer(Buffer.from([2]))), // v3
    integer(serial),
    algorithm,
    subject, // issuer: self-signed
    sequence(time(req.notBefore), time(req.notAfter)),
    subject,
    req.spkiDer,
    extensions()
  )
}

/** A self-signed certificate as PEM. */
export async function buildSelfSignedCertificate (req: CertificateRequest): Promise<string> {
  const serial = randomBytes(16)
  serial[0] &= 0x7f // positive, RFC 5280 §4.1.2.2: at most 20 octets
  if (serial[0] === 0) serial[0] = 0x01
  const tbs = tbsCertificate(req, serial)
  const signature = await req.sign(tbs)
  const der = sequence(tbs, sequence(oid(SHA256_WITH_RSA), NULL), bitString(signature))
  const b64 = der.toString('base64').match(/.{1,64}/g)!.join('\n')
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`
}
