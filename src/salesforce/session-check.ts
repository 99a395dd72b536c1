/**
 * Cheap checks of a cached session: GET /limits proves the session still works (and reports the
 * org's daily API usage); revoke ends it at Salesforce.
 */
import { classifyAuthRefusal, classifyHttpStatus, classifyNetworkError, classifyRestError } from './classify.ts'
import { httpRequest, parseJson } from './http.ts'
import { createScrubber, scrubFailure } from './scrub.ts'
import type { ApiUsage, SalesforceSession, SessionCheckOutcome } from './types.ts'

export interface SessionCheckOptions {
  /** e.g. "62.0" */
  apiVersion: string
  timeoutMs: number
}

export function limitsUrl (instanceUrl: string, apiVersion: string): string {
  return `${new URL(instanceUrl).origin}/services/data/v${apiVersion.replace(/^v/i, '')}/limits`
}

export async function checkSession (session: Pick<SalesforceSession, 'accessToken' | 'instanceUrl'>, opts: SessionCheckOptions): Promise<SessionCheckOutcome> {
  const outcome = await checkOnce(session, opts)
  // an instance or proxy that echoes the request hands back the bearer token: scrubbed here, once
  return outcome.ok ? outcome : { ok: false, failure: scrubFailure(outcome.failure, createScrubber([session.accessToken])) }
}

async function checkOnce (session: Pick<SalesforceSession, 'accessToken' | 'instanceUrl'>, opts: SessionCheckOptions): Promise<SessionCheckOutcome> {
  let answer
  try {
    answer = await httpRequest(limitsUrl(session.instanceUrl, opts.apiVersion), {
      method: 'GET',
      headers: { authorization: `Bearer ${session.accessToken}`, accept: 'application/json' },
      timeoutMs: opts.timeoutMs,
    })
  } catch (error) {
    return { ok: false, failure: classifyNetworkError(error, opts.timeoutMs) }
  }
  const body = parseJson(answer.body)
  if (answer.status !== 200) {
    if (body !== undefined && answer.status >= 400 && answer.status < 500) return { ok: false, failure: classifyRestError(body, answer.status) }
    if (answer.status === 401 || answer.status === 403) return { ok: false, failure: classifyAuthRefusal(answer.status, answer.body, 'The limits resource') }
    return { ok: false, failure: classifyHttpStatus(answer.status, 'The limits resource') }
  }
  const apiUsage = usageFromLimits(body) ?? usageFromHeader(answer.headers.get('sforce-limit-info'))
  return apiUsage === undefined ? { ok: true } : { ok: true, apiUsage }
}

/** { DailyApiRequests: { Max, Remaining } } → used = Max - Remaining */
export function usageFromLimits (body: unknown): ApiUsage | undefined {
  const daily = (body as { DailyApiRequests?: { Max?: unknown, Remaining?: unknown } } | undefined)?.DailyApiRequests
  if (typeof daily?.Max !== 'number' || typeof daily.Remaining !== 'number') return undefined
  return { used: Math.max(0, daily.Max - daily.Remaining), max: daily.Max }
}

/** Sforce-Limit-Info: api-usage=25/15000, possibly beside per-app-api-usage=…, which is not the org's usage */
export function usageFromHeader (header: string | null): ApiUsage | undefined {
  const match = header === null ? null : /(?:^|[\s,;])api-usage=(\d+)\/(\d+)/.exec(header)
  return match === null ? undefined : { used: Number(match[1]), max: Number(match[2]) }
}

/**
 * POST /services/oauth2/revoke (token=…). Best effort: true when Salesforce confirmed, false otherwise.
 * Only the status comes back from upstream, so no upstream text (and no echoed token) can leak from here.
 */
export async function revokeSession (session: Pick<SalesforceSession, 'accessToken' | 'instanceUrl'>, opts: { timeoutMs: number }): Promise<boolean> {
  try {
    const answer = await httpRequest(`${new URL(session.instanceUrl).origin}/services/oauth2/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: session.accessToken }).toString(),
      timeoutMs: opts.timeoutMs,
    })
    return answer.status === 200
  } catch {
    return false
  }
}
