import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { isIPv6 } from 'node:net'
import { connect, type Socket } from 'node:net'
import { hostname } from 'node:os'
import type { Logger } from 'pino'
import { BatchingSink, type AuditSinkRecord } from './audit-sink.ts'

export interface SyslogSinkOptions {
  /** tcp://host:port or udp://host:port */
  url: string
  logger: Logger
  /** how long connecting (TCP) may take before the write fails */
  connectTimeoutMs?: number
}

/** RFC 5424 §6.2.1: facility 10, security/authorization messages (private) */
const FACILITY = 10
/** RFC 5424 §6.2.1 severities */
const NOTICE = 5
const WARNING = 4
const APP_NAME = 'sf-broker'

/**
 * One RFC 5424 syslog message: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG`, the MSGID
 * naming the stream (`admin`, `handouts`) and the MSG the record's JSON (no structured data).
 */
export function syslogMessage (record: AuditSinkRecord, host = hostname()): string {
  const pri = FACILITY * 8 + (record.failed ? WARNING : NOTICE)
  // RFC 5424 §6.2.4: printable US-ASCII, at most 255 characters, "-" when unknown
  const name = host.replace(/[^\x21-\x7e]/g, '').slice(0, 255) || '-'
  const msgId = record.stage === 'request' ? `${record.stream}-request` : record.stream
  return `<${pri}>1 ${record.time} ${name} ${APP_NAME} ${process.pid} ${msgId} - ${record.json}`
}

/**
 * Audit records to a syslog receiver (a SIEM's collector, rsyslog, syslog-ng). TCP frames each
 * message with octet counting (RFC 6587 §3.4.1: `LENGTH SP MESSAGE`), which RFC 5425 uses over TLS
 * too; a record counts as written once the kernel took it on an open connection. UDP sends one
 * message per datagram (RFC 5426) and cannot know whether it arrived: use TCP (or the file) when
 * admin writes must be refused while the receiver is away.
 */
export class AuditSyslogSink extends BatchingSink {
  readonly name = 'syslog'
  private readonly transport: 'tcp' | 'udp'
  private readonly host: string
  private readonly port: number
  private readonly connectTimeoutMs: number
  private tcp: Socket | null = null
  private udp: UdpSocket | null = null

  constructor (opts: SyslogSinkOptions) {
    super(opts.logger)
    const url = new URL(opts.url)
    this.transport = url.protocol === 'udp:' ? 'udp' : 'tcp'
    this.host = url.hostname.replace(/^\[|\]$/g, '')
    this.port = Number(url.port || 514)
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 2000
  }

  protected async deliver (batch: AuditSinkRecord[]): Promise<void> {
    const messages = batch.map(r => Buffer.from(syslogMessage(r)))
    if (this.transport === 'udp') {
      for (const m of messages) await this.sendUdp(m)
      return
    }
    const socket = await this.connected()
    const frames = Buffer.concat(messages.flatMap(m => [Buffer.from(`${m.length} `), m]))
    await new Promise<void>((resolve, reject) => {
      socket.write(frames, (err) => err ? reject(err) : resolve())
    }).catch((err: unknown) => {
      socket.destroy()
      throw err
    })
  }

  private async connected (): Promise<Socket> {
    if (this.tcp && !this.tcp.destroyed && !this.tcp.connecting) return this.tcp
    const socket = connect({ host: this.host, port: this.port })
    socket.setKeepAlive(true)
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`syslog receiver ${this.host}:${this.port} did not accept a connection within ${this.connectTimeoutMs} ms`)), this.connectTimeoutMs)
      const fail = (err: Error): void => {
        clearTimeout(timer)
        socket.destroy()
        reject(err)
      }
      socket.once('error', fail)
      socket.once('connect', () => {
        clearTimeout(timer)
        socket.off('error', fail)
        resolve()
      })
    })
    // the receiver never answers; a closed or broken connection is noticed here and reopened by the next write
    socket.on('error', (err) => this.logger.warn({ sink: this.name, err: { message: err.message } }, 'syslog connection lost'))
    socket.on('close', () => { if (this.tcp === socket) this.tcp = null })
    socket.on('data', () => {})
    this.tcp = socket
    return socket
  }

  private sendUdp (message: Buffer): Promise<void> {
    if (!this.udp) {
      const socket = createSocket(isIPv6(this.host) ? 'udp6' : 'udp4')
      // a send error (e.g. ICMP port unreachable on a connected socket) fails the next send; keep the process alive
      socket.on('error', (err) => this.logger.warn({ sink: this.name, err: { message: err.message } }, 'syslog socket error'))
      socket.unref()
      this.udp = socket
    }
    const socket = this.udp
    return new Promise((resolve, reject) => {
      socket.send(message, this.port, this.host, (err) => err ? reject(err) : resolve())
    })
  }

  async close (): Promise<void> {
    await this.drain()
    this.tcp?.end()
    this.tcp = null
    this.udp?.close()
    this.udp = null
  }
}
