import type { ProxyRule } from '../schemas/proxy-rule.ts'
import type { ApiCall } from './api-family.ts'

/**
 * A caller's proxy rules against one call. Deny by default: without a matching rule the answer
 * names the rule that would allow it, so an operator can grant exactly that.
 *
 * What a rule cannot see is the body: a SOQL query (api query/queryAll) reads whatever objects
 * and relationships the integration user may read, and a composite request carries subrequests
 * of any kind. Those families are capabilities, not object filters (README, "Proxy mode").
 */
export type PolicyVerdict =
  | { allowed: true }
  | { allowed: false, requiredRule: { api: string, methods: string[], objects?: string[] } }

const DEFAULT_METHODS = ['GET']
/** names quoted back to the caller are checked against these first: a refusal never echoes arbitrary input */
const OBJECT_NAME = /^[A-Za-z][A-Za-z0-9_]{0,79}$/
const API_NAME = /^[a-z][a-z0-9-]{0,40}(\/[a-z][a-z0-9-]{0,40})?$/

export function evaluate (rules: readonly ProxyRule[], method: string, call: ApiCall): PolicyVerdict {
  const verb = method === 'HEAD' ? 'GET' : method
  for (const rule of rules) {
    if (rule.api.toLowerCase() !== call.api) continue
    if (!(rule.methods ?? DEFAULT_METHODS).some(m => m === verb || m === method)) continue
    if (rule.objects && !objectAllowed(rule.objects, call.object)) continue
    if (rule.paths && !rule.paths.some(p => pathMatches(p, call.rest))) continue
    return { allowed: true }
  }
  const requiredRule: { api: string, methods: string[], objects?: string[] } = {
    api: API_NAME.test(call.api) ? call.api : 'unknown',
    methods: [verb],
  }
  if (call.object !== undefined && OBJECT_NAME.test(call.object)) requiredRule.objects = [call.object]
  return { allowed: false, requiredRule }
}

function objectAllowed (objects: readonly string[], object: string | undefined): boolean {
  if (objects.includes('*')) return true
  if (object === undefined) return false
  const lower = object.toLowerCase()
  return objects.some(o => o.toLowerCase() === lower)
}

/** `*` matches one non-empty segment; a trailing `/**` matches the rest (or nothing). Case-sensitive, as Apex REST url mappings are. */
export function pathMatches (pattern: string, rest: string): boolean {
  const want = pattern.split('/').slice(1)
  const have = rest.replace(/\/$/, '').split('/').slice(1)
  for (let i = 0; i < want.length; i++) {
    if (want[i] === '**' && i === want.length - 1) return true
    if (i >= have.length) return false
    if (want[i] === '*' ? have[i] === '' : want[i] !== have[i]) return false
  }
  return want.length === have.length
}
