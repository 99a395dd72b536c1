export { startSimulator } from './simulator.ts'
export { generateTestKeyPair } from './keys.ts'
export type { TestKeyPair } from './keys.ts'
export { OAUTH_ERRORS } from './oauth-token.ts'
export { SOAP_FAULTS } from './soap.ts'
export type {
  LoginCounts,
  LoginStats,
  SimConnectedApp,
  SimConnectedAppState,
  SimFlows,
  SimLockoutPolicy,
  SimOrgOptions,
  SimOrgState,
  SimUser,
  SimUserState,
  Simulator,
  SimulatorOptions,
} from './types.ts'
