/**
 * SOAP login() faults onto the closed set of classifications in types.ts (the OAuth, REST and
 * network answers are in classify.ts), with the ways out of the SOAP login() retirement.
 */
import { classifiedFailure, failureFromStatus, fromStatus } from './classify.ts'
import { MIGRATE, type FailureClassification } from './remediation.ts'
import type { ClassifiedFailure, Flow } from './types.ts'

export interface SoapFault {
  /** e.g. "sf:INVALID_LOGIN" or "soapenv:Server" */
  faultcode?: string
  faultstring?: string
  /** sf:LoginFault/sf:exceptionCode when present */
  exceptionCode?: string
  exceptionMessage?: string
}

/** SOAP faults always come with HTTP 500: the status says nothing, the exception code everything. */
export function classifySoapFault (fault: SoapFault | undefined, httpStatus: number | undefined, flow: Flow = 'soap'): ClassifiedFailure {
  const code = soapExceptionCode(fault)
  const message = fault?.exceptionMessage || fault?.faultstring || code || `HTTP ${httpStatus ?? '?'} from the SOAP endpoint`
  const base = { message, sfCode: code || undefined, httpStatus, flow }
  if (code === '') {
    return failureFromStatus(fromStatus(httpStatus), base)
  }
  const lower = message.toLowerCase()
  const classification = soapClassification(code, lower)
  if (classification === 'unknown') {
    return classifiedFailure('unknown', { ...base, retryable: false, hint: soapSpecificHint(code) })
  }
  return classifiedFailure(classification, { ...base, hint: soapRetirementHint(code, lower) })
}

function soapExceptionCode (fault: SoapFault | undefined): string {
  if (fault === undefined) return ''
  if (fault.exceptionCode) return fault.exceptionCode.trim()
  const code = (fault.faultcode ?? '').trim().replace(/^[\w.-]+:/, '')
  // soapenv:Server / soapenv:Client carry no Salesforce code; the faultstring often starts with one
  if (code === '' || code === 'Server' || code === 'Client') {
    const lead = /^([A-Z][A-Z_]+):/.exec(fault.faultstring ?? '')
    return lead?.[1] ?? ''
  }
  return code
}

function soapClassification (code: string, m: string): FailureClassification {
  switch (code) {
    case 'INVALID_LOGIN':
      if (/rate exceeded/.test(m)) return 'login_rate_exceeded'
      return 'invalid_credentials'
    case 'LOGIN_MUST_USE_SECURITY_TOKEN':
    case 'LOGIN_CHALLENGE_ISSUED':
    case 'LOGIN_CHALLENGE_PENDING':
      return 'security_token_required'
    case 'PASSWORD_LOCKOUT':
      return 'locked_out'
    case 'LOGIN_DURING_RESTRICTED_DOMAIN':
    case 'LOGIN_DURING_RESTRICTED_TIME':
      return 'ip_or_hours_restricted'
    case 'API_DISABLED_FOR_ORG':
    case 'API_CURRENTLY_DISABLED':
      return 'api_disabled'
    case 'INVALID_OPERATION_WITH_EXPIRED_PASSWORD':
    case 'PASSWORD_EXPIRED':
      return 'password_expired'
    case 'INACTIVE_OWNER_OR_USER':
    case 'USER_INACTIVE':
      return 'inactive_user'
    case 'LOGIN_RATE_EXCEEDED':
      return 'login_rate_exceeded'
    case 'REQUEST_LIMIT_EXCEEDED':
      return /login/.test(m) ? 'login_rate_exceeded' : 'api_limit_exceeded'
    case 'INVALID_OPERATION':
      // "The SOAP Login operation is not available in the API version specified (65.0)…" (forcedotcom/wsc #363)
      if (/not available in the api version/.test(m)) return 'api_version_retired'
      // "SOAP API login() is disabled by default in this org. Contact the org administrator…" (OpenFn/adaptors #1715)
      return /login\(\)|soap api login/.test(m) ? 'flow_not_enabled' : 'unknown'
    case 'INSUFFICIENT_ACCESS':
      // "SOAP API login() requires the Use Any API Auth user permission." (SalesforceAIResearch/CRMArena #23)
      return /use any api auth/.test(m) ? 'flow_not_enabled' : 'unknown'
    case 'UNSUPPORTED_API_VERSION':
      // "Invalid Api version specified on URL" (superfell/SoqlX #10): a retired (or not yet released) version
      return 'api_version_retired'
    case 'INVALID_SESSION_ID':
      return 'session_invalid'
    case 'SERVER_UNAVAILABLE':
      return 'unreachable'
    default:
      return 'unknown'
  }
}

/** The faults of the SOAP login() retirement (help 005132110), each with the way out. */
function soapRetirementHint (code: string, m: string): string | undefined {
  if (code === 'INVALID_OPERATION' && /not available in the api version/.test(m)) {
    return 'SOAP login() does not exist in API 65.0 and later, and is retired for 31.0–64.0 in Summer \'27. The broker logs in at 64.0 at most ' +
      'whatever the connection\'s apiVersion (the session works with any REST version), so this answer means the org no longer offers ' +
      'SOAP login() at that version either: ' + MIGRATE
  }
  if (code === 'INVALID_OPERATION') {
    return 'SOAP API login() is off for this org (new orgs since Winter \'26 have it off by default). An admin can turn on "Enable SOAP API login()" ' +
      '(Setup, Quick Find "SOAP API login") until Summer \'27 — better, ' + MIGRATE
  }
  if (code === 'INSUFFICIENT_ACCESS') {
    return 'Since Summer \'26 SOAP API login() needs the "Use Any API Auth" user permission: add it to the integration user\'s profile or a ' +
      'permission set as a stopgap until Summer \'27 — better, ' + MIGRATE
  }
  return undefined
}

function soapSpecificHint (code: string): string | undefined {
  if (code === 'ORG_LOCKED' || code === 'TRIAL_EXPIRED') {
    return 'The org is locked, suspended or its trial expired: a Salesforce administrator (or Salesforce support) must restore it.'
  }
  return undefined
}
