import { createHash } from 'node:crypto'
import { stringify } from 'yaml'

/**
 * An interpreter for the part of Go's text/template language, and of Helm's Sprig functions, that
 * helm/sf-broker uses — so the chart can be rendered and checked where no helm binary exists.
 * Anything outside that part throws: a template that starts using something new fails the tests
 * instead of rendering into something helm would not produce.
 */

type Scope = Map<string, unknown>

interface Segment { text?: string, action?: string, where: string }

type Node =
  | { kind: 'text', text: string }
  | { kind: 'output', pipe: Pipeline, where: string }
  | { kind: 'if', branches: Array<{ cond: Pipeline, body: Node[] }>, otherwise: Node[], where: string }
  | { kind: 'with', pipe: Pipeline, body: Node[], otherwise: Node[], where: string }
  | { kind: 'range', vars: string[], pipe: Pipeline, body: Node[], otherwise: Node[], where: string }

interface Pipeline { declare?: string[], assign?: string, commands: Operand[][] }

type Operand =
  | { kind: 'literal', value: unknown }
  | { kind: 'field', path: string[] }
  | { kind: 'variable', name: string, path: string[] }
  | { kind: 'function', name: string }
  | { kind: 'pipeline', pipe: Pipeline }

export class TemplateError extends Error {
  override readonly name = 'TemplateError'
}

/** Splits a template into text and actions, applying the `{{-` and `-}}` whitespace trims. */
function lex (source: string, file: string): Segment[] {
  const segments: Segment[] = []
  let at = 0
  let trimNext = false
  while (at < source.length) {
    const open = source.indexOf('{{', at)
    let text = source.slice(at, open < 0 ? source.length : open)
    if (trimNext) text = text.replace(/^\s+/, '')
    if (open < 0) {
      segments.push({ text, where: file })
      break
    }
    const close = source.indexOf('}}', open)
    if (close < 0) throw new TemplateError(`${file}: unclosed action`)
    let inner = source.slice(open + 2, close)
    if (/^-\s/.test(inner)) {
      text = text.replace(/\s+$/, '')
      inner = inner.slice(1)
    }
    trimNext = /\s-$/.test(inner)
    if (trimNext) inner = inner.slice(0, -1)
    const where = `${file}:${source.slice(0, open).split('\n').length}`
    segments.push({ text, where })
    inner = inner.trim()
    if (!inner.startsWith('/*')) segments.push({ action: inner, where })
    at = close + 2
  }
  return segments.filter(s => s.action !== undefined || s.text !== '')
}

const TOKEN = /\s*("(?:[^"\\]|\\.)*"|`[^`]*`|:=|[|(),=]|-?\d+(?:\.\d+)?|\$[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*|(?:\.[A-Za-z0-9_]+)+|\.|[A-Za-z_][A-Za-z0-9_]*)/y

function tokenize (text: string, where: string): string[] {
  const tokens: string[] = []
  TOKEN.lastIndex = 0
  while (TOKEN.lastIndex < text.length) {
    if (/^\s*$/.test(text.slice(TOKEN.lastIndex))) break
    const start = TOKEN.lastIndex
    const match = TOKEN.exec(text)
    if (match === null) throw new TemplateError(`${where}: cannot read "${text.slice(start)}"`)
    tokens.push(match[1])
  }
  return tokens
}

function parsePipeline (text: string, where: string): Pipeline {
  const tokens = tokenize(text, where)
  const pipe: Pipeline = { commands: [] }
  const declareAt = tokens.indexOf(':=')
  if (declareAt > 0) {
    pipe.declare = tokens.slice(0, declareAt).filter(t => t !== ',')
    tokens.splice(0, declareAt + 1)
  } else if (tokens[1] === '=' && tokens[0].startsWith('$')) {
    pipe.assign = tokens[0]
    tokens.splice(0, 2)
  }
  let at = 0
  const readPipeline = (): Pipeline => {
    const commands: Operand[][] = [[]]
    while (at < tokens.length) {
      const token = tokens[at++]
      if (token === ')') return { commands }
      if (token === '|') commands.push([])
      else if (token === '(') commands[commands.length - 1].push({ kind: 'pipeline', pipe: readPipeline() })
      else commands[commands.length - 1].push(operand(token, where))
    }
    return { commands }
  }
  pipe.commands = readPipeline().commands
  if (pipe.commands.some(c => c.length === 0)) throw new TemplateError(`${where}: empty command in "${text}"`)
  return pipe
}

