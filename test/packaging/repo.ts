import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigSchema, FILE_VARIANTS } from '../../src/config.ts'

/** What the packaging tests read from the repository itself: routes, config, the Dockerfile. */

export const ROOT = new URL('../../', import.meta.url).pathname

export function readRepoFile (path: string): string {
  return readFileSync(join(ROOT, path), 'utf8')
}

/** Every environment variable the broker reads. */
export const CONFIG_VARIABLES = new Set(Object.keys(ConfigSchema.properties))

/** `<VARIABLE>_FILE`: the settings the broker also reads from a file. */
export const FILE_VARIABLES = new Set(FILE_VARIANTS.map(name => `${name}_FILE`))

/** The config's default for a variable, as declared in the schema. */
export function configDefault (name: string): unknown {
  return (ConfigSchema.properties as Record<string, { default?: unknown }>)[name]?.default
}

/** GET routes declared in src/routes/*.ts (`app.get('/path'`). */
export function getRoutes (): Set<string> {
  const routes = new Set<string>()
  const dir = join(ROOT, 'src/routes')
  for (const file of readdirSync(dir).filter(f => f.endsWith('.ts'))) {
    for (const match of readFileSync(join(dir, file), 'utf8').matchAll(/app\.get\(\s*'([^']+)'/g)) routes.add(match[1])
  }
  return routes
}

export interface DockerInstruction { keyword: string, args: string }
export interface DockerStage { from: string, name?: string, instructions: DockerInstruction[] }

/** Stages of a Dockerfile, each with its instructions (continuation lines joined, comments dropped). */
export function dockerStages (source: string): DockerStage[] {
  const logical = source
    .split('\n')
    .filter(line => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map(line => line.trim())
    .filter(line => line !== '')
  const stages: DockerStage[] = []
  for (const line of logical) {
    const [, keyword, args] = /^(\S+)\s*(.*)$/.exec(line) as RegExpExecArray
    const upper = keyword.toUpperCase()
    if (upper === 'FROM') {
      const [, from, name] = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?/i.exec(args) as RegExpExecArray
      stages.push({ from, name, instructions: [] })
    } else if (stages.length > 0) {
      stages[stages.length - 1].instructions.push({ keyword: upper, args })
    }
  }
  return stages
}

/** Values of the variables an instruction list sets with ENV (KEY=value form). */
export function dockerEnv (instructions: DockerInstruction[]): Record<string, string> {
  const env: Record<string, string> = {}
  for (const { args } of instructions.filter(i => i.keyword === 'ENV')) {
    for (const match of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)/g)) env[match[1]] = match[2].replace(/^"|"$/g, '')
  }
  return env
}
