/**
 * The house rule from STYLE.md, checked on every `npm test`: imports only look down, no two parts of
 * src/ import each other (directly or round a longer circle), and no two files import each other either
 * (inside one part, or inside one workspace package). A lower floor reaching a higher one, or a circle,
 * is how a change in one corner starts breaking another; this makes it a test failure that names the
 * import, instead of a review comment.
 *
 * Usage: node scripts/check-layers.ts [root]   (root defaults to the repository; exits 1 on a finding)
 *
 * Imports are read with TypeScript's own pre-processor, so `import type`, `export … from` and `import()`
 * all count: a type import from a higher floor is still a dependency on it.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, posix, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

/** Floors, bottom first. A part is a top-level file of src/ or a folder (written with its trailing slash). */
export const FLOORS: readonly (readonly string[])[] = [
  // config/ holds the pieces config.ts composes (the *_FILE reading, typo warnings, the one-line errors).
  // The Salesforce simulator is not here: it is packages/simulator, which src/ never imports (the
  // production build carries neither it nor the demo, scripts/demo.ts).
  ['config.ts', 'config/', 'errors.ts', 'logger.ts', 'egress.ts', 'clock.ts', 'iso-time.ts', 'tls-failure.ts', 'durable-file.ts', 'salesforce/'],
  // shared-state/ is the fleet-wide store (Redis, memory, the fallback between them); it knows no sessions.
  ['secrets/', 'auth/', 'schemas/', 'shared-state/'],
  ['sessions/', 'admin/', 'metrics/', 'notifications/', 'proxy/'],
  ['health/'],
  // The HTTP edge: route groups, request plugins and the one place errors become problem+json.
  ['routes/', 'http/', 'error-handler.ts'],
  // Composition: the service graph and the app built from it.
  ['broker.ts', 'app.ts', 'serve.ts'],
  ['server.ts'],
]

/** Parts that stand apart from the server: they may import only themselves (and packages, node:). */
const STANDALONE = new Set(['cli/'])
/**
 * The workspace packages a standalone part imports by name: sfb talks to the broker through the client
 * package, as any admin tool would. Its build is copied into the image beside dist/ (Dockerfile).
 */
const PACKAGES_OF: Readonly<Record<string, readonly string[]>> = { 'cli/': ['@sf-broker/client'] }

export interface Finding {
  file: string
  specifier: string
  message: string
}

/** 'src/health/plugin.ts' → 'health/'; 'src/app.ts' → 'app.ts'; undefined outside src/. */
export function partOf (file: string): string | undefined {
  if (!file.startsWith('src/')) return undefined
  const rest = file.slice('src/'.length)
  const slash = rest.indexOf('/')
  return slash === -1 ? rest : rest.slice(0, slash + 1)
}

function floorOf (part: string): number | undefined {
  const index = FLOORS.findIndex((floor) => floor.includes(part))
  return index === -1 ? undefined : index
}

/** Workspace packages by name ('@sf-broker/…'): the server reaches them neither by path nor by name. */
const WORKSPACE_SCOPE = '@sf-broker/'

function specifiersOf (source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map(({ fileName }) => fileName)
}

/** Relative specifiers of one source file, resolved to repository paths ('src/x/y.ts'). */
export function importsOf (file: string, source: string): { specifier: string, target: string }[] {
  return specifiersOf(source)
    .filter((specifier) => specifier.startsWith('./') || specifier.startsWith('../'))
    .map((specifier) => ({ specifier, target: posix.normalize(posix.join(posix.dirname(file), specifier)) }))
}

/**
 * Every finding for a set of files (repository-relative posix paths → source text).
 * Pure, so the rule itself has unit tests (test/check-layers.test.ts).
 */