function operand (token: string, where: string): Operand {
  if (token.startsWith('"')) return { kind: 'literal', value: JSON.parse(token) }
  if (token.startsWith('`')) return { kind: 'literal', value: token.slice(1, -1) }
  if (/^-?\d/.test(token)) return { kind: 'literal', value: Number(token) }
  if (token === 'true' || token === 'false') return { kind: 'literal', value: token === 'true' }
  if (token === 'nil') return { kind: 'literal', value: null }
  if (token === '.') return { kind: 'field', path: [] }
  if (token.startsWith('.')) return { kind: 'field', path: token.slice(1).split('.') }
  if (token.startsWith('$')) {
    const [name, ...path] = token.split('.')
    return { kind: 'variable', name, path }
  }
  if (token in FUNCTIONS || token === 'include') return { kind: 'function', name: token }
  throw new TemplateError(`${where}: unsupported function or token "${token}"`)
}

/** Builds the node tree; returns the nodes and the keyword action that ended the list. */
function parseList (segments: Segment[], state: { at: number }, defines: Map<string, Node[]>): { nodes: Node[], end?: Segment } {
  const nodes: Node[] = []
  while (state.at < segments.length) {
    const segment = segments[state.at++]
    if (segment.action === undefined) {
      nodes.push({ kind: 'text', text: segment.text as string })
      continue
    }
    const action = segment.action
    const keyword = /^(if|else|end|range|with|define)\b\s*(.*)$/s.exec(action)
    if (keyword === null) {
      nodes.push({ kind: 'output', pipe: parsePipeline(action, segment.where), where: segment.where })
      continue
    }
    const [, word, rest] = keyword
    if (word === 'end' || word === 'else') return { nodes, end: segment }
    if (word === 'define') {
      const body = parseList(segments, state, defines)
      defines.set(JSON.parse(rest) as string, body.nodes)
      continue
    }
    if (word === 'if') {
      const node: Node = { kind: 'if', branches: [], otherwise: [], where: segment.where }
      let cond = parsePipeline(rest, segment.where)
      for (;;) {
        const body = parseList(segments, state, defines)
        node.branches.push({ cond, body: body.nodes })
        const end = body.end?.action ?? ''
        if (end.startsWith('else if ')) {
          cond = parsePipeline(end.slice('else if '.length), body.end?.where ?? '')
          continue
        }
        if (end === 'else') node.otherwise = closeElse(segments, state, defines, segment.where)
        else if (end !== 'end') throw new TemplateError(`${segment.where}: if without end`)
        break
      }
      nodes.push(node)
      continue
    }
    const pipe = parsePipeline(rest, segment.where)
    const body = parseList(segments, state, defines)
    const endAction = body.end?.action ?? ''
    const otherwise = endAction === 'else' ? closeElse(segments, state, defines, segment.where) : []
    if (endAction !== 'else' && endAction !== 'end') throw new TemplateError(`${segment.where}: ${word} without end`)
    if (word === 'with') nodes.push({ kind: 'with', pipe, body: body.nodes, otherwise, where: segment.where })
    else nodes.push({ kind: 'range', vars: pipe.declare ?? [], pipe: { commands: pipe.commands }, body: body.nodes, otherwise, where: segment.where })
  }
  return { nodes }
}

function closeElse (segments: Segment[], state: { at: number }, defines: Map<string, Node[]>, where: string): Node[] {
  const rest = parseList(segments, state, defines)
  if (rest.end?.action !== 'end') throw new TemplateError(`${where}: else without end`)
  return rest.nodes
}

