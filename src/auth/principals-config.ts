import { ConfigError, readPrincipalsSource, type Config } from '../config.ts'
import { parsePrincipals, type PrincipalDirectory } from './principals.ts'

/**
 * The principals document the configuration names (PRINCIPALS_JSON or PRINCIPALS_FILE); a bad one
 * is a configuration error naming the variable it came from. Light on purpose: the server checks it
 * before it loads the app's modules, so a bad document exits 78 as soon as a bad variable does.
 */
export function principalsFromConfig (config: Config): PrincipalDirectory {
  const source = readPrincipalsSource(config)
  try {
    return parsePrincipals(source)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    throw new ConfigError(`invalid ${config.PRINCIPALS_JSON ? 'PRINCIPALS_JSON' : 'PRINCIPALS_FILE'}: ${err.message.replace(/^invalid principals document:? ?/, '')}`)
  }
}
