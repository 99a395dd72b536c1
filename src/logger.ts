import pino, { type Logger, type LoggerOptions, type DestinationStream } from 'pino'

/**
 * Paths pino censors wherever they appear in a log object. Secrets reach the broker in request
 * bodies (admin rotation), headers, Salesforce responses and the secret store; any of them may
 * end up attached to a log line by a future change, so redaction is by field name at every depth
 * we log, not by trusting call sites.
 */
const SECRET_KEYS = [
  'password', 'securityToken', 'security_token', 'clientSecret', 'client_secret', 'privateKey', 'private_key',
  'accessToken', 'access_token', 'refreshToken', 'refresh_token', 'sessionId', 'session_id', 'rejectedToken',
  'assertion', 'token', 'apiKey', 'secretId', 'secret_id', 'authorization', 'Authorization', 'x-vault-token', 'cookie',
]

export const REDACT_PATHS = [
  ...SECRET_KEYS,
  ...SECRET_KEYS.map(k => `*.${k}`),
  ...SECRET_KEYS.map(k => `*.*.${k}`),
  'req.headers.authorization',
  'req.headers["x-vault-token"]',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
]

export function loggerOptions (level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { service: 'sf-broker' },
    timestamp: pino.stdTimeFunctions.isoTime,
  }
}

export function createLogger (level: string, destination?: DestinationStream): Logger {
  return destination ? pino(loggerOptions(level), destination) : pino(loggerOptions(level))
}