/** Go's notion of an empty value, which `if`, `with`, `default` and `not` share. */
export function isEmpty (value: unknown): boolean {
  if (value === null || value === undefined || value === false || value === 0 || value === '') return true
  if (Array.isArray(value)) return value.length === 0
  if (typeof value === 'object') return Object.keys(value).length === 0
  return false
}

function text (value: unknown): string {
  if (value === null || value === undefined) return '' // helm prints missing values as nothing
  if (typeof value === 'object') throw new TemplateError('printing a map or list: pipe it through toYaml')
  return String(value)
}

function indent (spaces: number, value: unknown): string {
  const pad = ' '.repeat(spaces)
  return pad + text(value).replaceAll('\n', '\n' + pad)
}

const FUNCTIONS: Record<string, (...args: unknown[]) => unknown> = {
  default: (fallback, value) => isEmpty(value) ? fallback : value,
  required: (message, value) => {
    if (value === null || value === undefined || value === '') throw new TemplateError(String(message))
    return value
  },
  fail: (message) => { throw new TemplateError(String(message)) },
  quote: (...values) => values.filter(v => v !== null && v !== undefined).map(v => JSON.stringify(text(v))).join(' '),
  toString: (value: unknown) => text(value),
  toYaml: (value) => stringify(value ?? null, { sortMapEntries: true, lineWidth: 0 }).replace(/\n$/, ''),
  indent: (spaces, value) => indent(Number(spaces), value),
  nindent: (spaces, value) => '\n' + indent(Number(spaces), value),
  trunc: (length, value) => text(value).slice(0, Number(length)),
  trimSuffix: (suffix, value) => text(value).endsWith(text(suffix)) ? text(value).slice(0, -text(suffix).length) : text(value),
  contains: (part, value) => text(value).includes(text(part)),
  replace: (from, to, value) => text(value).replaceAll(text(from), text(to)),
  print: (...values) => values.map(text).join(''),
  printf: (format, ...values) => text(format).replace(/%[sdv]/g, () => text(values.shift())),
  sha256sum: (value) => createHash('sha256').update(text(value)).digest('hex'),
  eq: (a, ...others) => others.some(b => a === b),
  ne: (a, b) => a !== b,
  not: (value) => isEmpty(value),
  and: (...values) => values.find(isEmpty) ?? values[values.length - 1],
  or: (...values) => values.find(v => !isEmpty(v)) ?? values[values.length - 1],
  hasKey: (map, key) => typeof map === 'object' && map !== null && Object.hasOwn(map, text(key)),
  dict: (...pairs) => {
    const map: Record<string, unknown> = {}
    for (let i = 0; i < pairs.length; i += 2) map[text(pairs[i])] = pairs[i + 1]
    return map
  },
}

function field (value: unknown, path: string[], where: string): unknown {
  let current = value
  for (const [i, key] of path.entries()) {
    if (current === null || current === undefined) {
      throw new TemplateError(`${where}: nil pointer evaluating .${path.slice(0, i + 1).join('.')}`)
    }
    current = (current as Record<string, unknown>)[key]
  }
  return current
}

export class TemplateSet {
  private readonly defines = new Map<string, Node[]>()

  /** Adds a file: its `define`s become includable, and so does the file itself, by name. */
  add (name: string, source: string): void {
    const parsed = parseList(lex(source, name), { at: 0 }, this.defines)
    if (parsed.end !== undefined) throw new TemplateError(`${parsed.end.where}: unexpected ${parsed.end.action}`)
    this.defines.set(name, parsed.nodes)
  }

  render (name: string, data: unknown): string {
    const nodes = this.defines.get(name)
    if (nodes === undefined) throw new TemplateError(`no template "${name}"`)
    return this.run(nodes, data, [new Map([['$', data]])])
  }

