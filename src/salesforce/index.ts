/** Public API of the Salesforce login core. */
export { login, type LoginOptions } from './login.ts'
export { checkSession, revokeSession, type SessionCheckOptions } from './session-check.ts'
export {
  createLoginUrlPolicy, assertLoginUrlAllowed, isLoginUrlAllowed, loginUrlRejection, isSalesforceHostname,
  LoginUrlNotAllowedError, type LoginUrlPolicy, type AllowedOrigin,
} from './login-url.ts'
export {
  classifyOAuthError, classifyRestError, classifyNetworkError, classifyHttpStatus, classifiedFailure,
  CREDENTIAL_CLASSIFICATIONS, RETRYABLE_CLASSIFICATIONS,
  type OAuthErrorBody, type RestError,
} from './classify.ts'
export { classifySoapFault, type SoapFault } from './classify-soap.ts'
export { remediationHint, type FailureClassification } from './remediation.ts'
export { jwtAudience } from './jwt-bearer.ts'
export * from './types.ts'