export function findViolations (files: ReadonlyMap<string, string>): Finding[] {
  const findings: Finding[] = []
  const edges = new Map<string, Map<string, { file: string, specifier: string }>>()
  // file → file inside one part or one package: circles between parts are reported part by part
  const fileEdges = new Map<string, Map<string, { file: string, specifier: string }>>()
  const addFileEdge = (file: string, target: string, specifier: string) => {
    const targets = fileEdges.get(file) ?? new Map()
    if (!targets.has(target)) targets.set(target, { file, specifier })
    fileEdges.set(file, targets)
  }

  for (const [file, source] of files) {
    const fromPart = partOf(file)
    const isPackage = file.startsWith('packages/')
    if (fromPart !== undefined) {
      for (const specifier of specifiersOf(source).filter((s) => s.startsWith(WORKSPACE_SCOPE) && !PACKAGES_OF[fromPart]?.includes(s))) {
        findings.push({ file, specifier, message: `${file} imports '${specifier}': the server never imports a workspace package (the production build holds src/ alone)` })
      }
    }
    for (const { specifier, target } of importsOf(file, source)) {
      if (isPackage) {
        const packageRoot = file.split('/').slice(0, 2).join('/') + '/'
        if (!target.startsWith(packageRoot)) {
          findings.push({ file, specifier, message: `${file} imports '${specifier}': a package imports nothing outside its own folder (${packageRoot})` })
        } else if (files.has(target)) addFileEdge(file, target, specifier)
        continue
      }
      if (fromPart === undefined) continue
      if (target.startsWith('packages/')) {
        findings.push({ file, specifier, message: `${file} imports '${specifier}': the server never imports a workspace package's sources` })
        continue
      }
      const toPart = partOf(target)
      if (toPart === fromPart && files.has(target)) addFileEdge(file, target, specifier)
      if (toPart === undefined || toPart === fromPart) continue

      if (STANDALONE.has(fromPart) || STANDALONE.has(toPart)) {
        findings.push({ file, specifier, message: `${file} imports '${specifier}': src/${STANDALONE.has(fromPart) ? fromPart : toPart} stands apart from the server; neither imports the other` })
        continue
      }
      const from = floorOf(fromPart)
      const to = floorOf(toPart)
      if (from === undefined) {
        findings.push({ file, specifier, message: `${file}: src/${fromPart} is on no floor; add it to FLOORS in scripts/check-layers.ts` })
        continue
      }
      if (to === undefined) {
        findings.push({ file, specifier, message: `${file} imports '${specifier}': src/${toPart} is on no floor; add it to FLOORS in scripts/check-layers.ts` })
        continue
      }
      if (to > from) {
        findings.push({
          file,
          specifier,
          message: `${file} imports '${specifier}': src/${fromPart} (floor ${from}) may not import src/${toPart} (floor ${to}); lower floors never import higher ones`,
        })
      }
      const targets = edges.get(fromPart) ?? new Map()
      if (!targets.has(toPart)) targets.set(toPart, { file, specifier })
      edges.set(fromPart, targets)
    }
  }

  for (const circle of circles(edges)) {
    const steps = circle.map((part, i) => {
      const next = circle[(i + 1) % circle.length]
      const via = edges.get(part)!.get(next)!
      return `${via.file} imports '${via.specifier}'`
    })
    findings.push({
      file: edges.get(circle[0])!.get(circle[1 % circle.length])!.file,
      specifier: '',
      message: `circle between ${circle.map((p) => `src/${p}`).join(' → ')} → src/${circle[0]}: ${steps.join('; ')}`,
    })
  }
  for (const circle of circles(fileEdges)) {
    const steps = circle.map((file, i) => `${file} imports '${fileEdges.get(file)!.get(circle[(i + 1) % circle.length])!.specifier}'`)
    findings.push({
      file: circle[0],
      specifier: fileEdges.get(circle[0])!.get(circle[1 % circle.length])!.specifier,
      message: `circle between files ${[...circle, circle[0]].join(' → ')}: ${steps.join('; ')}; move what both need into a file of its own`,
    })
  }
  return findings
}

/** One shortest circle per strongly connected group of parts (Tarjan), so each circle is reported once. */
function circles (edges: Map<string, Map<string, unknown>>): string[][] {
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const groups: string[][] = []
  let counter = 0
  const visit = (node: string): void => {
    index.set(node, counter)
    low.set(node, counter++)
    stack.push(node)
    onStack.add(node)
    for (const next of edges.get(node)?.keys() ?? []) {
      if (!index.has(next)) {
        visit(next)
        low.set(node, Math.min(low.get(node)!, low.get(next)!))
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!))
      }
    }
    if (low.get(node) === index.get(node)) {
      const group: string[] = []
      let member: string
      do {
        member = stack.pop()!
        onStack.delete(member)
        group.push(member)
      } while (member !== node)
      if (group.length > 1) groups.push(group)
    }
  }
  for (const node of [...edges.keys()].sort()) if (!index.has(node)) visit(node)
  return groups.map((group) => shortestCircle(group.sort()[0], new Set(group), edges))
}

function shortestCircle (start: string, group: Set<string>, edges: Map<string, Map<string, unknown>>): string[] {
  const previous = new Map<string, string>()
  const queue = [start]
  while (queue.length > 0) {
    const node = queue.shift()!
    for (const next of [...(edges.get(node)?.keys() ?? [])].sort()) {
      if (!group.has(next)) continue
      if (next === start) {
        const path = [node]
        while (path[0] !== start) path.unshift(previous.get(path[0])!)
        return path
      }
      if (!previous.has(next)) {
        previous.set(next, node)
        queue.push(next)
      }
    }
  }
  return [start]
}

function sourceFiles (root: string, dir: string): string[] {
  let names: string[]
  try {
    names = readdirSync(join(root, dir))
  } catch {
    return []
  }
  return names.flatMap((name) => {
    const path = join(dir, name)
    if (name === 'node_modules' || name === 'dist') return []
    if (statSync(join(root, path)).isDirectory()) return sourceFiles(root, path)
    return /\.(ts|mts|js|mjs)$/.test(name) && !name.endsWith('.d.ts') ? [path.split(sep).join('/')] : []
  })
}

export function readTree (root: string): Map<string, string> {
  const packages = sourceFiles(root, 'packages')
  const files = [...sourceFiles(root, 'src'), ...packages.filter((file) => file.split('/')[2] === 'src')]
  return new Map(files.map((file) => [file, readFileSync(join(root, file), 'utf8')]))
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..')
  const findings = findViolations(readTree(root))
  for (const finding of findings) console.error(`layers: ${finding.message}`)
  if (findings.length > 0) {
    console.error(`layers: ${findings.length} finding(s); the floors are listed in scripts/check-layers.ts and STYLE.md`)
    process.exit(1)
  }
  console.log('layers: every import looks down, no circles')
}