  private run (nodes: Node[], dot: unknown, scopes: Scope[]): string {
    const local = [...scopes, new Map()]
    let out = ''
    for (const node of nodes) {
      if (node.kind === 'text') {
        out += node.text
      } else if (node.kind === 'output') {
        const value = this.pipeline(node.pipe, dot, local, node.where)
        if (node.pipe.declare === undefined && node.pipe.assign === undefined) out += text(value)
      } else if (node.kind === 'if') {
        const branch = node.branches.find(b => !isEmpty(this.pipeline(b.cond, dot, local, node.where)))
        out += this.run(branch?.body ?? node.otherwise, dot, local)
      } else if (node.kind === 'with') {
        const value = this.pipeline(node.pipe, dot, local, node.where)
        out += isEmpty(value) ? this.run(node.otherwise, dot, local) : this.run(node.body, value, local)
      } else {
        out += this.range(node, dot, local)
      }
    }
    return out
  }

  private range (node: Extract<Node, { kind: 'range' }>, dot: unknown, scopes: Scope[]): string {
    const value = this.pipeline(node.pipe, dot, scopes, node.where)
    if (isEmpty(value)) return this.run(node.otherwise, dot, scopes)
    if (typeof value !== 'object') throw new TemplateError(`${node.where}: range over ${typeof value}`)
    // Go ranges over a map in key order
    const entries: Array<[unknown, unknown]> = Array.isArray(value)
      ? value.map((v, i) => [i, v])
      : Object.keys(value as object).sort().map(k => [k, (value as Record<string, unknown>)[k]])
    let out = ''
    for (const [key, element] of entries) {
      const vars: Scope = new Map()
      if (node.vars.length === 1) vars.set(node.vars[0], element)
      if (node.vars.length === 2) vars.set(node.vars[0], key).set(node.vars[1], element)
      out += this.run(node.body, element, [...scopes, vars])
    }
    return out
  }

  private pipeline (pipe: Pipeline, dot: unknown, scopes: Scope[], where: string): unknown {
    let value: unknown
    for (const [i, command] of pipe.commands.entries()) {
      value = this.command(command, dot, scopes, where, i === 0 ? [] : [value])
    }
    for (const name of pipe.declare ?? []) scopes[scopes.length - 1].set(name, value)
    if (pipe.assign !== undefined) {
      const scope = [...scopes].reverse().find(s => s.has(pipe.assign as string))
      if (scope === undefined) throw new TemplateError(`${where}: undefined variable ${pipe.assign}`)
      scope.set(pipe.assign, value)
    }
    return value
  }

  private command (command: Operand[], dot: unknown, scopes: Scope[], where: string, piped: unknown[]): unknown {
    const [head, ...rest] = command
    if (head.kind !== 'function') {
      if (rest.length > 0 || piped.length > 0) throw new TemplateError(`${where}: cannot call a non-function`)
      return this.operand(head, dot, scopes, where)
    }
    const args = [...rest.map(o => this.operand(o, dot, scopes, where)), ...piped]
    try {
      if (head.name === 'include') return this.render(text(args[0]), args[1])
      return FUNCTIONS[head.name](...args)
    } catch (error) {
      if (error instanceof TemplateError && !error.message.startsWith('execution error')) {
        throw new TemplateError(`execution error at (${where}): ${error.message}`)
      }
      throw error
    }
  }

  private operand (op: Operand, dot: unknown, scopes: Scope[], where: string): unknown {
    switch (op.kind) {
      case 'literal': return op.value
      case 'field': return field(dot, op.path, where)
      case 'pipeline': return this.pipeline(op.pipe, dot, scopes, where)
      case 'variable': {
        const scope = [...scopes].reverse().find(s => s.has(op.name))
        if (scope === undefined) throw new TemplateError(`${where}: undefined variable ${op.name}`)
        return field(scope.get(op.name), op.path, where)
      }
      default: throw new TemplateError(`${where}: function ${op.name} used as a value`)
    }
  }
}
